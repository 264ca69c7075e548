package procurement

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/errs"
)

func fields(l errs.List) []string {
	out := []string{}
	for _, e := range l {
		out = append(out, strings.Join(e.Field, "."))
	}
	return out
}

var today = time.Date(2030, 1, 2, 15, 4, 5, 0, time.UTC)

func TestValidateAcceptanceNamesEachFaultyField(t *testing.T) {
	t.Parallel()
	ok := Acceptance{UnitPrice: d("12.50"), Quantity: d("40"), PromisedDate: today.AddDate(0, 0, 7)}
	with := func(f func(*Acceptance)) Acceptance { a := ok; f(&a); return a }
	tests := []struct {
		name     string
		currency string
		a        Acceptance
		want     []string
	}{
		{"valid", "CNY", ok, []string{}},
		{"the whole offered quantity", "CNY", with(func(a *Acceptance) { a.Quantity = d("100") }), []string{}},
		{"promised for today", "CNY", with(func(a *Acceptance) { a.PromisedDate = time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC) }), []string{}},
		{"promised for today, as local midnight east of UTC", "CNY", with(func(a *Acceptance) {
			a.PromisedDate = time.Date(2030, 1, 2, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))
		}), []string{}},
		{"zero price", "CNY", with(func(a *Acceptance) { a.UnitPrice = decimal.Zero }), []string{"input.unitPrice"}},
		{"negative price", "CNY", with(func(a *Acceptance) { a.UnitPrice = d("-1") }), []string{"input.unitPrice"}},
		{"price below the minor unit", "CNY", with(func(a *Acceptance) { a.UnitPrice = d("12.505") }), []string{"input.unitPrice"}},
		{"yen has no minor unit", "JPY", with(func(a *Acceptance) { a.UnitPrice = d("1250.5") }), []string{"input.unitPrice"}},
		{"whole yen", "JPY", with(func(a *Acceptance) { a.UnitPrice = d("1250") }), []string{}},
		{"zero quantity", "CNY", with(func(a *Acceptance) { a.Quantity = decimal.Zero }), []string{"input.quantity"}},
		{"more than offered", "CNY", with(func(a *Acceptance) { a.Quantity = d("100.001") }), []string{"input.quantity"}},
		{"no promised date", "CNY", with(func(a *Acceptance) { a.PromisedDate = time.Time{} }), []string{"input.promisedDate"}},
		{"promised yesterday", "CNY", with(func(a *Acceptance) { a.PromisedDate = today.AddDate(0, 0, -1) }), []string{"input.promisedDate"}},
		{"promised in three years", "CNY", with(func(a *Acceptance) { a.PromisedDate = today.AddDate(3, 0, 0) }), []string{"input.promisedDate"}},
		{"everything wrong", "CNY", Acceptance{UnitPrice: d("0"), Quantity: d("-2")}, []string{"input.unitPrice", "input.quantity", "input.promisedDate"}},
		{"a price of 1e400", "CNY", with(func(a *Acceptance) { a.UnitPrice = d("1e400") }), []string{"input.unitPrice"}},
		{"a price above the largest amount", "CNY", with(func(a *Acceptance) { a.UnitPrice = d("1000000000000.01") }), []string{"input.unitPrice"}},
		{"a quantity of 1e-30", "CNY", with(func(a *Acceptance) { a.Quantity = d("1e-30") }), []string{"input.quantity"}},
		{"a millionth is the finest quantity", "CNY", with(func(a *Acceptance) { a.Quantity = d("0.000001") }), []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ValidateAcceptance(d("100"), tt.currency, tt.a, today)
			if f := fields(got); !slices.Equal(f, tt.want) {
				t.Fatalf("refused fields %v, want %v (%v)", f, tt.want, got)
			}
			for _, e := range got {
				if e.Code != errs.InvalidInput || e.Message == "" {
					t.Errorf("problem %+v, want INVALID_INPUT with a message", e)
				}
			}
		})
	}
}

func TestValidateReasonAcceptsOneTo500Characters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		reason string
		ok     bool
	}{
		{"no capacity", true},
		{"x", true},
		{strings.Repeat("钢", 500), true},
		{strings.Repeat("钢", 501), false},
		{"", false},
		{" \t\n", false},
	}
	for _, tt := range tests {
		got := ValidateReason(tt.reason)
		if (len(got) == 0) != tt.ok {
			t.Errorf("ValidateReason(%d runes) = %v, want ok=%v", len([]rune(tt.reason)), got, tt.ok)
		}
		if len(got) > 0 && !slices.Equal(fields(got), []string{"input.reason"}) {
			t.Errorf("refused fields %v, want input.reason", fields(got))
		}
	}
}

func TestValidateMovementsNeverExceedWhatCameBefore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                string
		check               func() errs.List
		ok                  bool
		accepted, less, qty string
	}{
		{name: "ship part", check: func() errs.List { return ValidateShipment(d("100"), d("40"), d("60")) }, ok: true},
		{name: "ship more than accepted", check: func() errs.List { return ValidateShipment(d("100"), d("40"), d("60.5")) }},
		{name: "ship nothing", check: func() errs.List { return ValidateShipment(d("100"), d("0"), d("0")) }},
		{name: "receive what was shipped", check: func() errs.List { return ValidateReceipt(d("60"), d("30"), d("30")) }, ok: true},
		{name: "receive before shipping", check: func() errs.List { return ValidateReceipt(d("0"), d("0"), d("1")) }},
		{name: "receive more than shipped", check: func() errs.List { return ValidateReceipt(d("60"), d("30"), d("31")) }},
		{name: "receive a negative quantity", check: func() errs.List { return ValidateReceipt(d("60"), d("30"), d("-1")) }},
	}
	for _, tt := range tests {
		got := tt.check()
		if (len(got) == 0) != tt.ok {
			t.Errorf("%s: %v, want ok=%v", tt.name, got, tt.ok)
		}
		if len(got) > 0 && !slices.Equal(fields(got), []string{"input.quantity"}) {
			t.Errorf("%s: refused fields %v, want input.quantity", tt.name, fields(got))
		}
	}
}

func TestValidateCapabilityNamesEachFaultyField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		material string
		price    string
		currency string
		lead     int
		max      string
		want     []string
	}{
		{"valid", "steel-sheet", "12.50", "CNY", 7, "1000", []string{}},
		{"everything wrong", " ", "0.001", "cny", -1, "0", []string{"input.material", "input.currency", "input.unitPrice", "input.leadDays", "input.maxQuantity"}},
		{"material too long", strings.Repeat("m", 101), "1", "CNY", 0, "1", []string{"input.material"}},
		{"lead time over a year", "m", "1", "CNY", MaxLeadDays + 1, "1", []string{"input.leadDays"}},
		{"unknown currency", "m", "1", "XXX", 0, "1", []string{"input.currency"}},
	}
	for _, tt := range tests {
		got := ValidateCapability(tt.material, d(tt.price), tt.currency, tt.lead, d(tt.max))
		if f := fields(got); !slices.Equal(f, tt.want) {
			t.Errorf("%s: refused fields %v, want %v", tt.name, f, tt.want)
		}
	}
}

func TestScoresMoveByBehaviourAndStayWithin0And100(t *testing.T) {
	t.Parallel()
	tests := []struct {
		from string
		kind ScoreKind
		want string
	}{
		{"50", ScoreAccepted, "52"},
		{"50", ScoreRejected, "47"},
		{"50", ScoreTimedOut, "44"},
		{"50", ScoreShippedOnTime, "53"},
		{"50", ScoreShippedLate, "46"},
		{"99", ScoreShippedOnTime, "100"},
		{"100", ScoreAccepted, "100"},
		{"4", ScoreTimedOut, "0"},
		{"0", ScoreRejected, "0"},
		{"50", ScoreKind("UNKNOWN"), "50"},
	}
	for _, tt := range tests {
		if got := ApplyScore(d(tt.from), tt.kind); !got.Equal(d(tt.want)) {
			t.Errorf("ApplyScore(%s, %s) = %s, want %s", tt.from, tt.kind, got, tt.want)
		}
	}
	if !ScoreDelta(ScoreTimedOut).Abs().GreaterThan(ScoreDelta(ScoreRejected).Abs()) {
		t.Error("a lapse must cost more than a rejection")
	}
}

func TestMovementsAreBoundedAndNoFinerThanAMillionth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, qty string
		ok        bool
	}{
		{"part of what is left", "4.5", true},
		{"a millionth", "0.000001", true},
		{"1e-30", "1e-30", false},
		{"1e400", "1e400", false},
		{"zero", "0", false},
	}
	for _, tt := range tests {
		ship := ValidateShipment(d("1e12"), d("0"), d(tt.qty))
		receive := ValidateReceipt(d("1e12"), d("0"), d(tt.qty))
		for what, got := range map[string]errs.List{"shipment": ship, "receipt": receive} {
			if (len(got) == 0) != tt.ok || (!tt.ok && (got[0].Code != errs.InvalidInput || got[0].Message == "" || got[0].Field[1] != "quantity")) {
				t.Errorf("%s of %s: %v, want ok=%v", what, tt.name, got, tt.ok)
			}
		}
	}
}

func TestQuantitiesFollowTheUnitOfTheirMaterial(t *testing.T) {
	t.Parallel()
	tests := []struct {
		qty, unit string
		ok        bool
	}{
		{"2", "pcs", true},
		{"0.5", "pcs", false},
		{"1e-30", "pcs", false},
		{"1.71", "kg", true},
		{"1.7105", "kg", false},
		{"8.04", "m", true},
		{"0.0000001", "", false},
	}
	for _, tt := range tests {
		got := ValidateQuantityIn([]string{"input", "quantity"}, d(tt.qty), tt.unit)
		if (len(got) == 0) != tt.ok {
			t.Errorf("%s %s: %v, want ok=%v", tt.qty, tt.unit, got, tt.ok)
		}
	}
}
