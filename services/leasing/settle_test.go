package leasing_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/internal/platform"
	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/leasing"
)

type lease struct {
	p        *platform.Platform
	store    *leasing.Store
	lessor   identity.Account
	factory  identity.Account
	machine  *leasing.Equipment
	contract *leasing.StoredContract
}

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func dp(s string) *decimal.Decimal { v := d(s); return &v }

// newLease registers a machine and a monthly contract: 100.00 CNY per spindle
// hour, 10 % platform fee, a credit limit of 1,000.00, for 2026.
func newLease(t *testing.T, adjust ...func(*leasing.Contract)) *lease {
	t.Helper()
	p := testenv.Platform(t)
	l := &lease{p: p, store: leasing.NewStore(p.DB, p.Cache)}
	l.lessor = testenv.Account(t, p, identity.KindLessor, identity.RoleAdmin)
	l.factory = testenv.Account(t, p, identity.KindFactory, identity.RoleAdmin)
	ctx := context.Background()
	lp := &identity.Principal{UserID: l.lessor.User.ID, EnterpriseID: l.lessor.Enterprise.ID, Kind: identity.KindLessor, Role: identity.RoleAdmin}
	var err error
	l.machine, err = l.store.RegisterEquipment(ctx, lp, l.lessor.Enterprise.ID, "VMC-"+testenv.Suffix(), "CNC_MILL", []leasing.Meter{leasing.MeterSpindleHours, leasing.MeterParts})
	if err != nil {
		t.Fatal(err)
	}
	terms := leasing.Contract{
		LessorID: l.lessor.Enterprise.ID.String(), LesseeID: l.factory.Enterprise.ID.String(),
		EquipmentIDs: []string{l.machine.ID.String()}, Currency: "CNY",
		Plans:              map[leasing.Meter]leasing.RatePlan{leasing.MeterSpindleHours: {Model: leasing.ModelPerUnit, UnitPrice: d("100")}},
		PlatformFeePercent: d("10"), CreditLimit: d("1000"),
		Period: leasing.BillingPeriod{Unit: leasing.PeriodMonthly, Anchor: leasing.AnchorCalendar},
		Start:  time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for _, a := range adjust {
		a(&terms)
	}
	l.contract, err = l.store.CreateContract(ctx, lp, terms)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// use stores a usage event directly, as ingestion would.
func (l *lease) use(t *testing.T, hours string, at time.Time) leasing.EventRef {
	t.Helper()
	per, err := leasing.PeriodAt(l.contract.Terms, at)
	if err != nil {
		t.Fatal(err)
	}
	ref := leasing.EventRef{EquipmentID: l.machine.ID, EventID: uuid.NewString()}
	_, err = l.p.DB.Exec(context.Background(), `INSERT INTO usage_events (equipment_id, event_id, meter, value, at, seq, contract_id, period_key)
		VALUES ($1,$2,'spindle_hours',$3,$4,$5,$6,$7)`, ref.EquipmentID, ref.EventID, d(hours), at, at.Unix(), l.contract.ID, per.Key)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func (l *lease) ledgerSum(t *testing.T) decimal.Decimal {
	t.Helper()
	var s decimal.Decimal
	if err := l.p.DB.QueryRow(context.Background(), `SELECT coalesce(sum(amount),0) FROM ledger_entries WHERE contract_id = $1`, l.contract.ID).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func (l *lease) locked(t *testing.T) bool {
	t.Helper()
	e, err := l.store.EquipmentByID(context.Background(), l.machine.ID)
	if err != nil {
		t.Fatal(err)
	}
	return e.LockedAt != nil
}

func jan(day, hour int) time.Time { return time.Date(2026, 1, day, hour, 0, 0, 0, time.UTC) }
func feb(day, hour int) time.Time { return time.Date(2026, 2, day, hour, 0, 0, 0, time.UTC) }

func TestClosePeriodIssuesOneBalancedInvoiceAndIsIdempotent(t *testing.T) {
	l := newLease(t)
	ctx := context.Background()
	l.use(t, "2", jan(5, 8))
	l.use(t, "3.5", jan(6, 8))
	l.use(t, "4.5", jan(31, 23))
	inv, err := l.store.ClosePeriod(ctx, l.contract.ID, jan(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	// 10 h × 100.00 = 1,000.00; fee 10 % = 100.00, lessor 900.00.
	if !inv.Total.Equal(d("1000")) || !inv.PlatformFee.Equal(d("100")) || !inv.LessorShare.Equal(d("900")) || inv.PeriodKey != "2026-01" {
		t.Fatalf("invoice %+v", inv)
	}
	sum := decimal.Zero
	for _, line := range inv.Body.Lines {
		sum = sum.Add(line.Amount)
	}
	if !sum.Equal(inv.Total) {
		t.Fatalf("lines sum to %s, total %s", sum, inv.Total)
	}
	if s := l.ledgerSum(t); !s.IsZero() {
		t.Fatalf("ledger sums to %s", s)
	}
	again, err := l.store.ClosePeriod(ctx, l.contract.ID, jan(20, 0))
	if err != nil || again.ID != inv.ID || again.Number != inv.Number {
		t.Fatalf("second close gave %+v, %v; want invoice %d again", again, err, inv.Number)
	}
	var unbilled int
	_ = l.p.DB.QueryRow(ctx, `SELECT count(*) FROM usage_events WHERE contract_id = $1 AND invoice_id IS NULL`, l.contract.ID).Scan(&unbilled)
	if unbilled != 0 {
		t.Fatalf("%d events left unbilled", unbilled)
	}
}

func TestLateUsageBecomesAnAdjustmentAndTheFinalInvoiceIsNeverEdited(t *testing.T) {
	l := newLease(t)
	ctx := context.Background()
	l.use(t, "5", jan(10, 8))
	janInv, err := l.store.ClosePeriod(ctx, l.contract.ID, jan(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	l.use(t, "1", jan(31, 22)) // arrives after January was invoiced
	l.use(t, "2", feb(3, 8))
	febInv, err := l.store.ClosePeriod(ctx, l.contract.ID, feb(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	// February: 2 h usage (200.00) + 1 late January hour as an adjustment (100.00).
	if !febInv.Total.Equal(d("300")) {
		t.Fatalf("february total %s, want 300: %+v", febInv.Total, febInv.Body.Lines)
	}
	var adj decimal.Decimal
	for _, line := range febInv.Body.Lines {
		if line.Kind == leasing.LineAdjustment {
			adj = adj.Add(line.Amount)
		}
	}
	if !adj.Equal(d("100")) {
		t.Fatalf("adjustment %s, want 100", adj)
	}
	reread, err := l.store.ClosePeriod(ctx, l.contract.ID, jan(1, 0))
	if err != nil || !reread.Total.Equal(janInv.Total) || len(reread.Body.Lines) != len(janInv.Body.Lines) {
		t.Fatalf("january invoice changed: %+v (was %+v)", reread, janInv)
	}
}

func TestBalanceOverTheCreditLimitLocksTheMachinesAndAPaymentUnlocksThem(t *testing.T) {
	l := newLease(t)
	ctx := context.Background()
	l.use(t, "10", jan(10, 8))
	if _, err := l.store.ClosePeriod(ctx, l.contract.ID, jan(1, 0)); err != nil {
		t.Fatal(err)
	}
	if l.locked(t) {
		t.Fatal("locked at exactly the credit limit")
	}
	l.use(t, "3", feb(10, 8))
	if _, err := l.store.ClosePeriod(ctx, l.contract.ID, feb(1, 0)); err != nil {
		t.Fatal(err)
	}
	if !l.locked(t) {
		t.Fatal("balance 1,300.00 over a 1,000.00 limit but the machine is not locked")
	}
	finance := testenv.Member(t, l.p, l.lessor.Enterprise, identity.RoleFinance)
	fp := &identity.Principal{UserID: finance.User.ID, EnterpriseID: l.lessor.Enterprise.ID, Kind: identity.KindLessor, Role: identity.RoleFinance}
	factory := &identity.Principal{UserID: l.factory.User.ID, EnterpriseID: l.factory.Enterprise.ID, Kind: identity.KindFactory, Role: identity.RoleAdmin}
	if _, err := l.store.RecordPayment(ctx, factory, l.contract.ID, d("500"), "self-declared"); err == nil {
		t.Fatal("the lessee recorded its own payment")
	}
	// Unbounded or too fine amounts are refused on the amount, and a NUL in the
	// reference on the reference; the lessee stays locked (a payment of 1e400
	// would have made its balance about -10^400, unlocking it for good).
	for _, bad := range []struct{ amount, reference, field string }{
		{"-5", "bad-1", "amount"}, {"0", "bad-2", "amount"}, {"10.001", "bad-3", "amount"},
		{"1e400", "bad-4", "amount"}, {"1e-30", "bad-5", "amount"}, {"1000000000000.01", "bad-6", "amount"},
		{"500", "wire\x00001", "reference"}, {"500", "wire\n001", "reference"},
	} {
		_, err := l.store.RecordPayment(ctx, fp, l.contract.ID, d(bad.amount), bad.reference)
		var list errs.List
		if !errors.As(err, &list) || len(list) != 1 || list[0].Code != errs.InvalidInput || list[0].Field[1] != bad.field || list[0].Message == "" {
			t.Fatalf("payment of %s (%q): %v, want INVALID_INPUT on input.%s", bad.amount, bad.reference, err, bad.field)
		}
	}
	if !l.locked(t) {
		t.Fatal("refused payments unlocked the machine")
	}
	bal, err := l.store.RecordPayment(ctx, fp, l.contract.ID, d("500"), "wire-001")
	if err != nil {
		t.Fatal(err)
	}
	if !bal.Equal(d("800")) || l.locked(t) {
		t.Fatalf("after paying 500: balance %s, locked %v", bal, l.locked(t))
	}
	if bal, _ = l.store.RecordPayment(ctx, fp, l.contract.ID, d("500"), "wire-001"); !bal.Equal(d("800")) {
		t.Fatalf("a repeated payment reference counted twice: balance %s", bal)
	}
	var types []string
	rows, _ := l.p.DB.Query(ctx, `SELECT type FROM lease_events WHERE contract_id = $1 ORDER BY seq`, l.contract.ID)
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		types = append(types, s)
	}
	// January's 1,000.00 is at the limit, past its 80%: warned once, before
	// February's invoice locks the machine.
	want := []string{"INVOICE_ISSUED", "CREDIT_LIMIT_NEAR", "INVOICE_ISSUED", "EQUIPMENT_LOCKED", "PAYMENT_RECORDED", "EQUIPMENT_UNLOCKED"}
	if len(types) != len(want) {
		t.Fatalf("lease timeline %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("lease timeline %v, want %v", types, want)
		}
	}
	if s := l.ledgerSum(t); !s.IsZero() {
		t.Fatalf("ledger sums to %s", s)
	}
}

func TestInstantSettlementChargesAJobAtOnceAndThePeriodCreditsIt(t *testing.T) {
	l := newLease(t)
	ctx := context.Background()
	factory := &identity.Principal{UserID: l.factory.User.ID, EnterpriseID: l.factory.Enterprise.ID, Kind: identity.KindFactory, Role: identity.RoleAdmin}
	l.use(t, "1.5", jan(10, 8))
	l.use(t, "2.5", jan(10, 10))
	l.use(t, "1", jan(20, 10)) // not part of the job
	job, err := l.store.InstantSettle(ctx, factory, l.contract.ID, "job-42", []uuid.UUID{l.machine.ID}, jan(10, 0), jan(11, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !job.Total.Equal(d("400")) || job.Kind != leasing.InvoiceInstant {
		t.Fatalf("job charge %+v", job)
	}
	again, err := l.store.InstantSettle(ctx, factory, l.contract.ID, "job-42", []uuid.UUID{l.machine.ID}, jan(10, 0), jan(11, 0))
	if err != nil || again.ID != job.ID {
		t.Fatalf("repeated job settlement: %+v %v", again, err)
	}
	if _, err := l.store.InstantSettle(ctx, factory, l.contract.ID, "job-43", []uuid.UUID{l.machine.ID}, jan(10, 0), jan(11, 0)); err == nil {
		t.Fatal("settled usage that was already charged")
	}
	period, err := l.store.ClosePeriod(ctx, l.contract.ID, jan(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	// The period rates all 5 h (500.00) and credits the 400.00 already charged.
	if !period.Total.Equal(d("100")) {
		t.Fatalf("period total %s, want 100: %+v", period.Total, period.Body.Lines)
	}
	if s := l.ledgerSum(t); !s.IsZero() {
		t.Fatalf("ledger sums to %s", s)
	}
}

// On a 13% contract the instant charge owes its VAT at once, the period
// invoice credits exactly the net and the VAT already charged (not a new
// rounding of them), the lessee's receivable is the gross of both, the VAT is
// posted as the lessor's to pay, and the ledger sums to zero.
func TestVATIsChargedPerLineAndThePeriodCreditsTheInstantTaxExactly(t *testing.T) {
	l := newLease(t, func(c *leasing.Contract) {
		c.VATRatePercent = d("13")
		c.Plans[leasing.MeterSpindleHours] = leasing.RatePlan{Model: leasing.ModelPerUnit, UnitPrice: d("0.35")}
	})
	ctx := context.Background()
	factory := &identity.Principal{UserID: l.factory.User.ID, EnterpriseID: l.factory.Enterprise.ID, Kind: identity.KindFactory, Role: identity.RoleAdmin}
	l.use(t, "1", jan(10, 8))  // 0.35 net, 0.0455 VAT
	l.use(t, "1", jan(20, 10)) // left for the period
	job, err := l.store.InstantSettle(ctx, factory, l.contract.ID, "vat-job", []uuid.UUID{l.machine.ID}, jan(10, 0), jan(11, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !job.Total.Equal(d("0.35")) || !job.Body.Tax.Equal(d("0.05")) || !job.Body.Gross.Equal(d("0.40")) || !job.Body.VATRatePercent.Equal(d("13")) {
		t.Fatalf("instant charge: net %s tax %s gross %s at %s%%", job.Total, job.Body.Tax, job.Body.Gross, job.Body.VATRatePercent)
	}
	period, err := l.store.ClosePeriod(ctx, l.contract.ID, jan(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	// The period rates 2 h: 0.70 net with 0.09 VAT (0.091) on its one usage
	// line, then credits the job's 0.35 and its 0.05 as they were charged.
	b := period.Body
	if !b.Total.Equal(d("0.35")) || !b.Tax.Equal(d("0.04")) || !b.Gross.Equal(d("0.39")) {
		t.Fatalf("period: net %s tax %s gross %s; lines %+v", b.Total, b.Tax, b.Gross, b.Lines)
	}
	credit := b.Lines[len(b.Lines)-1]
	if credit.Kind != leasing.LineAdjustment || !credit.Amount.Equal(d("-0.35")) || !credit.Tax.Equal(d("-0.05")) || !credit.Gross.Equal(d("-0.40")) {
		t.Fatalf("credit line %+v", credit)
	}
	bal, err := l.store.Balance(ctx, l.contract)
	if err != nil {
		t.Fatal(err)
	}
	if !bal.Equal(d("0.79")) { // 0.40 + 0.39: what the lessee owes, VAT included
		t.Errorf("balance %s, want 0.79", bal)
	}
	var vat decimal.Decimal
	if err := l.p.DB.QueryRow(ctx, `SELECT coalesce(sum(amount),0) FROM ledger_entries WHERE contract_id = $1 AND account = $2`,
		l.contract.ID, "lessor:"+l.lessor.Enterprise.ID.String()+":vat-payable").Scan(&vat); err != nil {
		t.Fatal(err)
	}
	if !vat.Equal(d("-0.09")) {
		t.Errorf("VAT payable %s, want -0.09 (0.05 + 0.04)", vat)
	}
	if s := l.ledgerSum(t); !s.IsZero() {
		t.Fatalf("ledger sums to %s", s)
	}
}

func (l *lease) posted(t *testing.T, invoiceID uuid.UUID) int {
	t.Helper()
	var n int
	if err := l.p.DB.QueryRow(context.Background(), `SELECT count(*) FROM ledger_entries WHERE invoice_id = $1`, invoiceID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (l *lease) lastEvent(t *testing.T) (typ, msg string) {
	t.Helper()
	if err := l.p.DB.QueryRow(context.Background(), `SELECT type, message FROM lease_events WHERE contract_id = $1 ORDER BY seq DESC LIMIT 1`,
		l.contract.ID).Scan(&typ, &msg); err != nil {
		t.Fatal(err)
	}
	return typ, msg
}

// A closed period is a DRAFT for its review: nothing is posted, usage that
// arrives meanwhile is rated into it when it is finalized, and from then on
// it is immutable and posted; later usage becomes an adjustment of the next
// period, whose close first finalizes any draft still open.
func TestADraftTakesLateUsageUntilItIsFinalizedThenNeverChanges(t *testing.T) {
	l := newLease(t)
	ctx := context.Background()
	l.use(t, "2", jan(10, 8))
	draft, err := l.store.DraftPeriod(ctx, l.contract.ID, jan(1, 0), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if draft.Status != leasing.InvoiceDraft || draft.ReviewUntil == nil || draft.FinalizedAt != nil || !draft.Total.Equal(d("200")) {
		t.Fatalf("draft: %s until %v, final %v, total %s", draft.Status, draft.ReviewUntil, draft.FinalizedAt, draft.Total)
	}
	if n := l.posted(t, draft.ID); n != 0 {
		t.Fatalf("a draft posted %d ledger entries", n)
	}
	if typ, _ := l.lastEvent(t); typ != leasing.EventInvoiceDrafted {
		t.Fatalf("last lease event %s, want %s", typ, leasing.EventInvoiceDrafted)
	}
	if again, err := l.store.DraftPeriod(ctx, l.contract.ID, jan(15, 0), time.Hour); err != nil || again.ID != draft.ID {
		t.Fatalf("closing the period again: %+v, %v", again, err)
	}

	l.use(t, "1", jan(31, 23)) // late, within the review
	final, err := l.store.FinalizeDraft(ctx, draft.ID)
	if err != nil {
		t.Fatal(err)
	}
	if final.ID != draft.ID || final.Number != draft.Number || final.Status != leasing.InvoiceFinalized || final.FinalizedAt == nil || !final.Total.Equal(d("300")) {
		t.Fatalf("final: %s, total %s, number %d (draft %d)", final.Status, final.Total, final.Number, draft.Number)
	}
	if n := l.posted(t, final.ID); n != 3 {
		t.Fatalf("the final invoice posted %d entries, want 3 (receivable, revenue, fee)", n)
	}
	if typ, msg := l.lastEvent(t); typ != leasing.EventInvoiceIssued || !strings.Contains(msg, "late usage rated into it") {
		t.Fatalf("last lease event %s %q", typ, msg)
	}
	if again, err := l.store.FinalizeDraft(ctx, draft.ID); err != nil || !again.Total.Equal(d("300")) || l.posted(t, draft.ID) != 3 {
		t.Fatalf("finalizing again: %+v, %v", again, err)
	}
	if s := l.ledgerSum(t); !s.IsZero() {
		t.Fatalf("ledger sums to %s", s)
	}
	if bal, err := l.store.Balance(ctx, l.contract); err != nil || !bal.Equal(d("300")) {
		t.Fatalf("balance %s, %v", bal, err)
	}

	// After finalizing, January's late usage is February's adjustment; and
	// February's close first finalizes a draft still open (none here but its own).
	l.use(t, "0.5", jan(31, 23))
	l.use(t, "4", feb(3, 9))
	feb1, err := l.store.DraftPeriod(ctx, l.contract.ID, feb(1, 0), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !feb1.Total.Equal(d("450")) { // 4 h + 0.5 h adjustment of January
		t.Fatalf("february draft total %s, want 450: %+v", feb1.Total, feb1.Body.Lines)
	}
	if final, err := l.store.Invoice(ctx, identity.System, draft.ID); err != nil || !final.Total.Equal(d("300")) || final.Status != leasing.InvoiceFinalized {
		t.Fatalf("january after february's close: %+v, %v", final, err)
	}
	l.use(t, "1", feb(27, 9)) // arrives while February is in review
	mar, err := l.store.DraftPeriod(ctx, l.contract.ID, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if febFinal, err := l.store.Invoice(ctx, identity.System, feb1.ID); err != nil || febFinal.Status != leasing.InvoiceFinalized || !febFinal.Total.Equal(d("550")) {
		t.Fatalf("february, finalized by march's close: %+v, %v", febFinal, err)
	}
	if mar.Status != leasing.InvoiceDraft || !mar.Total.IsZero() {
		t.Fatalf("march draft: %s %s", mar.Status, mar.Total)
	}
	if s := l.ledgerSum(t); !s.IsZero() {
		t.Fatalf("ledger sums to %s", s)
	}
}

// Finance may end a review early; nobody else may, a final invoice cannot be
// finalized twice, and an invoice the caller cannot see does not exist.
func TestFinanceFinalizesADraftEarly(t *testing.T) {
	l := newLease(t)
	ctx := context.Background()
	l.use(t, "2", jan(10, 8))
	draft, err := l.store.DraftPeriod(ctx, l.contract.ID, jan(1, 0), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	finance := testenv.Member(t, l.p, l.lessor.Enterprise, identity.RoleFinance)
	viewer := testenv.Member(t, l.p, l.lessor.Enterprise, identity.RoleViewer)
	stranger := testenv.Account(t, l.p, identity.KindLessor, identity.RoleAdmin)
	for _, tc := range []struct {
		name string
		who  identity.Account
		code errs.Code
	}{
		{"the lessee", l.factory, errs.Forbidden},
		{"a viewer of the lessor", viewer, errs.Forbidden},
		{"another lessor", stranger, errs.NotFound},
	} {
		_, err := l.store.FinalizeInvoice(ctx, testenv.Principal(tc.who), draft.ID)
		if e, ok := errs.As(err); !ok || e.Code != tc.code {
			t.Errorf("%s finalizing: %v, want %s", tc.name, err, tc.code)
		}
	}
	if n := l.posted(t, draft.ID); n != 0 {
		t.Fatalf("a refused finalization posted %d entries", n)
	}
	final, err := l.store.FinalizeInvoice(ctx, testenv.Principal(finance), draft.ID)
	if err != nil || final.Status != leasing.InvoiceFinalized {
		t.Fatalf("finance finalizing: %+v, %v", final, err)
	}
	_, err = l.store.FinalizeInvoice(ctx, testenv.Principal(finance), draft.ID)
	if e, ok := errs.As(err); !ok || e.Code != errs.IllegalState {
		t.Fatalf("finalizing a final invoice: %v, want ILLEGAL_STATE", err)
	}
	if _, err := l.store.FinalizeInvoice(ctx, testenv.Principal(finance), uuid.New()); err == nil {
		t.Fatal("finalized a random invoice id")
	}
}
