package leasing_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/leasing"
)

// A lessee buys 20 spindle-hours ahead (invoiced at once with VAT); January's
// jobs and its period invoice draw them before billing anything, 80% and
// 100% used are announced once, a void of prepaid usage after finalizing gives
// the hours back on a credit note, and the next period draws them. Refusals
// change nothing.
func TestPrepaidHoursAreDrawnBeforeUsageIsBilled(t *testing.T) {
	l := newLease(t, func(c *leasing.Contract) {
		c.VATRatePercent = d("13")
		c.CreditLimit = d("100000")
	})
	ctx := context.Background()
	finance := testenv.Principal(testenv.Member(t, l.p, l.lessor.Enterprise, identity.RoleFinance))
	factory := testenv.Principal(l.factory)
	wallet := func(left, used string) {
		t.Helper()
		c, err := l.store.ContractByID(ctx, l.contract.ID)
		if err != nil {
			t.Fatal(err)
		}
		ws, err := l.store.UnitWallets(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if len(ws) != 1 || ws[0].Meter != leasing.MeterSpindleHours || !ws[0].Left.Equal(d(left)) || !ws[0].UsedPercent.Equal(d(used)) {
			t.Fatalf("prepaid hours %+v, want %s left, %s%% used", ws, left, used)
		}
		if s := l.ledgerSum(t); !s.IsZero() {
			t.Fatalf("ledger sums to %s", s)
		}
	}

	before := len(l.eventTypes(t))
	for _, r := range []struct {
		name    string
		p       *identity.Principal
		meter   leasing.Meter
		units   string
		price   string
		field   string
		code    errs.Code
		refName string
	}{
		{"the lessee", factory, leasing.MeterSpindleHours, "20", "0", "", errs.Forbidden, "x"},
		{"a peak meter", finance, leasing.MeterMaxLoad, "20", "0", "input.meter", errs.InvalidInput, "x"},
		{"a meter the contract does not bill", finance, leasing.MeterParts, "20", "0", "input.meter", errs.InvalidInput, "x"},
		{"no units", finance, leasing.MeterSpindleHours, "0", "0", "input.units", errs.InvalidInput, "x"},
		{"a negative price", finance, leasing.MeterSpindleHours, "20", "-1", "input.price", errs.InvalidInput, "x"},
		{"a price finer than a fen", finance, leasing.MeterSpindleHours, "20", "0.001", "input.price", errs.InvalidInput, "x"},
		{"no reference", finance, leasing.MeterSpindleHours, "20", "0", "input.reference", errs.InvalidInput, " "},
	} {
		_, err := l.store.TopUpUnits(ctx, r.p, l.contract.ID, r.meter, d(r.units), d(r.price), r.refName)
		if e, ok := refusal(err); !ok || e.Code != r.code || (r.field != "" && strings.Join(e.Field, ".") != r.field) {
			t.Errorf("%s: %v, want %s at %s", r.name, err, r.code, r.field)
		}
	}
	if got := l.eventTypes(t); len(got) != before {
		t.Fatalf("refusals wrote events: %v", got[before:])
	}

	// 20 h for 1,500.00 + 13% VAT, invoiced at once.
	inv, err := l.store.TopUpUnits(ctx, finance, l.contract.ID, leasing.MeterSpindleHours, d("20"), d("1500"), "hours-1")
	if err != nil || inv == nil || inv.Kind != leasing.InvoicePrepaid || !inv.Total.Equal(d("1500")) || !inv.Body.Tax.Equal(d("195")) {
		t.Fatalf("top-up: %+v, %v", inv, err)
	}
	if again, err := l.store.TopUpUnits(ctx, finance, l.contract.ID, leasing.MeterSpindleHours, d("20"), d("1500"), "hours-1"); err != nil || again != nil {
		t.Fatalf("the same reference again: %+v, %v", again, err)
	}
	wallet("20", "0")

	job := func(day int, hours string) *leasing.StoredInvoice {
		t.Helper()
		l.use(t, hours, jan(day, 8))
		ch, err := l.store.InstantSettle(ctx, factory, l.contract.ID, "job-"+uuid.NewString(), []uuid.UUID{l.machine.ID}, jan(day, 0), jan(day+1, 0))
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}
	if ch := job(5, "12"); !ch.Total.IsZero() { // 12 of the 20 prepaid
		t.Fatalf("a job within the prepaid hours billed %s", ch.Total)
	}
	wallet("8", "60")
	ch := job(6, "5") // 17 of 20: 85%
	if !ch.Total.IsZero() {
		t.Fatalf("the second job billed %s", ch.Total)
	}
	wallet("3", "85")
	var voidable leasing.EventRef
	voidable = l.use(t, "10", jan(7, 8)) // 3 prepaid, 7 × 100 billed
	if _, err := l.store.InstantSettle(ctx, factory, l.contract.ID, "job-3", []uuid.UUID{l.machine.ID}, jan(7, 0), jan(8, 0)); err != nil {
		t.Fatal(err)
	}
	wallet("0", "100")
	evs := l.eventTypes(t)
	if count(evs, leasing.EventUnitsLow) != 1 || count(evs, leasing.EventUnitsUsedUp) != 1 || count(evs, leasing.EventUnitsToppedUp) != 1 {
		t.Fatalf("timeline %v: want one top-up, one 80%% and one used-up", evs)
	}

	// January's invoice rates the month again: 27 h, 20 prepaid, 7 billed.
	jan1, err := l.store.ClosePeriod(ctx, l.contract.ID, jan(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	var drew string
	for _, ln := range jan1.Body.Lines {
		if ln.Kind == leasing.LinePrepaidUnits {
			drew = ln.Quantity.String()
		}
	}
	if drew != "20" {
		t.Fatalf("January drew %q prepaid hours: %+v", drew, jan1.Body.Lines)
	}
	wallet("0", "100")

	// Voiding the 10 h job gives 3 prepaid hours back on a credit note (and
	// 7 billed hours).
	res, err := l.store.CorrectUsage(ctx, finance, l.contract.ID, leasing.Correction{Key: "void-1", Reason: "test run", Voids: []leasing.EventRef{voidable}})
	if err != nil || len(res.Notes) != 1 || res.Notes[0].Kind != leasing.NoteCredit {
		t.Fatalf("void: %+v, %v", res, err)
	}
	back := false
	for _, ln := range res.Notes[0].Body.Lines {
		if ln.Kind == leasing.LinePrepaidUnits && ln.Quantity.Equal(d("-3")) {
			back = true
		}
	}
	if !back || !res.Notes[0].Total.Equal(d("-700")) {
		t.Fatalf("credit note %+v: want 3 prepaid hours back and -700.00", res.Notes[0].Body.Lines)
	}
	wallet("3", "85")

	// February draws the 3 hours given back.
	l.use(t, "4", jan(40, 8))
	feb, err := l.store.ClosePeriod(ctx, l.contract.ID, jan(32, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !feb.Total.Equal(d("100")) {
		t.Fatalf("February: 4 h, 3 prepaid: billed %s, want 100: %+v", feb.Total, feb.Body.Lines)
	}
	wallet("0", "100")
}
