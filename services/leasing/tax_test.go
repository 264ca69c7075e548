package leasing

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
)

func TestLineTaxIsRoundedOnceHalfAwayFromZeroAndMirrorsCredits(t *testing.T) {
	for _, tc := range []struct {
		net, rate, currency, want string
	}{
		{"100.00", "13", "CNY", "13.00"},
		{"0.05", "13", "CNY", "0.01"},  // 0.0065 rounds up
		{"0.03", "13", "CNY", "0.00"},  // 0.0039 rounds down
		{"10.04", "13", "CNY", "1.31"}, // 1.3052
		{"0.50", "9", "CNY", "0.05"},   // 0.045: half away from zero
		{"-0.50", "9", "CNY", "-0.05"}, // a credit mirrors its debit
		{"-10.04", "13", "CNY", "-1.31"},
		{"1234", "10", "JPY", "123"}, // no minor unit
		{"1235", "10", "JPY", "124"}, // 123.5 away from zero
		{"99.99", "0", "CNY", "0"},   // zero-rated
		{"0", "13", "CNY", "0"},
		{"100.00", "100", "CNY", "100.00"},
		{"33.33", "8.875", "USD", "2.96"}, // 2.95803...
	} {
		got, err := lineTax(d(tc.net), d(tc.rate), tc.currency)
		if err != nil || !got.Equal(d(tc.want)) {
			t.Errorf("tax of %s at %s%% in %s = %s, %v; want %s", tc.net, tc.rate, tc.currency, got, err, tc.want)
		}
	}
	for _, rate := range []string{"-1", "100.01"} {
		if _, err := lineTax(d("1"), d(rate), "CNY"); !errors.Is(err, ErrInvalidTaxRate) {
			t.Errorf("rate %s: %v, want ErrInvalidTaxRate", rate, err)
		}
	}
}

// Tax is rounded per line, not on the total: three lines of 0.05 at 13% owe
// 0.01 each, 0.03 in all, where rounding the total (0.0195) would give 0.02.
func TestInvoiceTaxIsTheSumOfItsLinesTax(t *testing.T) {
	c := contract()
	c.Plans = map[Meter]RatePlan{
		MeterSpindleHours: {Model: ModelPerUnit, UnitPrice: d("0.05")},
		MeterParts:        {Model: ModelPerUnit, UnitPrice: d("0.05")},
		MeterEnergyKWh:    {Model: ModelPerUnit, UnitPrice: d("0.05")},
	}
	c.VATRatePercent = d("13")
	when := at("2026-03-10T08:00:00Z")
	var evs []UsageEvent
	evs = append(evs, events("h", MeterSpindleHours, when, "1")...)
	evs = append(evs, events("p", MeterParts, when, "1")...)
	evs = append(evs, events("c", MeterEnergyKWh, when, "1")...)
	inv := mustRate(t, c, when, evs)
	checkTaxed(t, inv)
	if len(inv.Lines) != 3 || !inv.Total.Equal(d("0.15")) || !inv.Tax.Equal(d("0.03")) || !inv.Gross.Equal(d("0.18")) {
		t.Fatalf("lines %d, net %s, tax %s, gross %s; want 3, 0.15, 0.03, 0.18", len(inv.Lines), inv.Total, inv.Tax, inv.Gross)
	}
	for _, l := range inv.Lines {
		if !l.Tax.Equal(d("0.01")) || !l.Gross.Equal(d("0.06")) {
			t.Errorf("line %s: tax %s gross %s, want 0.01 and 0.06", l.Meter, l.Tax, l.Gross)
		}
	}
	entries, err := Ledger(inv)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"lessee:lessee-1:receivable":  "0.18",
		"lessor:lessor-1:revenue":     "-0.13", // 0.015 fee: the tie goes to the first part
		"platform:fees":               "-0.02",
		"lessor:lessor-1:vat-payable": "-0.03",
	}
	sum := decimal.Zero
	for _, e := range entries {
		sum = sum.Add(e.Amount)
		if w, ok := want[e.Account]; !ok || !e.Amount.Equal(d(w)) {
			t.Errorf("entry %s %s, want %s", e.Account, e.Amount, w)
		}
		delete(want, e.Account)
	}
	if !sum.IsZero() || len(want) > 0 {
		t.Errorf("ledger sums to %s; entries missing: %v", sum, want)
	}
}

func TestZeroRatedContractOwesItsNet(t *testing.T) {
	c := contract()
	when := at("2026-03-10T08:00:00Z")
	inv := mustRate(t, c, when, events("h", MeterSpindleHours, when, "3"))
	checkTaxed(t, inv)
	if !inv.Tax.IsZero() || !inv.Gross.Equal(inv.Total) || !inv.Total.Equal(d("37.50")) {
		t.Fatalf("zero-rated: net %s tax %s gross %s", inv.Total, inv.Tax, inv.Gross)
	}
	entries, err := Ledger(inv)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Account == "lessor:lessor-1:vat-payable" {
			t.Errorf("a zero-rated invoice posted VAT: %+v", e)
		}
	}
}

// A VAT change is a per-period term, like the fee: it applies from the first
// period that starts at or after it.
func TestAmendedVATRateAppliesFromTheNextPeriod(t *testing.T) {
	c := contract()
	c.VATRatePercent = d("13")
	c.Amendments = []Amendment{{EffectiveAt: at("2026-03-15T00:00:00Z"), VATRatePercent: dp("9")}}
	march, april := at("2026-03-20T08:00:00Z"), at("2026-04-02T08:00:00Z")
	m := mustRate(t, c, march, events("m", MeterSpindleHours, march, "8"))
	a := mustRate(t, c, april, events("a", MeterSpindleHours, april, "8"))
	checkTaxed(t, m)
	checkTaxed(t, a)
	if !m.VATRatePercent.Equal(d("13")) || !m.Tax.Equal(d("13.00")) || !a.VATRatePercent.Equal(d("9")) || !a.Tax.Equal(d("9.00")) {
		t.Fatalf("march %s%% tax %s, april %s%% tax %s; want 13%% 13.00 and 9%% 9.00", m.VATRatePercent, m.Tax, a.VATRatePercent, a.Tax)
	}
}

func TestVATRateOutsideItsRangeIsRefused(t *testing.T) {
	for _, rate := range []string{"-0.01", "100.5", "13.00001"} {
		c := contract()
		c.VATRatePercent = d(rate)
		ps := ValidateContract(c)
		if len(ps) != 1 || ps[0].Code != ProblemTaxRateOutOfRange || ps[0].Field != "vatRatePercent" {
			t.Errorf("rate %s: %+v, want one TAX_RATE_OUT_OF_RANGE on vatRatePercent", rate, ps)
		}
		c = contract()
		c.Amendments = []Amendment{{EffectiveAt: at("2026-03-15T00:00:00Z"), VATRatePercent: dp(rate)}}
		ps = ValidateContract(c)
		if len(ps) != 1 || ps[0].Code != ProblemTaxRateOutOfRange || ps[0].Field != "amendments[0].vatRatePercent" {
			t.Errorf("amended rate %s: %+v", rate, ps)
		}
	}
}

// For random lines and rates: each line's tax is its own rounding, the
// invoice's tax their sum, gross net plus tax, and the ledger balances.
func TestTaxedInvoicesAlwaysBalance(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 13))
	rates := []string{"0", "3", "6", "9", "13", "17.5", "19", "8.875", "100"}
	for i := range 2000 {
		rate := d(rates[rng.IntN(len(rates))])
		inv := Invoice{ContractID: "c", LessorID: "lr", LesseeID: "le", Currency: "CNY", PlatformFeePercent: d("10")}
		for range 1 + rng.IntN(6) {
			amt := decimal.New(rng.Int64N(2_000_000)-400_000, -2)
			inv.Lines = append(inv.Lines, InvoiceLine{Kind: LineUsage, Amount: amt})
		}
		inv.Total = sumAmounts(inv.Lines)
		fee, share, err := splitFee(inv.Total.Abs(), inv.PlatformFeePercent, "CNY")
		if err != nil {
			t.Fatal(err)
		}
		if inv.Total.IsNegative() {
			fee, share = fee.Neg(), share.Neg()
		}
		inv.PlatformFee, inv.LessorShare = fee, share
		taxedInv, err := TaxLines(inv, rate)
		if err != nil {
			t.Fatal(err)
		}
		checkTaxed(t, taxedInv)
		for _, l := range taxedInv.Lines {
			exact := l.Amount.Mul(rate).Div(hundred)
			if l.Tax.Sub(exact).Abs().GreaterThan(d("0.005")) {
				t.Fatalf("case %d: line %s at %s%%: tax %s is more than half a fen from %s", i, l.Amount, rate, l.Tax, exact)
			}
		}
		entries, err := Ledger(taxedInv)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		sum := decimal.Zero
		for _, e := range entries {
			sum = sum.Add(e.Amount)
		}
		if !sum.IsZero() {
			t.Fatalf("case %d: ledger sums to %s", i, sum)
		}
	}
}

// checkTaxed asserts the tax invariants on top of checkInvoice's.
func checkTaxed(t testing.TB, inv Invoice) {
	t.Helper()
	checkInvoice(t, inv)
	tax := decimal.Zero
	for _, l := range inv.Lines {
		tax = tax.Add(l.Tax)
		if !l.Gross.Equal(l.Amount.Add(l.Tax)) {
			t.Fatalf("line %q: gross %s is not net %s + tax %s", l.Description, l.Gross, l.Amount, l.Tax)
		}
		if l.Amount.IsNegative() && l.Tax.IsPositive() || l.Amount.IsPositive() && l.Tax.IsNegative() {
			t.Fatalf("line %q: tax %s has the other sign than its net %s", l.Description, l.Tax, l.Amount)
		}
	}
	if !tax.Equal(inv.Tax) || !inv.Gross.Equal(inv.Total.Add(inv.Tax)) {
		t.Fatalf("tax %s (lines %s), net %s, gross %s", inv.Tax, tax, inv.Total, inv.Gross)
	}
}
