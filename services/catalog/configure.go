package catalog

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/masscustom/orchestrator/services/money"
	"github.com/shopspring/decimal"
)

// Violation codes. Configure reports the first group; Validate reports the
// second group and reuses REQUIRED, UNKNOWN_OPTION, UNKNOWN_CHOICE, WRONG_KIND,
// OUT_OF_RANGE and OFF_STEP where they mean the same thing about a template.
const (
	CodeUnknownOption   = "UNKNOWN_OPTION"   // the template has no such option
	CodeUnknownChoice   = "UNKNOWN_CHOICE"   // the option has no such choice
	CodeDuplicateOption = "DUPLICATE_OPTION" // the option is answered twice
	CodeDuplicateChoice = "DUPLICATE_CHOICE" // a MULTI answer lists a choice twice
	CodeWrongKind       = "WRONG_KIND"       // e.g. a number for a SINGLE option
	CodeRequired        = "REQUIRED"         // a required option has no answer and no default
	CodeTooFewChoices   = "TOO_FEW_CHOICES"  // a MULTI answer below MinSelections
	CodeTooManyChoices  = "TOO_MANY_CHOICES" // a MULTI answer above MaxSelections
	CodeOutOfRange      = "OUT_OF_RANGE"     // a number outside the option's [Min, Max]
	CodeOffStep         = "OFF_STEP"         // a number off the option's grid of Step from Min
	CodeTextTooLong     = "TEXT_TOO_LONG"    // more runes than MaxLength
	CodeInvalidText     = "INVALID_TEXT"     // not UTF-8, or control characters nobody can engrave
	CodeRuleRequires    = "RULE_REQUIRES"    // a REQUIRES rule is broken
	CodeRuleExcludes    = "RULE_EXCLUDES"    // an EXCLUDES rule is broken
	CodeRuleRange       = "RULE_RANGE"       // a RANGE_DEPENDS rule is broken
	CodeInvalidQuantity = "INVALID_QUANTITY" // not within [max(1, MinQuantity), MaxQuantity]
	CodeInvalidTemplate = "INVALID_TEMPLATE" // the template cannot be priced (it did not pass Validate)

	CodeDuplicateCode   = "DUPLICATE_CODE"   // two options, choices, rules, prices or stages with one key
	CodeInvalidValue    = "INVALID_VALUE"    // a field with a value it cannot have
	CodeInvalidRange    = "INVALID_RANGE"    // bounds that contradict each other
	CodeInvalidCurrency = "INVALID_CURRENCY" // a currency the platform does not settle in
	CodeNoRouting       = "NO_ROUTING"       // some configuration would get no routing stage
)

// Violation is one reason a configuration or a template is refused: a code to
// branch on, the path of the input at fault (["selections","color"],
// ["quantity"], ["groups","2","step"]) and a message for people.
type Violation struct {
	Code    string   `json:"code"`
	Path    []string `json:"path"`
	Message string   `json:"message"`
}

// Selection is the customer's answer to one option: Choice for SINGLE, Choices
// for MULTI, Number for NUMBER, Text for TEXT. Giving another field is a
// WRONG_KIND violation. An empty answer counts as no answer, except for MULTI,
// where naming the option with no choices means "none of them" (and overrides
// the default set).
type Selection struct {
	Option  string           `json:"option"`
	Choice  string           `json:"choice,omitempty"`
	Choices []string         `json:"choices,omitempty"`
	Number  *decimal.Decimal `json:"number,omitempty"`
	Text    *string          `json:"text,omitempty"`
}

// Result is the configurator's answer. Valid is true exactly when there are no
// violations; only then are Price, LeadTimeDays, BOM and Routing filled in, so
// an invalid configuration can never be mistaken for a quote.
type Result struct {
	Valid      bool        `json:"valid"`
	Violations []Violation `json:"violations"`
	Price      Price       `json:"price"`
	// LeadTimeDays is BaseLeadDays, plus the SUM of the lead days of every
	// chosen choice, plus the quantity step the order reaches. Sum, not max:
	// contributions are mostly extra process steps on the same unit (heat
	// treatment, then coating, then inspection), and a quote that promises too
	// early costs more than one that promises a day late. A template whose
	// contributions run in parallel (two parts sourced at once) should fold them
	// into one choice.
	LeadTimeDays int       `json:"leadTimeDays"`
	BOM          []BOMLine `json:"bom"`
	Routing      []Stage   `json:"routing"`
	// Resolved is the configuration as understood: defaults applied, choices in
	// the template's order, options in the template's group order. Configuring
	// Resolved again gives the same result.
	Resolved []Selection `json:"resolved"`
}

// PriceComponent says what a price line charges for.
type PriceComponent string

// The price components, in the order lines appear.
const (
	ComponentBase     PriceComponent = "BASE"     // base price per unit
	ComponentOption   PriceComponent = "OPTION"   // extra per unit for a choice
	ComponentNumeric  PriceComponent = "NUMERIC"  // rate per unit of a numeric option
	ComponentSetup    PriceComponent = "SETUP"    // once per order
	ComponentDiscount PriceComponent = "DISCOUNT" // quantity break, negative
)

// Price is a quote. Each line's Amount is UnitAmount × Quantity rounded once to
// the currency's minor unit, half away from zero; UnitAmount stays exact (a rate
// per mm may have more decimals than the currency), because rounding the unit
// first and multiplying would round twice and, at a quantity of thousands, be
// off by whole currency units. Total is exactly the sum of the line amounts, so
// an invoice that lists the lines always adds up.
type Price struct {
	Currency string      `json:"currency"`
	Lines    []PriceLine `json:"lines"`
	// Subtotal is the sum of every line but the discount.
	Subtotal decimal.Decimal `json:"subtotal"`
	// Discount is what the quantity break takes off, as a positive amount.
	Discount decimal.Decimal `json:"discount"`
	// Total = Subtotal - Discount = the sum of all lines.
	Total decimal.Decimal `json:"total"`
	// UnitPrice is Total / quantity rounded to the minor unit, for display only:
	// UnitPrice × quantity may differ from Total by rounding. Total is what is
	// charged.
	UnitPrice decimal.Decimal `json:"unitPrice"`
}

// PriceLine is one line of a quote.
type PriceLine struct {
	Component   PriceComponent  `json:"component"`
	Option      string          `json:"option,omitempty"`
	Description string          `json:"description"`
	UnitAmount  decimal.Decimal `json:"unitAmount"`
	Quantity    int             `json:"quantity"`
	Amount      decimal.Decimal `json:"amount"`
}

// BOMLine is one material of the design, aggregated over the rules that ask
// for it. Quantities are net of scrap.
type BOMLine struct {
	Material        string          `json:"material"`
	Description     string          `json:"description"`
	Unit            string          `json:"unit"`
	QuantityPerUnit decimal.Decimal `json:"quantityPerUnit"`
	Quantity        decimal.Decimal `json:"quantity"`
}

// Stage is one step of the routing, in Seq order, with standard minutes.
type Stage struct {
	Seq            int             `json:"seq"`
	Code           string          `json:"code"`
	Name           string          `json:"name"`
	WorkCentreKind WorkCentreKind  `json:"workCentreKind"`
	MinutesPerUnit decimal.Decimal `json:"minutesPerUnit"`
	TotalMinutes   decimal.Decimal `json:"totalMinutes"`
}

// Configure checks a customer's selections and an order quantity against a
// template and, when they are valid, prices them and derives lead time, BOM and
// routing. It reports every violation it finds, not just the first. It is pure
// and total: any input, even a template that never passed Validate, gives a
// Result and never a panic. It does not modify its arguments, and the Result
// shares no mutable state with them.
func Configure(t Template, sel []Selection, quantity int) Result {
	c := newConfig(t)
	c.checkQuantity(quantity)
	for i := range sel {
		c.apply(&sel[i])
	}
	c.complete()
	c.checkRules()
	// A refused configuration gets no quote at all, not half of one.
	res := Result{BOM: []BOMLine{}, Routing: []Stage{}, Resolved: c.resolved()}
	if len(c.out) == 0 {
		if price, err := c.price(quantity); err != nil {
			c.add(CodeInvalidTemplate, []string{"template", "currency"}, "the template cannot be priced: %v", err)
		} else {
			res.Price = price
			res.LeadTimeDays = c.leadTime(quantity)
			res.BOM = c.bom(quantity)
			res.Routing = c.routing(quantity)
		}
	}
	res.Violations = c.out
	res.Valid = len(c.out) == 0
	return res
}

// value is what the configurator understood of one option.
type value struct {
	mentioned bool // the option appears in the selections
	answered  bool // with a non-empty answer, usable or not
	set       bool // holds a usable value of the option's kind
	choice    string
	choices   []string
	number    decimal.Decimal
	text      string
}

type config struct {
	t     Template
	index map[string]int // option code -> group; the first group wins in a broken template
	vals  []value
	out   []Violation
}

func newConfig(t Template) *config {
	c := &config{t: t, index: make(map[string]int, len(t.Groups)), vals: make([]value, len(t.Groups)), out: []Violation{}}
	for i, g := range t.Groups {
		if _, dup := c.index[g.Code]; !dup {
			c.index[g.Code] = i
		}
	}
	return c
}

func (c *config) add(code string, path []string, format string, args ...any) {
	c.out = append(c.out, Violation{Code: code, Path: path, Message: fmt.Sprintf(format, args...)})
}

func selPath(option string) []string { return []string{"selections", option} }

func (c *config) checkQuantity(q int) {
	lo := max(c.t.MinQuantity, 1)
	if q < lo || q > c.t.MaxQuantity {
		c.add(CodeInvalidQuantity, []string{"quantity"}, "quantity %d is not between %d and %d", q, lo, c.t.MaxQuantity)
	}
}

func (c *config) apply(s *Selection) {
	gi, ok := c.index[s.Option]
	if !ok || s.Option == "" {
		c.add(CodeUnknownOption, selPath(s.Option), "%q is not an option of %s", s.Option, c.t.Name)
		return
	}
	g, v := &c.t.Groups[gi], &c.vals[gi]
	if v.mentioned {
		c.add(CodeDuplicateOption, selPath(s.Option), "%s is answered more than once", g.Label)
		return
	}
	v.mentioned = true
	if field, wrong := wrongField(g.Kind, s); wrong {
		v.answered = true
		c.add(CodeWrongKind, selPath(s.Option), "%s is a %s option and takes no %s", g.Label, g.Kind, field)
		return
	}
	switch g.Kind {
	case KindSingle:
		c.applySingle(g, v, s)
	case KindMulti:
		c.applyMulti(g, v, s)
	case KindNumber:
		c.applyNumber(g, v, s)
	case KindText:
		c.applyText(g, v, s)
	}
}

// wrongField names a field of s that the kind does not take.
func wrongField(k OptionKind, s *Selection) (string, bool) {
	switch {
	case s.Choice != "" && k != KindSingle:
		return "choice", true
	case len(s.Choices) > 0 && k != KindMulti:
		return "choices", true
	case s.Number != nil && k != KindNumber:
		return "number", true
	case s.Text != nil && k != KindText:
		return "text", true
	}
	if k != KindSingle && k != KindMulti && k != KindNumber && k != KindText {
		return "answer (unknown option kind)", true
	}
	return "", false
}

func (c *config) applySingle(g *OptionGroup, v *value, s *Selection) {
	if s.Choice == "" {
		return
	}
	v.answered = true
	if findChoice(g, s.Choice) < 0 {
		c.add(CodeUnknownChoice, selPath(g.Code), "%q is not a choice of %s", s.Choice, g.Label)
		return
	}
	v.set, v.choice = true, s.Choice
}

func (c *config) applyMulti(g *OptionGroup, v *value, s *Selection) {
	v.answered, v.set = true, true
	v.choices = make([]string, 0, len(s.Choices))
	for _, ch := range s.Choices {
		switch {
		case findChoice(g, ch) < 0:
			c.add(CodeUnknownChoice, selPath(g.Code), "%q is not a choice of %s", ch, g.Label)
		case slices.Contains(v.choices, ch):
			c.add(CodeDuplicateChoice, selPath(g.Code), "%q is chosen twice for %s", ch, g.Label)
		default:
			v.choices = append(v.choices, ch)
		}
	}
}

func (c *config) applyNumber(g *OptionGroup, v *value, s *Selection) {
	if s.Number == nil {
		return
	}
	v.answered = true
	n := *s.Number
	if !sane(n) {
		c.add(CodeOutOfRange, selPath(g.Code), "%s is not a usable number", g.Label)
		return
	}
	v.set, v.number = true, n
	switch {
	case n.LessThan(g.Min) || n.GreaterThan(g.Max):
		c.add(CodeOutOfRange, selPath(g.Code), "%s must be between %s and %s %s, not %s", g.Label, g.Min, g.Max, g.Unit, n)
	case !onStep(n, g.Min, g.Step):
		c.add(CodeOffStep, selPath(g.Code), "%s goes in steps of %s %s from %s, %s is between steps", g.Label, g.Step, g.Unit, g.Min, n)
	}
}

func (c *config) applyText(g *OptionGroup, v *value, s *Selection) {
	if s.Text == nil || *s.Text == "" {
		return
	}
	v.answered = true
	txt := *s.Text
	if !utf8.ValidString(txt) || strings.ContainsFunc(txt, unicode.IsControl) {
		c.add(CodeInvalidText, selPath(g.Code), "%s must be printable UTF-8 text", g.Label)
		return
	}
	v.set, v.text = true, txt
	if n := utf8.RuneCountInString(txt); n > g.MaxLength {
		c.add(CodeTextTooLong, selPath(g.Code), "%s takes at most %d characters, not %d", g.Label, g.MaxLength, n)
	}
}

// complete applies defaults to unanswered options and checks what only the whole
// answer can tell: required options and the size of MULTI sets.
func (c *config) complete() {
	for i := range c.t.Groups {
		g, v := &c.t.Groups[i], &c.vals[i]
		switch g.Kind {
		case KindSingle:
			if !v.answered && g.Default != "" && findChoice(g, g.Default) >= 0 {
				v.set, v.choice = true, g.Default
			}
		case KindNumber:
			if !v.answered && g.DefaultNumber != nil && sane(*g.DefaultNumber) {
				v.set, v.number = true, *g.DefaultNumber
			}
		case KindMulti:
			if !v.mentioned {
				v.set = true
				for _, ch := range g.DefaultChoices {
					if findChoice(g, ch) >= 0 && !slices.Contains(v.choices, ch) {
						v.choices = append(v.choices, ch)
					}
				}
			}
			if !v.set {
				continue
			}
			v.choices = inTemplateOrder(g, v.choices)
			maxSel := g.MaxSelections
			if maxSel <= 0 {
				maxSel = len(g.Choices)
			}
			switch n := len(v.choices); {
			case n < g.MinSelections:
				c.add(CodeTooFewChoices, selPath(g.Code), "%s needs at least %d choices, not %d", g.Label, g.MinSelections, n)
			case n > maxSel:
				c.add(CodeTooManyChoices, selPath(g.Code), "%s takes at most %d choices, not %d", g.Label, maxSel, n)
			}
		}
		if g.Required && !v.answered && !v.set {
			c.add(CodeRequired, selPath(g.Code), "%s is required", g.Label)
		}
	}
}

// inTemplateOrder sorts chosen codes as the template lists them, so that equal
// configurations have equal Resolved forms.
func inTemplateOrder(g *OptionGroup, chosen []string) []string {
	out := make([]string, 0, len(chosen))
	for _, ch := range g.Choices {
		if slices.Contains(chosen, ch.Code) && !slices.Contains(out, ch.Code) {
			out = append(out, ch.Code)
		}
	}
	return out
}

// holds evaluates a condition on the configuration with defaults applied.
func (c *config) holds(cond Condition) bool {
	if cond.Option == "" {
		return true
	}
	gi, ok := c.index[cond.Option]
	if !ok || !c.vals[gi].set {
		return false
	}
	v := &c.vals[gi]
	switch c.t.Groups[gi].Kind {
	case KindSingle:
		return len(cond.Choices) == 0 || slices.Contains(cond.Choices, v.choice)
	case KindMulti:
		if len(cond.Choices) == 0 {
			return len(v.choices) > 0
		}
		for _, ch := range v.choices {
			if slices.Contains(cond.Choices, ch) {
				return true
			}
		}
		return false
	default:
		// A number or a text has no choices: the condition is "has a value".
		return len(cond.Choices) == 0
	}
}

func (c *config) checkRules() {
	for _, r := range c.t.Rules {
		if r.When.Option == "" || !c.holds(r.When) {
			continue
		}
		msg := r.Message
		switch r.Kind {
		case RuleRequires:
			if !c.holds(r.Then) {
				if msg == "" {
					msg = fmt.Sprintf("when %s, %s", describe(r.When), describeNeed(r.Then, "must"))
				}
				c.add(CodeRuleRequires, selPath(r.Then.Option), "%s", msg)
			}
		case RuleExcludes:
			if r.Then.Option != "" && c.holds(r.Then) {
				if msg == "" {
					msg = fmt.Sprintf("when %s, %s", describe(r.When), describeNeed(r.Then, "must not"))
				}
				c.add(CodeRuleExcludes, selPath(r.Then.Option), "%s", msg)
			}
		case RuleRangeDepends:
			gi, ok := c.index[r.Then.Option]
			if !ok || !c.vals[gi].set || c.t.Groups[gi].Kind != KindNumber {
				continue
			}
			if n := c.vals[gi].number; n.LessThan(r.Min) || n.GreaterThan(r.Max) {
				if msg == "" {
					msg = fmt.Sprintf("when %s, %s must be between %s and %s", describe(r.When), r.Then.Option, r.Min, r.Max)
				}
				c.add(CodeRuleRange, selPath(r.Then.Option), "%s", msg)
			}
		}
	}
}

func describe(cond Condition) string {
	if len(cond.Choices) == 0 {
		return cond.Option + " is given"
	}
	return cond.Option + " is " + strings.Join(cond.Choices, " or ")
}

func describeNeed(cond Condition, verb string) string {
	if len(cond.Choices) == 0 {
		return fmt.Sprintf("%s %s be given", cond.Option, verb)
	}
	return fmt.Sprintf("%s %s be %s", cond.Option, verb, strings.Join(cond.Choices, " or "))
}

func (c *config) resolved() []Selection {
	out := make([]Selection, 0, len(c.t.Groups))
	for i, g := range c.t.Groups {
		v := c.vals[i]
		if !v.set {
			continue
		}
		s := Selection{Option: g.Code}
		switch g.Kind {
		case KindSingle:
			s.Choice = v.choice
		case KindMulti:
			s.Choices = slices.Clone(v.choices)
		case KindNumber:
			n := v.number
			s.Number = &n
		case KindText:
			txt := v.text
			s.Text = &txt
		}
		out = append(out, s)
	}
	return out
}

// pricer collects price lines; the first rounding error (an unknown currency)
// sticks, so the steps of pricing read without an error check each.
type pricer struct {
	currency string
	lines    []PriceLine
	err      error
}

// line adds a line whose amount is unit × n, rounded once.
func (p *pricer) line(comp PriceComponent, option, desc string, unit decimal.Decimal, n int) decimal.Decimal {
	amount, err := money.Round(unit.Mul(decimal.NewFromInt(int64(n))), p.currency)
	if err != nil {
		if p.err == nil {
			p.err = err
		}
		return decimal.Zero
	}
	p.lines = append(p.lines, PriceLine{Component: comp, Option: option, Description: desc, UnitAmount: unit, Quantity: n, Amount: amount})
	return amount
}

func (c *config) price(q int) (Price, error) {
	t, pr := c.t, c.t.Pricing
	p := &pricer{currency: t.Currency, lines: make([]PriceLine, 0, 8)}
	perUnit := p.line(ComponentBase, "", t.Name, pr.BasePrice, q)
	for _, s := range pr.Extras {
		if s.Amount.IsZero() || !c.holds(surchargeCondition(s)) {
			continue
		}
		perUnit = perUnit.Add(p.line(ComponentOption, s.Option, c.surchargeText(s, ""), s.Amount, q))
	}
	for _, n := range pr.NumericRates {
		gi, ok := c.index[n.Option]
		if !ok || !c.vals[gi].set || c.t.Groups[gi].Kind != KindNumber {
			continue
		}
		g, value := &c.t.Groups[gi], c.vals[gi].number
		above := value.Sub(n.Included)
		if !above.IsPositive() || n.Rate.IsZero() {
			continue
		}
		desc := n.Description
		if desc == "" {
			desc = g.Label
		}
		desc = fmt.Sprintf("%s: %s %s, %s above the %s included, at %s per %s", desc, value, g.Unit, above, n.Included, n.Rate, g.Unit)
		perUnit = perUnit.Add(p.line(ComponentNumeric, n.Option, desc, above.Mul(n.Rate), q))
	}
	subtotal := perUnit
	for _, s := range pr.SetupFees {
		if s.Amount.IsZero() || !c.holds(surchargeCondition(s)) {
			continue
		}
		subtotal = subtotal.Add(p.line(ComponentSetup, s.Option, c.surchargeText(s, "Setup: "), s.Amount, 1))
	}
	discount := decimal.Zero
	if b, ok := quantityBreak(pr.QuantityBreaks, q); ok && perUnit.IsPositive() {
		// The discount is a percentage of the per-unit lines as rounded, so a
		// customer can recompute it from the quote.
		unit := perUnit.Mul(b.DiscountPercent).Shift(-2).Neg()
		discount = p.line(ComponentDiscount, "", fmt.Sprintf("Quantity discount: %s%% from %d units", b.DiscountPercent, b.MinQuantity), unit, 1).Neg()
	}
	if p.err != nil {
		return Price{}, p.err
	}
	total := subtotal.Sub(discount)
	places, err := money.MinorUnit(t.Currency)
	if err != nil {
		return Price{}, err
	}
	// DivRound rounds once, half away from zero, like money.Round; dividing
	// first and rounding after would round twice.
	unitPrice := total.DivRound(decimal.NewFromInt(int64(q)), places)
	return Price{Currency: t.Currency, Lines: p.lines, Subtotal: subtotal, Discount: discount, Total: total, UnitPrice: unitPrice}, nil
}

func surchargeCondition(s Surcharge) Condition {
	if s.Choice == "" {
		return Condition{Option: s.Option}
	}
	return Condition{Option: s.Option, Choices: []string{s.Choice}}
}

func (c *config) surchargeText(s Surcharge, prefix string) string {
	if s.Description != "" {
		return s.Description
	}
	gi, ok := c.index[s.Option]
	if !ok {
		return prefix + s.Option
	}
	g := &c.t.Groups[gi]
	if j := findChoice(g, s.Choice); j >= 0 {
		return prefix + g.Label + ": " + g.Choices[j].Label
	}
	return prefix + g.Label
}

// quantityBreak returns the break with the largest MinQuantity q reaches.
func quantityBreak(breaks []QuantityBreak, q int) (QuantityBreak, bool) {
	var best QuantityBreak
	found := false
	for _, b := range breaks {
		if b.MinQuantity <= q && (!found || b.MinQuantity > best.MinQuantity) {
			best, found = b, true
		}
	}
	return best, found
}

func (c *config) leadTime(q int) int {
	days := c.t.BaseLeadDays
	for i, g := range c.t.Groups {
		v := c.vals[i]
		if !v.set {
			continue
		}
		switch g.Kind {
		case KindSingle:
			if j := findChoice(&g, v.choice); j >= 0 {
				days += g.Choices[j].LeadDays
			}
		case KindMulti:
			for _, ch := range v.choices {
				if j := findChoice(&g, ch); j >= 0 {
					days += g.Choices[j].LeadDays
				}
			}
		}
	}
	step, best := 0, 0
	for _, s := range c.t.QuantityLead {
		if s.MinQuantity <= q && s.MinQuantity > best {
			step, best = s.ExtraDays, s.MinQuantity
		}
	}
	return days + step
}

// eval computes an Expr; an option without a value contributes nothing (Validate
// makes sure an Expr's option always has one).
func (c *config) eval(e Expr) decimal.Decimal {
	if e.Option == "" {
		return e.Base
	}
	gi, ok := c.index[e.Option]
	if !ok || !c.vals[gi].set || c.t.Groups[gi].Kind != KindNumber {
		return e.Base
	}
	return e.Base.Add(e.Per.Mul(c.vals[gi].number))
}

func (c *config) bom(q int) []BOMLine {
	qty := decimal.NewFromInt(int64(q))
	lines := make([]BOMLine, 0, len(c.t.BOMRules))
	at := make(map[string]int, len(c.t.BOMRules))
	for _, r := range c.t.BOMRules {
		if !c.holds(r.When) {
			continue
		}
		per := c.eval(r.PerUnit)
		if i, ok := at[r.Material]; ok {
			lines[i].QuantityPerUnit = lines[i].QuantityPerUnit.Add(per)
			continue
		}
		at[r.Material] = len(lines)
		lines = append(lines, BOMLine{Material: r.Material, Description: r.Description, Unit: r.Unit, QuantityPerUnit: per})
	}
	// A material needed in no quantity is not bought.
	lines = slices.DeleteFunc(lines, func(l BOMLine) bool { return l.QuantityPerUnit.IsZero() })
	for i := range lines {
		lines[i].Quantity = lines[i].QuantityPerUnit.Mul(qty)
	}
	return lines
}

func (c *config) routing(q int) []Stage {
	qty := decimal.NewFromInt(int64(q))
	stages := make([]Stage, 0, len(c.t.RoutingRules))
	at := make(map[string]int, len(c.t.RoutingRules))
	for _, r := range c.t.RoutingRules {
		if !c.holds(r.When) {
			continue
		}
		minutes := c.eval(r.Minutes)
		if i, ok := at[r.Code]; ok {
			stages[i].MinutesPerUnit = stages[i].MinutesPerUnit.Add(minutes)
			continue
		}
		at[r.Code] = len(stages)
		stages = append(stages, Stage{Seq: r.Seq, Code: r.Code, Name: r.Name, WorkCentreKind: r.WorkCentreKind, MinutesPerUnit: minutes})
	}
	slices.SortStableFunc(stages, func(a, b Stage) int { return cmp.Compare(a.Seq, b.Seq) })
	for i := range stages {
		stages[i].TotalMinutes = stages[i].MinutesPerUnit.Mul(qty)
	}
	return stages
}

func findChoice(g *OptionGroup, code string) int {
	return slices.IndexFunc(g.Choices, func(c Choice) bool { return c.Code == code })
}

// maxScale and maxDigits bound the numbers the configurator does arithmetic on.
// Decimal arithmetic rescales operands to a common exponent, so a request with
// 1e-999999999 would cost gigabytes; no product is configured that finely.
const (
	maxScale  = 64
	maxDigits = 64
)

func sane(d decimal.Decimal) bool {
	e := d.Exponent()
	return e >= -maxScale && e <= maxScale && d.NumDigits() <= maxDigits
}

// onStep reports whether n lies on the grid min + k·step. A non-positive step
// (a template that failed Validate) accepts everything rather than divide by it.
func onStep(n, min, step decimal.Decimal) bool {
	if !step.IsPositive() {
		return true
	}
	return n.Sub(min).Mod(step).IsZero()
}
