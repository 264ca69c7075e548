package leasing

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestValidateContractAcceptsAValidContract(t *testing.T) {
	t.Parallel()
	c := contract()
	c.Plans[MeterParts] = RatePlan{Model: ModelPackage, PackageSize: d("100"), PackagePrice: d("30")}
	c.Plans[MeterMaxLoad] = RatePlan{Model: ModelVolume, Tiers: threeTiers}
	c.Amendments = []Amendment{{EffectiveAt: at("2026-06-01T00:00:00Z"), PlatformFeePercent: dp("7.5")}}
	if ps := ValidateContract(c); len(ps) != 0 {
		t.Errorf("problems = %+v", ps)
	}
}

func TestValidateContractReportsEachProblem(t *testing.T) {
	t.Parallel()
	plan := func(p RatePlan) func(*Contract) {
		return func(c *Contract) { c.Plans[MeterSpindleHours] = p }
	}
	cases := []struct {
		name  string
		mut   func(*Contract)
		code  ProblemCode
		field string
	}{
		{"missing id", func(c *Contract) { c.ID = " " }, ProblemRequired, "id"},
		{"missing lessee", func(c *Contract) { c.LesseeID = "" }, ProblemRequired, "lesseeId"},
		{"no equipment", func(c *Contract) { c.EquipmentIDs = nil }, ProblemRequired, "equipmentIds"},
		{"equipment twice", func(c *Contract) { c.EquipmentIDs = []string{"a", "a"} }, ProblemDuplicateEquipment, "equipmentIds[1]"},
		{"unknown currency", func(c *Contract) { c.Currency = "XXX" }, ProblemUnknownCurrency, "currency"},
		{"lower-case currency", func(c *Contract) { c.Currency = "cny" }, ProblemUnknownCurrency, "currency"},
		{"no plans", func(c *Contract) { c.Plans = nil }, ProblemRequired, "plans"},
		{"unknown meter", func(c *Contract) { c.Plans["rpm"] = RatePlan{Model: ModelPerUnit} }, ProblemUnknownMeter, "plans.rpm"},
		{"unknown model", plan(RatePlan{Model: "TIERED"}), ProblemUnknownModel, "plans.spindle_hours.model"},
		{"negative unit price", plan(RatePlan{Model: ModelPerUnit, UnitPrice: d("-1")}), ProblemNegativeAmount, "plans.spindle_hours.unitPrice"},
		{"negative allowance", plan(RatePlan{Model: ModelPerUnit, FreeAllowance: d("-1")}), ProblemNegativeAmount, "plans.spindle_hours.freeAllowance"},
		{"no tiers", plan(RatePlan{Model: ModelGraduated}), ProblemMissingTiers, "plans.spindle_hours.tiers"},
		{"tiers not increasing", plan(RatePlan{Model: ModelVolume, Tiers: []Tier{{UpTo: dp("10")}, {UpTo: dp("10")}, {}}}), ProblemTiersNotIncreasing, "plans.spindle_hours.tiers[1].upTo"},
		{"zero first bound", plan(RatePlan{Model: ModelVolume, Tiers: []Tier{{UpTo: dp("0")}, {}}}), ProblemTiersNotIncreasing, "plans.spindle_hours.tiers[0].upTo"},
		{"unbounded middle tier", plan(RatePlan{Model: ModelGraduated, Tiers: []Tier{{}, {UpTo: dp("10")}, {}}}), ProblemTiersNotIncreasing, "plans.spindle_hours.tiers[0].upTo"},
		{"bounded last tier", plan(RatePlan{Model: ModelGraduated, Tiers: []Tier{{UpTo: dp("10")}}}), ProblemLastTierBounded, "plans.spindle_hours.tiers[0].upTo"},
		{"negative tier price", plan(RatePlan{Model: ModelGraduated, Tiers: []Tier{{UnitPrice: d("-0.01")}}}), ProblemNegativeAmount, "plans.spindle_hours.tiers[0].unitPrice"},
		{"negative flat fee", plan(RatePlan{Model: ModelGraduated, Tiers: []Tier{{FlatFee: d("-1")}}}), ProblemNegativeAmount, "plans.spindle_hours.tiers[0].flatFee"},
		{"zero package size", plan(RatePlan{Model: ModelPackage, PackagePrice: d("1")}), ProblemInvalidPackageSize, "plans.spindle_hours.packageSize"},
		{"negative package size", plan(RatePlan{Model: ModelPackage, PackageSize: d("-5")}), ProblemInvalidPackageSize, "plans.spindle_hours.packageSize"},
		{"fee above 100", func(c *Contract) { c.PlatformFeePercent = d("100.01") }, ProblemFeeOutOfRange, "platformFeePercent"},
		{"negative fee", func(c *Contract) { c.PlatformFeePercent = d("-1") }, ProblemFeeOutOfRange, "platformFeePercent"},
		{"negative minimum", func(c *Contract) { c.MinimumCommitment = d("-1") }, ProblemNegativeAmount, "minimumCommitment"},
		{"minimum below the minor unit", func(c *Contract) { c.MinimumCommitment = d("100.005") }, ProblemNotInMinorUnits, "minimumCommitment"},
		{"negative deposit", func(c *Contract) { c.Deposit = d("-1") }, ProblemNegativeAmount, "deposit"},
		{"negative credit limit", func(c *Contract) { c.CreditLimit = d("-1") }, ProblemNegativeAmount, "creditLimit"},
		{"unknown period unit", func(c *Contract) { c.Period.Unit = "HOURLY" }, ProblemInvalidPeriod, "period.unit"},
		{"unknown anchor", func(c *Contract) { c.Period.Anchor = "" }, ProblemInvalidPeriod, "period.anchor"},
		{"no start", func(c *Contract) { c.Start = time.Time{} }, ProblemRequired, "start"},
		{"end before start", func(c *Contract) { c.End = c.Start.Add(-time.Hour) }, ProblemEndBeforeStart, "end"},
		{"end at start", func(c *Contract) { c.End = c.Start }, ProblemEndBeforeStart, "end"},
		{"amendment before start", func(c *Contract) {
			c.Amendments = []Amendment{{EffectiveAt: c.Start.Add(-time.Second)}}
		}, ProblemAmendmentOutOfContract, "amendments[0].effectiveAt"},
		{"amendment at end", func(c *Contract) { c.Amendments = []Amendment{{EffectiveAt: c.End}} }, ProblemAmendmentOutOfContract, "amendments[0].effectiveAt"},
		{"two amendments at once", func(c *Contract) {
			e := at("2026-06-01T00:00:00Z")
			c.Amendments = []Amendment{{EffectiveAt: e}, {EffectiveAt: e}}
		}, ProblemDuplicateAmendment, "amendments[1].effectiveAt"},
		{"amendment with a bad plan", func(c *Contract) {
			c.Amendments = []Amendment{{EffectiveAt: at("2026-06-01T00:00:00Z"), Plans: map[Meter]RatePlan{MeterParts: {Model: ModelPackage}}}}
		}, ProblemInvalidPackageSize, "amendments[0].plans.parts.packageSize"},
		{"amendment with a bad fee", func(c *Contract) {
			c.Amendments = []Amendment{{EffectiveAt: at("2026-06-01T00:00:00Z"), PlatformFeePercent: dp("101")}}
		}, ProblemFeeOutOfRange, "amendments[0].platformFeePercent"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := contract()
			tc.mut(&c)
			ps := ValidateContract(c)
			for _, p := range ps {
				if p.Code == tc.code && p.Field == tc.field && p.Message != "" {
					return
				}
			}
			t.Errorf("problems = %+v, want %s at %s", ps, tc.code, tc.field)
		})
	}
}

// The lead persists these types as JSON (and GraphQL serves them): names are
// lowerCamel, decimals are strings, and a round trip keeps every value.
func TestTypesRoundTripThroughJSON(t *testing.T) {
	t.Parallel()
	c := contract()
	c.Plans[MeterParts] = RatePlan{Model: ModelGraduated, Tiers: []Tier{{UpTo: dp("100"), UnitPrice: d("0.80"), FlatFee: d("5")}, {UnitPrice: d("0.60")}}, FreeAllowance: d("10")}
	c.MinimumCommitment = d("1000.00")
	c.Amendments = []Amendment{{
		EffectiveAt:       at("2026-11-16T00:00:00Z"),
		Plans:             map[Meter]RatePlan{MeterSpindleHours: {Model: ModelPackage, PackageSize: d("0.5"), PackagePrice: d("6")}},
		MinimumCommitment: dp("1500.00"),
	}}
	nov := at("2026-11-10T08:00:00Z")
	evs := append(events("s", MeterSpindleHours, nov, "10.25"), events("p", MeterParts, nov, "120")...)
	oct := at("2026-10-10T08:00:00Z")
	adj := Adjustment{Period: mustPeriod(t, c, oct), Late: events("late", MeterParts, oct, "3")}
	inv := mustRate(t, c, nov, evs, adj)
	entries, err := Ledger(inv)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := InstantCharge(c, nil, evs)
	if err != nil {
		t.Fatal(err)
	}

	roundTrip := func(name string, v any, fresh any, mustContain ...string) {
		t.Helper()
		first := mustJSON(t, v)
		if err := json.Unmarshal([]byte(first), fresh); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if second := mustJSON(t, fresh); second != first {
			t.Errorf("%s changed in a round trip:\n%s\n%s", name, first, second)
		}
		for _, s := range mustContain {
			if !strings.Contains(first, s) {
				t.Errorf("%s JSON lacks %s: %s", name, s, first)
			}
		}
	}
	roundTrip("contract", c, &Contract{}, `"platformFeePercent":"10"`, `"equipmentIds":["cnc-1","cnc-2"]`,
		`"upTo":null`, `"flatFee":"5"`, `"effectiveAt":"2026-11-16T00:00:00Z"`, `"period":{"unit":"MONTHLY","anchor":"CALENDAR"}`)
	roundTrip("events", evs, &[]UsageEvent{}, `"eventId":"s-0"`, `"value":"10.25"`)
	roundTrip("adjustment", adj, &Adjustment{}, `"late":[`)
	roundTrip("invoice", inv, &Invoice{}, `"kind":"USAGE"`, `"adjustsPeriod":"2026-10"`, `"lessorShare":"`, `"periodKey":"2026-11"`)
	roundTrip("entries", entries, &[]Entry{}, `"account":"platform:fees"`)
	roundTrip("charge", ch, &Charge{}, `"lines":[{"kind":"USAGE"`, `"vatRatePercent":"0"`)
	roundTrip("problems", ValidateContract(Contract{}), &[]Problem{}, `"code":"REQUIRED"`)

	var back Contract
	if err := json.Unmarshal([]byte(mustJSON(t, c)), &back); err != nil {
		t.Fatal(err)
	}
	again := mustRate(t, back, nov, evs, adj)
	if mustJSON(t, again) != mustJSON(t, inv) {
		t.Error("a contract read back from JSON rates differently")
	}
}

func TestContractAmountsAreBounded(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		edit  func(c *Contract)
		field string
	}{
		{"a credit limit of 1e400", func(c *Contract) { c.CreditLimit = d("1e400") }, "creditLimit"},
		{"a deposit above the largest amount", func(c *Contract) { c.Deposit = d("1000000000000.01") }, "deposit"},
		{"a unit price of 1e400", func(c *Contract) {
			c.Plans = map[Meter]RatePlan{MeterSpindleHours: {Model: ModelPerUnit, UnitPrice: d("1e400")}}
		}, "plans.spindle_hours.unitPrice"},
		{"a unit price of 1e-30", func(c *Contract) {
			c.Plans = map[Meter]RatePlan{MeterSpindleHours: {Model: ModelPerUnit, UnitPrice: d("1e-30")}}
		}, "plans.spindle_hours.unitPrice"},
	}
	for _, tc := range cases {
		c := contract()
		tc.edit(&c)
		ps := ValidateContract(c)
		if len(ps) != 1 || ps[0].Code != ProblemAmountOutOfRange || ps[0].Field != tc.field {
			t.Errorf("%s: problems %+v, want one %s on %s", tc.name, ps, ProblemAmountOutOfRange, tc.field)
		}
	}
	// A rate finer than the minor unit is fine: invoices round once per line.
	c := contract()
	c.Plans = map[Meter]RatePlan{MeterSpindleHours: {Model: ModelPerUnit, UnitPrice: d("0.0125")}}
	if ps := ValidateContract(c); len(ps) != 0 {
		t.Fatalf("a fine rate: %+v", ps)
	}
}
