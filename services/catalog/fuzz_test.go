package catalog

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// FuzzConfigure builds a template choice, a quantity and selections from the
// fuzz bytes (the first byte picks the template, the next three the quantity), mostly well-formed and often valid so that the checks on accepted
// configurations get exercised, sometimes broken in every way a client could
// break them. Configure must never panic, and whatever it accepts must pass an
// independent checker written here from the rules as documented.
func FuzzConfigure(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 3, 0, 12, 0, 0, 1, 1, 0, 2, 1, 3, 0, 9, 0})
	f.Add([]byte{1, 4, 0, 40, 3, 2, 0, 3, 5, 7, 1, 2, 2, 9, 0, 0, 8, 1})
	f.Add([]byte("\x00\x05\x00\x3c\x0b\x00\x00\x02\x01\x00\x03\x02\x02\x00\x07\x00\x03\x04\x08\x05\x00\x09"))
	f.Add([]byte("\x01\x07\x01\xff\x09\xff\x08\x03\x09\xff\xff\x02\x06\x00\x05"))
	// The seeds, and the test desk for what they lack: a required option
	// without default and a MULTI with a minimum.
	templates := append(SeedTemplates(), desk())
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &fuzzInput{data: data}
		tpl := templates[int(in.byte())%len(templates)]
		quantity := in.quantity(tpl)
		sel := in.selections(tpl)
		res := Configure(tpl, sel, quantity)
		checkResult(t, tpl, sel, quantity, res)
	})
}

// fuzzInput reads the fuzz bytes; past the end it reads zeros.
type fuzzInput struct {
	data []byte
	pos  int
}

func (in *fuzzInput) byte() byte {
	if in.pos >= len(in.data) {
		return 0
	}
	in.pos++
	return in.data[in.pos-1]
}

func (in *fuzzInput) uint16() uint16 { return binary.BigEndian.Uint16([]byte{in.byte(), in.byte()}) }

func (in *fuzzInput) done() bool { return in.pos >= len(in.data) }

func (in *fuzzInput) quantity(tpl Template) int {
	switch mode, n := in.byte()%16, int(in.uint16()); mode {
	case 0:
		return 0
	case 1:
		return -n
	case 2:
		return tpl.MaxQuantity + n
	default:
		return 1 + n%tpl.MaxQuantity
	}
}

func (in *fuzzInput) selections(tpl Template) []Selection {
	var sel []Selection
	for n := int(in.byte() % 16); len(sel) < n && !in.done(); {
		g := tpl.Groups[int(in.byte())%len(tpl.Groups)]
		s := Selection{Option: g.Code}
		switch in.byte() % 32 {
		case 0:
			s.Option = "no-such-option"
		case 1:
			s.Option = ""
		case 2:
			// A field of every kind: WRONG_KIND for all but a MULTI with choices.
			s.Choice, s.Number = in.choice(g), ptr(decimal.NewFromInt(int64(in.byte())))
		case 3:
			// Nothing but the option: no answer, or "none" for a MULTI.
		default:
			in.answer(g, &s)
		}
		sel = append(sel, s)
	}
	return sel
}

// answer fills s with an answer of the group's kind, usually a legal one.
func (in *fuzzInput) answer(g OptionGroup, s *Selection) {
	switch g.Kind {
	case KindSingle:
		s.Choice = in.choice(g)
	case KindMulti:
		s.Choices = []string{}
		for k := int(in.byte() % 6); k > 0; k-- {
			s.Choices = append(s.Choices, in.choice(g))
		}
	case KindNumber:
		s.Number = ptr(in.number(g))
	case KindText:
		s.Text = ptr(in.text())
	}
}

func (in *fuzzInput) choice(g OptionGroup) string {
	i := int(in.byte())
	if i%32 == 31 || len(g.Choices) == 0 {
		return "NOPE"
	}
	return g.Choices[i%len(g.Choices)].Code
}

func (in *fuzzInput) number(g OptionGroup) decimal.Decimal {
	k := decimal.NewFromInt(int64(in.uint16()))
	switch in.byte() % 8 {
	case 0:
		// Anywhere, at two decimals: mostly off the grid or out of range.
		return decimal.New(int64(int16(in.uint16())), -2)
	case 1:
		// Absurd scales a JSON client could send.
		return decimal.New(int64(in.byte())-128, -int32(in.byte())*40)
	default:
		// On the grid, occasionally past the maximum.
		steps := g.Max.Sub(g.Min).Div(g.Step).IntPart() + 3
		return g.Min.Add(g.Step.Mul(k.Mod(decimal.NewFromInt(steps))))
	}
}

func (in *fuzzInput) text() string {
	alphabet := []string{"a", "Z", "7", " ", "-", "é", "李", "漢", "😀", "\n", "\x00", "\xff", "\u200b"}
	var b strings.Builder
	for n := int(in.byte() % 48); n > 0; n-- {
		c := in.byte()
		if c < 200 {
			// Mostly printable, so that texts are often accepted.
			b.WriteString(alphabet[int(c)%7])
			continue
		}
		b.WriteString(alphabet[int(c)%len(alphabet)])
	}
	return b.String()
}

// checkResult is the independent checker: from the template's documented
// semantics, not the configurator's code, it checks what an accepted
// configuration promises.
func checkResult(t *testing.T, tpl Template, sel []Selection, quantity int, res Result) {
	t.Helper()
	if res.Valid != (len(res.Violations) == 0) {
		t.Fatalf("Valid=%v with violations %q", res.Valid, codes(res.Violations))
	}
	for _, v := range res.Violations {
		if v.Code == "" || v.Message == "" || len(v.Path) == 0 {
			t.Fatalf("incomplete violation %+v", v)
		}
	}
	if !res.Valid {
		if len(res.Price.Lines) > 0 || !res.Price.Total.IsZero() || len(res.BOM) > 0 || len(res.Routing) > 0 || res.LeadTimeDays != 0 {
			t.Fatalf("refused with a quote attached: %q", codes(res.Violations))
		}
		return
	}
	if quantity < max(1, tpl.MinQuantity) || quantity > tpl.MaxQuantity {
		t.Fatalf("accepted quantity %d outside [%d, %d]", quantity, tpl.MinQuantity, tpl.MaxQuantity)
	}
	got := checkResolved(t, tpl, res.Resolved)
	checkInputKept(t, tpl, sel, got)
	for _, r := range tpl.Rules {
		if !condHolds(got, r.When) {
			continue
		}
		switch r.Kind {
		case RuleRequires:
			if !condHolds(got, r.Then) {
				t.Fatalf("rule %s broken: %+v", r.Code, res.Resolved)
			}
		case RuleExcludes:
			if condHolds(got, r.Then) {
				t.Fatalf("rule %s broken: %+v", r.Code, res.Resolved)
			}
		case RuleRangeDepends:
			if s, ok := got[r.Then.Option]; ok && (s.Number.LessThan(r.Min) || s.Number.GreaterThan(r.Max)) {
				t.Fatalf("rule %s broken: %s=%s", r.Code, r.Then.Option, s.Number)
			}
		}
	}
	checkPrice(t, tpl, quantity, res.Price)
	checkDesign(t, quantity, res)
	if res.LeadTimeDays < tpl.BaseLeadDays {
		t.Fatalf("lead time %d below the base %d", res.LeadTimeDays, tpl.BaseLeadDays)
	}
	// Resolved is a fixed point.
	if a, b := mustJSON(t, Configure(tpl, res.Resolved, quantity)), mustJSON(t, res); a != b {
		t.Fatalf("configuring Resolved again differs:\n%s\n%s", a, b)
	}
}

// checkResolved checks each resolved answer against its group and returns them
// by option.
func checkResolved(t *testing.T, tpl Template, resolved []Selection) map[string]Selection {
	t.Helper()
	got := map[string]Selection{}
	last := -1
	for _, s := range resolved {
		gi := slices.IndexFunc(tpl.Groups, func(g OptionGroup) bool { return g.Code == s.Option })
		if gi <= last {
			t.Fatalf("resolved %q is unknown, repeated or out of group order", s.Option)
		}
		last = gi
		got[s.Option] = s
	}
	for _, g := range tpl.Groups {
		s, ok := got[g.Code]
		if !ok {
			if g.Required || g.Kind == KindMulti {
				t.Fatalf("%s missing from resolved", g.Code)
			}
			continue
		}
		var fields int
		for _, set := range []bool{s.Choice != "", s.Choices != nil, s.Number != nil, s.Text != nil} {
			if set {
				fields++
			}
		}
		if fields > 1 {
			t.Fatalf("%s resolved with %d kinds of answer", g.Code, fields)
		}
		known := func(c string) bool {
			return slices.ContainsFunc(g.Choices, func(ch Choice) bool { return ch.Code == c })
		}
		switch g.Kind {
		case KindSingle:
			if !known(s.Choice) {
				t.Fatalf("%s=%q is not a choice", g.Code, s.Choice)
			}
		case KindMulti:
			maxSel := g.MaxSelections
			if maxSel == 0 {
				maxSel = len(g.Choices)
			}
			if n := len(s.Choices); n < g.MinSelections || n > maxSel {
				t.Fatalf("%s has %d choices, outside [%d, %d]", g.Code, n, g.MinSelections, maxSel)
			}
			for i, c := range s.Choices {
				if !known(c) || slices.Contains(s.Choices[:i], c) {
					t.Fatalf("%s: %q unknown or repeated", g.Code, c)
				}
			}
		case KindNumber:
			n := *s.Number
			if n.LessThan(g.Min) || n.GreaterThan(g.Max) {
				t.Fatalf("%s=%s outside [%s, %s]", g.Code, n, g.Min, g.Max)
			}
			if k := n.Sub(g.Min).Div(g.Step); !k.IsInteger() {
				t.Fatalf("%s=%s is not min + k × %s", g.Code, n, g.Step)
			}
		case KindText:
			txt := *s.Text
			if txt == "" || !utf8.ValidString(txt) || utf8.RuneCountInString(txt) > g.MaxLength || strings.ContainsFunc(txt, unicode.IsControl) {
				t.Fatalf("%s=%q is not an acceptable text", g.Code, txt)
			}
		}
	}
	return got
}

// checkInputKept checks that an accepted configuration is what the customer
// asked for: every answer appears, unchanged, in Resolved.
func checkInputKept(t *testing.T, tpl Template, sel []Selection, got map[string]Selection) {
	t.Helper()
	seen := map[string]bool{}
	for _, s := range sel {
		if seen[s.Option] {
			t.Fatalf("accepted %q answered twice", s.Option)
		}
		seen[s.Option] = true
		r, ok := got[s.Option]
		switch {
		case s.Choice != "":
			ok = ok && r.Choice == s.Choice
		case len(s.Choices) > 0:
			ok = ok && len(r.Choices) == len(s.Choices)
			for _, c := range s.Choices {
				ok = ok && slices.Contains(r.Choices, c)
			}
		case s.Number != nil:
			ok = ok && r.Number != nil && r.Number.Equal(*s.Number)
		case s.Text != nil && *s.Text != "":
			ok = ok && r.Text != nil && *r.Text == *s.Text
		case s.Choices != nil:
			// A MULTI named with no choices: none.
			ok = !ok || len(r.Choices) == 0
		default:
			ok = slices.ContainsFunc(tpl.Groups, func(g OptionGroup) bool { return g.Code == s.Option })
		}
		if !ok {
			t.Fatalf("answer %+v was not kept: %+v", s, got[s.Option])
		}
	}
}

// condHolds is the documented meaning of a Condition over resolved answers.
func condHolds(got map[string]Selection, c Condition) bool {
	if c.Option == "" {
		return true
	}
	s, ok := got[c.Option]
	if !ok {
		return false
	}
	switch {
	case s.Number != nil, s.Text != nil:
		return len(c.Choices) == 0
	case s.Choice != "":
		return len(c.Choices) == 0 || slices.Contains(c.Choices, s.Choice)
	default:
		if len(c.Choices) == 0 {
			return len(s.Choices) > 0
		}
		return slices.ContainsFunc(s.Choices, func(x string) bool { return slices.Contains(c.Choices, x) })
	}
}

func checkPrice(t *testing.T, tpl Template, quantity int, p Price) {
	t.Helper()
	places := int32(2) // both seeds price in two-decimal currencies
	if p.Currency != tpl.Currency {
		t.Fatalf("currency %q, template %q", p.Currency, tpl.Currency)
	}
	if len(p.Lines) == 0 || p.Lines[0].Component != ComponentBase || p.Lines[0].Quantity != quantity {
		t.Fatalf("no base line for %d units: %+v", quantity, p.Lines)
	}
	sum, discounts := decimal.Zero, decimal.Zero
	for _, l := range p.Lines {
		if !l.Amount.Equal(l.Amount.Round(places)) {
			t.Fatalf("%s line %s is not in minor units", l.Component, l.Amount)
		}
		if want := l.UnitAmount.Mul(decimal.NewFromInt(int64(l.Quantity))).Round(places); !l.Amount.Equal(want) {
			t.Fatalf("%s line %s × %d = %s, want %s", l.Component, l.UnitAmount, l.Quantity, l.Amount, want)
		}
		if l.Component == ComponentDiscount {
			discounts = discounts.Sub(l.Amount)
		} else if l.Amount.IsNegative() {
			t.Fatalf("negative %s line %s", l.Component, l.Amount)
		}
		sum = sum.Add(l.Amount)
	}
	if !sum.Equal(p.Total) || !p.Subtotal.Sub(p.Discount).Equal(p.Total) || !discounts.Equal(p.Discount) {
		t.Fatalf("lines sum to %s; subtotal %s - discount %s = total %s", sum, p.Subtotal, p.Discount, p.Total)
	}
	if p.Total.Sign() <= 0 || !p.UnitPrice.Equal(p.UnitPrice.Round(places)) {
		t.Fatalf("total %s, unit price %s", p.Total, p.UnitPrice)
	}
}

func checkDesign(t *testing.T, quantity int, res Result) {
	t.Helper()
	q := decimal.NewFromInt(int64(quantity))
	materials := map[string]bool{}
	for _, l := range res.BOM {
		if materials[l.Material] || !l.QuantityPerUnit.IsPositive() || !l.Quantity.Equal(l.QuantityPerUnit.Mul(q)) {
			t.Fatalf("BOM line %+v", l)
		}
		materials[l.Material] = true
	}
	if len(res.Routing) == 0 {
		t.Fatal("no routing")
	}
	for i, s := range res.Routing {
		if (i > 0 && s.Seq <= res.Routing[i-1].Seq) || s.MinutesPerUnit.IsNegative() || !s.TotalMinutes.Equal(s.MinutesPerUnit.Mul(q)) {
			t.Fatalf("routing stage %+v", s)
		}
	}
}
