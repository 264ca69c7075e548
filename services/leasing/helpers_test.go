package leasing

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/masscustom/orchestrator/services/money"
	"github.com/shopspring/decimal"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func dp(s string) *decimal.Decimal { v := d(s); return &v }

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// contract returns a valid monthly calendar lease over 2026 priced per
// spindle-hour, for tests to adjust.
func contract() Contract {
	return Contract{
		ID:                 "ct-1",
		LessorID:           "lessor-1",
		LesseeID:           "lessee-1",
		EquipmentIDs:       []string{"cnc-1", "cnc-2"},
		Currency:           "CNY",
		Plans:              map[Meter]RatePlan{MeterSpindleHours: {Model: ModelPerUnit, UnitPrice: d("12.50")}},
		PlatformFeePercent: d("10"),
		Deposit:            d("20000.00"),
		CreditLimit:        d("50000.00"),
		Period:             BillingPeriod{Unit: PeriodMonthly, Anchor: AnchorCalendar},
		Start:              at("2026-01-01T00:00:00Z"),
		End:                at("2027-01-01T00:00:00Z"),
	}
}

// events builds one event per value of meter m at the given instant, with ids
// prefixed so that different calls do not collide.
func events(prefix string, m Meter, when time.Time, values ...string) []UsageEvent {
	evs := make([]UsageEvent, len(values))
	for i, v := range values {
		evs[i] = UsageEvent{
			EventID:     fmt.Sprintf("%s-%d", prefix, i),
			EquipmentID: "cnc-1",
			Meter:       m,
			Value:       d(v),
			At:          when.Add(time.Duration(i) * time.Minute),
			Seq:         int64(i),
		}
	}
	return evs
}

func mustPeriod(t testing.TB, c Contract, when time.Time) Period {
	t.Helper()
	p, err := PeriodAt(c, when)
	if err != nil {
		t.Fatalf("PeriodAt(%s): %v", when, err)
	}
	return p
}

func mustRate(t testing.TB, c Contract, when time.Time, evs []UsageEvent, adjs ...Adjustment) Invoice {
	t.Helper()
	inv, err := RatePeriod(c, mustPeriod(t, c, when), evs, adjs)
	if err != nil {
		t.Fatalf("RatePeriod: %v", err)
	}
	return inv
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkInvoice asserts the invariants every invoice keeps.
func checkInvoice(t testing.TB, inv Invoice) {
	t.Helper()
	if got := sumAmounts(inv.Lines); !got.Equal(inv.Total) {
		t.Fatalf("lines sum to %s, total %s", got, inv.Total)
	}
	if got := inv.PlatformFee.Add(inv.LessorShare); !got.Equal(inv.Total) {
		t.Fatalf("fee %s + lessor %s = %s, total %s", inv.PlatformFee, inv.LessorShare, got, inv.Total)
	}
	for _, l := range inv.Lines {
		if r, err := money.Round(l.Amount, inv.Currency); err != nil || !r.Equal(l.Amount) {
			t.Fatalf("line %q amount %s not in minor units", l.Description, l.Amount)
		}
	}
}
