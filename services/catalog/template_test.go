package catalog

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestValidateAcceptsTheTestTemplate(t *testing.T) {
	t.Parallel()
	if v := Validate(desk()); len(v) > 0 {
		t.Fatalf("desk: %q", codes(v))
	}
}

func TestValidateRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		mutate func(*Template)
		want   string // one of the violations, as "CODE path"
	}{
		{"an empty code", func(t *Template) { t.Code = "" }, "REQUIRED code"},
		{"a code with spaces", func(t *Template) { t.Code = "my desk" }, "INVALID_VALUE code"},
		{"an empty name", func(t *Template) { t.Name = "" }, "REQUIRED name"},
		{"version 0", func(t *Template) { t.Version = 0 }, "INVALID_VALUE version"},
		{"an unknown currency", func(t *Template) { t.Currency = "XYZ" }, "INVALID_CURRENCY currency"},
		{"a minimum quantity of 0", func(t *Template) { t.MinQuantity = 0 }, "INVALID_VALUE minQuantity"},
		{"max quantity below min", func(t *Template) { t.MaxQuantity = 0 }, "INVALID_RANGE maxQuantity"},
		{"negative lead days", func(t *Template) { t.BaseLeadDays = -1 }, "INVALID_VALUE baseLeadDays"},
		{"a quantity step that is quicker for more", func(t *Template) { t.QuantityLead[1].ExtraDays = 1 }, "INVALID_RANGE quantityLead.1.extraDays"},
		{"scrap tolerance of 100%", func(t *Template) { t.ScrapTolerance = dec("1") }, "INVALID_VALUE scrapTolerance"},
		{"negative scrap tolerance", func(t *Template) { t.ScrapTolerance = dec("-0.1") }, "INVALID_VALUE scrapTolerance"},
		{"two options with one code", func(t *Template) { t.Groups[1].Code = "colour" }, "DUPLICATE_CODE groups.1.code"},
		{"an option without label", func(t *Template) { t.Groups[1].Label = "" }, "REQUIRED groups.1.label"},
		{"an unknown option kind", func(t *Template) { t.Groups[1].Kind = "COLOUR" }, "INVALID_VALUE groups.1.kind"},
		{"a field of another kind", func(t *Template) { t.Groups[0].Step = dec("1") }, "INVALID_VALUE groups.0.step"},
		{"a SINGLE without choices", func(t *Template) { t.Groups[1].Choices = nil }, "REQUIRED groups.1.choices"},
		{"two choices with one code", func(t *Template) { t.Groups[0].Choices[1].Code = "RED" }, "DUPLICATE_CODE groups.0.choices.1.code"},
		{"a choice without label", func(t *Template) { t.Groups[0].Choices[1].Label = "" }, "REQUIRED groups.0.choices.1.label"},
		{"negative lead days on a choice", func(t *Template) { t.Groups[0].Choices[1].LeadDays = -2 }, "INVALID_VALUE groups.0.choices.1.leadDays"},
		{"a default that is no choice", func(t *Template) { t.Groups[0].Default = "PINK" }, "UNKNOWN_CHOICE groups.0.default"},
		{"MULTI min above max", func(t *Template) { t.Groups[2].MinSelections = 3 }, "INVALID_RANGE groups.2.maxSelections"},
		{"MULTI max above its choices", func(t *Template) { t.Groups[2].MaxSelections = 4 }, "INVALID_RANGE groups.2.maxSelections"},
		{"MULTI default that is no choice", func(t *Template) { t.Groups[2].DefaultChoices = []string{"FAN"} }, "UNKNOWN_CHOICE groups.2.defaultChoices"},
		{"MULTI default too large", func(t *Template) { t.Groups[2].DefaultChoices = []string{"CUP", "LAMP", "USB"} }, "INVALID_RANGE groups.2.defaultChoices"},
		{"MULTI marked required", func(t *Template) { t.Groups[2].Required = true }, "INVALID_VALUE groups.2.required"},
		{"a zero step", func(t *Template) { t.Groups[3].Step = dec("0") }, "INVALID_RANGE groups.3.step"},
		{"NUMBER min above max", func(t *Template) { t.Groups[3].Min = dec("30") }, "INVALID_RANGE groups.3.max"},
		{"a max off the step grid", func(t *Template) { t.Groups[3].Max = dec("20.2") }, "OFF_STEP groups.3.max"},
		{"a default out of range", func(t *Template) { t.Groups[3].DefaultNumber = decp("30") }, "OUT_OF_RANGE groups.3.defaultNumber"},
		{"a default off the grid", func(t *Template) { t.Groups[3].DefaultNumber = decp("12.2") }, "OFF_STEP groups.3.defaultNumber"},
		{"a number of absurd scale", func(t *Template) { t.Groups[3].Max = dec("1e999") }, "INVALID_VALUE groups.3.max"},
		{"TEXT without length", func(t *Template) { t.Groups[5].MaxLength = 0 }, "INVALID_RANGE groups.5.maxLength"},
		{"two rules with one code", func(t *Template) { t.Rules[1].Code = "GOLD_NEEDS_L" }, "DUPLICATE_CODE rules.1.code"},
		{"an unknown rule kind", func(t *Template) { t.Rules[0].Kind = "IMPLIES" }, "INVALID_VALUE rules.0.kind"},
		{"a rule on an unknown option", func(t *Template) { t.Rules[0].When.Option = "wheels" }, "UNKNOWN_OPTION rules.0.when.option"},
		{"a rule on an unknown choice", func(t *Template) { t.Rules[0].Then.Choices = []string{"XL"} }, "UNKNOWN_CHOICE rules.0.then.choices"},
		{"a rule without condition", func(t *Template) { t.Rules[0].When = Condition{} }, "REQUIRED rules.0.when.option"},
		{"a rule on choices of a NUMBER", func(t *Template) { t.Rules[0].When = when("width", "12") }, "WRONG_KIND rules.0.when.choices"},
		{"a rule relating an option to itself", func(t *Template) { t.Rules[0].Then = when("colour", "RED") }, "INVALID_VALUE rules.0.then.option"},
		{"RANGE_DEPENDS on a SINGLE", func(t *Template) { t.Rules[2].Then = when("size") }, "WRONG_KIND rules.2.then.option"},
		{"RANGE_DEPENDS min above max", func(t *Template) { t.Rules[2].Min = dec("19"); t.Rules[2].Max = dec("16") }, "INVALID_RANGE rules.2.max"},
		{"RANGE_DEPENDS outside the option's range", func(t *Template) { t.Rules[2].Max = dec("25") }, "OUT_OF_RANGE rules.2.min"},
		{"min and max on a REQUIRES", func(t *Template) { t.Rules[0].Min = dec("1") }, "INVALID_VALUE rules.0.min"},
		{"a negative base price", func(t *Template) { t.Pricing.BasePrice = dec("-1") }, "INVALID_VALUE pricing.basePrice"},
		{"an extra on an unknown choice", func(t *Template) { t.Pricing.Extras[0].Choice = "PINK" }, "UNKNOWN_CHOICE pricing.extras.0.choices"},
		{"an extra priced twice", func(t *Template) { t.Pricing.Extras[1].Choice = "BLUE" }, "DUPLICATE_CODE pricing.extras.1"},
		{"a negative extra", func(t *Template) { t.Pricing.Extras[0].Amount = dec("-1") }, "INVALID_VALUE pricing.extras.0.amount"},
		{"a setup fee on an unknown option", func(t *Template) { t.Pricing.SetupFees[0].Option = "logo" }, "UNKNOWN_OPTION pricing.setupFees.0.option"},
		{"a numeric rate on a SINGLE", func(t *Template) { t.Pricing.NumericRates[0].Option = "colour" }, "WRONG_KIND pricing.numericRates.0.option"},
		{"a negative numeric rate", func(t *Template) { t.Pricing.NumericRates[0].Rate = dec("-0.05") }, "INVALID_VALUE pricing.numericRates.0.rate"},
		{"a discount of 100%", func(t *Template) { t.Pricing.QuantityBreaks[1].DiscountPercent = dec("100") }, "INVALID_RANGE pricing.quantityBreaks.1.discountPercent"},
		{"less discount for more", func(t *Template) { t.Pricing.QuantityBreaks[1].DiscountPercent = dec("2") }, "INVALID_RANGE pricing.quantityBreaks.1.discountPercent"},
		{"two breaks at one quantity", func(t *Template) { t.Pricing.QuantityBreaks[1].MinQuantity = 20 }, "DUPLICATE_CODE pricing.quantityBreaks.1.minQuantity"},
		{"a BOM rule without unit", func(t *Template) { t.BOMRules[0].Unit = "" }, "REQUIRED bomRules.0.unit"},
		{"a material in two units", func(t *Template) { t.BOMRules[4].Unit = "cm" }, "INVALID_VALUE bomRules.4.unit"},
		{"a quantity on an optional number", func(t *Template) { t.BOMRules[1].PerUnit.Option = "height" }, "INVALID_VALUE bomRules.1.perUnit.option"},
		{"a quantity on a SINGLE", func(t *Template) { t.BOMRules[1].PerUnit.Option = "colour" }, "WRONG_KIND bomRules.1.perUnit.option"},
		{"a quantity negative in range", func(t *Template) { t.BOMRules[1].PerUnit = linear("-0.3", "width", "0.02") }, "INVALID_RANGE bomRules.1.perUnit"},
		{"a per without option", func(t *Template) { t.BOMRules[0].PerUnit.Per = dec("2") }, "REQUIRED bomRules.0.perUnit.option"},
		{"a negative fixed quantity", func(t *Template) { t.BOMRules[0].PerUnit = fixed("-1") }, "INVALID_VALUE bomRules.0.perUnit.base"},
		{"choices without option", func(t *Template) { t.BOMRules[0].When = Condition{Choices: []string{"RED"}} }, "REQUIRED bomRules.0.when.option"},
		{"a routing that can be empty", func(t *Template) {
			for i := range t.RoutingRules {
				t.RoutingRules[i].When = when("colour", "GOLD")
			}
		}, "NO_ROUTING routingRules"},
		{"an unknown work centre", func(t *Template) { t.RoutingRules[0].WorkCentreKind = "LASER" }, "INVALID_VALUE routingRules.0.workCentreKind"},
		{"two stages in one place", func(t *Template) { t.RoutingRules[4].Seq = 10 }, "DUPLICATE_CODE routingRules.4.seq"},
		{"a stage defined two ways", func(t *Template) { t.RoutingRules[2].Name = "Assembly" }, "INVALID_VALUE routingRules.2.code"},
		{"sequence 0", func(t *Template) { t.RoutingRules[0].Seq = 0 }, "INVALID_VALUE routingRules.0.seq"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tpl := desk()
			c.mutate(&tpl)
			got := codes(Validate(tpl))
			if !slices.Contains(got, c.want) {
				t.Fatalf("want %q among %q", c.want, got)
			}
		})
	}
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	tpl := desk()
	tpl.Currency = "ABC"
	tpl.Groups[3].Step = dec("0")
	tpl.Rules[0].Then.Choices = []string{"XL"}
	tpl.RoutingRules[0].WorkCentreKind = ""
	want := []string{"INVALID_CURRENCY currency", "INVALID_RANGE groups.3.step", "INVALID_VALUE routingRules.0.workCentreKind", "UNKNOWN_CHOICE rules.0.then.choices"}
	if got := codes(Validate(tpl)); !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestTemplateRoundTripsThroughJSON(t *testing.T) {
	t.Parallel()
	for _, tpl := range append(SeedTemplates(), desk()) {
		b := mustJSON(t, tpl)
		var back Template
		if err := json.Unmarshal([]byte(b), &back); err != nil {
			t.Fatal(err)
		}
		if again := mustJSON(t, back); again != b {
			t.Fatalf("%s: round trip differs:\n%s\n%s", tpl.Code, b, again)
		}
		if v := Validate(back); len(v) > 0 {
			t.Errorf("%s: decoded template fails validation: %q", tpl.Code, codes(v))
		}
		// What the store gives back configures exactly as what was stored.
		for _, q := range []int{1, 60} {
			if a, b := mustJSON(t, Configure(tpl, nil, q)), mustJSON(t, Configure(back, nil, q)); a != b {
				t.Errorf("%s: configures differently after the round trip:\n%s\n%s", tpl.Code, a, b)
			}
		}
		assertLowerCamelKeys(t, b)
		if !strings.Contains(b, `"scrapTolerance":"0.0`) {
			t.Errorf("%s: decimals are not JSON strings", tpl.Code)
		}
	}
}

// assertLowerCamelKeys checks every object key in a JSON document: the store
// and the GraphQL layer rely on stable lowerCamel names.
func assertLowerCamelKeys(t *testing.T, doc string) {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatal(err)
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if k == "" || k[0] < 'a' || k[0] > 'z' || strings.ContainsAny(k, "_- ") {
					t.Errorf("key %q is not lowerCamel", k)
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
}
