package leasing

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/masscustom/orchestrator/services/money"
	"github.com/shopspring/decimal"
)

// ErrInvalidUsage is matched (errors.Is) by errors about usage events that cannot
// be rated: unknown meter or equipment, outside the period, negative or
// fractional where counts are whole, or one event id carrying two readings.
var ErrInvalidUsage = errors.New("invalid usage")

// ErrInvalidAdjustment is matched by errors about adjustments that do not
// belong to an earlier period of the contract.
var ErrInvalidAdjustment = errors.New("invalid adjustment")

// UsageEvent is one reading of a meter of a leased machine. EventID is the
// idempotency key: a reading delivered twice is counted once. Seq is the
// machine's own sequence number, kept for ingestion (gap detection); rating
// does not depend on order.
type UsageEvent struct {
	EventID     string          `json:"eventId"`
	EquipmentID string          `json:"equipmentId"`
	Meter       Meter           `json:"meter"`
	Value       decimal.Decimal `json:"value"`
	At          time.Time       `json:"at"`
	Seq         int64           `json:"seq"`
}

// Adjustment is usage that arrived after its period had been invoiced. A
// finalized invoice is never edited: the old period is rated again with and
// without the late events, and the difference is billed as ADJUSTMENT lines on
// the current invoice, so tiers, allowances and the minimum commitment of the
// old period are respected.
type Adjustment struct {
	// Period is the earlier, already invoiced period.
	Period Period `json:"period"`
	// Billed is every event already billed for Period: its invoice and any
	// earlier adjustments. Late events that are in Billed count once.
	Billed []UsageEvent `json:"billed"`
	// Late is the usage of Period received since.
	Late []UsageEvent `json:"late"`
}

// LineKind says why an invoice line is there.
type LineKind string

// The kinds of invoice line.
const (
	LineUsage         LineKind = "USAGE"
	LineMinimumTrueUp LineKind = "MINIMUM_TRUE_UP"
	LineAdjustment    LineKind = "ADJUSTMENT"
)

// InvoiceLine is one charge; Amount is rounded once to the currency's minor unit.
type InvoiceLine struct {
	Kind LineKind `json:"kind"`
	// Meter is empty on minimum-commitment lines.
	Meter       Meter  `json:"meter,omitempty"`
	Description string `json:"description"`
	// Start and End bound the usage the line charges: a plan segment of the
	// period, or the whole period for a true-up.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// AdjustsPeriod is the key of the earlier period an ADJUSTMENT line corrects.
	AdjustsPeriod string `json:"adjustsPeriod,omitempty"`
	// Quantity is the meter's aggregated reading over [Start, End) (for an
	// adjustment, the change of it).
	Quantity decimal.Decimal `json:"quantity"`
	// UnitPrice is informational: the rate of the tier the period's quantity
	// has reached at End (per package for PACKAGE plans, zero within the free
	// allowance). Amount is not Quantity × UnitPrice for tiered plans.
	UnitPrice decimal.Decimal `json:"unitPrice"`
	// Amount is the line's net; Tax its VAT, rounded once for the line; Gross
	// their sum.
	Amount decimal.Decimal `json:"amount"`
	Tax    decimal.Decimal `json:"tax"`
	Gross  decimal.Decimal `json:"gross"`
	// taxFixed marks a line whose tax was set by its author (TaxLines keeps it).
	taxFixed bool
}

// Invoice is the draft invoice of one contract period. Total is exactly the sum
// of the lines' net amounts and PlatformFee + LessorShare is exactly Total; Tax
// is exactly the sum of the lines' tax and Gross is Total + Tax, what the
// lessee owes.
type Invoice struct {
	ContractID  string        `json:"contractId"`
	LessorID    string        `json:"lessorId"`
	LesseeID    string        `json:"lesseeId"`
	PeriodKey   string        `json:"periodKey"`
	PeriodStart time.Time     `json:"periodStart"`
	PeriodEnd   time.Time     `json:"periodEnd"`
	Currency    string        `json:"currency"`
	Lines       []InvoiceLine `json:"lines"`
	// Subtotal is the sum of the USAGE lines, which the minimum commitment is
	// compared with.
	Subtotal           decimal.Decimal `json:"subtotal"`
	Total              decimal.Decimal `json:"total"`
	PlatformFeePercent decimal.Decimal `json:"platformFeePercent"`
	PlatformFee        decimal.Decimal `json:"platformFee"`
	LessorShare        decimal.Decimal `json:"lessorShare"`
	VATRatePercent     decimal.Decimal `json:"vatRatePercent"`
	Tax                decimal.Decimal `json:"tax"`
	Gross              decimal.Decimal `json:"gross"`
}

// Charge is the instant settlement of one finished production job.
type Charge struct {
	ContractID  string          `json:"contractId"`
	PeriodKey   string          `json:"periodKey"`
	Currency    string          `json:"currency"`
	Lines       []InvoiceLine   `json:"lines"`
	Total       decimal.Decimal `json:"total"`
	PlatformFee decimal.Decimal `json:"platformFee"`
	LessorShare decimal.Decimal `json:"lessorShare"`
	// VATRatePercent, Tax and Gross are as on Invoice.
	VATRatePercent decimal.Decimal `json:"vatRatePercent"`
	Tax            decimal.Decimal `json:"tax"`
	Gross          decimal.Decimal `json:"gross"`
	// PeriodToDate is the period's quantity per meter including this job: pass
	// it to the next job's InstantCharge so tiers continue where they were.
	PeriodToDate map[Meter]decimal.Decimal `json:"periodToDate"`
}

var hundred = decimal.NewFromInt(100)

// RatePeriod rates the usage of period p of contract c into an invoice draft:
// one USAGE line per priced meter per plan segment, a MINIMUM_TRUE_UP line when
// the usage falls short of the minimum commitment, and ADJUSTMENT lines for
// late usage of earlier periods. events must all fall within p; duplicates (same
// EventID and reading) count once.
//
// Tiers and the free allowance apply to the period's quantity to date: a
// segment after an amendment is charged its plan's price of the period's
// quantity at the segment's end minus the same plan's price at its start, so
// the amendment does not hand out a second allowance or restart the tiers.
func RatePeriod(c Contract, p Period, events []UsageEvent, adjustments []Adjustment) (Invoice, error) {
	if err := validate(c); err != nil {
		return Invoice{}, err
	}
	p, err := canonicalPeriod(c, p)
	if err != nil {
		return Invoice{}, err
	}
	segs := segmentsOf(c, p)
	agg := newAggregator(c, p, segs, len(events))
	if err := agg.add(events); err != nil {
		return Invoice{}, err
	}
	r, err := rateOnePeriod(c, p, segs, agg.acc)
	if err != nil {
		return Invoice{}, err
	}
	lines := r.lines
	if !r.trueUp.IsZero() {
		lines = append(lines, InvoiceLine{
			Kind:        LineMinimumTrueUp,
			Description: fmt.Sprintf("minimum commitment %s %s for period %s", r.minimum, c.Currency, p.Key),
			Start:       p.Start,
			End:         p.End,
			Amount:      r.trueUp,
		})
	}

	adjs := slices.Clone(adjustments)
	slices.SortStableFunc(adjs, func(a, b Adjustment) int { return a.Period.Start.Compare(b.Period.Start) })
	for i, adj := range adjs {
		if i > 0 && adj.Period.Key == adjs[i-1].Period.Key {
			// Two batches rated against the same baseline would each claim the
			// same tier room; the caller merges them into one.
			return Invoice{}, fmt.Errorf("leasing: two adjustments for period %s: %w", adj.Period.Key, ErrInvalidAdjustment)
		}
		al, err := adjustmentLines(c, p, adj)
		if err != nil {
			return Invoice{}, err
		}
		lines = append(lines, al...)
	}

	total := sumAmounts(lines)
	feePct := c.termsAt(p.Start).feePercent
	fee, share, err := splitFee(total, feePct, c.Currency)
	if err != nil {
		return Invoice{}, err
	}
	return TaxLines(Invoice{
		ContractID:         c.ID,
		LessorID:           c.LessorID,
		LesseeID:           c.LesseeID,
		PeriodKey:          p.Key,
		PeriodStart:        p.Start,
		PeriodEnd:          p.End,
		Currency:           c.Currency,
		Lines:              lines,
		Subtotal:           r.subtotal,
		Total:              total,
		PlatformFeePercent: feePct,
		PlatformFee:        fee,
		LessorShare:        share,
	}, c.termsAt(p.Start).vatPercent)
}

// InstantCharge rates one finished job's usage at once, with the same plans as
// RatePeriod. periodToDate is the quantity per meter the period had before the
// job (nil for none), so that tiers and the allowance continue where they
// were; the result's PeriodToDate feeds the next job. The events must fall in
// one billing period. Only meters the job used get a line; the minimum
// commitment is a period matter and left to RatePeriod.
func InstantCharge(c Contract, periodToDate map[Meter]decimal.Decimal, events []UsageEvent) (Charge, error) {
	if err := validate(c); err != nil {
		return Charge{}, err
	}
	if len(events) == 0 {
		return Charge{}, fmt.Errorf("leasing: instant charge without usage: %w", ErrInvalidUsage)
	}
	first := events[0].At
	for _, ev := range events[1:] {
		if ev.At.Before(first) {
			first = ev.At
		}
	}
	p, err := PeriodAt(c, first)
	if err != nil {
		return Charge{}, fmt.Errorf("leasing: job of contract %s: %w", c.ID, err)
	}
	var q0 [numMeters]decimal.Decimal
	for m, q := range periodToDate {
		i := m.index()
		if i < 0 {
			return Charge{}, fmt.Errorf("leasing: period-to-date of unknown meter %q: %w", m, ErrInvalidUsage)
		}
		if q.IsNegative() {
			return Charge{}, fmt.Errorf("leasing: negative period-to-date %s of %s: %w", q, m, ErrInvalidUsage)
		}
		q0[i] = q
	}
	segs := segmentsOf(c, p)
	agg := newAggregator(c, p, segs, len(events))
	if err := agg.add(events); err != nil {
		return Charge{}, fmt.Errorf("leasing: a job's usage must fall in one billing period: %w", err)
	}
	lines, q, err := rateUsage(c.Currency, segs, agg.acc, q0, false)
	if err != nil {
		return Charge{}, err
	}
	total := sumAmounts(lines)
	tm := c.termsAt(p.Start)
	fee, share, err := splitFee(total, tm.feePercent, c.Currency)
	if err != nil {
		return Charge{}, err
	}
	lines, tax, err := taxed(lines, tm.vatPercent, c.Currency)
	if err != nil {
		return Charge{}, err
	}
	ptd := make(map[Meter]decimal.Decimal, numMeters)
	for i, m := range knownMeters {
		if _, given := periodToDate[m]; given || !q[i].IsZero() {
			ptd[m] = q[i]
		}
	}
	return Charge{
		ContractID:     c.ID,
		PeriodKey:      p.Key,
		Currency:       c.Currency,
		Lines:          lines,
		Total:          total,
		PlatformFee:    fee,
		LessorShare:    share,
		VATRatePercent: tm.vatPercent,
		Tax:            tax,
		Gross:          total.Add(tax),
		PeriodToDate:   ptd,
	}, nil
}

// segment is a stretch of a period over which one set of plans is in force.
type segment struct {
	start, end time.Time
	plans      map[Meter]RatePlan
}

// segmentsOf cuts p at the amendments that change plans inside it.
func segmentsOf(c Contract, p Period) []segment {
	starts := []time.Time{p.Start}
	for _, a := range c.sortedAmendments() {
		if len(a.Plans) > 0 && a.EffectiveAt.After(p.Start) && a.EffectiveAt.Before(p.End) {
			starts = append(starts, a.EffectiveAt.UTC())
		}
	}
	segs := make([]segment, len(starts))
	for i, s := range starts {
		end := p.End
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		segs[i] = segment{start: s, end: end, plans: c.termsAt(s).plans}
	}
	return segs
}

// aggregator checks and aggregates a period's events per segment and meter.
type aggregator struct {
	contractID string
	period     Period
	segs       []segment
	equipment  map[string]bool
	lastEquip  string // most events in a row come from the same machine
	seen       map[string]*UsageEvent
	acc        [][numMeters]accumulator
}

func newAggregator(c Contract, p Period, segs []segment, sizeHint int) *aggregator {
	a := &aggregator{
		contractID: c.ID,
		period:     p,
		segs:       segs,
		equipment:  make(map[string]bool, len(c.EquipmentIDs)),
		lastEquip:  c.EquipmentIDs[0], // validated: at least one, none empty
		seen:       make(map[string]*UsageEvent, sizeHint),
		acc:        make([][numMeters]accumulator, len(segs)),
	}
	for _, id := range c.EquipmentIDs {
		a.equipment[id] = true
	}
	for s := range a.acc {
		for i, m := range knownMeters {
			agg, _ := m.Aggregation()
			a.acc[s][i].max = agg == AggregationMax
		}
	}
	return a
}

// add aggregates events; the caller must not change them while the aggregator is in use.
func (a *aggregator) add(events []UsageEvent) error {
	for i := range events {
		ev := &events[i]
		if prev, dup := a.seen[ev.EventID]; dup {
			if !sameReading(prev, ev) {
				return fmt.Errorf("leasing: event %q arrived twice with different readings: %w", ev.EventID, ErrInvalidUsage)
			}
			continue
		}
		if err := a.addOne(ev); err != nil {
			return err
		}
		a.seen[ev.EventID] = ev
	}
	return nil
}

func (a *aggregator) addOne(ev *UsageEvent) error {
	if ev.EventID == "" {
		return fmt.Errorf("leasing: event without id: %w", ErrInvalidUsage)
	}
	mi := ev.Meter.index()
	if mi < 0 {
		return fmt.Errorf("leasing: event %q: unknown meter %q: %w", ev.EventID, ev.Meter, ErrInvalidUsage)
	}
	if ev.EquipmentID != a.lastEquip {
		if !a.equipment[ev.EquipmentID] {
			return fmt.Errorf("leasing: event %q: equipment %q is not leased under contract %s: %w", ev.EventID, ev.EquipmentID, a.contractID, ErrInvalidUsage)
		}
		a.lastEquip = ev.EquipmentID
	}
	if ev.At.Before(a.period.Start) || !ev.At.Before(a.period.End) {
		return fmt.Errorf("leasing: event %q at %s is outside period %s: %w", ev.EventID, ev.At.Format(time.RFC3339Nano), a.period.Key, ErrInvalidUsage)
	}
	seg := 0
	for seg+1 < len(a.segs) && !ev.At.Before(a.segs[seg+1].start) {
		seg++
	}
	s, fast := scaled(ev.Value)
	if (fast && s < 0) || (!fast && ev.Value.IsNegative()) {
		return fmt.Errorf("leasing: event %q: negative reading %s: %w", ev.EventID, ev.Value, ErrInvalidUsage)
	}
	if agg, _ := ev.Meter.Aggregation(); agg == AggregationCount && !isIntegral(ev.Value, s, fast) {
		return fmt.Errorf("leasing: event %q: part count %s is not whole: %w", ev.EventID, ev.Value, ErrInvalidUsage)
	}
	a.acc[seg][mi].add(ev.Value, s, fast)
	return nil
}

func sameReading(a, b *UsageEvent) bool {
	return a.EquipmentID == b.EquipmentID && a.Meter == b.Meter && a.Value.Equal(b.Value) && a.At.Equal(b.At) && a.Seq == b.Seq
}

// periodRating is a period's usage rated, before adjustments of other periods.
type periodRating struct {
	lines    []InvoiceLine // USAGE lines, one per priced meter per segment
	subtotal decimal.Decimal
	minimum  decimal.Decimal
	trueUp   decimal.Decimal // zero when the usage meets the minimum
}

func rateOnePeriod(c Contract, p Period, segs []segment, acc [][numMeters]accumulator) (periodRating, error) {
	lines, _, err := rateUsage(c.Currency, segs, acc, [numMeters]decimal.Decimal{}, true)
	if err != nil {
		return periodRating{}, err
	}
	minimum, err := periodMinimum(c, p)
	if err != nil {
		return periodRating{}, err
	}
	r := periodRating{lines: lines, subtotal: sumAmounts(lines), minimum: minimum}
	if r.subtotal.LessThan(minimum) {
		r.trueUp = minimum.Sub(r.subtotal)
	}
	return r, nil
}

// rateUsage prices each segment's usage per meter, continuing from the
// period-to-date quantities q0, and returns the lines and the quantities
// reached. With all, every priced meter gets a line even without usage, so
// that two ratings of one period have the same lines in the same order.
func rateUsage(currency string, segs []segment, acc [][numMeters]accumulator, q0 [numMeters]decimal.Decimal, all bool) ([]InvoiceLine, [numMeters]decimal.Decimal, error) {
	q := q0
	lines := []InvoiceLine{} // "lines": [] rather than null when a job used only unpriced meters
	for si, seg := range segs {
		for mi, m := range knownMeters {
			plan, priced := seg.plans[m]
			a := &acc[si][mi]
			// Usage of an unpriced meter is free and does not count towards the
			// tiers of a plan that starts later.
			if !priced || (!all && a.n == 0) {
				continue
			}
			qty := a.result()
			from, to := q[mi], q[mi].Add(qty)
			if a.max {
				to = decimal.Max(from, qty)
			}
			amount, err := money.Round(price(plan, to).Sub(price(plan, from)), currency)
			if err != nil {
				return nil, q, err
			}
			lines = append(lines, InvoiceLine{
				Kind:        LineUsage,
				Meter:       m,
				Description: describe(m, plan, seg),
				Start:       seg.start,
				End:         seg.end,
				Quantity:    qty,
				UnitPrice:   marginalRate(plan, to),
				Amount:      amount,
			})
			q[mi] = to
		}
	}
	return lines, q, nil
}

func describe(m Meter, p RatePlan, seg segment) string {
	const layout = "2006-01-02 15:04"
	s := fmt.Sprintf("%s, %s, %s to %s UTC", m, p.Model, seg.start.Format(layout), seg.end.Format(layout))
	if p.Model == ModelPackage {
		s += fmt.Sprintf(", packages of %s", p.PackageSize)
	}
	if p.FreeAllowance.IsPositive() {
		s += fmt.Sprintf(", %s free per period", p.FreeAllowance)
	}
	return s
}

// adjustmentLines re-rates an earlier period with and without its late usage
// and turns the differences into ADJUSTMENT lines; unchanged lines are left out.
func adjustmentLines(c Contract, current Period, adj Adjustment) ([]InvoiceLine, error) {
	old, err := canonicalPeriod(c, adj.Period)
	if err != nil {
		return nil, fmt.Errorf("leasing: adjustment: %w: %w", ErrInvalidAdjustment, err)
	}
	if old.End.After(current.Start) {
		return nil, fmt.Errorf("leasing: adjustment of period %s does not precede period %s: %w", old.Key, current.Key, ErrInvalidAdjustment)
	}
	segs := segmentsOf(c, old)
	agg := newAggregator(c, old, segs, len(adj.Billed)+len(adj.Late))
	if err := agg.add(adj.Billed); err != nil {
		return nil, fmt.Errorf("leasing: billed usage of period %s: %w", old.Key, err)
	}
	billed := slices.Clone(agg.acc)
	if err := agg.add(adj.Late); err != nil {
		return nil, fmt.Errorf("leasing: late usage of period %s: %w", old.Key, err)
	}
	without, err := rateOnePeriod(c, old, segs, billed)
	if err != nil {
		return nil, err
	}
	with, err := rateOnePeriod(c, old, segs, agg.acc)
	if err != nil {
		return nil, err
	}
	var lines []InvoiceLine
	for i, w := range with.lines {
		wo := without.lines[i] // same segments and meters, so the same order
		dq, da := w.Quantity.Sub(wo.Quantity), w.Amount.Sub(wo.Amount)
		if dq.IsZero() && da.IsZero() {
			continue
		}
		w.Kind = LineAdjustment
		w.AdjustsPeriod = old.Key
		w.Description = fmt.Sprintf("late usage of period %s: %s", old.Key, w.Description)
		w.Quantity, w.Amount = dq, da
		lines = append(lines, w)
	}
	if d := with.trueUp.Sub(without.trueUp); !d.IsZero() {
		lines = append(lines, InvoiceLine{
			Kind:          LineAdjustment,
			Description:   fmt.Sprintf("minimum commitment true-up of period %s recomputed with late usage", old.Key),
			Start:         old.Start,
			End:           old.End,
			AdjustsPeriod: old.Key,
			Amount:        d,
		})
	}
	return lines, nil
}

// periodMinimum is the minimum commitment owed for p: the one in force at the
// period's start, pro rata temporis when the contract cuts the period short.
func periodMinimum(c Contract, p Period) (decimal.Decimal, error) {
	minimum := c.termsAt(p.Start).minimum
	fs, fe, _, err := fullPeriod(c.Period, c.Start.UTC(), p.Start)
	if err != nil {
		return decimal.Decimal{}, err
	}
	if fs.Equal(p.Start) && fe.Equal(p.End) {
		return minimum, nil
	}
	places, err := money.MinorUnit(c.Currency)
	if err != nil {
		return decimal.Decimal{}, err
	}
	return mulDivRound(minimum, p.End.Sub(p.Start).Nanoseconds(), fe.Sub(fs).Nanoseconds(), places), nil
}

// mulDivRound returns a*num/den rounded once to places decimals, half away from
// zero, computed exactly (a ratio like 1/30 has no finite decimal expansion to
// round from).
func mulDivRound(a decimal.Decimal, num, den int64, places int32) decimal.Decimal {
	n, d := a.Mul(decimal.NewFromInt(num)), decimal.NewFromInt(den)
	q, r := n.QuoRem(d, places) // truncated towards zero, |r| < d·10^-places
	if r.Abs().Shift(places).Mul(decimal.NewFromInt(2)).GreaterThanOrEqual(d) {
		q = q.Add(decimal.New(int64(n.Sign()), -places))
	}
	return q
}

// price is the unrounded cumulative charge for a period-to-date quantity q
// under plan p; a line charges price(to) - price(from).
func price(p RatePlan, q decimal.Decimal) decimal.Decimal {
	b := q.Sub(p.FreeAllowance)
	if !b.IsPositive() {
		return decimal.Zero
	}
	switch p.Model {
	case ModelPerUnit:
		return b.Mul(p.UnitPrice)
	case ModelGraduated:
		total, lower := decimal.Zero, decimal.Zero
		for _, t := range p.Tiers {
			upper := b
			if t.UpTo != nil && t.UpTo.LessThan(b) {
				upper = *t.UpTo
			}
			total = total.Add(upper.Sub(lower).Mul(t.UnitPrice)).Add(t.FlatFee)
			if t.UpTo == nil || !t.UpTo.LessThan(b) {
				break
			}
			lower = *t.UpTo
		}
		return total
	case ModelVolume:
		t := tierOf(p.Tiers, b)
		return b.Mul(t.UnitPrice).Add(t.FlatFee)
	case ModelPackage:
		if !p.PackageSize.IsPositive() { // validated; guards QuoRem's panic
			return decimal.Zero
		}
		n, rest := b.QuoRem(p.PackageSize, 0)
		if !rest.IsZero() {
			n = n.Add(decimal.NewFromInt(1)) // a started package is paid in full
		}
		return n.Mul(p.PackagePrice)
	}
	return decimal.Zero
}

// marginalRate is the rate of the last unit of q, for the informational UnitPrice.
func marginalRate(p RatePlan, q decimal.Decimal) decimal.Decimal {
	b := q.Sub(p.FreeAllowance)
	if !b.IsPositive() {
		return decimal.Zero
	}
	switch p.Model {
	case ModelPerUnit:
		return p.UnitPrice
	case ModelGraduated, ModelVolume:
		return tierOf(p.Tiers, b).UnitPrice
	case ModelPackage:
		return p.PackagePrice
	}
	return decimal.Zero
}

// tierOf returns the tier billable quantity b falls in (bounds are inclusive).
func tierOf(tiers []Tier, b decimal.Decimal) Tier {
	for _, t := range tiers {
		if t.UpTo == nil || b.LessThanOrEqual(*t.UpTo) {
			return t
		}
	}
	if len(tiers) == 0 {
		return Tier{}
	}
	return tiers[len(tiers)-1]
}

func sumAmounts(lines []InvoiceLine) decimal.Decimal {
	sum := decimal.Zero
	for _, l := range lines {
		sum = sum.Add(l.Amount)
	}
	return sum
}

// splitFee splits a total between platform and lessor by largest remainder, so
// the two always add up to the total.
func splitFee(total, feePercent decimal.Decimal, currency string) (fee, lessor decimal.Decimal, err error) {
	parts, err := money.Split(total, []decimal.Decimal{feePercent, hundred.Sub(feePercent)}, currency)
	if err != nil {
		return decimal.Decimal{}, decimal.Decimal{}, fmt.Errorf("leasing: platform fee split: %w", err)
	}
	return parts[0], parts[1], nil
}
