package catalog

import (
	"slices"
	"testing"
)

func TestSeedTemplatesPassValidation(t *testing.T) {
	t.Parallel()
	for _, tpl := range SeedTemplates() {
		if v := Validate(tpl); len(v) > 0 {
			t.Errorf("%s: %q", tpl.Code, codes(v))
		}
	}
}

func TestSeedTemplatesUseEveryFeature(t *testing.T) {
	t.Parallel()
	for _, tpl := range SeedTemplates() {
		t.Run(tpl.Code, func(t *testing.T) {
			t.Parallel()
			if len(tpl.Groups) < 10 {
				t.Errorf("%d option groups, want at least 10", len(tpl.Groups))
			}
			kinds := map[OptionKind]bool{}
			for _, g := range tpl.Groups {
				kinds[g.Kind] = true
			}
			rules := map[RuleKind]bool{}
			for _, r := range tpl.Rules {
				rules[r.Kind] = true
			}
			p := tpl.Pricing
			for what, ok := range map[string]bool{
				"SINGLE": kinds[KindSingle], "MULTI": kinds[KindMulti], "NUMBER": kinds[KindNumber], "TEXT": kinds[KindText],
				"REQUIRES": rules[RuleRequires], "EXCLUDES": rules[RuleExcludes], "RANGE_DEPENDS": rules[RuleRangeDepends],
				"extras": len(p.Extras) > 0, "numeric rates": len(p.NumericRates) > 0, "setup fees": len(p.SetupFees) > 0,
				"quantity breaks": len(p.QuantityBreaks) > 0, "quantity lead": len(tpl.QuantityLead) > 0,
				"BOM rules": len(tpl.BOMRules) > 0, "routing rules": len(tpl.RoutingRules) > 0,
			} {
				if !ok {
					t.Errorf("no %s", what)
				}
			}
			// The plainest order, all defaults, is a valid quote.
			res := Configure(tpl, nil, tpl.MinQuantity)
			if !res.Valid || res.Price.Total.Sign() <= 0 || len(res.BOM) == 0 || len(res.Routing) == 0 {
				t.Errorf("defaults: valid=%v %q total %s", res.Valid, codes(res.Violations), res.Price.Total)
			}
		})
	}
}

func TestSeedRulesRefuseWhatTheFactoryCannotBuild(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		tpl  Template
		sel  []Selection
		want []string
	}{
		{"R32 needs A++ or A+++", AirConditioner(), []Selection{pick("refrigerant", "R32"), pick("energyClass", "A_PLUS")},
			[]string{"RULE_REQUIRES selections.energyClass"}},
		{"R410A may be A+", AirConditioner(), []Selection{pick("refrigerant", "R410A"), pick("energyClass", "A_PLUS")}, nil},
		{"R290 caps the capacity and excludes 110 V", AirConditioner(),
			[]Selection{pick("refrigerant", "R290"), num("capacity", "5.0"), pick("voltage", "V110_60")},
			[]string{"RULE_EXCLUDES selections.voltage", "RULE_RANGE selections.capacity"}},
		{"capacity 2.55 kW is off the 0.1 grid", AirConditioner(), []Selection{num("capacity", "2.55")},
			[]string{"OFF_STEP selections.capacity"}},
		{"engraving excludes the wood-grain film", AirConditioner(), []Selection{text("engraving", "李雷和韩梅梅"), pick("panelFinish", "WOOD_GRAIN")},
			[]string{"RULE_EXCLUDES selections.panelFinish"}},
		{"engraving is at most 24 characters", AirConditioner(), []Selection{text("engraving", "The Quick Brown Fox Jumps!")},
			[]string{"TEXT_TOO_LONG selections.engraving"}},
		{"UV-C needs Wi-Fi, at most 3 filters", AirConditioner(), []Selection{picks("filters", "PM25", "HEPA", "UV_C", "ION")},
			[]string{"RULE_REQUIRES selections.wifi", "TOO_MANY_CHOICES selections.filters"}},
		{"316L takes no zinc", CNCFlange(), []Selection{pick("material", "SS_316L"), picks("coating", "ZINC")},
			[]string{"RULE_EXCLUDES selections.coating"}},
		{"carbon steel takes zinc", CNCFlange(), []Selection{pick("material", "CS_A105"), picks("coating", "ZINC", "EPOXY")}, nil},
		{"PN 40 narrows the thickness, and belongs to EN", CNCFlange(), []Selection{pick("pressureClass", "PN40"), num("thickness", "20")},
			[]string{"RULE_RANGE selections.thickness", "RULE_REQUIRES selections.pressureClass"}},
		{"PN 40 on EN 1092-1 at 24 mm", CNCFlange(), []Selection{pick("standard", "EN_1092_1"), pick("pressureClass", "PN40"), num("thickness", "24")}, nil},
		{"a witnessed certificate needs some NDT", CNCFlange(), []Selection{pick("certificate", "EN10204_3_2")},
			[]string{"RULE_REQUIRES selections.ndt"}},
		{"bolt holes come in fours", CNCFlange(), []Selection{num("boltHoles", "6")}, []string{"OFF_STEP selections.boltHoles"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := codes(Configure(c.tpl, c.sel, 1).Violations)
			if !slices.Equal(got, c.want) && len(got)+len(c.want) > 0 {
				t.Fatalf("got %q\nwant %q", got, c.want)
			}
		})
	}
}
