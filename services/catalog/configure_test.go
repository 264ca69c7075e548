package catalog

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

// desk is a small template whose every number is easy to check by hand. Its
// rules: a GOLD desk needs size L; a USB hub excludes BLUE; a lamp needs a width
// of 15 to 20; a name needs some size.
func desk() Template {
	return Template{
		ID: "tmpl_desk", Code: "DESK", Name: "Desk", Version: 1, Currency: "CNY",
		MinQuantity: 1, MaxQuantity: 100, BaseLeadDays: 5,
		QuantityLead:   []QuantityLead{{MinQuantity: 20, ExtraDays: 2}, {MinQuantity: 50, ExtraDays: 4}},
		ScrapTolerance: dec("0.05"),
		Groups: []OptionGroup{
			single("colour", "Colour", true, "RED", choice("RED", "Red", 0), choice("BLUE", "Blue", 2), choice("GOLD", "Gold", 3)),
			single("size", "Size", false, "", choice("S", "Small", 0), choice("M", "Medium", 0), choice("L", "Large", 0)),
			{Code: "extras", Label: "Extras", Kind: KindMulti, MinSelections: 1, MaxSelections: 2, DefaultChoices: []string{"CUP"},
				Choices: []Choice{choice("CUP", "Cup holder", 0), choice("LAMP", "Lamp", 1), choice("USB", "USB hub", 4)}},
			{Code: "width", Label: "Width", Kind: KindNumber, Required: true, Min: dec("10"), Max: dec("20"), Step: dec("0.5"), Unit: "cm", DefaultNumber: decp("12")},
			{Code: "height", Label: "Height", Kind: KindNumber, Min: dec("1"), Max: dec("3"), Step: dec("1"), Unit: "dm"},
			{Code: "name", Label: "Name", Kind: KindText, MaxLength: 5},
			{Code: "note", Label: "Note", Kind: KindText, Required: true, MaxLength: 10},
		},
		Rules: []Rule{
			{Code: "GOLD_NEEDS_L", Kind: RuleRequires, When: when("colour", "GOLD"), Then: when("size", "L")},
			{Code: "USB_NOT_BLUE", Kind: RuleExcludes, When: when("extras", "USB"), Then: when("colour", "BLUE")},
			{Code: "LAMP_WIDTH", Kind: RuleRangeDepends, When: when("extras", "LAMP"), Then: when("width"), Min: dec("15"), Max: dec("20")},
			{Code: "NAME_NEEDS_SIZE", Kind: RuleRequires, When: when("name"), Then: when("size")},
		},
		Pricing: Pricing{
			BasePrice: dec("10.00"),
			Extras: []Surcharge{
				extra("colour", "BLUE", "1.50"), extra("colour", "GOLD", "4.00"),
				extra("extras", "CUP", "0.50"), extra("extras", "LAMP", "3.25"), extra("extras", "USB", "2.10"),
				{Option: "name", Amount: dec("0.70")},
			},
			NumericRates: []NumericRate{
				{Option: "width", Rate: dec("0.05"), Included: dec("10")},
				{Option: "height", Rate: dec("1.20"), Included: dec("0")},
			},
			SetupFees: []Surcharge{
				{Option: "name", Amount: dec("15.00")},
				{Option: "colour", Choice: "GOLD", Amount: dec("20.00")},
			},
			QuantityBreaks: []QuantityBreak{{MinQuantity: 20, DiscountPercent: dec("2.5")}, {MinQuantity: 50, DiscountPercent: dec("5")}},
		},
		BOMRules: []BOMRule{
			bom(always, "FRAME", "Frame", "pcs", fixed("1")),
			bom(always, "BOARD", "Board", "m2", linear("0.1", "width", "0.02")),
			bom(when("extras", "LAMP"), "BULB", "Bulb", "pcs", fixed("1")),
			bom(when("extras", "LAMP"), "WIRE", "Wire", "m", fixed("0.5")),
			bom(when("extras", "USB"), "WIRE", "Wire", "m", fixed("0.3")),
			bom(when("colour", "BLUE", "GOLD"), "PAINT", "Paint", "kg", fixed("0.05")),
			bom(when("size", "S"), "LABEL", "Label", "pcs", fixed("0")),
		},
		RoutingRules: []RoutingRule{
			stage(always, 10, "CUT", "Cut", WorkCentreCutting, linear("1", "width", "0.1")),
			stage(always, 30, "ASSY", "Assemble", WorkCentreAssembly, fixed("5")),
			stage(when("extras", "LAMP"), 30, "ASSY", "Assemble", WorkCentreAssembly, fixed("2")),
			stage(when("colour", "BLUE", "GOLD"), 20, "PAINT", "Paint", WorkCentrePaint, fixed("3")),
			stage(always, 40, "QA", "Inspect", WorkCentreQA, fixed("1.5")),
		},
	}
}

// Selection builders keep the tables short.
func pick(option, choice string) Selection { return Selection{Option: option, Choice: choice} }
func picks(option string, choices ...string) Selection {
	if choices == nil {
		choices = []string{}
	}
	return Selection{Option: option, Choices: choices}
}
func num(option, n string) Selection  { return Selection{Option: option, Number: decp(n)} }
func text(option, s string) Selection { return Selection{Option: option, Text: &s} }
func ptr[T any](v T) *T               { return &v }

var note = text("note", "hi")

// codes renders violations as sorted "CODE path" strings for comparison.
func codes(vs []Violation) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.Code+" "+strings.Join(v.Path, "."))
	}
	slices.Sort(out)
	return out
}

func TestConfigureReportsEveryViolation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		mutate   func(*Template)
		sel      []Selection
		quantity int
		want     []string
	}{
		{name: "defaults and the required note are valid", sel: []Selection{note}, quantity: 1},
		{name: "unknown option", sel: []Selection{note, pick("wheels", "X")}, quantity: 1,
			want: []string{"UNKNOWN_OPTION selections.wheels"}},
		{name: "empty option name", sel: []Selection{note, pick("", "RED")}, quantity: 1,
			want: []string{"UNKNOWN_OPTION selections."}},
		{name: "unknown SINGLE choice", sel: []Selection{note, pick("colour", "PINK")}, quantity: 1,
			want: []string{"UNKNOWN_CHOICE selections.colour"}},
		{name: "unknown MULTI choice", sel: []Selection{note, picks("extras", "CUP", "FAN")}, quantity: 1,
			want: []string{"UNKNOWN_CHOICE selections.extras"}},
		{name: "option answered twice", sel: []Selection{note, pick("colour", "RED"), pick("colour", "BLUE")}, quantity: 1,
			want: []string{"DUPLICATE_OPTION selections.colour"}},
		{name: "choice listed twice", sel: []Selection{note, picks("extras", "CUP", "CUP")}, quantity: 1,
			want: []string{"DUPLICATE_CHOICE selections.extras"}},
		{name: "number for a SINGLE", sel: []Selection{note, num("colour", "3")}, quantity: 1,
			want: []string{"WRONG_KIND selections.colour"}},
		{name: "choice for a NUMBER", sel: []Selection{note, pick("width", "12")}, quantity: 1,
			want: []string{"WRONG_KIND selections.width"}},
		{name: "choices for a TEXT", sel: []Selection{note, picks("name", "A")}, quantity: 1,
			want: []string{"WRONG_KIND selections.name"}},
		{name: "text for a MULTI", sel: []Selection{note, text("extras", "CUP")}, quantity: 1,
			want: []string{"WRONG_KIND selections.extras"}},
		{name: "choice for a MULTI", sel: []Selection{note, pick("extras", "CUP")}, quantity: 1,
			want: []string{"WRONG_KIND selections.extras"}},
		{name: "required TEXT missing", quantity: 1,
			want: []string{"REQUIRED selections.note"}},
		{name: "required TEXT empty", sel: []Selection{text("note", "")}, quantity: 1,
			want: []string{"REQUIRED selections.note"}},
		{name: "required SINGLE without default", mutate: func(t *Template) { t.Groups[0].Default = "" },
			sel: []Selection{note}, quantity: 1, want: []string{"REQUIRED selections.colour"}},
		{name: "required NUMBER without default", mutate: func(t *Template) { t.Groups[3].DefaultNumber = nil },
			sel: []Selection{note}, quantity: 1, want: []string{"REQUIRED selections.width"}},
		{name: "MULTI named with no choices means none", sel: []Selection{note, picks("extras")}, quantity: 1,
			want: []string{"TOO_FEW_CHOICES selections.extras"}},
		{name: "MULTI default below the minimum", mutate: func(t *Template) { t.Groups[2].DefaultChoices = nil },
			sel: []Selection{note}, quantity: 1, want: []string{"TOO_FEW_CHOICES selections.extras"}},
		{name: "too many choices, and the lamp's range rule too", sel: []Selection{note, picks("extras", "CUP", "LAMP", "USB")}, quantity: 1,
			want: []string{"RULE_RANGE selections.width", "TOO_MANY_CHOICES selections.extras"}},
		{name: "number above max", sel: []Selection{note, num("width", "25")}, quantity: 1,
			want: []string{"OUT_OF_RANGE selections.width"}},
		{name: "number below min", sel: []Selection{note, num("width", "9.5")}, quantity: 1,
			want: []string{"OUT_OF_RANGE selections.width"}},
		{name: "number of absurd scale", sel: []Selection{note, {Option: "width", Number: ptr(decimal.New(1, -999999))}}, quantity: 1,
			want: []string{"OUT_OF_RANGE selections.width"}},
		{name: "number off the step grid", sel: []Selection{note, num("width", "12.3")}, quantity: 1,
			want: []string{"OFF_STEP selections.width"}},
		{name: "text too long, and the name's rule", sel: []Selection{note, text("name", "Annabel")}, quantity: 1,
			want: []string{"RULE_REQUIRES selections.size", "TEXT_TOO_LONG selections.name"}},
		{name: "text length counts runes, not bytes", sel: []Selection{note, text("name", "日本語漢字"), pick("size", "M")}, quantity: 1},
		{name: "text not UTF-8", sel: []Selection{note, text("name", "ab\xff")}, quantity: 1,
			want: []string{"INVALID_TEXT selections.name"}},
		{name: "text with a control character", sel: []Selection{note, text("name", "a\nb"), pick("size", "M")}, quantity: 1,
			want: []string{"INVALID_TEXT selections.name"}},
		{name: "REQUIRES broken", sel: []Selection{note, pick("colour", "GOLD")}, quantity: 1,
			want: []string{"RULE_REQUIRES selections.size"}},
		{name: "REQUIRES kept", sel: []Selection{note, pick("colour", "GOLD"), pick("size", "L")}, quantity: 1},
		{name: "REQUIRES any value, broken", sel: []Selection{note, text("name", "Ann")}, quantity: 1,
			want: []string{"RULE_REQUIRES selections.size"}},
		{name: "EXCLUDES broken", sel: []Selection{note, picks("extras", "USB"), pick("colour", "BLUE")}, quantity: 1,
			want: []string{"RULE_EXCLUDES selections.colour"}},
		{name: "EXCLUDES not triggered", sel: []Selection{note, picks("extras", "CUP"), pick("colour", "BLUE")}, quantity: 1},
		{name: "RANGE_DEPENDS broken by the default width", sel: []Selection{note, picks("extras", "LAMP")}, quantity: 1,
			want: []string{"RULE_RANGE selections.width"}},
		{name: "RANGE_DEPENDS kept", sel: []Selection{note, picks("extras", "LAMP"), num("width", "15")}, quantity: 1},
		{name: "zero quantity", sel: []Selection{note}, quantity: 0, want: []string{"INVALID_QUANTITY quantity"}},
		{name: "negative quantity", sel: []Selection{note}, quantity: -3, want: []string{"INVALID_QUANTITY quantity"}},
		{name: "quantity above max", sel: []Selection{note}, quantity: 101, want: []string{"INVALID_QUANTITY quantity"}},
		{name: "quantity below the template's min", mutate: func(t *Template) { t.MinQuantity = 5 },
			sel: []Selection{note}, quantity: 4, want: []string{"INVALID_QUANTITY quantity"}},
		{name: "unpriceable template", mutate: func(t *Template) { t.Currency = "XXX" },
			sel: []Selection{note}, quantity: 1, want: []string{"INVALID_TEMPLATE template.currency"}},
		{name: "everything wrong at once",
			sel: []Selection{
				pick("bogus", "X"), pick("colour", "GOLD"), pick("colour", "RED"), picks("extras", "LAMP", "USB", "USB", "NOPE"),
				num("width", "12.25"), text("name", "toolong"), num("height", "7"),
			}, quantity: 0,
			want: []string{
				"DUPLICATE_CHOICE selections.extras", "DUPLICATE_OPTION selections.colour", "INVALID_QUANTITY quantity",
				"OFF_STEP selections.width", "OUT_OF_RANGE selections.height", "REQUIRED selections.note",
				"RULE_RANGE selections.width", "RULE_REQUIRES selections.size", "RULE_REQUIRES selections.size",
				"TEXT_TOO_LONG selections.name", "UNKNOWN_CHOICE selections.extras", "UNKNOWN_OPTION selections.bogus",
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tpl := desk()
			if c.mutate != nil {
				c.mutate(&tpl)
			}
			res := Configure(tpl, c.sel, c.quantity)
			if got := codes(res.Violations); !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
				t.Fatalf("violations\n got %q\nwant %q", got, c.want)
			}
			if res.Valid != (len(res.Violations) == 0) {
				t.Fatalf("Valid=%v with %d violations", res.Valid, len(res.Violations))
			}
			for _, v := range res.Violations {
				if v.Message == "" {
					t.Errorf("%s has no message", v.Code)
				}
			}
			if !res.Valid && (len(res.Price.Lines) > 0 || !res.Price.Total.IsZero() || len(res.BOM) > 0 || len(res.Routing) > 0 || res.LeadTimeDays != 0) {
				t.Errorf("an invalid configuration came with a quote: %+v", res)
			}
		})
	}
}

func TestConfigureResolvesEveryOptionKind(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		sel  []Selection
		want string // the JSON of Result.Resolved
	}{
		{name: "defaults fill SINGLE, MULTI and NUMBER; unanswered optional options stay out",
			sel:  []Selection{note},
			want: `[{"option":"colour","choice":"RED"},{"option":"extras","choices":["CUP"]},{"option":"width","number":"12"},{"option":"note","text":"hi"}]`},
		{name: "answers come back in group order with choices in template order",
			sel: []Selection{text("name", "Zoë"), num("height", "2"), picks("extras", "USB", "CUP"), note, num("width", "19.5"), pick("colour", "GOLD"), pick("size", "L")},
			want: `[{"option":"colour","choice":"GOLD"},{"option":"size","choice":"L"},{"option":"extras","choices":["CUP","USB"]},` +
				`{"option":"width","number":"19.5"},{"option":"height","number":"2"},{"option":"name","text":"Zoë"},{"option":"note","text":"hi"}]`},
		{name: "empty answers count as none and defaults apply",
			sel:  []Selection{{Option: "colour"}, {Option: "width"}, text("name", ""), note},
			want: `[{"option":"colour","choice":"RED"},{"option":"extras","choices":["CUP"]},{"option":"width","number":"12"},{"option":"note","text":"hi"}]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res := Configure(desk(), c.sel, 1)
			if !res.Valid {
				t.Fatalf("invalid: %q", codes(res.Violations))
			}
			got, err := json.Marshal(res.Resolved)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Fatalf("resolved\n got %s\nwant %s", got, c.want)
			}
			// Resolved is a fixed point: configuring it again changes nothing.
			again := Configure(desk(), res.Resolved, 1)
			if a, b := mustJSON(t, again), mustJSON(t, res); a != b {
				t.Fatalf("configuring Resolved again differs:\n%s\n%s", a, b)
			}
		})
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lineString renders a price line as "COMPONENT option unitAmount×quantity=amount".
func lineString(l PriceLine) string {
	return fmt.Sprintf("%s %s %s×%d=%s", l.Component, l.Option, l.UnitAmount, l.Quantity, l.Amount.StringFixed(2))
}

func TestConfigurePricesEachLineOnceAndTotalsTheLines(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		sel      []Selection
		quantity int
		lines    []string
		subtotal string
		discount string
		total    string
		unit     string
	}{
		{
			// BASE 10.00; CUP 0.50; width 12 is 2 cm above the 10 included at
			// 0.05 = 0.10. Total 10.60.
			name: "defaults, one unit", sel: []Selection{note}, quantity: 1,
			lines:    []string{"BASE  10×1=10.00", "OPTION extras 0.5×1=0.50", "NUMERIC width 0.1×1=0.10"},
			subtotal: "10.60", discount: "0", total: "10.60", unit: "10.60",
		},
		{
			// width 10.5 is 0.5 cm above at 0.05 = 0.025 a unit: half a fen,
			// rounded away from zero to 0.03 (banker's rounding would say 0.02).
			name: "half a minor unit rounds away from zero", sel: []Selection{note, num("width", "10.5")}, quantity: 1,
			lines:    []string{"BASE  10×1=10.00", "OPTION extras 0.5×1=0.50", "NUMERIC width 0.025×1=0.03"},
			subtotal: "10.53", discount: "0", total: "10.53", unit: "10.53",
		},
		{
			// Five units: 0.025 × 5 = 0.125 rounds once to 0.13. Rounding the
			// unit first would give 0.03 × 5 = 0.15.
			name: "the line is rounded, not the unit", sel: []Selection{note, num("width", "10.5")}, quantity: 5,
			lines:    []string{"BASE  10×5=50.00", "OPTION extras 0.5×5=2.50", "NUMERIC width 0.025×5=0.13"},
			subtotal: "52.63", discount: "0", total: "52.63", unit: "10.53",
		},
		{
			// 21 units reach the 2.5% break at 20: the per-unit lines are
			// 210.00 + 10.50 + 2.10 = 222.60, 2.5% of it is 5.565, a tie rounded
			// away from zero to -5.57. Total 217.03; 217.03 / 21 = 10.3347… → 10.33.
			name: "quantity break with a negative half", sel: []Selection{note}, quantity: 21,
			lines: []string{"BASE  10×21=210.00", "OPTION extras 0.5×21=10.50", "NUMERIC width 0.1×21=2.10",
				"DISCOUNT  -5.565×1=-5.57"},
			subtotal: "222.60", discount: "5.57", total: "217.03", unit: "10.33",
		},
		{
			// 50 units take the 5% break only (breaks do not add up):
			// 500.00 + 25.00 + 5.00 = 530.00, less 26.50 = 503.50.
			name: "the largest break reached applies", sel: []Selection{note}, quantity: 50,
			lines: []string{"BASE  10×50=500.00", "OPTION extras 0.5×50=25.00", "NUMERIC width 0.1×50=5.00",
				"DISCOUNT  -26.5×1=-26.50"},
			subtotal: "530.00", discount: "26.50", total: "503.50", unit: "10.07",
		},
		{
			// Two units: BASE 20.00, GOLD 8.00, LAMP 6.50, USB 4.20, name 1.40,
			// width (15-10) × 0.05 = 0.25 → 0.50, height 2 × 1.20 = 2.40 → 4.80,
			// setup name 15.00 and GOLD 20.00 once each. 80.40, no break.
			name: "extras, a text surcharge, two numeric rates and setup fees",
			sel: []Selection{note, pick("colour", "GOLD"), pick("size", "L"), picks("extras", "LAMP", "USB"),
				num("width", "15"), num("height", "2"), text("name", "Ann")},
			quantity: 2,
			lines: []string{"BASE  10×2=20.00", "OPTION colour 4×2=8.00", "OPTION extras 3.25×2=6.50", "OPTION extras 2.1×2=4.20",
				"OPTION name 0.7×2=1.40", "NUMERIC width 0.25×2=0.50", "NUMERIC height 2.4×2=4.80",
				"SETUP name 15×1=15.00", "SETUP colour 20×1=20.00"},
			subtotal: "80.40", discount: "0", total: "80.40", unit: "40.20",
		},
		{
			// Setup fees are not discounted: 20 units with a name: per-unit
			// lines 200 + 10 + 2 + 14 = 226.00, 2.5% = 5.65; setup 15.00 stays.
			name: "setup fees are outside the discount", sel: []Selection{note, text("name", "Ann"), pick("size", "S")}, quantity: 20,
			lines: []string{"BASE  10×20=200.00", "OPTION extras 0.5×20=10.00", "OPTION name 0.7×20=14.00", "NUMERIC width 0.1×20=2.00",
				"SETUP name 15×1=15.00", "DISCOUNT  -5.65×1=-5.65"},
			subtotal: "241.00", discount: "5.65", total: "235.35", unit: "11.77",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res := Configure(desk(), c.sel, c.quantity)
			if !res.Valid {
				t.Fatalf("invalid: %q", codes(res.Violations))
			}
			p := res.Price
			var got []string
			sum := decimal.Zero
			for _, l := range p.Lines {
				got = append(got, lineString(l))
				sum = sum.Add(l.Amount)
			}
			if !slices.Equal(got, c.lines) {
				t.Errorf("lines\n got %q\nwant %q", got, c.lines)
			}
			for name, pair := range map[string][2]decimal.Decimal{
				"subtotal": {p.Subtotal, dec(c.subtotal)}, "discount": {p.Discount, dec(c.discount)},
				"total": {p.Total, dec(c.total)}, "unit price": {p.UnitPrice, dec(c.unit)}, "sum of lines": {sum, dec(c.total)},
			} {
				if !pair[0].Equal(pair[1]) {
					t.Errorf("%s = %s, want %s", name, pair[0], pair[1])
				}
			}
			if p.Currency != "CNY" {
				t.Errorf("currency %q", p.Currency)
			}
		})
	}
}

func TestConfigurePricesTheSeedsByHand(t *testing.T) {
	t.Parallel()
	// 60 air conditioners (the 5% break from 50). Per unit: base 2199, A+++ 580,
	// graphite 88, brushed 138, smart-home Wi-Fi 179, HEPA 139, UV-C 229,
	// engraving 29.90, 5 m kit 120, 5-year warranty 299, quiet 160; capacity
	// 5.2 kW is 2.7 above 2.5 at 386.45 = 1043.415. Times 60, the per-unit lines
	// are 312258.90; 5% of it is 15612.945, rounded away from zero to 15612.95.
	// Engraving set-up 200 is not discounted: 312458.90 - 15612.95 = 296845.95.
	ac := Configure(AirConditioner(), benchmarkSelections(), 60)
	if !ac.Valid {
		t.Fatalf("invalid: %q", codes(ac.Violations))
	}
	if !ac.Price.Total.Equal(dec("296845.95")) || !ac.Price.Discount.Equal(dec("15612.95")) || !ac.Price.Subtotal.Equal(dec("312458.90")) {
		t.Errorf("AC price %s - %s = %s, want 312458.90 - 15612.95 = 296845.95", ac.Price.Subtotal, ac.Price.Discount, ac.Price.Total)
	}
	// 10 days, + A+++ 3, graphite 2, brushed 3, smart home 2, HEPA 2, UV-C 3,
	// quiet 2 (sum of contributions) + 3 for 50 units or more = 30.
	if ac.LeadTimeDays != 30 {
		t.Errorf("AC lead time %d, want 30", ac.LeadTimeDays)
	}

	// One flange, in USD, defaults but for the diameter: DN 155 is 105 mm
	// above 50 at 0.385 = 40.425 → 40.43 (half away from zero); thickness 24 is
	// 4 above 20 at 1.275 = 5.10; 8 holes are 4 above 4 at 1.85 = 7.40; base 42.
	fl := Configure(CNCFlange(), []Selection{num("nominalDiameter", "155")}, 1)
	if !fl.Valid {
		t.Fatalf("invalid: %q", codes(fl.Violations))
	}
	if want := dec("94.93"); !fl.Price.Total.Equal(want) {
		t.Errorf("flange total %s, want %s: %+v", fl.Price.Total, want, fl.Price.Lines)
	}
}

func TestConfigureLeadTime(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		sel      []Selection
		quantity int
		want     int
	}{
		{"base only", []Selection{note}, 1, 5},
		{"choices add up: BLUE 2 + LAMP 1", []Selection{note, pick("colour", "BLUE"), picks("extras", "LAMP"), num("width", "15")}, 1, 8},
		{"MULTI choices each add: LAMP 1 + USB 4", []Selection{note, picks("extras", "LAMP", "USB"), num("width", "15")}, 1, 10},
		{"just below the first quantity step", []Selection{note}, 19, 5},
		{"first quantity step", []Selection{note}, 20, 7},
		{"steps do not add up: only the 50-unit step", []Selection{note}, 50, 9},
		{"choices and step together: GOLD 3 + step 4", []Selection{note, pick("colour", "GOLD"), pick("size", "L")}, 100, 12},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res := Configure(desk(), c.sel, c.quantity)
			if !res.Valid {
				t.Fatalf("invalid: %q", codes(res.Violations))
			}
			if res.LeadTimeDays != c.want {
				t.Errorf("lead time %d, want %d", res.LeadTimeDays, c.want)
			}
		})
	}
}

func TestConfigureAggregatesTheBOMAndOrdersTheRouting(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		sel      []Selection
		quantity int
		bom      []string // material perUnit total unit
		routing  []string // seq code kind perUnit total
	}{
		{
			// Defaults: width 12, so the board is 0.1 + 0.02 × 12 = 0.34 m² and
			// cutting takes 1 + 0.1 × 12 = 2.2 min. Size S's zero-quantity label
			// is not bought.
			name: "unconditional rules with a linear quantity", sel: []Selection{note, pick("size", "S")}, quantity: 2,
			bom:     []string{"FRAME 1 2 pcs", "BOARD 0.34 0.68 m2"},
			routing: []string{"10 CUT CUTTING 2.2 4.4", "30 ASSY ASSEMBLY 5 10", "40 QA QA 1.5 3"},
		},
		{
			// Wire from the lamp (0.5) and the hub (0.3) adds up to 0.8 a unit;
			// the lamp adds 2 min to assembly; painting slots in at seq 20 although
			// its rule comes after assembly's.
			name: "rules for one material or stage add up", quantity: 3,
			sel:     []Selection{note, pick("colour", "GOLD"), pick("size", "L"), picks("extras", "LAMP", "USB"), num("width", "15")},
			bom:     []string{"FRAME 1 3 pcs", "BOARD 0.4 1.2 m2", "BULB 1 3 pcs", "WIRE 0.8 2.4 m", "PAINT 0.05 0.15 kg"},
			routing: []string{"10 CUT CUTTING 2.5 7.5", "20 PAINT PAINT 3 9", "30 ASSY ASSEMBLY 7 21", "40 QA QA 1.5 4.5"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res := Configure(desk(), c.sel, c.quantity)
			if !res.Valid {
				t.Fatalf("invalid: %q", codes(res.Violations))
			}
			var bom, routing []string
			for _, l := range res.BOM {
				bom = append(bom, fmt.Sprintf("%s %s %s %s", l.Material, l.QuantityPerUnit, l.Quantity, l.Unit))
			}
			for _, s := range res.Routing {
				routing = append(routing, fmt.Sprintf("%d %s %s %s %s", s.Seq, s.Code, s.WorkCentreKind, s.MinutesPerUnit, s.TotalMinutes))
			}
			if !slices.Equal(bom, c.bom) {
				t.Errorf("BOM\n got %q\nwant %q", bom, c.bom)
			}
			if !slices.Equal(routing, c.routing) {
				t.Errorf("routing\n got %q\nwant %q", routing, c.routing)
			}
		})
	}
}

func TestConfigureNeverPanicsOnABrokenTemplate(t *testing.T) {
	t.Parallel()
	broken := []func(*Template){
		func(t *Template) { t.Groups[3].Step = decimal.Zero },
		func(t *Template) { t.Groups[3].Step = dec("-1") },
		func(t *Template) { t.Groups = append(t.Groups, t.Groups[0]) },
		func(t *Template) { t.Groups[0].Kind = "COLOUR" },
		func(t *Template) { t.Groups[2].MaxSelections = -1 },
		func(t *Template) { t.Rules[2].Then.Option = "colour" },
		func(t *Template) { t.BOMRules[1].PerUnit.Option = "nope" },
		func(t *Template) { t.RoutingRules[0].Seq = -1 << 62; t.RoutingRules[1].Seq = 1 << 62 },
		func(t *Template) { t.Pricing.QuantityBreaks[0].DiscountPercent = dec("250") },
		func(t *Template) { *t = Template{} },
	}
	for i, mutate := range broken {
		tpl := desk()
		mutate(&tpl)
		for _, q := range []int{-1, 0, 1, 20, 1 << 40} {
			res := Configure(tpl, []Selection{note, num("width", "12"), pick("colour", "BLUE"), picks("extras", "CUP")}, q)
			if res.Valid != (len(res.Violations) == 0) {
				t.Errorf("case %d: Valid=%v with %d violations", i, res.Valid, len(res.Violations))
			}
		}
	}
}

func TestResultRoundTripsThroughJSON(t *testing.T) {
	t.Parallel()
	for _, res := range []Result{
		Configure(AirConditioner(), benchmarkSelections(), 60),
		Configure(desk(), []Selection{pick("colour", "PINK")}, 0),
	} {
		b := mustJSON(t, res)
		var back Result
		if err := json.Unmarshal([]byte(b), &back); err != nil {
			t.Fatal(err)
		}
		if again := mustJSON(t, back); again != b {
			t.Fatalf("round trip differs:\n%s\n%s", b, again)
		}
		if back.Valid && !back.Price.Total.Equal(res.Price.Total) {
			t.Errorf("total %s came back as %s", res.Price.Total, back.Price.Total)
		}
		assertLowerCamelKeys(t, b)
		// Decimals travel as strings so no client parses money as a float.
		if res.Valid && !strings.Contains(b, `"total":"296845.95"`) {
			t.Errorf("total is not a JSON string: %s", b)
		}
	}
}
