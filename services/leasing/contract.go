// Package leasing rates and settles pay-per-use leases of networked production
// equipment: a lessor leases CNC machines to a factory with no down payment and
// charges what the machines' own meters report (spindle-hours, parts, energy,
// peak load). The package is the pure domain: contracts and their validation,
// billing periods, aggregation of metered usage, rating into invoice drafts,
// late-usage adjustments, instant per-job charges and ledger entries. It does no
// I/O; persistence, ingestion and workflows are built on these types, which all
// round-trip through encoding/json with decimals as strings.
package leasing

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/masscustom/orchestrator/services/money"
	input "github.com/masscustom/orchestrator/services/validate"
	"github.com/shopspring/decimal"
)

// Meter names a quantity the leased equipment measures.
type Meter string

// The meters networked equipment reports.
const (
	MeterSpindleHours Meter = "spindle_hours"
	MeterParts        Meter = "parts"
	MeterEnergyKWh    Meter = "energy_kwh"
	MeterMaxLoad      Meter = "max_load"
)

// knownMeters fixes the order in which a segment's invoice lines appear.
var knownMeters = [...]Meter{MeterSpindleHours, MeterParts, MeterEnergyKWh, MeterMaxLoad}

const numMeters = len(knownMeters)

// index returns the meter's position in knownMeters, or -1 for an unknown meter.
// A switch rather than a map lookup because it runs once per usage event.
func (m Meter) index() int {
	switch m {
	case MeterSpindleHours:
		return 0
	case MeterParts:
		return 1
	case MeterEnergyKWh:
		return 2
	case MeterMaxLoad:
		return 3
	}
	return -1
}

// Aggregation is how a meter's readings over a period combine into one quantity.
type Aggregation string

// The aggregations meters use.
const (
	AggregationSum   Aggregation = "SUM"
	AggregationCount Aggregation = "COUNT" // the sum of integral counts
	AggregationMax   Aggregation = "MAX"
)

// Aggregation returns how the meter's readings combine; false for an unknown meter.
func (m Meter) Aggregation() (Aggregation, bool) {
	switch m {
	case MeterSpindleHours, MeterEnergyKWh:
		return AggregationSum, true
	case MeterParts:
		return AggregationCount, true
	case MeterMaxLoad:
		return AggregationMax, true
	}
	return "", false
}

// Model is a rate plan's pricing model.
type Model string

// The pricing models a rate plan can use.
const (
	// ModelPerUnit prices every billable unit at UnitPrice.
	ModelPerUnit Model = "PER_UNIT"
	// ModelGraduated prices the units that fall in each tier at that tier's rate.
	ModelGraduated Model = "GRADUATED"
	// ModelVolume prices the whole quantity at the rate of the tier it reaches.
	ModelVolume Model = "VOLUME"
	// ModelPackage charges PackagePrice per started package of PackageSize units.
	ModelPackage Model = "PACKAGE"
)

// Tier is one step of a GRADUATED or VOLUME plan. Bounds count billable units,
// that is after the free allowance.
type Tier struct {
	// UpTo is the inclusive upper bound of the tier; nil means unbounded and is
	// required on the last tier so that every quantity has a price.
	UpTo      *decimal.Decimal `json:"upTo"`
	UnitPrice decimal.Decimal  `json:"unitPrice"`
	// FlatFee is charged once when any unit falls in the tier (GRADUATED) or when
	// the quantity reaches the tier (VOLUME).
	FlatFee decimal.Decimal `json:"flatFee,omitzero"`
}

// RatePlan prices one meter's quantity over a billing period.
type RatePlan struct {
	Model        Model           `json:"model"`
	UnitPrice    decimal.Decimal `json:"unitPrice,omitzero"`
	Tiers        []Tier          `json:"tiers,omitempty"`
	PackageSize  decimal.Decimal `json:"packageSize,omitzero"`
	PackagePrice decimal.Decimal `json:"packagePrice,omitzero"`
	// FreeAllowance is subtracted from the period's quantity before pricing.
	FreeAllowance decimal.Decimal `json:"freeAllowance,omitzero"`
}

// PeriodUnit is the length of a billing period.
type PeriodUnit string

// The billing period lengths.
const (
	PeriodDaily   PeriodUnit = "DAILY"
	PeriodWeekly  PeriodUnit = "WEEKLY"
	PeriodMonthly PeriodUnit = "MONTHLY"
)

// Anchor says where billing periods start.
type Anchor string

// The billing period anchors.
const (
	// AnchorCalendar starts periods at midnight UTC of each day, Monday or 1st of month.
	AnchorCalendar Anchor = "CALENDAR"
	// AnchorAnniversary starts periods at the contract start's time of day,
	// weekday or day of month (clamped to the month's last day).
	AnchorAnniversary Anchor = "ANNIVERSARY"
)

// BillingPeriod is how a contract cuts time into invoiced periods.
type BillingPeriod struct {
	Unit   PeriodUnit `json:"unit"`
	Anchor Anchor     `json:"anchor"`
}

// Contract is a pay-per-use lease of equipment from a lessor to a lessee.
// The lease runs over [Start, End); all instants are taken in UTC.
type Contract struct {
	ID           string   `json:"id"`
	LessorID     string   `json:"lessorId"`
	LesseeID     string   `json:"lesseeId"`
	EquipmentIDs []string `json:"equipmentIds"`
	Currency     string   `json:"currency"`
	// Plans prices each billed meter. A known meter without a plan is recorded
	// but not billed (energy is often metered for information only).
	Plans map[Meter]RatePlan `json:"plans"`
	// MinimumCommitment is the least a full period is invoiced for; a period cut
	// short by the contract's start or end owes it pro rata temporis.
	MinimumCommitment decimal.Decimal `json:"minimumCommitment"`
	// PlatformFeePercent is the platform's share of each invoice, in [0, 100].
	PlatformFeePercent decimal.Decimal `json:"platformFeePercent"`
	// VATRatePercent is the value-added tax charged on every invoice line, in
	// [0, 100] with at most four decimals (13 for 13%); zero for a zero-rated
	// contract. Tax is computed and rounded once per line (TaxLines).
	VATRatePercent decimal.Decimal `json:"vatRatePercent"`
	Deposit        decimal.Decimal `json:"deposit"`
	CreditLimit    decimal.Decimal `json:"creditLimit"`
	Period         BillingPeriod   `json:"period"`
	Start          time.Time       `json:"start"`
	End            time.Time       `json:"end"`
	Amendments     []Amendment     `json:"amendments,omitempty"`
}

// Amendment changes a contract's terms from EffectiveAt on.
//
// Plans replace the plans of the meters they name and leave the others as they
// were; usage from EffectiveAt on is rated with them, so a period straddling
// the amendment is rated in two segments. MinimumCommitment and
// PlatformFeePercent are per-period terms: they apply from the first period
// that starts at or after EffectiveAt, because a period has one minimum and one
// fee split.
type Amendment struct {
	EffectiveAt        time.Time          `json:"effectiveAt"`
	Plans              map[Meter]RatePlan `json:"plans,omitempty"`
	MinimumCommitment  *decimal.Decimal   `json:"minimumCommitment,omitempty"`
	PlatformFeePercent *decimal.Decimal   `json:"platformFeePercent,omitempty"`
	VATRatePercent     *decimal.Decimal   `json:"vatRatePercent,omitempty"`
}

// ProblemCode classifies why a contract is refused; the GraphQL layer maps it to
// a UserError code.
type ProblemCode string

// The codes ValidateContract reports.
const (
	ProblemRequired               ProblemCode = "REQUIRED"
	ProblemUnknownCurrency        ProblemCode = "UNKNOWN_CURRENCY"
	ProblemUnknownMeter           ProblemCode = "UNKNOWN_METER"
	ProblemUnknownModel           ProblemCode = "UNKNOWN_MODEL"
	ProblemNegativeAmount         ProblemCode = "NEGATIVE_AMOUNT"
	ProblemNotInMinorUnits        ProblemCode = "NOT_IN_MINOR_UNITS"
	ProblemAmountOutOfRange       ProblemCode = "AMOUNT_OUT_OF_RANGE"
	ProblemMissingTiers           ProblemCode = "MISSING_TIERS"
	ProblemTiersNotIncreasing     ProblemCode = "TIERS_NOT_INCREASING"
	ProblemLastTierBounded        ProblemCode = "LAST_TIER_BOUNDED"
	ProblemInvalidPackageSize     ProblemCode = "INVALID_PACKAGE_SIZE"
	ProblemFeeOutOfRange          ProblemCode = "FEE_OUT_OF_RANGE"
	ProblemTaxRateOutOfRange      ProblemCode = "TAX_RATE_OUT_OF_RANGE"
	ProblemInvalidPeriod          ProblemCode = "INVALID_PERIOD"
	ProblemEndBeforeStart         ProblemCode = "END_BEFORE_START"
	ProblemAmendmentOutOfContract ProblemCode = "AMENDMENT_OUT_OF_CONTRACT"
	ProblemDuplicateAmendment     ProblemCode = "DUPLICATE_AMENDMENT"
	ProblemDuplicateEquipment     ProblemCode = "DUPLICATE_EQUIPMENT"
)

// Problem is one reason a contract is refused. Field is the JSON path of the
// offending value, e.g. "plans.parts.tiers[1].upTo".
type Problem struct {
	Code    ProblemCode `json:"code"`
	Field   string      `json:"field"`
	Message string      `json:"message"`
}

// ErrInvalidContract is matched (errors.Is) by the error rating functions return
// for a contract that ValidateContract refuses.
var ErrInvalidContract = errors.New("invalid contract")

// ValidationError carries the problems of a refused contract.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Field + ": " + p.Message
	}
	return "invalid contract: " + strings.Join(msgs, "; ")
}

// Is makes errors.Is(err, ErrInvalidContract) hold.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidContract }

// ValidateContract returns every problem that makes c unusable for rating; none
// means the contract is valid.
func ValidateContract(c Contract) []Problem {
	v := validator{currency: c.Currency}
	v.required("id", c.ID)
	v.required("lessorId", c.LessorID)
	v.required("lesseeId", c.LesseeID)
	if len(c.EquipmentIDs) == 0 {
		v.add(ProblemRequired, "equipmentIds", "at least one piece of equipment is leased")
	}
	seen := make(map[string]bool, len(c.EquipmentIDs))
	for i, id := range c.EquipmentIDs {
		f := fmt.Sprintf("equipmentIds[%d]", i)
		v.required(f, id)
		if seen[id] {
			v.add(ProblemDuplicateEquipment, f, fmt.Sprintf("equipment %q is listed twice", id))
		}
		seen[id] = true
	}

	// Amount checks need the minor unit, so they only run for a known currency.
	currencyOK := money.ValidCurrency(c.Currency) && c.Currency == strings.ToUpper(c.Currency)
	if !currencyOK {
		v.add(ProblemUnknownCurrency, "currency", fmt.Sprintf("currency %q is not settled on the platform", c.Currency))
	}
	v.currencyOK = currencyOK

	if len(c.Plans) == 0 {
		v.add(ProblemRequired, "plans", "at least one meter must be priced")
	}
	v.plans("plans", c.Plans)
	v.money("minimumCommitment", c.MinimumCommitment)
	v.fee("platformFeePercent", c.PlatformFeePercent)
	v.taxRate("vatRatePercent", c.VATRatePercent)
	v.money("deposit", c.Deposit)
	v.money("creditLimit", c.CreditLimit)

	switch c.Period.Unit {
	case PeriodDaily, PeriodWeekly, PeriodMonthly:
	default:
		v.add(ProblemInvalidPeriod, "period.unit", fmt.Sprintf("unknown period unit %q", c.Period.Unit))
	}
	switch c.Period.Anchor {
	case AnchorCalendar, AnchorAnniversary:
	default:
		v.add(ProblemInvalidPeriod, "period.anchor", fmt.Sprintf("unknown period anchor %q", c.Period.Anchor))
	}

	switch {
	case c.Start.IsZero():
		v.add(ProblemRequired, "start", "the lease needs a start")
	case c.End.IsZero():
		v.add(ProblemRequired, "end", "the lease needs an end")
	case !c.End.After(c.Start):
		v.add(ProblemEndBeforeStart, "end", "the lease must end after it starts")
	}

	effective := make(map[int64]bool, len(c.Amendments))
	for i, a := range c.Amendments {
		f := fmt.Sprintf("amendments[%d]", i)
		if a.EffectiveAt.Before(c.Start) || !a.EffectiveAt.Before(c.End) {
			v.add(ProblemAmendmentOutOfContract, f+".effectiveAt", "an amendment must take effect while the lease runs")
		}
		if effective[a.EffectiveAt.UnixNano()] {
			v.add(ProblemDuplicateAmendment, f+".effectiveAt", "another amendment takes effect at the same instant")
		}
		effective[a.EffectiveAt.UnixNano()] = true
		v.plans(f+".plans", a.Plans)
		if a.MinimumCommitment != nil {
			v.money(f+".minimumCommitment", *a.MinimumCommitment)
		}
		if a.PlatformFeePercent != nil {
			v.fee(f+".platformFeePercent", *a.PlatformFeePercent)
		}
		if a.VATRatePercent != nil {
			v.taxRate(f+".vatRatePercent", *a.VATRatePercent)
		}
	}
	return v.problems
}

// validate turns ValidateContract's problems into an error for the rating functions.
func validate(c Contract) error {
	if ps := ValidateContract(c); len(ps) > 0 {
		return &ValidationError{Problems: ps}
	}
	return nil
}

type validator struct {
	currency   string
	currencyOK bool
	problems   []Problem
}

func (v *validator) add(code ProblemCode, field, msg string) {
	v.problems = append(v.problems, Problem{Code: code, Field: field, Message: msg})
}

func (v *validator) required(field, s string) {
	if strings.TrimSpace(s) == "" {
		v.add(ProblemRequired, field, "must not be empty")
	}
}

// maxTermScale bounds the decimals of a rate or an allowance: prices per unit
// may be finer than the minor unit (the invoice line is rounded once), but
// not without end.
const maxTermScale = 12

func (v *validator) nonNegative(field string, d decimal.Decimal) bool {
	if d.IsNegative() {
		v.add(ProblemNegativeAmount, field, "must not be negative")
		return false
	}
	if d.GreaterThan(input.MaxAmount) || d.Exponent() < -maxTermScale && !d.Equal(d.Truncate(maxTermScale)) {
		v.add(ProblemAmountOutOfRange, field, fmt.Sprintf("must be at most %s with at most %d decimals", input.MaxAmount, maxTermScale))
		return false
	}
	return true
}

// money checks an amount that is settled as is, so it must be in minor units.
func (v *validator) money(field string, d decimal.Decimal) {
	if !v.nonNegative(field, d) || !v.currencyOK {
		return
	}
	if r, err := money.Round(d, v.currency); err == nil && !r.Equal(d) {
		v.add(ProblemNotInMinorUnits, field, fmt.Sprintf("%s has more decimals than %s allows", d, v.currency))
	}
}

func (v *validator) fee(field string, d decimal.Decimal) {
	if d.IsNegative() || d.GreaterThan(decimal.NewFromInt(100)) {
		v.add(ProblemFeeOutOfRange, field, "the platform fee is a percentage between 0 and 100")
	}
}

func (v *validator) taxRate(field string, d decimal.Decimal) {
	if d.IsNegative() || d.GreaterThan(decimal.NewFromInt(100)) || !d.Round(4).Equal(d) {
		v.add(ProblemTaxRateOutOfRange, field, "the VAT rate is a percentage between 0 and 100 with at most 4 decimals")
	}
}

func (v *validator) plans(field string, plans map[Meter]RatePlan) {
	// Sorted so that the problems come out in a stable order.
	meters := make([]Meter, 0, len(plans))
	for m := range plans {
		meters = append(meters, m)
	}
	slices.Sort(meters)
	for _, m := range meters {
		f := field + "." + string(m)
		if _, ok := m.Aggregation(); !ok {
			v.add(ProblemUnknownMeter, f, fmt.Sprintf("equipment has no meter %q", m))
			continue
		}
		v.plan(f, plans[m])
	}
}

func (v *validator) plan(field string, p RatePlan) {
	v.nonNegative(field+".freeAllowance", p.FreeAllowance)
	switch p.Model {
	case ModelPerUnit:
		v.nonNegative(field+".unitPrice", p.UnitPrice)
	case ModelGraduated, ModelVolume:
		v.tiers(field+".tiers", p.Tiers)
	case ModelPackage:
		if !p.PackageSize.IsPositive() {
			v.add(ProblemInvalidPackageSize, field+".packageSize", "a package holds a positive number of units")
		}
		v.nonNegative(field+".packagePrice", p.PackagePrice)
	default:
		v.add(ProblemUnknownModel, field+".model", fmt.Sprintf("unknown pricing model %q", p.Model))
	}
}

func (v *validator) tiers(field string, tiers []Tier) {
	if len(tiers) == 0 {
		v.add(ProblemMissingTiers, field, "a tiered plan needs at least one tier")
		return
	}
	prev := decimal.Zero
	for i, t := range tiers {
		f := fmt.Sprintf("%s[%d]", field, i)
		v.nonNegative(f+".unitPrice", t.UnitPrice)
		v.nonNegative(f+".flatFee", t.FlatFee)
		last := i == len(tiers)-1
		switch {
		case t.UpTo == nil && !last:
			v.add(ProblemTiersNotIncreasing, f+".upTo", "only the last tier may be unbounded")
		case t.UpTo == nil:
		case !t.UpTo.GreaterThan(prev):
			v.add(ProblemTiersNotIncreasing, f+".upTo", fmt.Sprintf("tier bound %s must exceed %s", t.UpTo, prev))
		default:
			prev = *t.UpTo
		}
		if last && t.UpTo != nil {
			v.add(ProblemLastTierBounded, f+".upTo", "the last tier must be unbounded so that every quantity has a price")
		}
	}
}

// terms are the contract terms in force at one instant.
type terms struct {
	plans      map[Meter]RatePlan
	minimum    decimal.Decimal
	feePercent decimal.Decimal
	vatPercent decimal.Decimal
}

// sortedAmendments returns the amendments in the order they take effect without
// reordering the caller's slice.
func (c Contract) sortedAmendments() []Amendment {
	as := slices.Clone(c.Amendments)
	slices.SortStableFunc(as, func(a, b Amendment) int { return a.EffectiveAt.Compare(b.EffectiveAt) })
	return as
}

// termsAt folds the amendments effective at or before t over the base terms.
func (c Contract) termsAt(t time.Time) terms {
	tm := terms{plans: make(map[Meter]RatePlan, len(c.Plans)), minimum: c.MinimumCommitment, feePercent: c.PlatformFeePercent, vatPercent: c.VATRatePercent}
	for m, p := range c.Plans {
		tm.plans[m] = p
	}
	for _, a := range c.sortedAmendments() {
		if a.EffectiveAt.After(t) {
			break
		}
		for m, p := range a.Plans {
			tm.plans[m] = p
		}
		if a.MinimumCommitment != nil {
			tm.minimum = *a.MinimumCommitment
		}
		if a.PlatformFeePercent != nil {
			tm.feePercent = *a.PlatformFeePercent
		}
		if a.VATRatePercent != nil {
			tm.vatPercent = *a.VATRatePercent
		}
	}
	return tm
}
