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
	// Drawn is the prepaid units Period's invoice drew: late usage may draw
	// up to them again (the billed usage does), and is billed beyond.
	Drawn Units `json:"drawn,omitempty"`
}

// LineKind says why an invoice line is there.
type LineKind string

// The kinds of invoice line.
const (
	LineUsage         LineKind = "USAGE"
	LineMinimumTrueUp LineKind = "MINIMUM_TRUE_UP"
	LineAdjustment    LineKind = "ADJUSTMENT"
	// LinePrepaidUnits shows the prepaid meter units (Quantity) the usage drew
	// before it was billed; its amount is zero (the units were paid for, or
	// granted, when they were topped up).
	LinePrepaidUnits LineKind = "PREPAID_UNITS"
)

// Units are prepaid meter units per meter (200 spindle-hours bought ahead).
type Units map[Meter]decimal.Decimal

// Prepaid reports whether the meter's usage can draw prepaid units: a peak
// (max_load) is not a quantity that is used up.
func (m Meter) Prepaid() bool {
	agg, ok := m.Aggregation()
	return ok && agg != AggregationMax
}

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
// one USAGE line per priced meter per terms segment, a MINIMUM_TRUE_UP line
// per stretch of one minimum commitment when the usage rated in it falls
// short, and ADJUSTMENT lines for late usage of earlier periods. events must
// all fall within p; duplicates (same EventID and reading) count once.
//
// An amendment that takes effect inside the period cuts it there. Each meter
// whose plan the amendment replaces is rated on each plan separately, from
// zero: the plan's per-period quantities (free allowance and tier bounds) and
// its tier flat fees are prorated by the time the plan is in force, so two
// plans share the period's allowance instead of each granting all of it. A
// meter whose plan does not change continues its tiers across the cut. A
// minimum commitment that changes inside the period is owed pro rata temporis
// by each stretch, against the usage rated in that stretch.
func RatePeriod(c Contract, p Period, events []UsageEvent, adjustments []Adjustment) (Invoice, error) {
	return RatePeriodWithUnits(c, p, events, adjustments, nil)
}

// RatePeriodWithUnits is RatePeriod with prepaid units available to the
// period: each meter's usage beyond its free allowance draws them, in time
// order, before it is billed, and a PREPAID_UNITS line per meter shows what it
// drew. Usage paid with prepaid units still counts towards the minimum
// commitment, at its plan's price.
func RatePeriodWithUnits(c Contract, p Period, events []UsageEvent, adjustments []Adjustment, units Units) (Invoice, error) {
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
	prepaid, err := prepaidOf(units)
	if err != nil {
		return Invoice{}, err
	}
	r, err := rateOnePeriod(c, p, segs, agg.acc, prepaid)
	if err != nil {
		return Invoice{}, err
	}
	lines := append(r.lines, prepaidLines(p, r.drawn, prepaid)...)
	lines = append(lines, r.trueUps...)

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
// RatePeriod: the period is rated with the usage already charged (charged:
// every event of the period's earlier instant charges) and with it plus the
// job, and the job pays the difference per line, so that tiers and the
// allowance continue where the earlier charges left them. The events must fall
// in one billing period. Only lines the job changes appear; the minimum
// commitment is a period matter and left to RatePeriod.
func InstantCharge(c Contract, charged, job []UsageEvent) (Charge, error) {
	return InstantChargeWithUnits(c, charged, job, nil)
}

// InstantChargeWithUnits is InstantCharge with the prepaid units available to
// the job's period (as for RatePeriodWithUnits): the job draws what the period
// rated with it draws beyond the period rated without it, shown as a
// PREPAID_UNITS line.
func InstantChargeWithUnits(c Contract, charged, job []UsageEvent, units Units) (Charge, error) {
	if err := validate(c); err != nil {
		return Charge{}, err
	}
	if len(job) == 0 {
		return Charge{}, fmt.Errorf("leasing: instant charge without usage: %w", ErrInvalidUsage)
	}
	first := job[0].At
	for _, ev := range job[1:] {
		if ev.At.Before(first) {
			first = ev.At
		}
	}
	p, err := PeriodAt(c, first)
	if err != nil {
		return Charge{}, fmt.Errorf("leasing: job of contract %s: %w", c.ID, err)
	}
	segs := segmentsOf(c, p)
	agg := newAggregator(c, p, segs, len(charged)+len(job))
	if err := agg.add(charged); err != nil {
		return Charge{}, fmt.Errorf("leasing: usage already charged: %w", err)
	}
	before := slices.Clone(agg.acc)
	if err := agg.add(job); err != nil {
		return Charge{}, fmt.Errorf("leasing: a job's usage must fall in one billing period: %w", err)
	}
	prepaid, err := prepaidOf(units)
	if err != nil {
		return Charge{}, err
	}
	without, _, drewBefore, err := rateUsage(c, p, segs, before, prepaid)
	if err != nil {
		return Charge{}, err
	}
	with, _, drew, err := rateUsage(c, p, segs, agg.acc, prepaid)
	if err != nil {
		return Charge{}, err
	}
	lines := []InvoiceLine{} // "lines": [] rather than null when a job used only unpriced meters
	for i, w := range with {
		wo := without[i] // same segments and meters, so the same order
		dq, da := w.Quantity.Sub(wo.Quantity), w.Amount.Sub(wo.Amount)
		if dq.IsZero() && da.IsZero() {
			continue
		}
		w.Quantity, w.Amount = dq, da
		lines = append(lines, w)
	}
	for i := range drew {
		drew[i] = drew[i].Sub(drewBefore[i])
	}
	lines = append(lines, prepaidLines(p, drew, prepaid)...)
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
	}, nil
}

// segment is a stretch of a period over which one set of terms is in force.
type segment struct {
	start, end time.Time
	plans      map[Meter]RatePlan
	minimum    decimal.Decimal
	// newPlan marks the meters whose plan an amendment replaces at start:
	// their usage from here on is rated on the new plan, from zero.
	newPlan [numMeters]bool
	// newMinimum is set when an amendment changes the minimum commitment at start.
	newMinimum bool
}

// segmentsOf cuts p at the amendments that change plans or the minimum
// commitment inside it.
func segmentsOf(c Contract, p Period) []segment {
	first := c.termsAt(p.Start)
	segs := []segment{{start: p.Start, end: p.End, plans: first.plans, minimum: first.minimum}}
	for _, a := range c.sortedAmendments() {
		if !a.EffectiveAt.After(p.Start) || !a.EffectiveAt.Before(p.End) || (len(a.Plans) == 0 && a.MinimumCommitment == nil) {
			continue
		}
		at := a.EffectiveAt.UTC()
		prev := &segs[len(segs)-1]
		tm := c.termsAt(at)
		next := segment{start: at, end: p.End, plans: tm.plans, minimum: tm.minimum}
		changed := false
		for mi, m := range knownMeters {
			np, named := a.Plans[m]
			if !named {
				continue
			}
			if op, priced := prev.plans[m]; !priced || !samePlan(op, np) {
				next.newPlan[mi], changed = true, true
			}
		}
		if !next.minimum.Equal(prev.minimum) {
			next.newMinimum, changed = true, true
		}
		if !changed {
			continue // the amendment restates the terms in force
		}
		prev.end = at
		segs = append(segs, next)
	}
	return segs
}

// samePlan reports whether two plans price every quantity alike.
func samePlan(a, b RatePlan) bool {
	if a.Model != b.Model || !a.UnitPrice.Equal(b.UnitPrice) || !a.PackageSize.Equal(b.PackageSize) ||
		!a.PackagePrice.Equal(b.PackagePrice) || !a.FreeAllowance.Equal(b.FreeAllowance) || len(a.Tiers) != len(b.Tiers) {
		return false
	}
	for i, t := range a.Tiers {
		u := b.Tiers[i]
		if (t.UpTo == nil) != (u.UpTo == nil) || (t.UpTo != nil && !t.UpTo.Equal(*u.UpTo)) ||
			!t.UnitPrice.Equal(u.UnitPrice) || !t.FlatFee.Equal(u.FlatFee) {
			return false
		}
	}
	return true
}

// quantityPlaces is the precision of prorated allowances and tier bounds.
const quantityPlaces = 6

// prorated scales a plan's per-period terms (free allowance, tier bounds and
// tier flat fees) to the share num/den of the period in which it is in force.
// The unit price, the package size and the package price are not per period
// and stay as they are.
func prorated(p RatePlan, num, den int64, moneyPlaces int32) RatePlan {
	p.FreeAllowance = mulDivRound(p.FreeAllowance, num, den, quantityPlaces)
	tiers := make([]Tier, len(p.Tiers))
	for i, t := range p.Tiers {
		if t.UpTo != nil {
			u := mulDivRound(*t.UpTo, num, den, quantityPlaces)
			t.UpTo = &u
		}
		t.FlatFee = mulDivRound(t.FlatFee, num, den, moneyPlaces)
		tiers[i] = t
	}
	p.Tiers = tiers
	return p
}

// fullLength is the length of the whole billing period p belongs to (longer
// than p when the contract's start or end cuts p short).
func fullLength(c Contract, p Period) (time.Duration, error) {
	fs, fe, _, err := fullPeriod(c.Period, c.Start.UTC(), p.Start)
	if err != nil {
		return 0, err
	}
	return fe.Sub(fs), nil
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
	drawn    [numMeters]decimal.Decimal
	subtotal decimal.Decimal
	trueUps  []InvoiceLine // one per stretch of one minimum that the usage falls short of
	trueUp   decimal.Decimal
}

func rateOnePeriod(c Contract, p Period, segs []segment, acc [][numMeters]accumulator, prepaid [numMeters]decimal.Decimal) (periodRating, error) {
	lines, bySeg, drawn, err := rateUsage(c, p, segs, acc, prepaid)
	if err != nil {
		return periodRating{}, err
	}
	if drawn != ([numMeters]decimal.Decimal{}) {
		// Usage paid with prepaid units counts towards the minimum at its price.
		if _, bySeg, _, err = rateUsage(c, p, segs, acc, [numMeters]decimal.Decimal{}); err != nil {
			return periodRating{}, err
		}
	}
	r := periodRating{lines: lines, drawn: drawn, subtotal: sumAmounts(lines), trueUp: decimal.Zero}
	full, err := fullLength(c, p)
	if err != nil {
		return periodRating{}, err
	}
	places, err := money.MinorUnit(c.Currency)
	if err != nil {
		return periodRating{}, err
	}
	for start := 0; start < len(segs); {
		end := start + 1
		for end < len(segs) && !segs[end].newMinimum {
			end++
		}
		from, to := segs[start].start, segs[end-1].end
		owed := segs[start].minimum
		whole := start == 0 && end == len(segs)
		if !whole || to.Sub(from) != full {
			owed = mulDivRound(owed, to.Sub(from).Nanoseconds(), full.Nanoseconds(), places)
		}
		used := decimal.Zero
		for si := start; si < end; si++ {
			used = used.Add(bySeg[si])
		}
		if used.LessThan(owed) {
			desc := fmt.Sprintf("minimum commitment %s %s for period %s", owed, c.Currency, p.Key)
			if !whole {
				const layout = "2006-01-02 15:04"
				desc = fmt.Sprintf("minimum commitment %s %s: %s per period pro rata, %s to %s UTC",
					owed, c.Currency, segs[start].minimum, from.Format(layout), to.Format(layout))
			}
			r.trueUps = append(r.trueUps, InvoiceLine{Kind: LineMinimumTrueUp, Description: desc, Start: from, End: to, Amount: owed.Sub(used)})
			r.trueUp = r.trueUp.Add(owed.Sub(used))
		}
		start = end
	}
	return r, nil
}

// rateUsage prices each segment's usage per meter: one line per priced meter
// per segment, in segment order and meter order within a segment, so that two
// ratings of one period have the same lines in the same order. It also returns
// each segment's total. A meter's quantity to date runs from the start of the
// plan in force (the period's start, or the amendment that brought the plan);
// a plan in force for part of the period only has its per-period terms
// prorated.
func rateUsage(c Contract, p Period, segs []segment, acc [][numMeters]accumulator, prepaid [numMeters]decimal.Decimal) ([]InvoiceLine, []decimal.Decimal, [numMeters]decimal.Decimal, error) {
	var drawn [numMeters]decimal.Decimal
	full, err := fullLength(c, p)
	if err != nil {
		return nil, nil, drawn, err
	}
	places, err := money.MinorUnit(c.Currency)
	if err != nil {
		return nil, nil, drawn, err
	}
	cells := make([][numMeters]*InvoiceLine, len(segs))
	for mi, m := range knownMeters {
		for start := 0; start < len(segs); {
			end := start + 1
			for end < len(segs) && !segs[end].newPlan[mi] {
				end++
			}
			plan, priced := segs[start].plans[m]
			if !priced {
				// Usage of an unpriced meter is free and does not count towards
				// the tiers of a plan that starts later.
				start = end
				continue
			}
			in := segs[end-1].end.Sub(segs[start].start)
			share := ""
			if start > 0 || end < len(segs) {
				plan = prorated(plan, in.Nanoseconds(), full.Nanoseconds(), places)
				share = fmt.Sprintf("%s of %s days", days(in), days(full))
			}
			shown := plan
			if left := prepaid[mi].Sub(drawn[mi]); left.IsPositive() && !acc[start][mi].max {
				// Prepaid units pay for the usage beyond the free allowance
				// first, as if the allowance were larger by what they cover.
				used := decimal.Zero
				for si := start; si < end; si++ {
					used = used.Add(acc[si][mi].result())
				}
				if beyond := used.Sub(plan.FreeAllowance); beyond.IsPositive() {
					draw := decimal.Min(left, beyond)
					drawn[mi] = drawn[mi].Add(draw)
					plan.FreeAllowance = plan.FreeAllowance.Add(draw)
				}
			}
			q := decimal.Zero
			for si := start; si < end; si++ {
				a := &acc[si][mi]
				qty := a.result()
				from, to := q, q.Add(qty)
				if a.max {
					to = decimal.Max(from, qty)
				}
				amount, err := money.Round(price(plan, to).Sub(price(plan, from)), c.Currency)
				if err != nil {
					return nil, nil, drawn, err
				}
				cells[si][mi] = &InvoiceLine{
					Kind:        LineUsage,
					Meter:       m,
					Description: describe(m, shown, segs[si], share),
					Start:       segs[si].start,
					End:         segs[si].end,
					Quantity:    qty,
					UnitPrice:   marginalRate(plan, to),
					Amount:      amount,
				}
				q = to
			}
			start = end
		}
	}
	lines := []InvoiceLine{}
	totals := make([]decimal.Decimal, len(segs))
	for si := range cells {
		totals[si] = decimal.Zero
		for _, l := range cells[si] {
			if l != nil {
				lines = append(lines, *l)
				totals[si] = totals[si].Add(l.Amount)
			}
		}
	}
	return lines, totals, drawn, nil
}

// prepaidOf checks prepaid units and puts them in meter order.
func prepaidOf(units Units) ([numMeters]decimal.Decimal, error) {
	var out [numMeters]decimal.Decimal
	for m, u := range units {
		i := m.index()
		if i < 0 || !m.Prepaid() {
			return out, fmt.Errorf("leasing: prepaid units of meter %q: %w", m, ErrInvalidUsage)
		}
		if u.IsNegative() {
			return out, fmt.Errorf("leasing: negative prepaid units %s of %s: %w", u, m, ErrInvalidUsage)
		}
		out[i] = u
	}
	return out, nil
}

// prepaidLines shows, per meter, the prepaid units drawn (zero-amount lines).
func prepaidLines(p Period, drawn, available [numMeters]decimal.Decimal) []InvoiceLine {
	var out []InvoiceLine
	for i, m := range knownMeters {
		if drawn[i].IsZero() {
			continue
		}
		out = append(out, InvoiceLine{
			Kind:        LinePrepaidUnits,
			Meter:       m,
			Description: fmt.Sprintf("%s %s paid with prepaid units (%s of %s available left)", drawn[i], m, available[i].Sub(drawn[i]), available[i]),
			Start:       p.Start,
			End:         p.End,
			Quantity:    drawn[i],
			UnitPrice:   decimal.Zero,
			Amount:      decimal.Zero,
		})
	}
	return out
}

func describe(m Meter, p RatePlan, seg segment, share string) string {
	const layout = "2006-01-02 15:04"
	s := fmt.Sprintf("%s, %s, %s to %s UTC", m, p.Model, seg.start.Format(layout), seg.end.Format(layout))
	if p.Model == ModelPackage {
		s += fmt.Sprintf(", packages of %s", p.PackageSize)
	}
	switch {
	case share != "":
		s += ", plan in force " + share
		if p.FreeAllowance.IsPositive() {
			s += fmt.Sprintf(", %s free pro rata", p.FreeAllowance.Normalize())
		}
		if len(p.Tiers) > 0 {
			s += ", tier bounds pro rata"
		}
	case p.FreeAllowance.IsPositive():
		s += fmt.Sprintf(", %s free per period", p.FreeAllowance)
	}
	return s
}

// days prints a duration in days, to two decimals at most.
func days(d time.Duration) string {
	return decimal.NewFromInt(d.Nanoseconds()).DivRound(decimal.NewFromInt(int64(24*time.Hour)), 2).String()
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
	drawn, err := prepaidOf(adj.Drawn)
	if err != nil {
		return nil, fmt.Errorf("leasing: adjustment of period %s: %w", old.Key, err)
	}
	without, err := rateOnePeriod(c, old, segs, billed, drawn)
	if err != nil {
		return nil, err
	}
	with, err := rateOnePeriod(c, old, segs, agg.acc, drawn)
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
