package leasing_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/leasing"
)

// A plan change in the middle of January splits January's invoice: each plan
// rates its own part with its free allowance prorated, the minimum commitment
// changed with it is owed pro rata by each part, an instant charge made
// before the change is credited, and the invoice balances. Refusals change
// nothing.
func TestAnAmendmentMidPeriodSplitsTheInvoiceIntoProratedParts(t *testing.T) {
	// January (31 days): 100.00 per hour with 31 h free and a minimum of 3,100.
	l := newLease(t, func(c *leasing.Contract) {
		c.Plans[leasing.MeterSpindleHours] = leasing.RatePlan{Model: leasing.ModelPerUnit, UnitPrice: d("100"), FreeAllowance: d("31")}
		c.MinimumCommitment = d("3100")
		c.CreditLimit = d("100000")
	})
	ctx := context.Background()
	admin := testenv.Principal(l.lessor)
	factory := testenv.Principal(l.factory)
	eff := jan(11, 0) // 10 days of the old terms, 21 of the new
	change := leasing.Amendment{EffectiveAt: eff,
		Plans:             map[leasing.Meter]leasing.RatePlan{leasing.MeterSpindleHours: {Model: leasing.ModelPerUnit, UnitPrice: d("80"), FreeAllowance: d("62")}},
		MinimumCommitment: dp("6200"),
	}

	// Usage before the amendment, charged at once on the old plan.
	l.use(t, "15", jan(5, 8))
	if _, err := l.store.InstantSettle(ctx, factory, l.contract.ID, "job-1", []uuid.UUID{l.machine.ID}, jan(5, 0), jan(6, 0)); err != nil {
		t.Fatal(err)
	}

	// Refused, and nothing written: the lessee; a misplaced instant; no change at all.
	before := l.eventTypes(t)
	if _, err := l.store.AmendContract(ctx, factory, l.contract.ID, change); !isCode(err, errs.Forbidden) {
		t.Fatalf("the lessee amending: %v", err)
	}
	if _, err := l.store.AmendContract(ctx, admin, l.contract.ID, leasing.Amendment{EffectiveAt: time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC), MinimumCommitment: dp("1")}); !isField(err, errs.InvalidInput, "amendment.effectiveAt") {
		t.Fatalf("an amendment after the lease: %v", err)
	}
	if _, err := l.store.AmendContract(ctx, admin, l.contract.ID, leasing.Amendment{EffectiveAt: eff}); !isCode(err, errs.InvalidInput) {
		t.Fatalf("an empty amendment: %v", err)
	}
	bad := change
	bad.Plans = map[leasing.Meter]leasing.RatePlan{leasing.MeterSpindleHours: {Model: leasing.ModelPerUnit, UnitPrice: d("-1")}}
	if _, err := l.store.AmendContract(ctx, admin, l.contract.ID, bad); !isCode(err, errs.InvalidInput) {
		t.Fatalf("a negative price: %v", err)
	}
	if got := l.eventTypes(t); len(got) != len(before) {
		t.Fatalf("refusals wrote events: %v", got[len(before):])
	}

	res, err := l.store.AmendContract(ctx, admin, l.contract.ID, change)
	if err != nil || res.Repeated || len(res.Contract.Terms.Amendments) != 1 {
		t.Fatalf("amend: %+v, %v", res, err)
	}
	if res, err = l.store.AmendContract(ctx, admin, l.contract.ID, change); err != nil || !res.Repeated || len(res.Contract.Terms.Amendments) != 1 {
		t.Fatalf("the same amendment again: %+v, %v", res, err)
	}
	other := change
	other.MinimumCommitment = dp("5000")
	if _, err := l.store.AmendContract(ctx, admin, l.contract.ID, other); !isCode(err, errs.AlreadyExists) {
		t.Fatalf("another amendment at the same instant: %v", err)
	}
	if n := count(l.eventTypes(t), leasing.EventContractAmended); n != 1 {
		t.Fatalf("%d CONTRACT_AMENDED events, want 1", n)
	}

	l.use(t, "100", jan(20, 8))
	inv, err := l.store.ClosePeriod(ctx, l.contract.ID, jan(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	// Old plan, 10 of 31 days: 10 h free, (15 − 10) × 100 = 500, against a
	// minimum of 3,100 × 10/31 = 1,000: true-up 500. New plan, 21 days: 42 h
	// free, (100 − 42) × 80 = 4,640, against 6,200 × 21/31 = 4,200: met. Net
	// 500 + 500 + 4,640 = 5,640, less the instant charge of (15 − 31 free)…
	// nothing: the instant charge rated on the whole period's allowance was 0.
	want := []struct {
		kind   leasing.LineKind
		amount string
	}{{leasing.LineUsage, "500"}, {leasing.LineUsage, "4640"}, {leasing.LineMinimumTrueUp, "500"}}
	lines := inv.Body.Lines
	if len(lines) < len(want) {
		t.Fatalf("lines %+v", lines)
	}
	for i, w := range want {
		if lines[i].Kind != w.kind || !lines[i].Amount.Equal(d(w.amount)) {
			t.Errorf("line %d: %s %s (%s), want %s %s", i, lines[i].Kind, lines[i].Amount, lines[i].Description, w.kind, w.amount)
		}
	}
	if !strings.Contains(lines[0].Description, "in force 10 of 31 days") || !lines[0].End.Equal(eff) || !lines[1].Start.Equal(eff) {
		t.Errorf("first part %q ends %s; second starts %s", lines[0].Description, lines[0].End, lines[1].Start)
	}
	if !strings.Contains(lines[2].Description, "3100 per period pro rata") {
		t.Errorf("true-up %q", lines[2].Description)
	}
	total := decimal.Zero
	for _, ln := range lines {
		total = total.Add(ln.Amount)
	}
	if !total.Equal(inv.Total) || !inv.Total.Equal(d("5640")) {
		t.Errorf("lines sum to %s, invoice total %s, want 5640", total, inv.Total)
	}
	if s := l.ledgerSum(t); !s.IsZero() {
		t.Fatalf("ledger sums to %s", s)
	}

	// January is invoiced: an amendment reaching into it is refused.
	late := leasing.Amendment{EffectiveAt: jan(20, 0), MinimumCommitment: dp("1")}
	if _, err := l.store.AmendContract(ctx, admin, l.contract.ID, late); !isCode(err, errs.IllegalState) {
		t.Fatalf("amending an invoiced period: %v", err)
	}
	// The operator may amend the next period.
	if _, err := l.store.AmendContract(ctx, identity.System, l.contract.ID, leasing.Amendment{EffectiveAt: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), VATRatePercent: dp("13")}); err != nil {
		t.Fatalf("the operator amending February: %v", err)
	}
}

func isCode(err error, code errs.Code) bool {
	e, ok := refusal(err)
	return ok && e.Code == code
}

func isField(err error, code errs.Code, field string) bool {
	e, ok := refusal(err)
	return ok && e.Code == code && strings.Join(e.Field, ".") == "input."+field
}
