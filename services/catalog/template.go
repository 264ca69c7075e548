// Package catalog is the pure domain of product templates and the configurator:
// what a customer may choose, which combinations a factory can build, what they
// cost, how long they take, and which materials and routing stages the design
// needs. It knows no database and no transport. Every type round-trips through
// encoding/json with lowerCamel names and decimals as strings, so the store keeps
// a template as JSONB and the gateway exposes it as it is.
package catalog

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/masscustom/orchestrator/services/money"
	"github.com/shopspring/decimal"
)

// Template is a configurable product: its options, the rules between them, and
// the price, lead-time, BOM and routing rules that turn a configuration into a
// quote and a design. A template is immutable once orders refer to it; a change is
// a new Version.
type Template struct {
	ID          string `json:"id"`
	Code        string `json:"code"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Version     int    `json:"version"`
	// Currency is the ISO 4217 code every amount of the template is in. It lives
	// here and nowhere else so that prices cannot disagree about it.
	Currency    string `json:"currency"`
	MinQuantity int    `json:"minQuantity"`
	MaxQuantity int    `json:"maxQuantity"`
	// BaseLeadDays is the lead time of the plainest configuration in small
	// quantities; choices and quantity steps add to it (see Configure).
	BaseLeadDays int            `json:"baseLeadDays"`
	QuantityLead []QuantityLead `json:"quantityLead"`
	// ScrapTolerance is the fraction of units production may scrap without the
	// order being short (0.05 is 5%). It is carried for production and
	// procurement; the BOM lists net quantities.
	ScrapTolerance decimal.Decimal `json:"scrapTolerance"`
	Groups         []OptionGroup   `json:"groups"`
	Rules          []Rule          `json:"rules"`
	Pricing        Pricing         `json:"pricing"`
	BOMRules       []BOMRule       `json:"bomRules"`
	RoutingRules   []RoutingRule   `json:"routingRules"`
}

// QuantityLead adds ExtraDays to the lead time of orders of at least MinQuantity
// units. Only the step with the largest MinQuantity the order reaches applies;
// steps do not add up.
type QuantityLead struct {
	MinQuantity int `json:"minQuantity"`
	ExtraDays   int `json:"extraDays"`
}

// OptionKind says how an option group is answered.
type OptionKind string

// The option kinds.
const (
	KindSingle OptionKind = "SINGLE" // exactly one choice (or none when optional)
	KindMulti  OptionKind = "MULTI"  // a set of choices, between MinSelections and MaxSelections
	KindNumber OptionKind = "NUMBER" // a decimal in [Min, Max] on a grid of Step from Min
	KindText   OptionKind = "TEXT"   // free text of at most MaxLength runes
)

// OptionGroup is one question the customer answers. Which fields apply depends
// on Kind; Validate refuses fields of another kind so that a template says one
// thing only.
type OptionGroup struct {
	Code  string     `json:"code"`
	Label string     `json:"label"`
	Kind  OptionKind `json:"kind"`
	// Required applies to SINGLE, NUMBER and TEXT; a MULTI says how many it needs
	// with MinSelections.
	Required bool `json:"required,omitempty"`

	// SINGLE and MULTI.
	Choices []Choice `json:"choices,omitempty"`
	// Default is the SINGLE choice used when the customer gives none.
	Default string `json:"default,omitempty"`
	// DefaultChoices is the MULTI set used when the customer does not mention the
	// option at all; mentioning it with no choices means "none".
	DefaultChoices []string `json:"defaultChoices,omitempty"`
	MinSelections  int      `json:"minSelections,omitempty"`
	// MaxSelections of 0 means any number of the choices.
	MaxSelections int `json:"maxSelections,omitempty"`

	// NUMBER.
	Min           decimal.Decimal  `json:"min,omitzero"`
	Max           decimal.Decimal  `json:"max,omitzero"`
	Step          decimal.Decimal  `json:"step,omitzero"`
	Unit          string           `json:"unit,omitempty"`
	DefaultNumber *decimal.Decimal `json:"defaultNumber,omitempty"`

	// TEXT: the length limit counts runes, which is what an engraver counts.
	MaxLength int `json:"maxLength,omitempty"`
}

// Choice is one answer to a SINGLE or MULTI option.
type Choice struct {
	Code  string `json:"code"`
	Label string `json:"label"`
	// LeadDays is what choosing it adds to the lead time (a part to source, an
	// extra process step).
	LeadDays int `json:"leadDays,omitempty"`
}

// Condition holds when Option has one of Choices, or when Choices is empty, when
// Option has any value at all (a SINGLE choice, a non-empty MULTI set, a number,
// a non-empty text). The zero Condition always holds; only BOM and routing rules
// may use it.
type Condition struct {
	Option  string   `json:"option,omitempty"`
	Choices []string `json:"choices,omitempty"`
}

// RuleKind is the kind of a constraint between two options.
type RuleKind string

// The rule kinds.
const (
	// RuleRequires: when When holds, Then must hold (Then.Option has one of
	// Then.Choices, or any value if none are listed).
	RuleRequires RuleKind = "REQUIRES"
	// RuleExcludes: when When holds, Then must not hold.
	RuleExcludes RuleKind = "EXCLUDES"
	// RuleRangeDepends: when When holds, the NUMBER option Then.Option must lie
	// in [Min, Max], a narrower range than the option's own.
	RuleRangeDepends RuleKind = "RANGE_DEPENDS"
)

// Rule is a constraint between two options, checked on the configuration with
// defaults applied.
type Rule struct {
	Code string    `json:"code"`
	Kind RuleKind  `json:"kind"`
	When Condition `json:"when"`
	Then Condition `json:"then"`
	// Min and Max bound Then.Option for RANGE_DEPENDS.
	Min decimal.Decimal `json:"min,omitzero"`
	Max decimal.Decimal `json:"max,omitzero"`
	// Message explains the rule to a customer; a generic one is used when empty.
	Message string `json:"message,omitempty"`
}

// Pricing turns a configuration into price lines. All amounts are in the
// template's currency and may carry more decimals than it (a rate per mm); each
// price line is rounded once (see Price).
type Pricing struct {
	// BasePrice is per unit.
	BasePrice decimal.Decimal `json:"basePrice"`
	// Extras are per unit, for a choice (or any value of the option).
	Extras []Surcharge `json:"extras"`
	// NumericRates price a NUMBER option's value per unit.
	NumericRates []NumericRate `json:"numericRates"`
	// SetupFees are charged once per order, whatever the quantity.
	SetupFees []Surcharge `json:"setupFees"`
	// QuantityBreaks discount large orders; the break with the largest
	// MinQuantity the order reaches applies.
	QuantityBreaks []QuantityBreak `json:"quantityBreaks"`
}

// Surcharge is an amount due when Option has Choice, or when Choice is empty,
// when Option has any value (an engraving text).
type Surcharge struct {
	Option      string          `json:"option"`
	Choice      string          `json:"choice,omitempty"`
	Amount      decimal.Decimal `json:"amount"`
	Description string          `json:"description,omitempty"`
}

// NumericRate charges Rate per unit of a NUMBER option's value above Included
// (the amount the base price already covers), per product unit:
// max(0, value-Included) × Rate.
type NumericRate struct {
	Option      string          `json:"option"`
	Rate        decimal.Decimal `json:"rate"`
	Included    decimal.Decimal `json:"included"`
	Description string          `json:"description,omitempty"`
}

// QuantityBreak discounts orders of at least MinQuantity units by
// DiscountPercent of the per-unit lines. Setup fees are not discounted: they do
// not grow with the quantity in the first place.
type QuantityBreak struct {
	MinQuantity     int             `json:"minQuantity"`
	DiscountPercent decimal.Decimal `json:"discountPercent"`
}

// Expr is a per-unit quantity Base + Per × value, where value is the NUMBER
// option Option's value; without Option it is the constant Base.
type Expr struct {
	Base   decimal.Decimal `json:"base"`
	Option string          `json:"option,omitempty"`
	Per    decimal.Decimal `json:"per,omitzero"`
}

// BOMRule puts PerUnit of Material on the bill of materials of every unit when
// When holds. Rules for the same material add up.
type BOMRule struct {
	When        Condition `json:"when,omitzero"`
	Material    string    `json:"material"`
	Description string    `json:"description"`
	Unit        string    `json:"unit"`
	PerUnit     Expr      `json:"perUnit"`
}

// WorkCentreKind is the kind of machine or cell a routing stage needs; factories
// declare which kinds they run.
type WorkCentreKind string

// The work-centre kinds the platform schedules.
const (
	WorkCentreCutting       WorkCentreKind = "CUTTING"
	WorkCentreCNCLathe      WorkCentreKind = "CNC_LATHE"
	WorkCentreCNCMill       WorkCentreKind = "CNC_MILL"
	WorkCentreDrilling      WorkCentreKind = "DRILLING"
	WorkCentreHeatTreat     WorkCentreKind = "HEAT_TREAT"
	WorkCentreCoating       WorkCentreKind = "COATING"
	WorkCentrePaint         WorkCentreKind = "PAINT"
	WorkCentreInjectionMold WorkCentreKind = "INJECTION_MOLD"
	WorkCentreBrazing       WorkCentreKind = "BRAZING"
	WorkCentreEngraving     WorkCentreKind = "ENGRAVING"
	WorkCentreAssembly      WorkCentreKind = "ASSEMBLY"
	WorkCentreTest          WorkCentreKind = "TEST"
	WorkCentreQA            WorkCentreKind = "QA"
	WorkCentrePacking       WorkCentreKind = "PACKING"
)

var workCentreKinds = map[WorkCentreKind]bool{
	WorkCentreCutting: true, WorkCentreCNCLathe: true, WorkCentreCNCMill: true,
	WorkCentreDrilling: true, WorkCentreHeatTreat: true, WorkCentreCoating: true,
	WorkCentrePaint: true, WorkCentreInjectionMold: true, WorkCentreBrazing: true,
	WorkCentreEngraving: true, WorkCentreAssembly: true, WorkCentreTest: true,
	WorkCentreQA: true, WorkCentrePacking: true,
}

// RoutingRule puts stage Code on the routing when When holds, with Minutes
// standard minutes per unit. Rules for the same stage add their minutes, so an
// option can lengthen a stage without redefining it.
type RoutingRule struct {
	When           Condition      `json:"when,omitzero"`
	Seq            int            `json:"seq"`
	Code           string         `json:"code"`
	Name           string         `json:"name"`
	WorkCentreKind WorkCentreKind `json:"workCentreKind"`
	Minutes        Expr           `json:"minutes"`
}

// Validate checks a template an operator submits and returns every problem
// found, with paths into the template (["groups","2","step"]); indices rather
// than codes, because a bad template may have empty or duplicate codes. A
// template with no violations can be configured: Configure relies on it.
func Validate(t Template) []Violation {
	v := &validator{t: t, groups: map[string]*OptionGroup{}}
	v.header()
	v.optionGroups()
	v.rules()
	v.pricing()
	v.bom()
	v.routing()
	return v.out
}

type validator struct {
	t      Template
	groups map[string]*OptionGroup // first group of each code
	out    []Violation
}

// add records a violation. It copies the path: callers build paths with append,
// and two appends to one prefix may share a backing array.
func (v *validator) add(code, msg string, path ...string) {
	v.out = append(v.out, Violation{Code: code, Path: slices.Clone(path), Message: msg})
}

func idx(i int) string { return strconv.Itoa(i) }

// validCode accepts the identifiers codes are made of: they end up in paths,
// JSONB keys and GraphQL enums, so they stay ASCII and free of separators.
func validCode(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
		default:
			return false
		}
	}
	return true
}

func (v *validator) code(s string, path ...string) {
	switch {
	case s == "":
		v.add(CodeRequired, "a code is required", path...)
	case !validCode(s):
		v.add(CodeInvalidValue, fmt.Sprintf("code %q must be 1 to 64 letters, digits, '_', '-' or '.'", s), path...)
	}
}

// number refuses decimals that are negative (when they must not be) or whose
// scale would make every comparison against them slow.
func (v *validator) number(d decimal.Decimal, nonNegative bool, path ...string) bool {
	if !sane(d) {
		v.add(CodeInvalidValue, "number out of the representable range", path...)
		return false
	}
	if nonNegative && d.IsNegative() {
		v.add(CodeInvalidValue, "must not be negative", path...)
		return false
	}
	return true
}

func (v *validator) header() {
	t := v.t
	v.code(t.Code, "code")
	if t.Name == "" {
		v.add(CodeRequired, "a name is required", "name")
	}
	if t.Version < 1 {
		v.add(CodeInvalidValue, "version starts at 1", "version")
	}
	if !money.ValidCurrency(t.Currency) {
		v.add(CodeInvalidCurrency, fmt.Sprintf("currency %q is not settled by the platform", t.Currency), "currency")
	}
	if t.MinQuantity < 1 {
		v.add(CodeInvalidValue, "minimum quantity must be at least 1", "minQuantity")
	}
	if t.MaxQuantity < t.MinQuantity {
		v.add(CodeInvalidRange, "maximum quantity is below the minimum", "maxQuantity")
	}
	if t.BaseLeadDays < 0 {
		v.add(CodeInvalidValue, "lead days must not be negative", "baseLeadDays")
	}
	if v.number(t.ScrapTolerance, true, "scrapTolerance") && t.ScrapTolerance.GreaterThanOrEqual(decimal.NewFromInt(1)) {
		v.add(CodeInvalidValue, "scrap tolerance is a fraction below 1", "scrapTolerance")
	}
	seen := map[int]bool{}
	for i, s := range t.QuantityLead {
		p := []string{"quantityLead", idx(i)}
		if s.MinQuantity < 1 {
			v.add(CodeInvalidValue, "minimum quantity must be at least 1", append(p, "minQuantity")...)
		}
		if seen[s.MinQuantity] {
			v.add(CodeDuplicateCode, fmt.Sprintf("two steps from %d units", s.MinQuantity), append(p, "minQuantity")...)
		}
		seen[s.MinQuantity] = true
		if s.ExtraDays < 0 {
			v.add(CodeInvalidValue, "extra days must not be negative", append(p, "extraDays")...)
		}
		for _, o := range t.QuantityLead {
			// A larger order is never quicker than a smaller one.
			if o.MinQuantity < s.MinQuantity && o.ExtraDays > s.ExtraDays {
				v.add(CodeInvalidRange, fmt.Sprintf("%d units would be quicker than %d units", s.MinQuantity, o.MinQuantity), append(p, "extraDays")...)
				break
			}
		}
	}
}

func (v *validator) optionGroups() {
	for i := range v.t.Groups {
		g := &v.t.Groups[i]
		p := []string{"groups", idx(i)}
		v.code(g.Code, append(p, "code")...)
		if _, dup := v.groups[g.Code]; dup {
			v.add(CodeDuplicateCode, fmt.Sprintf("option %q is defined twice", g.Code), append(p, "code")...)
		} else {
			v.groups[g.Code] = g
		}
		if g.Label == "" {
			v.add(CodeRequired, "a label is required", append(p, "label")...)
		}
		v.foreignFields(g, p)
		switch g.Kind {
		case KindSingle, KindMulti:
			v.choices(g, p)
		case KindNumber:
			v.numberGroup(g, p)
		case KindText:
			if g.MaxLength < 1 {
				v.add(CodeInvalidRange, "maximum length must be at least 1", append(p, "maxLength")...)
			}
		default:
			v.add(CodeInvalidValue, fmt.Sprintf("unknown option kind %q", g.Kind), append(p, "kind")...)
		}
	}
}

// foreignFields refuses fields that do not apply to the group's kind: a step on
// a colour is a mistake the operator should hear about, not a silent no-op.
func (v *validator) foreignFields(g *OptionGroup, p []string) {
	choice := g.Kind == KindSingle || g.Kind == KindMulti
	set := []struct {
		name    string
		present bool
		allowed bool
	}{
		{"required", g.Required, g.Kind != KindMulti},
		{"choices", len(g.Choices) > 0, choice},
		{"default", g.Default != "", g.Kind == KindSingle},
		{"defaultChoices", len(g.DefaultChoices) > 0, g.Kind == KindMulti},
		{"minSelections", g.MinSelections != 0, g.Kind == KindMulti},
		{"maxSelections", g.MaxSelections != 0, g.Kind == KindMulti},
		{"min", !g.Min.IsZero(), g.Kind == KindNumber},
		{"max", !g.Max.IsZero(), g.Kind == KindNumber},
		{"step", !g.Step.IsZero(), g.Kind == KindNumber},
		{"unit", g.Unit != "", g.Kind == KindNumber},
		{"defaultNumber", g.DefaultNumber != nil, g.Kind == KindNumber},
		{"maxLength", g.MaxLength != 0, g.Kind == KindText},
	}
	for _, f := range set {
		if f.present && !f.allowed {
			v.add(CodeInvalidValue, fmt.Sprintf("%s does not apply to %s options", f.name, g.Kind), append(p, f.name)...)
		}
	}
}

func (v *validator) choices(g *OptionGroup, p []string) {
	if len(g.Choices) == 0 {
		v.add(CodeRequired, "a choice option needs choices", append(p, "choices")...)
	}
	seen := map[string]bool{}
	for j, c := range g.Choices {
		cp := append(p, "choices", idx(j))
		v.code(c.Code, append(cp, "code")...)
		if seen[c.Code] {
			v.add(CodeDuplicateCode, fmt.Sprintf("choice %q is defined twice", c.Code), append(cp, "code")...)
		}
		seen[c.Code] = true
		if c.Label == "" {
			v.add(CodeRequired, "a label is required", append(cp, "label")...)
		}
		if c.LeadDays < 0 {
			v.add(CodeInvalidValue, "lead days must not be negative", append(cp, "leadDays")...)
		}
	}
	if g.Default != "" && !seen[g.Default] {
		v.add(CodeUnknownChoice, fmt.Sprintf("default %q is not a choice", g.Default), append(p, "default")...)
	}
	if g.Kind != KindMulti {
		return
	}
	maxSel := g.MaxSelections
	if maxSel == 0 {
		maxSel = len(g.Choices)
	}
	if g.MinSelections < 0 || g.MaxSelections < 0 || g.MinSelections > maxSel || maxSel > len(g.Choices) {
		v.add(CodeInvalidRange, fmt.Sprintf("selections must satisfy 0 <= min <= max <= %d choices", len(g.Choices)), append(p, "maxSelections")...)
	}
	dp := append(p, "defaultChoices")
	inDefault := map[string]bool{}
	for _, c := range g.DefaultChoices {
		switch {
		case !seen[c]:
			v.add(CodeUnknownChoice, fmt.Sprintf("default %q is not a choice", c), dp...)
		case inDefault[c]:
			v.add(CodeDuplicateCode, fmt.Sprintf("default %q is listed twice", c), dp...)
		}
		inDefault[c] = true
	}
	if n := len(g.DefaultChoices); n > 0 && (n < g.MinSelections || n > maxSel) {
		v.add(CodeInvalidRange, "the default selection breaks the option's own limits", dp...)
	}
}

func (v *validator) numberGroup(g *OptionGroup, p []string) {
	ok := v.number(g.Min, false, append(p, "min")...)
	ok = v.number(g.Max, false, append(p, "max")...) && ok
	ok = v.number(g.Step, false, append(p, "step")...) && ok
	if !ok {
		return
	}
	if !g.Step.IsPositive() {
		v.add(CodeInvalidRange, "step must be positive", append(p, "step")...)
		return
	}
	if g.Min.GreaterThan(g.Max) {
		v.add(CodeInvalidRange, "minimum is above the maximum", append(p, "max")...)
		return
	}
	// A maximum off the grid could never be chosen: the range would lie.
	if !onStep(g.Max, g.Min, g.Step) {
		v.add(CodeOffStep, fmt.Sprintf("maximum %s is not on the grid of %s from %s", g.Max, g.Step, g.Min), append(p, "max")...)
	}
	if d := g.DefaultNumber; d != nil && v.number(*d, false, append(p, "defaultNumber")...) {
		if d.LessThan(g.Min) || d.GreaterThan(g.Max) {
			v.add(CodeOutOfRange, fmt.Sprintf("default %s is outside [%s, %s]", d, g.Min, g.Max), append(p, "defaultNumber")...)
		} else if !onStep(*d, g.Min, g.Step) {
			v.add(CodeOffStep, fmt.Sprintf("default %s is not on the grid of %s from %s", d, g.Step, g.Min), append(p, "defaultNumber")...)
		}
	}
}

// condition checks a condition's references; always says whether the zero
// condition (no option: always holds) is allowed here.
func (v *validator) condition(c Condition, always bool, p []string) *OptionGroup {
	if c.Option == "" {
		if !always {
			v.add(CodeRequired, "an option is required", append(p, "option")...)
		} else if len(c.Choices) > 0 {
			v.add(CodeRequired, "choices need an option", append(p, "option")...)
		}
		return nil
	}
	g := v.groups[c.Option]
	if g == nil {
		v.add(CodeUnknownOption, fmt.Sprintf("option %q does not exist", c.Option), append(p, "option")...)
		return nil
	}
	if len(c.Choices) > 0 && g.Kind != KindSingle && g.Kind != KindMulti {
		v.add(CodeWrongKind, fmt.Sprintf("%s option %q has no choices", g.Kind, g.Code), append(p, "choices")...)
		return g
	}
	seen := map[string]bool{}
	for _, ch := range c.Choices {
		switch {
		case findChoice(g, ch) < 0:
			v.add(CodeUnknownChoice, fmt.Sprintf("option %q has no choice %q", g.Code, ch), append(p, "choices")...)
		case seen[ch]:
			v.add(CodeDuplicateCode, fmt.Sprintf("choice %q is listed twice", ch), append(p, "choices")...)
		}
		seen[ch] = true
	}
	return g
}

func (v *validator) rules() {
	seen := map[string]bool{}
	for i, r := range v.t.Rules {
		p := []string{"rules", idx(i)}
		v.code(r.Code, append(p, "code")...)
		if seen[r.Code] {
			v.add(CodeDuplicateCode, fmt.Sprintf("rule %q is defined twice", r.Code), append(p, "code")...)
		}
		seen[r.Code] = true
		v.condition(r.When, false, append(p, "when"))
		then := v.condition(r.Then, false, append(p, "then"))
		if r.When.Option != "" && r.When.Option == r.Then.Option {
			v.add(CodeInvalidValue, "a rule relates two different options", append(p, "then", "option")...)
		}
		switch r.Kind {
		case RuleRequires, RuleExcludes:
			if !r.Min.IsZero() || !r.Max.IsZero() {
				v.add(CodeInvalidValue, "min and max apply to RANGE_DEPENDS rules only", append(p, "min")...)
			}
		case RuleRangeDepends:
			v.rangeRule(r, then, p)
		default:
			v.add(CodeInvalidValue, fmt.Sprintf("unknown rule kind %q", r.Kind), append(p, "kind")...)
		}
	}
}

func (v *validator) rangeRule(r Rule, then *OptionGroup, p []string) {
	if then == nil {
		return
	}
	if then.Kind != KindNumber {
		v.add(CodeWrongKind, fmt.Sprintf("RANGE_DEPENDS needs a NUMBER option, %q is %s", then.Code, then.Kind), append(p, "then", "option")...)
		return
	}
	if len(r.Then.Choices) > 0 {
		v.add(CodeInvalidValue, "RANGE_DEPENDS bounds a number, not choices", append(p, "then", "choices")...)
	}
	if !v.number(r.Min, false, append(p, "min")...) || !v.number(r.Max, false, append(p, "max")...) {
		return
	}
	switch {
	case r.Min.GreaterThan(r.Max):
		v.add(CodeInvalidRange, "minimum is above the maximum", append(p, "max")...)
	case r.Min.LessThan(then.Min) || r.Max.GreaterThan(then.Max):
		v.add(CodeOutOfRange, fmt.Sprintf("[%s, %s] is not within the option's [%s, %s]", r.Min, r.Max, then.Min, then.Max), append(p, "min")...)
	}
}

func (v *validator) pricing() {
	pr := v.t.Pricing
	v.number(pr.BasePrice, true, "pricing", "basePrice")
	v.surcharges(pr.Extras, "extras")
	v.surcharges(pr.SetupFees, "setupFees")
	seen := map[string]bool{}
	for i, n := range pr.NumericRates {
		p := []string{"pricing", "numericRates", idx(i)}
		g := v.condition(Condition{Option: n.Option}, false, p)
		if g != nil && g.Kind != KindNumber {
			v.add(CodeWrongKind, fmt.Sprintf("%q is a %s option, not a NUMBER", g.Code, g.Kind), append(p, "option")...)
		}
		if seen[n.Option] {
			v.add(CodeDuplicateCode, fmt.Sprintf("option %q is priced twice", n.Option), append(p, "option")...)
		}
		seen[n.Option] = true
		v.number(n.Rate, true, append(p, "rate")...)
		v.number(n.Included, true, append(p, "included")...)
	}
	breaks := map[int]bool{}
	hundred := decimal.NewFromInt(100)
	for i, b := range pr.QuantityBreaks {
		p := []string{"pricing", "quantityBreaks", idx(i)}
		if b.MinQuantity < 1 {
			v.add(CodeInvalidValue, "minimum quantity must be at least 1", append(p, "minQuantity")...)
		}
		if breaks[b.MinQuantity] {
			v.add(CodeDuplicateCode, fmt.Sprintf("two breaks from %d units", b.MinQuantity), append(p, "minQuantity")...)
		}
		breaks[b.MinQuantity] = true
		if !v.number(b.DiscountPercent, false, append(p, "discountPercent")...) {
			continue
		}
		if !b.DiscountPercent.IsPositive() || b.DiscountPercent.GreaterThanOrEqual(hundred) {
			v.add(CodeInvalidRange, "discount percent must be above 0 and below 100", append(p, "discountPercent")...)
		}
		for _, o := range pr.QuantityBreaks {
			// A larger order never gets a smaller discount.
			if o.MinQuantity < b.MinQuantity && o.DiscountPercent.GreaterThan(b.DiscountPercent) {
				v.add(CodeInvalidRange, fmt.Sprintf("%d units would get less discount than %d units", b.MinQuantity, o.MinQuantity), append(p, "discountPercent")...)
				break
			}
		}
	}
}

func (v *validator) surcharges(list []Surcharge, field string) {
	seen := map[[2]string]bool{}
	for i, s := range list {
		p := []string{"pricing", field, idx(i)}
		c := Condition{Option: s.Option}
		if s.Choice != "" {
			c.Choices = []string{s.Choice}
		}
		v.condition(c, false, p)
		key := [2]string{s.Option, s.Choice}
		if seen[key] {
			v.add(CodeDuplicateCode, fmt.Sprintf("%s/%s is priced twice", s.Option, s.Choice), p...)
		}
		seen[key] = true
		v.number(s.Amount, true, append(p, "amount")...)
	}
}

// expr checks a per-unit quantity: its option must be a NUMBER that always has a
// value (required or defaulted), and the quantity must not go negative anywhere
// in the option's range. It is linear, so the ends of the range suffice.
func (v *validator) expr(e Expr, p []string) {
	if !v.number(e.Base, false, append(p, "base")...) || !v.number(e.Per, false, append(p, "per")...) {
		return
	}
	if e.Option == "" {
		if !e.Per.IsZero() {
			v.add(CodeRequired, "per needs an option", append(p, "option")...)
		} else if e.Base.IsNegative() {
			v.add(CodeInvalidValue, "must not be negative", append(p, "base")...)
		}
		return
	}
	g := v.groups[e.Option]
	switch {
	case g == nil:
		v.add(CodeUnknownOption, fmt.Sprintf("option %q does not exist", e.Option), append(p, "option")...)
	case g.Kind != KindNumber:
		v.add(CodeWrongKind, fmt.Sprintf("%q is a %s option, not a NUMBER", g.Code, g.Kind), append(p, "option")...)
	case !g.Required && g.DefaultNumber == nil:
		v.add(CodeInvalidValue, fmt.Sprintf("option %q may be left empty; make it required or give it a default", g.Code), append(p, "option")...)
	case !sane(g.Min) || !sane(g.Max):
		// Reported on the group already.
	case e.Base.Add(e.Per.Mul(g.Min)).IsNegative() || e.Base.Add(e.Per.Mul(g.Max)).IsNegative():
		v.add(CodeInvalidRange, fmt.Sprintf("goes negative within %q's range [%s, %s]", g.Code, g.Min, g.Max), p...)
	}
}

func (v *validator) bom() {
	units := map[string]string{}
	for i, b := range v.t.BOMRules {
		p := []string{"bomRules", idx(i)}
		v.condition(b.When, true, append(p, "when"))
		v.code(b.Material, append(p, "material")...)
		if b.Description == "" {
			v.add(CodeRequired, "a description is required", append(p, "description")...)
		}
		if b.Unit == "" {
			v.add(CodeRequired, "a unit is required", append(p, "unit")...)
		}
		// Quantities of one material add up, which only makes sense in one unit.
		if u, ok := units[b.Material]; ok && u != b.Unit {
			v.add(CodeInvalidValue, fmt.Sprintf("material %q is measured in %q elsewhere", b.Material, u), append(p, "unit")...)
		} else if !ok {
			units[b.Material] = b.Unit
		}
		v.expr(b.PerUnit, append(p, "perUnit"))
	}
}

func (v *validator) routing() {
	stages := map[string]RoutingRule{}
	seqs := map[int]string{}
	always := false
	for i, r := range v.t.RoutingRules {
		p := []string{"routingRules", idx(i)}
		v.condition(r.When, true, append(p, "when"))
		always = always || r.When.Option == ""
		v.code(r.Code, append(p, "code")...)
		if r.Name == "" {
			v.add(CodeRequired, "a name is required", append(p, "name")...)
		}
		if !workCentreKinds[r.WorkCentreKind] {
			v.add(CodeInvalidValue, fmt.Sprintf("unknown work-centre kind %q", r.WorkCentreKind), append(p, "workCentreKind")...)
		}
		if r.Seq < 1 {
			v.add(CodeInvalidValue, "sequence must be at least 1", append(p, "seq")...)
		}
		// Rules of one stage add minutes; they must agree on what the stage is,
		// and two stages must not share a place in the order.
		if s, ok := stages[r.Code]; ok {
			if s.Seq != r.Seq || s.Name != r.Name || s.WorkCentreKind != r.WorkCentreKind {
				v.add(CodeInvalidValue, fmt.Sprintf("stage %q is defined differently elsewhere", r.Code), append(p, "code")...)
			}
		} else {
			stages[r.Code] = r
			if other, taken := seqs[r.Seq]; taken {
				v.add(CodeDuplicateCode, fmt.Sprintf("stages %q and %q share sequence %d", other, r.Code, r.Seq), append(p, "seq")...)
			}
			seqs[r.Seq] = r.Code
		}
		v.expr(r.Minutes, append(p, "minutes"))
	}
	if !always {
		v.add(CodeNoRouting, "at least one routing stage must apply to every configuration", "routingRules")
	}
}
