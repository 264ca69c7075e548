package leasing_test

import (
	"context"
	"errors"
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

// graduated is a 13% VAT contract whose first 10 spindle-hours of a period
// cost 100.00 and the rest 80.00.
func graduated(c *leasing.Contract) {
	c.VATRatePercent = d("13")
	c.Plans[leasing.MeterSpindleHours] = leasing.RatePlan{Model: leasing.ModelGraduated, Tiers: []leasing.Tier{
		{UpTo: dp("10"), UnitPrice: d("100")}, {UnitPrice: d("80")}}}
}

// notesGross sums the gross of an invoice's notes.
func notesGross(t *testing.T, store *leasing.Store, invoiceID uuid.UUID) decimal.Decimal {
	t.Helper()
	notes, err := store.Notes(context.Background(), invoiceID)
	if err != nil {
		t.Fatal(err)
	}
	sum := decimal.Zero
	for _, n := range notes {
		sum = sum.Add(n.Gross)
	}
	return sum
}

// Voiding usage of a final period crosses a graduated tier boundary back: a
// numbered credit note takes off the difference line by line with its VAT,
// posts the reversal, and invoice plus notes is the period rated again. A
// corrected value then yields a debit note on top, and repeating a key
// changes nothing.
func TestCorrectionsOfAFinalPeriodIssueNotesThatReRateItsTiers(t *testing.T) {
	l := newLease(t, graduated)
	ctx := context.Background()
	finance := testenv.Principal(testenv.Member(t, l.p, l.lessor.Enterprise, identity.RoleFinance))
	first := l.use(t, "8", jan(10, 8))
	wrong := l.use(t, "4", jan(12, 8))
	inv, err := l.store.ClosePeriod(ctx, l.contract.ID, jan(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	// 10 × 100 + 2 × 80 = 1,160.00 net; 150.80 VAT; 1,310.80 gross.
	if !inv.Total.Equal(d("1160")) || !inv.Body.Gross.Equal(d("1310.80")) {
		t.Fatalf("invoice: net %s gross %s", inv.Total, inv.Body.Gross)
	}

	void := leasing.Correction{Key: "void-" + testenv.Suffix(), Reason: "the machine double-reported a cycle", Voids: []leasing.EventRef{wrong}}
	res, err := l.store.CorrectUsage(ctx, finance, l.contract.ID, void)
	if err != nil {
		t.Fatal(err)
	}
	if res.Voided != 1 || res.Added != 0 || len(res.Notes) != 1 {
		t.Fatalf("void: %+v", res)
	}
	credit := res.Notes[0]
	// 8 h: 800.00 net, 104.00 VAT: the note takes off 360.00 and 46.80.
	if credit.Kind != leasing.NoteCredit || credit.InvoiceID != inv.ID || credit.Number == 0 ||
		!credit.Total.Equal(d("-360")) || !credit.Tax.Equal(d("-46.80")) || !credit.Gross.Equal(d("-406.80")) {
		t.Fatalf("credit note: %s %d net %s tax %s gross %s", credit.Kind, credit.Number, credit.Total, credit.Tax, credit.Gross)
	}
	if len(credit.Body.Lines) != 1 || !credit.Body.Lines[0].Amount.Equal(d("-360")) || !credit.Body.Lines[0].Quantity.Equal(d("-4")) ||
		credit.Body.InvoiceNumber != inv.Number || !credit.Body.Rerated.Gross.Equal(d("904")) {
		t.Fatalf("credit note body: %+v", credit.Body)
	}
	if got := inv.Body.Gross.Add(notesGross(t, l.store, inv.ID)); !got.Equal(d("904")) {
		t.Fatalf("invoice plus notes %s, want the re-rated 904.00", got)
	}
	if s := l.ledgerSum(t); !s.IsZero() {
		t.Fatalf("ledger sums to %s", s)
	}
	if bal, err := l.store.Balance(ctx, l.contract); err != nil || !bal.Equal(d("904")) {
		t.Fatalf("balance %s, %v; want 904.00", bal, err)
	}
	// The invoice put the balance over the 1,000.00 credit limit; the credit
	// note brings it back within, and the machine is unlocked.
	var noted int
	if err := l.p.DB.QueryRow(ctx, `SELECT count(*) FROM lease_events WHERE contract_id = $1 AND type = $2`, l.contract.ID, leasing.EventNoteIssued).Scan(&noted); err != nil || noted != 1 {
		t.Fatalf("%d NOTE_ISSUED events, %v", noted, err)
	}
	if typ, _ := l.lastEvent(t); typ != leasing.EventEquipmentUnlock || l.locked(t) {
		t.Fatalf("after the credit note: last event %s, locked %t", typ, l.locked(t))
	}

	again, err := l.store.CorrectUsage(ctx, finance, l.contract.ID, void)
	if err != nil || !again.Repeated || len(again.Notes) != 1 || again.Notes[0].ID != credit.ID || again.Voided != 1 {
		t.Fatalf("repeated correction: %+v, %v", again, err)
	}
	if got := notesGross(t, l.store, inv.ID); !got.Equal(d("-406.80")) {
		t.Fatalf("a repeated key issued another note: notes sum to %s", got)
	}

	up := leasing.Correction{Key: "up-" + testenv.Suffix(), Reason: "the reading was 9 h, not 8",
		Values: []leasing.ValueCorrection{{EventRef: first, Value: d("9")}}}
	res, err = l.store.CorrectUsage(ctx, finance, l.contract.ID, up)
	if err != nil {
		t.Fatal(err)
	}
	if res.Voided != 1 || res.Added != 1 || len(res.Notes) != 1 {
		t.Fatalf("value correction: %+v", res)
	}
	debit := res.Notes[0]
	if debit.Kind != leasing.NoteDebit || !debit.Total.Equal(d("100")) || !debit.Tax.Equal(d("13")) || debit.Number <= credit.Number {
		t.Fatalf("debit note: %s %d net %s tax %s", debit.Kind, debit.Number, debit.Total, debit.Tax)
	}
	if got := inv.Body.Gross.Add(notesGross(t, l.store, inv.ID)); !got.Equal(d("1017")) {
		t.Fatalf("invoice plus notes %s, want the re-rated 1,017.00 (9 h)", got)
	}
	if s := l.ledgerSum(t); !s.IsZero() {
		t.Fatalf("ledger sums to %s", s)
	}
	usage, err := l.store.Usage(ctx, l.contract.ID, nil)
	if err != nil || len(usage) != 1 || !usage[0].Quantity.Equal(d("9")) {
		t.Fatalf("usage after the corrections: %+v, %v", usage, err)
	}
}

// Usage in a draft is simply no longer counted: no note, and the draft is
// final without it.
func TestACorrectionInADraftNeedsNoNote(t *testing.T) {
	l := newLease(t)
	ctx := context.Background()
	l.use(t, "2", jan(10, 8))
	wrong := l.use(t, "3", jan(11, 8))
	draft, err := l.store.DraftPeriod(ctx, l.contract.ID, jan(1, 0), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.store.CorrectUsage(ctx, testenv.Principal(l.lessor), l.contract.ID,
		leasing.Correction{Key: "k-" + testenv.Suffix(), Reason: "test run", Voids: []leasing.EventRef{wrong}})
	if err != nil || len(res.Notes) != 0 || res.Voided != 1 {
		t.Fatalf("void in a draft: %+v, %v", res, err)
	}
	final, err := l.store.FinalizeDraft(ctx, draft.ID)
	if err != nil || !final.Total.Equal(d("200")) {
		t.Fatalf("final after the void: %+v, %v", final, err)
	}
}

// Bad corrections are refused with their reason and change nothing.
func TestBadCorrectionsAreRefusedAndChangeNothing(t *testing.T) {
	l := newLease(t)
	ctx := context.Background()
	ev := l.use(t, "2", jan(10, 8))
	if _, err := l.store.ClosePeriod(ctx, l.contract.ID, jan(1, 0)); err != nil {
		t.Fatal(err)
	}
	lessor := testenv.Principal(l.lessor)
	stranger := testenv.Principal(testenv.Account(t, l.p, identity.KindLessor, identity.RoleAdmin))
	good := func() leasing.Correction {
		return leasing.Correction{Key: "k-" + testenv.Suffix(), Reason: "meter fault", Voids: []leasing.EventRef{ev}}
	}
	for _, tc := range []struct {
		name string
		who  *identity.Principal
		c    leasing.Correction
		code errs.Code
		path string
	}{
		{"the lessee", testenv.Principal(l.factory), good(), errs.Forbidden, ""},
		{"another lessor", stranger, good(), errs.NotFound, ""},
		{"no key", lessor, leasing.Correction{Reason: "x", Voids: []leasing.EventRef{ev}}, errs.InvalidInput, "input.key"},
		{"no reason", lessor, leasing.Correction{Key: "k", Voids: []leasing.EventRef{ev}}, errs.InvalidInput, "input.reason"},
		{"nothing to correct", lessor, leasing.Correction{Key: "k", Reason: "x"}, errs.InvalidInput, "input"},
		{"an unknown event", lessor, leasing.Correction{Key: "k", Reason: "x", Voids: []leasing.EventRef{{EquipmentID: ev.EquipmentID, EventID: "nope"}}}, errs.NotFound, "input.voids.0"},
		{"a negative value", lessor, leasing.Correction{Key: "k", Reason: "x", Values: []leasing.ValueCorrection{{EventRef: ev, Value: d("-1")}}}, errs.InvalidInput, "input.values.0.value"},
		{"an event named twice", lessor, leasing.Correction{Key: "k", Reason: "x", Voids: []leasing.EventRef{ev},
			Values: []leasing.ValueCorrection{{EventRef: ev, Value: d("1")}}}, errs.InvalidInput, "input.values.0"},
	} {
		_, err := l.store.CorrectUsage(ctx, tc.who, l.contract.ID, tc.c)
		var list errs.List
		e, ok := errs.As(err)
		if errors.As(err, &list) && len(list) > 0 {
			e, ok = list[0], true
		}
		if !ok || e.Code != tc.code || (tc.path != "" && strings.Join(e.Field, ".") != tc.path) {
			t.Errorf("%s: %v, want %s on %q", tc.name, err, tc.code, tc.path)
		}
	}
	var corrections, notes int
	if err := l.p.DB.QueryRow(ctx, `SELECT (SELECT count(*) FROM usage_corrections WHERE contract_id = $1), (SELECT count(*) FROM invoice_notes WHERE contract_id = $1)`,
		l.contract.ID).Scan(&corrections, &notes); err != nil || corrections != 0 || notes != 0 {
		t.Fatalf("refused corrections left %d corrections and %d notes (%v)", corrections, notes, err)
	}
	if _, err := l.store.CorrectUsage(ctx, lessor, l.contract.ID, good()); err != nil {
		t.Fatal(err)
	}
	_, err := l.store.CorrectUsage(ctx, lessor, l.contract.ID, good())
	var list errs.List
	if !errors.As(err, &list) || len(list) != 1 || list[0].Code != errs.IllegalState {
		t.Fatalf("voiding a voided event: %v, want ILLEGAL_STATE", err)
	}
}

// On a volume plan a void reprices everything: 12 h at 80.00 fall back to 6 h
// at 100.00. The first 6 h were charged at once (instant, 100.00 each) and
// credited by the period invoice; voiding the other 6 h leaves the period
// owing exactly the instant charge, and the credit note is no more than what
// the invoice itself charged.
func TestAVoidOnAVolumePlanRepricesThePeriodAndKeepsInstantCreditsAsCharged(t *testing.T) {
	l := newLease(t, func(c *leasing.Contract) {
		c.VATRatePercent = d("13")
		c.Plans[leasing.MeterSpindleHours] = leasing.RatePlan{Model: leasing.ModelVolume, Tiers: []leasing.Tier{
			{UpTo: dp("10"), UnitPrice: d("100")}, {UnitPrice: d("80")}}}
	})
	ctx := context.Background()
	l.use(t, "6", jan(10, 8))
	later := l.use(t, "6", jan(20, 8))
	job, err := l.store.InstantSettle(ctx, testenv.Principal(l.factory), l.contract.ID, "job-"+testenv.Suffix(),
		[]uuid.UUID{l.machine.ID}, jan(10, 0), jan(11, 0))
	if err != nil || !job.Body.Gross.Equal(d("678")) {
		t.Fatalf("instant charge: %+v, %v", job, err)
	}
	inv, err := l.store.ClosePeriod(ctx, l.contract.ID, jan(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	// 12 h × 80.00 = 960.00 (124.80 VAT) less the 600.00 (78.00) charged.
	if !inv.Total.Equal(d("360")) || !inv.Body.Tax.Equal(d("46.80")) {
		t.Fatalf("period invoice: net %s tax %s", inv.Total, inv.Body.Tax)
	}
	res, err := l.store.CorrectUsage(ctx, testenv.Principal(l.lessor), l.contract.ID,
		leasing.Correction{Key: "v-" + testenv.Suffix(), Reason: "test piece, not production", Voids: []leasing.EventRef{later}})
	if err != nil || len(res.Notes) != 1 {
		t.Fatalf("void: %+v, %v", res, err)
	}
	n := res.Notes[0]
	if n.Kind != leasing.NoteCredit || !n.Total.Equal(d("-360")) || !n.Tax.Equal(d("-46.80")) || !n.Body.Rerated.Gross.IsZero() {
		t.Fatalf("credit note: net %s tax %s, rerated gross %s", n.Total, n.Tax, n.Body.Rerated.Gross)
	}
	if bal, err := l.store.Balance(ctx, l.contract); err != nil || !bal.Equal(d("678")) {
		t.Fatalf("balance %s, %v; want the instant charge's 678.00 alone", bal, err)
	}
	if s := l.ledgerSum(t); !s.IsZero() {
		t.Fatalf("ledger sums to %s", s)
	}
}

// A correction's note re-rates only what the invoice billed: usage of the
// period that arrived after it is left to the next invoice's adjustment, so
// it is billed once.
func TestANoteLeavesLateUsageToTheNextInvoice(t *testing.T) {
	l := newLease(t)
	ctx := context.Background()
	wrong := l.use(t, "3", jan(10, 8))
	l.use(t, "2", jan(11, 8))
	jan1, err := l.store.ClosePeriod(ctx, l.contract.ID, jan(1, 0))
	if err != nil || !jan1.Total.Equal(d("500")) {
		t.Fatalf("january: %+v, %v", jan1, err)
	}
	l.use(t, "4", jan(31, 22)) // late: February's invoice adjusts January by it
	res, err := l.store.CorrectUsage(ctx, testenv.Principal(l.lessor), l.contract.ID,
		leasing.Correction{Key: "late-" + testenv.Suffix(), Reason: "wrong machine", Voids: []leasing.EventRef{wrong}})
	if err != nil || len(res.Notes) != 1 || !res.Notes[0].Total.Equal(d("-300")) {
		t.Fatalf("the note: %+v, %v (want -300: the late 4 h are not this note's)", res, err)
	}
	feb1, err := l.store.ClosePeriod(ctx, l.contract.ID, feb(1, 0))
	if err != nil || !feb1.Total.Equal(d("400")) {
		t.Fatalf("february, adjusting january by the late 4 h: %+v, %v", feb1, err)
	}
	if bal, err := l.store.Balance(ctx, l.contract); err != nil || !bal.Equal(d("600")) {
		t.Fatalf("balance %s, %v; want 600 (2 h + 4 h, each billed once)", bal, err)
	}
}

// Late usage of January billed as an adjustment on February's invoice can be
// corrected too: February's invoice gets the note, its adjustment of January
// rated again against what January had billed (the tiers where January left
// them), and January's own invoice is untouched.
func TestCorrectingLateUsageNotesTheInvoiceThatBilledIt(t *testing.T) {
	l := newLease(t, graduated) // the first 10 h at 100.00, then 80.00; 13% VAT
	ctx := context.Background()
	finance := testenv.Principal(testenv.Member(t, l.p, l.lessor.Enterprise, identity.RoleFinance))
	l.use(t, "8", jan(10, 8))
	janInv, err := l.store.ClosePeriod(ctx, l.contract.ID, jan(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	// Two late January readings, 3 h and 1 h, billed on February's invoice:
	// January goes from 8 to 12 h: 2 × 100 + 2 × 80 = 360.00.
	late3 := l.use(t, "3", jan(20, 8))
	late1 := l.use(t, "1", jan(21, 8))
	l.use(t, "1", jan(33, 8)) // February's own hour: 100.00
	febInv, err := l.store.ClosePeriod(ctx, l.contract.ID, jan(32, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !febInv.Total.Equal(d("460")) {
		t.Fatalf("February: %s, want 460 (100 own + 360 of January's): %+v", febInv.Total, febInv.Body.Lines)
	}

	// The 3 h reading was wrong: it was 0.5 h. January then goes from 8 to
	// 9.5 h: 150.00 instead of 360.00, a credit of 210.00 + 27.30 VAT.
	res, err := l.store.CorrectUsage(ctx, finance, l.contract.ID, leasing.Correction{Key: "late-fix", Reason: "meter glitch",
		Values: []leasing.ValueCorrection{{EventRef: late3, Value: d("0.5")}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Notes) != 1 || res.Notes[0].InvoiceID != febInv.ID || res.Notes[0].Kind != leasing.NoteCredit ||
		!res.Notes[0].Total.Equal(d("-210")) || !res.Notes[0].Tax.Equal(d("-27.3")) {
		t.Fatalf("notes %+v: want one credit of -210.00 on February's invoice", res.Notes)
	}
	for _, ln := range res.Notes[0].Body.Lines {
		if ln.AdjustsPeriod != "2026-01" {
			t.Errorf("note line %+v does not correct the adjustment of January", ln)
		}
	}
	if n := notesGross(t, l.store, janInv.ID); !n.IsZero() {
		t.Fatalf("January's own invoice got notes worth %s", n)
	}
	// Voiding the other late reading: January from 8 to 8.5 h, 50.00: a
	// further credit of 100.00.
	res, err = l.store.CorrectUsage(ctx, finance, l.contract.ID, leasing.Correction{Key: "late-void", Reason: "test run",
		Voids: []leasing.EventRef{late1}})
	if err != nil || len(res.Notes) != 1 || !res.Notes[0].Total.Equal(d("-100")) {
		t.Fatalf("voiding late usage: %+v, %v", res, err)
	}
	if got := notesGross(t, l.store, febInv.ID); !got.Equal(d("-350.30")) { // (210 + 100) × 1.13
		t.Fatalf("February's notes sum to %s, want -350.30", got)
	}
	if s := l.ledgerSum(t); !s.IsZero() {
		t.Fatalf("ledger sums to %s", s)
	}
}
