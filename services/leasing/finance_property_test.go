package leasing_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/leasing"
)

// financeModel drives one contract through random usage, late usage, instant
// charges, drafts, finalizations, voids, value corrections, payments, wallet
// top-ups in money and in hours, and amendments of plans and minimums, and
// after every step checks
// what finance relies on:
//   - the ledger sums to zero;
//   - every final period invoice plus its notes is its period rated again from
//     the usage that still counts (net and VAT of its own lines), with its
//     adjustment lines as charged;
//   - the machines are locked exactly when the balance exceeds the credit limit;
//   - the wallet is never negative, and never holds money while money is owed;
//   - no more prepaid hours are drawn than were topped up.
type financeModel struct {
	t       *testing.T
	l       *lease
	r       *rand.Rand
	finance *identity.Principal
	events  []leasing.EventRef
	closed  int // months closed so far, in order
	log     []string
	amended int // amendments accepted
}

func (m *financeModel) step(i int) {
	ctx := context.Background()
	month := time.Month(1 + m.r.IntN(3))
	day := 1 + m.r.IntN(27)
	at := time.Date(2026, month, day, m.r.IntN(24), m.r.IntN(60), 0, 0, time.UTC)
	switch op := m.r.IntN(11); {
	case op < 4:
		h := decimal.New(5+m.r.Int64N(60), -1) // 0.5 to 6.4 h
		m.events = append(m.events, m.l.use(m.t, h.String(), at))
		m.log = append(m.log, fmt.Sprintf("%d use %s h at %s", i, h, at.Format(time.DateTime)))
	case op == 4:
		// Periods close in order, as the lease workflow closes them, and
		// not too soon, so that the open months see usage and amendments.
		if m.closed == 3 || m.r.IntN(2) == 0 {
			return
		}
		review := time.Duration(0)
		if m.r.IntN(2) == 0 {
			review = time.Hour
		}
		m.closed++
		at := time.Date(2026, time.Month(m.closed), 1, 0, 0, 0, 0, time.UTC)
		inv, err := m.l.store.DraftPeriod(ctx, m.l.contract.ID, at, review)
		m.check(err, "close")
		m.log = append(m.log, fmt.Sprintf("%d close %s (review %s): %s %s", i, at.Format("2006-01"), review, inv.Status, inv.Total))
	case op == 5:
		var drafts []uuid.UUID
		rows, err := m.l.p.DB.Query(ctx, `SELECT id FROM invoices WHERE contract_id = $1 AND status = 'DRAFT'`, m.l.contract.ID)
		m.check(err, "drafts")
		for rows.Next() {
			var id uuid.UUID
			m.check(rows.Scan(&id), "scan")
			drafts = append(drafts, id)
		}
		rows.Close()
		for _, id := range drafts {
			_, err := m.l.store.FinalizeDraft(ctx, id)
			m.check(err, "finalize")
		}
		m.log = append(m.log, fmt.Sprintf("%d finalize %d drafts", i, len(drafts)))
	case op == 6 || op == 7:
		if len(m.events) == 0 {
			return
		}
		ev := m.events[m.r.IntN(len(m.events))]
		corr := leasing.Correction{Key: fmt.Sprintf("c%d", i), Reason: "property test"}
		what := "void"
		if op == 6 {
			corr.Voids = []leasing.EventRef{ev}
		} else {
			v := decimal.New(m.r.Int64N(70), -1)
			corr.Values = []leasing.ValueCorrection{{EventRef: ev, Value: v}}
			what = "correct to " + v.String()
		}
		var where string
		_ = m.l.p.DB.QueryRow(ctx, `SELECT period_key || ' ' || coalesce(invoice_id::text, 'unbilled') || ' ' || value::text FROM usage_events WHERE equipment_id = $1 AND event_id = $2`,
			ev.EquipmentID, ev.EventID).Scan(&where)
		what += " (" + where + ")"
		res, err := m.l.store.CorrectUsage(ctx, m.finance, m.l.contract.ID, corr)
		if e, ok := refusal(err); ok && e.Code == errs.IllegalState {
			m.log = append(m.log, fmt.Sprintf("%d %s %s: refused, %s", i, what, ev.EventID[:8], e.Message))
			return
		}
		m.check(err, "correct")
		if op == 7 {
			m.events = append(m.events, leasing.EventRef{EquipmentID: ev.EquipmentID, EventID: ev.EventID + "~" + res.CorrectionID.String()})
		}
		m.log = append(m.log, fmt.Sprintf("%d %s %s: %d notes", i, what, ev.EventID[:8], len(res.Notes)))
	case op == 8:
		job := fmt.Sprintf("job%d", i)
		from := time.Date(2026, month, day, 0, 0, 0, 0, time.UTC)
		_, err := m.l.store.InstantSettle(ctx, testenv.Principal(m.l.factory), m.l.contract.ID, job, []uuid.UUID{m.l.machine.ID}, from, from.Add(24*time.Hour))
		if e, ok := refusal(err); ok && e.Code == errs.IllegalState {
			return // nothing unbilled that day
		}
		m.check(err, "instant")
		m.log = append(m.log, fmt.Sprintf("%d instant %s", i, from.Format(time.DateOnly)))
	case op == 9 && m.r.IntN(3) == 0:
		amount := decimal.New(100+m.r.Int64N(80000), -2)
		_, err := m.l.store.TopUpWallet(ctx, m.finance, m.l.contract.ID, amount, fmt.Sprintf("top%d", i))
		m.check(err, "top-up")
		m.log = append(m.log, fmt.Sprintf("%d top up %s", i, amount))
	case op == 9 && m.r.IntN(2) == 0:
		// Prepaid hours, sold or granted.
		units := decimal.New(1+m.r.Int64N(150), -1)
		price := decimal.Zero
		if m.r.IntN(2) == 0 {
			price = decimal.New(m.r.Int64N(100000), -2)
		}
		_, err := m.l.store.TopUpUnits(ctx, m.finance, m.l.contract.ID, leasing.MeterSpindleHours, units, price, fmt.Sprintf("hours%d", i))
		m.check(err, "top up units")
		m.log = append(m.log, fmt.Sprintf("%d top up %s h for %s", i, units, price))
	case op == 10:
		// A plan or minimum change inside a month not yet closed (or, refused,
		// now and then inside a closed one).
		if m.closed < 3 && m.r.IntN(4) > 0 {
			month = time.Month(m.closed + 1 + m.r.IntN(3-m.closed))
		}
		eff := time.Date(2026, month, day, m.r.IntN(24), 0, 0, 0, time.UTC)
		a := leasing.Amendment{EffectiveAt: eff}
		if m.r.IntN(2) == 0 {
			a.Plans = map[leasing.Meter]leasing.RatePlan{leasing.MeterSpindleHours: {Model: leasing.ModelGraduated,
				FreeAllowance: decimal.New(m.r.Int64N(40), 0),
				Tiers:         []leasing.Tier{{UpTo: dp(fmt.Sprint(5 + m.r.IntN(30))), UnitPrice: decimal.New(50+m.r.Int64N(100), 0)}, {UnitPrice: decimal.New(20+m.r.Int64N(60), 0)}}}}
		}
		if a.Plans == nil || m.r.IntN(2) == 0 {
			a.MinimumCommitment = dp(fmt.Sprint(m.r.IntN(800)))
		}
		res, err := m.l.store.AmendContract(ctx, testenv.Principal(m.l.lessor), m.l.contract.ID, a)
		if e, ok := refusal(err); ok && (e.Code == errs.IllegalState || e.Code == errs.AlreadyExists) {
			if int(month) > m.closed && e.Code == errs.IllegalState {
				m.t.Fatalf("amending open month %s refused: %v\nsteps:\n%s", month, err, joinLines(m.log))
			}
			m.log = append(m.log, fmt.Sprintf("%d amend at %s: refused, %s", i, eff.Format(time.DateTime), e.Message))
			return
		}
		m.check(err, "amend")
		m.l.contract = res.Contract
		m.amended++
		m.log = append(m.log, fmt.Sprintf("%d amend at %s: plan %t, minimum %v", i, eff.Format(time.DateTime), a.Plans != nil, a.MinimumCommitment))
	default:
		amount := decimal.New(100+m.r.Int64N(50000), -2)
		_, err := m.l.store.RecordPayment(ctx, m.finance, m.l.contract.ID, amount, fmt.Sprintf("pay%d", i))
		m.check(err, "payment")
		m.log = append(m.log, fmt.Sprintf("%d pay %s", i, amount))
	}
}

func refusal(err error) (*errs.Error, bool) {
	if e, ok := errs.As(err); ok {
		return e, true
	}
	var list errs.List
	if errors.As(err, &list) && len(list) > 0 {
		return list[0], true
	}
	return nil, false
}

func (m *financeModel) check(err error, what string) {
	m.t.Helper()
	if err != nil {
		m.t.Fatalf("%s: %v\nsteps:\n%s", what, err, joinLines(m.log))
	}
}

func joinLines(ls []string) string {
	out := ""
	for _, l := range ls {
		out += "  " + l + "\n"
	}
	return out
}

// invariants checks the ledger, every final period invoice against its
// period rated again, and the lock.
func (m *financeModel) invariants() {
	m.t.Helper()
	ctx := context.Background()
	if s := m.l.ledgerSum(m.t); !s.IsZero() {
		m.t.Fatalf("ledger sums to %s\nsteps:\n%s", s, joinLines(m.log))
	}
	page, err := m.l.store.Invoices(ctx, m.l.contract.ID, 100, "")
	m.check(err, "invoices")
	for _, inv := range page.Items {
		if inv.Kind != leasing.InvoicePeriod || inv.Status != leasing.InvoiceFinalized {
			continue
		}
		notes, err := m.l.store.Notes(ctx, inv.ID)
		m.check(err, "notes")
		net, tax := ownPart(inv.Body.Lines)
		for _, n := range notes {
			dn, dt := ownPart(n.Body.Lines)
			net, tax = net.Add(dn), tax.Add(dt)
		}
		p, err := leasing.PeriodAt(m.l.contract.Terms, inv.Body.PeriodStart)
		m.check(err, "period")
		evs := m.countingEvents(p.Key, inv.ID)
		// The prepaid hours the period now draws: rating with just those gives
		// what rating with all that were available gives (a draw is the lesser
		// of what is available and what the usage needs).
		latest := inv.Body.Lines
		if len(notes) > 0 {
			latest = notes[len(notes)-1].Body.Rerated.Lines
		}
		drawn := leasing.Units{}
		for _, l := range latest {
			if l.Kind == leasing.LinePrepaidUnits {
				drawn[l.Meter] = l.Quantity
			}
		}
		m.lateAdjustmentsHold(inv, latest)
		want, err := leasing.RatePeriodWithUnits(m.l.contract.Terms, p, evs, nil, drawn)
		m.check(err, "rate")
		if !net.Equal(want.Total) || !tax.Equal(want.Tax) {
			m.t.Fatalf("invoice %d (%s) plus %d notes: own net %s VAT %s; the period rated again: %s and %s\nsteps:\n%s",
				inv.Number, p.Key, len(notes), net, tax, want.Total, want.Tax, joinLines(m.log))
		}
	}
	bal, err := m.l.store.Balance(ctx, m.l.contract)
	m.check(err, "balance")
	w, err := m.l.store.WalletOf(ctx, m.l.contract)
	m.check(err, "wallet")
	if w.Balance.IsNegative() || w.Balance.IsPositive() && bal.IsPositive() {
		m.t.Fatalf("wallet %s while %s is owed: the wallet is never negative and pays what is owed\nsteps:\n%s", w.Balance, bal, joinLines(m.log))
	}
	fresh, err := m.l.store.ContractByID(ctx, m.l.contract.ID)
	m.check(err, "contract")
	units, err := m.l.store.UnitWallets(ctx, fresh)
	m.check(err, "prepaid units")
	for _, u := range units {
		if u.Left.IsNegative() || u.Used.IsNegative() {
			m.t.Fatalf("prepaid %s: %s topped up, %s used: more drawn than topped up\nsteps:\n%s", u.Meter, u.ToppedUp, u.Used, joinLines(m.log))
		}
	}
	if over := bal.GreaterThan(m.l.contract.Terms.CreditLimit); over != m.l.locked(m.t) {
		m.t.Fatalf("balance %s against the limit %s, locked %t\nsteps:\n%s", bal, m.l.contract.Terms.CreditLimit, m.l.locked(m.t), joinLines(m.log))
	}
}

// lateAdjustmentsHold checks an invoice's adjustment lines for each earlier
// period as it now stands (latest: its lines or its last note's re-rating):
// they are that period rated with the late usage the invoice billed (still
// counting) less rated without it, against the usage billed before the
// invoice, as read from the table.
func (m *financeModel) lateAdjustmentsHold(inv leasing.StoredInvoice, latest []leasing.InvoiceLine) {
	m.t.Helper()
	shown := map[string]decimal.Decimal{}
	for _, l := range latest {
		if l.Kind == leasing.LineAdjustment && l.AdjustsPeriod != "" {
			shown[l.AdjustsPeriod] = shown[l.AdjustsPeriod].Add(l.Amount)
		}
	}
	rows, err := m.l.p.DB.Query(context.Background(), `SELECT DISTINCT period_key FROM usage_events WHERE contract_id = $1 AND invoice_id = $2 AND period_key <> $3`,
		m.l.contract.ID, inv.ID, inv.PeriodKey)
	m.check(err, "late periods")
	var keys []string
	for rows.Next() {
		var k string
		m.check(rows.Scan(&k), "scan")
		keys = append(keys, k)
	}
	rows.Close()
	for _, k := range keys {
		late := m.eventsWhere(`period_key = $2 AND invoice_id = $3`, k, inv.ID)
		before := m.eventsWhere(`period_key = $2 AND invoice_id IN (SELECT id FROM invoices WHERE contract_id = $1 AND number < $3)`, k, inv.Number)
		p, err := leasing.PeriodAt(m.l.contract.Terms, mustParseKey(m.t, k))
		m.check(err, "period")
		var drawn leasing.Units
		page, err := m.l.store.Invoices(context.Background(), m.l.contract.ID, 100, "")
		m.check(err, "invoices")
		for _, other := range page.Items {
			if other.Kind == leasing.InvoicePeriod && other.PeriodKey == k {
				notes, err := m.l.store.Notes(context.Background(), other.ID)
				m.check(err, "notes")
				lines := other.Body.Lines
				if len(notes) > 0 {
					lines = notes[len(notes)-1].Body.Rerated.Lines
				}
				drawn = leasing.Units{}
				for _, l := range lines {
					if l.Kind == leasing.LinePrepaidUnits {
						drawn[l.Meter] = l.Quantity
					}
				}
			}
		}
		with, err := leasing.RatePeriodWithUnits(m.l.contract.Terms, p, append(before, late...), nil, drawn)
		m.check(err, "rate with late usage")
		without, err := leasing.RatePeriodWithUnits(m.l.contract.Terms, p, before, nil, drawn)
		m.check(err, "rate without late usage")
		if want := with.Total.Sub(without.Total); !shown[k].Equal(want) {

			m.t.Fatalf("invoice %d adjusts %s by %s; rated again: %s\nsteps:\n%s", inv.Number, k, shown[k], want, joinLines(m.log))
		}
	}
}

func mustParseKey(t *testing.T, key string) time.Time {
	at, err := time.Parse("2006-01", key)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// eventsWhere reads the contract's usage events that still count and match
// where ($1 is the contract, the rest are args).
func (m *financeModel) eventsWhere(where string, args ...any) []leasing.UsageEvent {
	rows, err := m.l.p.DB.Query(context.Background(), `SELECT event_id, equipment_id, meter, value, at, seq FROM usage_events
		WHERE contract_id = $1 AND voided_at IS NULL AND `+where, append([]any{m.l.contract.ID}, args...)...)
	m.check(err, "events")
	defer rows.Close()
	var out []leasing.UsageEvent
	for rows.Next() {
		var e leasing.UsageEvent
		var eq uuid.UUID
		var meter string
		m.check(rows.Scan(&e.EventID, &eq, &meter, &e.Value, &e.At, &e.Seq), "scan")
		e.EquipmentID, e.Meter = eq.String(), leasing.Meter(meter)
		out = append(out, e)
	}
	return out
}

// ownPart sums the lines an invoice rates of its own period (all but the
// adjustments: late usage of other periods, instant charges credited).
func ownPart(lines []leasing.InvoiceLine) (net, tax decimal.Decimal) {
	for _, l := range lines {
		if l.Kind != leasing.LineAdjustment {
			net, tax = net.Add(l.Amount), tax.Add(l.Tax)
		}
	}
	return net, tax
}

// countingEvents reads, from the table and without the store's code, the
// period's events that still count and that the invoice rated: those it
// billed and those the period's instant charges billed (which it rates and
// credits). Usage that arrived after it is the next invoice's adjustment.
func (m *financeModel) countingEvents(period string, invoiceID uuid.UUID) []leasing.UsageEvent {
	return m.eventsWhere(`period_key = $2 AND invoice_id IN (SELECT id FROM invoices WHERE contract_id = $1 AND period_key = $2 AND (kind = 'INSTANT' OR id = $3))`,
		period, invoiceID)
}

func TestFinanceInvariantsHoldUnderRandomOperations(t *testing.T) {
	amended, ran := 0, 0
	t.Cleanup(func() {
		if !t.Failed() && ran > 0 && amended == 0 {
			t.Error("no seed amended its contract: the amendment steps went untested")
		}
	})
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
			l := newLease(t, func(c *leasing.Contract) {
				graduated(c)
				c.MinimumCommitment = d("300")
			})
			m := &financeModel{t: t, l: l, r: rand.New(rand.NewPCG(seed, 99)),
				finance: testenv.Principal(testenv.Member(t, l.p, l.lessor.Enterprise, identity.RoleFinance))}
			for i := range 80 {
				m.step(i)
				m.invariants()
			}
			amended, ran = amended+m.amended, ran+1
			t.Logf("%d amendments accepted", m.amended)
		})
	}
}
