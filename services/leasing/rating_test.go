package leasing

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// Tiers used by the graduated and volume goldens: the first 100 units at 10,
// units 100..500 at 8, beyond at 5.
var threeTiers = []Tier{
	{UpTo: dp("100"), UnitPrice: d("10")},
	{UpTo: dp("500"), UnitPrice: d("8")},
	{UnitPrice: d("5")},
}

func TestRatePeriodPricesEachModelAsHandComputed(t *testing.T) {
	t.Parallel()
	nov := at("2026-11-10T08:00:00Z")
	cases := []struct {
		name      string
		meter     Meter
		plan      RatePlan
		values    []string
		wantQty   string
		wantRate  string
		wantTotal string
	}{
		// 10.5 h × 12.50 = 131.25
		{"per unit", MeterSpindleHours, RatePlan{Model: ModelPerUnit, UnitPrice: d("12.50")}, []string{"4", "6.5"}, "10.5", "12.50", "131.25"},
		// 0.125 × 1.00 = 0.125, half away from zero → 0.13
		{"per unit rounds half away from zero", MeterSpindleHours, RatePlan{Model: ModelPerUnit, UnitPrice: d("1.00")}, []string{"0.125"}, "0.125", "1", "0.13"},
		// 100×10 + 400×8 + 150×5 = 1000 + 3200 + 750 = 4950
		{"graduated across three tiers", MeterSpindleHours, RatePlan{Model: ModelGraduated, Tiers: threeTiers}, []string{"600", "50"}, "650", "5", "4950.00"},
		// bounds are inclusive: 100×10 = 1000, no unit in tier two
		{"graduated on a bound", MeterSpindleHours, RatePlan{Model: ModelGraduated, Tiers: threeTiers}, []string{"100"}, "100", "10", "1000.00"},
		// (10×2 + 5 flat) + (2×1 + 20 flat) = 25 + 22 = 47
		{"graduated with flat fees", MeterSpindleHours, RatePlan{Model: ModelGraduated, Tiers: []Tier{
			{UpTo: dp("10"), UnitPrice: d("2"), FlatFee: d("5")},
			{UnitPrice: d("1"), FlatFee: d("20")},
		}}, []string{"12"}, "12", "1", "47.00"},
		// the whole 650 at the tier it reaches: 650×5 = 3250
		{"volume", MeterSpindleHours, RatePlan{Model: ModelVolume, Tiers: threeTiers}, []string{"650"}, "650", "5", "3250.00"},
		// 500 is still tier two (inclusive): 500×8 = 4000
		{"volume on a bound", MeterSpindleHours, RatePlan{Model: ModelVolume, Tiers: threeTiers}, []string{"500"}, "500", "8", "4000.00"},
		// 120×0.5 + 30 flat = 90
		{"volume with flat fee", MeterSpindleHours, RatePlan{Model: ModelVolume, Tiers: []Tier{
			{UpTo: dp("100"), UnitPrice: d("1")},
			{UnitPrice: d("0.5"), FlatFee: d("30")},
		}}, []string{"120"}, "120", "0.5", "90.00"},
		// 250 parts in packages of 100: 3 packages (the last one started) × 30 = 90
		{"package rounds partial packages up", MeterParts, RatePlan{Model: ModelPackage, PackageSize: d("100"), PackagePrice: d("30")}, []string{"200", "50"}, "250", "30", "90.00"},
		// exactly 2 packages × 30 = 60
		{"package exact", MeterParts, RatePlan{Model: ModelPackage, PackageSize: d("100"), PackagePrice: d("30")}, []string{"200"}, "200", "30", "60.00"},
		// 30.5 h − 20 free = 10.5 × 12.50 = 131.25
		{"free allowance", MeterSpindleHours, RatePlan{Model: ModelPerUnit, UnitPrice: d("12.50"), FreeAllowance: d("20")}, []string{"30.5"}, "30.5", "12.50", "131.25"},
		// within the allowance nothing is charged and the marginal rate is zero
		{"free allowance not exhausted", MeterSpindleHours, RatePlan{Model: ModelPerUnit, UnitPrice: d("12.50"), FreeAllowance: d("20")}, []string{"15"}, "15", "0", "0"},
		// 700 − 50 free = 650 billable, graduated as above = 4950
		{"free allowance before tiers", MeterSpindleHours, RatePlan{Model: ModelGraduated, Tiers: threeTiers, FreeAllowance: d("50")}, []string{"700"}, "700", "5", "4950.00"},
		// 3 + 4 + 5 = 12 parts × 0.80 = 9.60
		{"count meter sums counts", MeterParts, RatePlan{Model: ModelPerUnit, UnitPrice: d("0.80")}, []string{"3", "4", "5"}, "12", "0.80", "9.60"},
		// peak 7.25 kW × 100 = 725
		{"max meter prices the peak", MeterMaxLoad, RatePlan{Model: ModelPerUnit, UnitPrice: d("100")}, []string{"3.5", "7.25", "5"}, "7.25", "100", "725.00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := contract()
			c.Plans = map[Meter]RatePlan{tc.meter: tc.plan}
			inv := mustRate(t, c, nov, events("e", tc.meter, nov, tc.values...))
			checkInvoice(t, inv)
			if len(inv.Lines) != 1 {
				t.Fatalf("want one line, got %+v", inv.Lines)
			}
			l := inv.Lines[0]
			if l.Kind != LineUsage || l.Meter != tc.meter || !l.Quantity.Equal(d(tc.wantQty)) || !l.UnitPrice.Equal(d(tc.wantRate)) {
				t.Errorf("line = %s %s qty %s rate %s, want USAGE %s qty %s rate %s", l.Kind, l.Meter, l.Quantity, l.UnitPrice, tc.meter, tc.wantQty, tc.wantRate)
			}
			if !l.Amount.Equal(d(tc.wantTotal)) || !inv.Total.Equal(d(tc.wantTotal)) {
				t.Errorf("amount %s total %s, want %s", l.Amount, inv.Total, tc.wantTotal)
			}
		})
	}
}

func TestRatePeriodListsEveryPricedMeterInFixedOrder(t *testing.T) {
	t.Parallel()
	c := contract()
	c.Plans = map[Meter]RatePlan{
		MeterMaxLoad:      {Model: ModelPerUnit, UnitPrice: d("1")},
		MeterParts:        {Model: ModelPerUnit, UnitPrice: d("0.5")},
		MeterSpindleHours: {Model: ModelPerUnit, UnitPrice: d("10")},
	}
	nov := at("2026-11-10T08:00:00Z")
	// energy is metered but not priced, so it is recorded and not billed
	evs := append(events("p", MeterParts, nov, "4"), events("e", MeterEnergyKWh, nov, "99")...)
	inv := mustRate(t, c, nov, evs)
	want := []Meter{MeterSpindleHours, MeterParts, MeterMaxLoad}
	if len(inv.Lines) != len(want) {
		t.Fatalf("lines = %+v", inv.Lines)
	}
	for i, m := range want {
		if inv.Lines[i].Meter != m {
			t.Errorf("line %d meter %s, want %s", i, inv.Lines[i].Meter, m)
		}
	}
	// 4 parts × 0.5 = 2.00; idle meters show zero
	if !inv.Total.Equal(d("2")) {
		t.Errorf("total %s, want 2", inv.Total)
	}
}

func TestMinimumCommitmentTrueUpAndFeeSplit(t *testing.T) {
	t.Parallel()
	c := contract()
	c.MinimumCommitment = d("5000.00")
	nov := at("2026-11-10T08:00:00Z")
	inv := mustRate(t, c, nov, events("e", MeterSpindleHours, nov, "10.5"))
	checkInvoice(t, inv)
	// usage 10.5 × 12.50 = 131.25; true-up 5000 − 131.25 = 4868.75; fee 10% = 500
	if len(inv.Lines) != 2 || inv.Lines[1].Kind != LineMinimumTrueUp || !inv.Lines[1].Amount.Equal(d("4868.75")) {
		t.Fatalf("lines = %+v", inv.Lines)
	}
	if !inv.Subtotal.Equal(d("131.25")) || !inv.Total.Equal(d("5000")) || !inv.PlatformFee.Equal(d("500")) || !inv.LessorShare.Equal(d("4500")) {
		t.Errorf("subtotal %s total %s fee %s lessor %s", inv.Subtotal, inv.Total, inv.PlatformFee, inv.LessorShare)
	}

	// usage above the minimum: no true-up
	inv = mustRate(t, c, nov, events("e", MeterSpindleHours, nov, "500"))
	if len(inv.Lines) != 1 || !inv.Total.Equal(d("6250")) {
		t.Errorf("lines = %+v", inv.Lines)
	}
}

func TestMinimumCommitmentIsProratedForAShortFirstPeriod(t *testing.T) {
	t.Parallel()
	cases := []struct{ start, want string }{
		{"2026-11-16T00:00:00Z", "500.00"}, // 15 of November's 30 days
		{"2026-11-21T00:00:00Z", "333.33"}, // 10/30 × 1000 = 333.333…
		{"2026-11-01T00:00:00Z", "1000.00"},
	}
	for _, tc := range cases {
		t.Run(tc.start, func(t *testing.T) {
			t.Parallel()
			c := contract()
			c.Start = at(tc.start)
			c.MinimumCommitment = d("1000.00")
			inv := mustRate(t, c, at("2026-11-25T00:00:00Z"), nil)
			if !inv.Total.Equal(d(tc.want)) {
				t.Errorf("total %s, want %s", inv.Total, tc.want)
			}
		})
	}
}

func TestFeeSplitGivesTheLeftoverMinorUnitByLargestRemainder(t *testing.T) {
	t.Parallel()
	cases := []struct{ total, pct, fee, lessor string }{
		// 5 fen at 33.33%: exact 1.6665 / 3.3335 fen, the spare fen goes to the larger remainder (fee)
		{"0.05", "33.33", "0.02", "0.03"},
		{"100.00", "0", "0", "100.00"},
		{"100.00", "100", "100.00", "0"},
		// credit: |−0.13| = 13 fen, 1.3 / 11.7, spare fen to the lessor
		{"-0.13", "10", "-0.01", "-0.12"},
	}
	for _, tc := range cases {
		fee, lessor, err := splitFee(d(tc.total), d(tc.pct), "CNY")
		if err != nil {
			t.Fatal(err)
		}
		if !fee.Equal(d(tc.fee)) || !lessor.Equal(d(tc.lessor)) {
			t.Errorf("split %s at %s%% = %s/%s, want %s/%s", tc.total, tc.pct, fee, lessor, tc.fee, tc.lessor)
		}
	}
}

func TestAJobThatRepricesAVolumeTierDownIsANegativeCharge(t *testing.T) {
	t.Parallel()
	// Volume: up to 10 units at 1.00, beyond at 0.79. A job taking the period
	// from 10 to 12.5 units reprices everything: round(12.5×0.79 = 9.875) − 10.00
	// = 9.88 − 10.00 = −0.12, the difference of the period's line as rated with
	// and without the job, so that the instant charges add up to the period.
	c := contract()
	c.Plans = map[Meter]RatePlan{MeterSpindleHours: {Model: ModelVolume, Tiers: []Tier{
		{UpTo: dp("10"), UnitPrice: d("1.00")},
		{UnitPrice: d("0.79")},
	}}}
	nov := at("2026-11-10T08:00:00Z")
	charged := events("earlier", MeterSpindleHours, nov, "10")
	job := events("job", MeterSpindleHours, nov.Add(time.Hour), "2.5")
	ch, err := InstantCharge(c, charged, job)
	if err != nil {
		t.Fatal(err)
	}
	if !ch.Total.Equal(d("-0.12")) || !ch.PlatformFee.Add(ch.LessorShare).Equal(ch.Total) || !ch.PlatformFee.IsNegative() {
		t.Errorf("charge total %s fee %s lessor %s, want -0.12 split into two negative parts", ch.Total, ch.PlatformFee, ch.LessorShare)
	}
	inv := mustRate(t, c, nov, append(charged, job...))
	first, err := InstantCharge(c, nil, charged)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Total.Add(ch.Total).Equal(inv.Subtotal) {
		t.Errorf("charges %s + %s, period rated %s", first.Total, ch.Total, inv.Subtotal)
	}
}

func TestAmendmentMidPeriodRatesTwoSegments(t *testing.T) {
	t.Parallel()
	nov := at("2026-11-05T08:00:00Z")
	later := at("2026-11-20T08:00:00Z")
	eff := at("2026-11-16T00:00:00Z")

	t.Run("per unit price change", func(t *testing.T) {
		t.Parallel()
		c := contract()
		c.Amendments = []Amendment{{EffectiveAt: eff, Plans: map[Meter]RatePlan{MeterSpindleHours: {Model: ModelPerUnit, UnitPrice: d("10")}}}}
		inv := mustRate(t, c, nov, append(events("a", MeterSpindleHours, nov, "40"), events("b", MeterSpindleHours, later, "60")...))
		checkInvoice(t, inv)
		// 40 × 12.50 = 500 before, 60 × 10 = 600 after
		if len(inv.Lines) != 2 || !inv.Lines[0].Amount.Equal(d("500")) || !inv.Lines[1].Amount.Equal(d("600")) {
			t.Fatalf("lines = %+v", inv.Lines)
		}
		if !inv.Lines[0].End.Equal(eff) || !inv.Lines[1].Start.Equal(eff) {
			t.Errorf("segments split at %s / %s, want %s", inv.Lines[0].End, inv.Lines[1].Start, eff)
		}
	})

	t.Run("a replaced graduated plan has its tier bounds prorated", func(t *testing.T) {
		t.Parallel()
		c := contract()
		c.Plans = map[Meter]RatePlan{MeterSpindleHours: {Model: ModelGraduated, Tiers: []Tier{{UpTo: dp("100"), UnitPrice: d("10")}, {UnitPrice: d("8")}}}}
		c.Amendments = []Amendment{{EffectiveAt: eff, Plans: map[Meter]RatePlan{MeterSpindleHours: {Model: ModelGraduated, Tiers: []Tier{{UpTo: dp("100"), UnitPrice: d("9")}, {UnitPrice: d("7")}}}}}}
		inv := mustRate(t, c, nov, append(events("a", MeterSpindleHours, nov, "80"), events("b", MeterSpindleHours, later, "50")...))
		checkInvoice(t, inv)
		// Each plan is in force 15 of November's 30 days, so each has a first
		// tier of 50 h. Before: 50×10 + 30×8 = 740. After, from zero on the new
		// plan: 50×9 = 450. The lessee gets 100 h of first tier in the month, as
		// without the amendment.
		if len(inv.Lines) != 2 || !inv.Lines[0].Amount.Equal(d("740")) || !inv.Lines[1].Amount.Equal(d("450")) {
			t.Fatalf("lines = %+v", inv.Lines)
		}
		if !strings.Contains(inv.Lines[0].Description, "in force 15 of 30 days") || !strings.Contains(inv.Lines[1].Description, "tier bounds pro rata") {
			t.Errorf("descriptions %q / %q", inv.Lines[0].Description, inv.Lines[1].Description)
		}
	})

	t.Run("the free allowance is shared by time between the plans", func(t *testing.T) {
		t.Parallel()
		c := contract()
		c.Plans = map[Meter]RatePlan{MeterSpindleHours: {Model: ModelPerUnit, UnitPrice: d("12.50"), FreeAllowance: d("50")}}
		c.Amendments = []Amendment{{EffectiveAt: eff, Plans: map[Meter]RatePlan{MeterSpindleHours: {Model: ModelPerUnit, UnitPrice: d("10"), FreeAllowance: d("90")}}}}
		inv := mustRate(t, c, nov, append(events("a", MeterSpindleHours, nov, "40"), events("b", MeterSpindleHours, later, "60")...))
		// Half of 50 free before: (40 − 25) × 12.50 = 187.50; half of 90 after:
		// (60 − 45) × 10 = 150.
		if !inv.Lines[0].Amount.Equal(d("187.5")) || !inv.Lines[1].Amount.Equal(d("150")) {
			t.Fatalf("lines = %+v", inv.Lines)
		}
	})

	t.Run("a plan restated as it was does not cut the meter's tiers", func(t *testing.T) {
		t.Parallel()
		c := contract()
		plan := RatePlan{Model: ModelGraduated, Tiers: []Tier{{UpTo: dp("100"), UnitPrice: d("10")}, {UnitPrice: d("8")}}}
		c.Plans = map[Meter]RatePlan{MeterSpindleHours: plan, MeterParts: {Model: ModelPerUnit, UnitPrice: d("1")}}
		c.Amendments = []Amendment{{EffectiveAt: eff, Plans: map[Meter]RatePlan{
			MeterSpindleHours: {Model: ModelGraduated, Tiers: []Tier{{UpTo: dp("100.0"), UnitPrice: d("10.00")}, {UnitPrice: d("8")}}},
			MeterParts:        {Model: ModelPerUnit, UnitPrice: d("2")},
		}}}
		inv := mustRate(t, c, nov, append(events("a", MeterSpindleHours, nov, "80"), events("b", MeterSpindleHours, later, "50")...))
		// Spindle hours continue their tiers: 80×10 = 800, then 20×10 + 30×8 = 440.
		if !inv.Lines[0].Amount.Equal(d("800")) || !inv.Lines[2].Amount.Equal(d("440")) || inv.Lines[2].Meter != MeterSpindleHours {
			t.Fatalf("lines = %+v", inv.Lines)
		}
		if strings.Contains(inv.Lines[2].Description, "pro rata") {
			t.Errorf("an unchanged plan is described as prorated: %q", inv.Lines[2].Description)
		}
	})

	t.Run("a minimum commitment changed mid-period is owed pro rata by each part", func(t *testing.T) {
		t.Parallel()
		c := contract()
		c.MinimumCommitment = d("1000")
		c.Amendments = []Amendment{{EffectiveAt: eff, MinimumCommitment: dp("2000"), PlatformFeePercent: dp("5")}}
		// 40 h × 12.50 = 500 before the change meets its 500 (1000 × 15/30); the
		// second half uses nothing and owes 1000 (2000 × 15/30). The fee split
		// is per period and changes from December.
		inv := mustRate(t, c, nov, events("a", MeterSpindleHours, nov, "40"))
		checkInvoice(t, inv)
		if !inv.Total.Equal(d("1500")) || !inv.PlatformFee.Equal(d("150")) || len(inv.Lines) != 3 {
			t.Fatalf("November: total %s fee %s lines %+v, want 1500, 150 and one true-up", inv.Total, inv.PlatformFee, inv.Lines)
		}
		up := inv.Lines[2]
		if up.Kind != LineMinimumTrueUp || !up.Amount.Equal(d("1000")) || !up.Start.Equal(eff) || !strings.Contains(up.Description, "2000 per period pro rata") {
			t.Errorf("true-up %+v", up)
		}
		// Without usage both halves fall short: two true-up lines.
		inv = mustRate(t, c, nov, nil)
		if !inv.Total.Equal(d("1500")) || len(inv.Lines) != 4 || inv.Lines[2].Kind != LineMinimumTrueUp || !inv.Lines[2].Amount.Equal(d("500")) {
			t.Errorf("November without usage: %+v", inv.Lines)
		}
		inv = mustRate(t, c, at("2026-12-05T00:00:00Z"), nil)
		if !inv.Total.Equal(d("2000")) || !inv.PlatformFee.Equal(d("100")) {
			t.Errorf("December: total %s fee %s, want 2000 and 100", inv.Total, inv.PlatformFee)
		}
	})

	t.Run("a package plan replaced mid-period pays the packages each plan started", func(t *testing.T) {
		t.Parallel()
		c := contract()
		c.Plans = map[Meter]RatePlan{MeterParts: {Model: ModelPackage, PackageSize: d("100"), PackagePrice: d("30")}}
		c.Amendments = []Amendment{{EffectiveAt: eff, Plans: map[Meter]RatePlan{MeterParts: {Model: ModelPackage, PackageSize: d("200"), PackagePrice: d("50"), FreeAllowance: d("60")}}}}
		inv := mustRate(t, c, nov, append(events("a", MeterParts, nov, "150"), events("b", MeterParts, later, "240")...))
		// Before: 150 parts, 2 packages of 100 × 30 = 60. After: 240 − 30 free
		// (half of 60) = 210, 2 packages of 200 × 50 = 100.
		if len(inv.Lines) != 2 || !inv.Lines[0].Amount.Equal(d("60")) || !inv.Lines[1].Amount.Equal(d("100")) {
			t.Fatalf("lines = %+v", inv.Lines)
		}
	})
}

func TestLateUsageIsBilledAsAdjustmentOfTheOldPeriod(t *testing.T) {
	t.Parallel()
	c := contract()
	c.Plans = map[Meter]RatePlan{MeterSpindleHours: {Model: ModelGraduated, Tiers: []Tier{{UpTo: dp("100"), UnitPrice: d("10")}, {UnitPrice: d("8")}}}}
	c.MinimumCommitment = d("1000")
	oct := at("2026-10-20T08:00:00Z")
	nov := at("2026-11-10T08:00:00Z")
	billed := events("oct", MeterSpindleHours, oct, "90")
	// October was invoiced at 90 h: 900 + true-up 100 = 1000.
	octInv := mustRate(t, c, oct, billed)
	if !octInv.Total.Equal(d("1000")) {
		t.Fatalf("October total %s, want 1000", octInv.Total)
	}

	late := events("late", MeterSpindleHours, oct.Add(time.Hour), "20")
	inv := mustRate(t, c, nov, events("nov", MeterSpindleHours, nov, "150"), Adjustment{Period: mustPeriod(t, c, oct), Billed: billed, Late: late})
	checkInvoice(t, inv)
	// November: 100×10 + 50×8 = 1400 (above the minimum).
	// October again with 110 h: 100×10 + 10×8 = 1080, so +180 of usage, and the
	// true-up of 100 is no longer owed: −100. Net +80 = 1080 − 1000.
	want := []struct {
		kind   LineKind
		amount string
		qty    string
	}{
		{LineUsage, "1400", "150"},
		{LineAdjustment, "180", "20"},
		{LineAdjustment, "-100", "0"},
	}
	if len(inv.Lines) != len(want) {
		t.Fatalf("lines = %+v", inv.Lines)
	}
	for i, w := range want {
		l := inv.Lines[i]
		if l.Kind != w.kind || !l.Amount.Equal(d(w.amount)) || !l.Quantity.Equal(d(w.qty)) {
			t.Errorf("line %d = %s %s qty %s, want %s %s qty %s", i, l.Kind, l.Amount, l.Quantity, w.kind, w.amount, w.qty)
		}
		if w.kind == LineAdjustment && l.AdjustsPeriod != "2026-10" {
			t.Errorf("line %d adjusts %q, want 2026-10", i, l.AdjustsPeriod)
		}
	}
	if !inv.Subtotal.Equal(d("1400")) || !inv.Total.Equal(d("1480")) {
		t.Errorf("subtotal %s total %s, want 1400 and 1480", inv.Subtotal, inv.Total)
	}

	// A "late" event that was in fact billed already changes nothing.
	inv = mustRate(t, c, nov, nil, Adjustment{Period: mustPeriod(t, c, oct), Billed: billed, Late: billed[:1]})
	for _, l := range inv.Lines {
		if l.Kind == LineAdjustment {
			t.Errorf("resent event produced %+v", l)
		}
	}
}

func TestAdjustmentsMustBelongToAnEarlierPeriod(t *testing.T) {
	t.Parallel()
	c := contract()
	oct, nov := at("2026-10-20T08:00:00Z"), at("2026-11-10T08:00:00Z")
	octP, novP := mustPeriod(t, c, oct), mustPeriod(t, c, nov)
	cases := []struct {
		name string
		adjs []Adjustment
		want error
	}{
		{"same period", []Adjustment{{Period: novP}}, ErrInvalidAdjustment},
		{"made-up period", []Adjustment{{Period: Period{Key: "2026-10", Start: octP.Start, End: oct}}}, ErrNotAPeriod},
		{"late event outside its period", []Adjustment{{Period: octP, Late: events("x", MeterSpindleHours, nov, "1")}}, ErrInvalidUsage},
		{"two batches for one period", []Adjustment{{Period: octP}, {Period: octP}}, ErrInvalidAdjustment},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := RatePeriod(c, novP, nil, tc.adjs); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestRatePeriodRefusesBadInput(t *testing.T) {
	t.Parallel()
	nov := at("2026-11-10T08:00:00Z")
	one := func(mut func(*UsageEvent)) []UsageEvent {
		evs := events("e", MeterSpindleHours, nov, "1")
		mut(&evs[0])
		return evs
	}
	cases := []struct {
		name string
		evs  []UsageEvent
		want error
	}{
		{"unknown meter", one(func(e *UsageEvent) { e.Meter = "spindle_hour" }), ErrInvalidUsage},
		{"equipment of another contract", one(func(e *UsageEvent) { e.EquipmentID = "cnc-9" }), ErrInvalidUsage},
		{"empty equipment", one(func(e *UsageEvent) { e.EquipmentID = "" }), ErrInvalidUsage},
		{"outside the period", one(func(e *UsageEvent) { e.At = at("2026-12-01T00:00:00Z") }), ErrInvalidUsage},
		{"negative reading", one(func(e *UsageEvent) { e.Value = d("-1") }), ErrInvalidUsage},
		{"negative reading off the fast path", one(func(e *UsageEvent) { e.Value = d("-0.0000000000001") }), ErrInvalidUsage},
		{"fractional part count", one(func(e *UsageEvent) { e.Meter, e.Value = MeterParts, d("1.5") }), ErrInvalidUsage},
		{"no event id", one(func(e *UsageEvent) { e.EventID = "" }), ErrInvalidUsage},
		{"one id, two readings", append(events("e", MeterSpindleHours, nov, "1"), events("e", MeterSpindleHours, nov, "2")...), ErrInvalidUsage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := contract()
			if _, err := RatePeriod(c, mustPeriod(t, c, nov), tc.evs, nil); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}

	t.Run("invalid contract", func(t *testing.T) {
		t.Parallel()
		c := contract()
		p := mustPeriod(t, c, nov)
		c.Currency = "XXX"
		_, err := RatePeriod(c, p, nil, nil)
		var ve *ValidationError
		if !errors.Is(err, ErrInvalidContract) || !errors.As(err, &ve) || ve.Problems[0].Code != ProblemUnknownCurrency {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("period of another shape", func(t *testing.T) {
		t.Parallel()
		c := contract()
		p := mustPeriod(t, c, nov)
		p.End = p.End.Add(1)
		if _, err := RatePeriod(c, p, nil, nil); !errors.Is(err, ErrNotAPeriod) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestDuplicateEventsCountOnce(t *testing.T) {
	t.Parallel()
	c := contract()
	nov := at("2026-11-10T08:00:00Z")
	evs := events("e", MeterSpindleHours, nov, "4", "6")
	inv := mustRate(t, c, nov, append(evs, evs...))
	if !inv.Lines[0].Quantity.Equal(d("10")) {
		t.Errorf("quantity %s, want 10", inv.Lines[0].Quantity)
	}
}

func TestInstantChargeContinuesPeriodToDateTiers(t *testing.T) {
	t.Parallel()
	c := contract()
	c.Plans = map[Meter]RatePlan{
		MeterSpindleHours: {Model: ModelGraduated, Tiers: []Tier{{UpTo: dp("100"), UnitPrice: d("10")}, {UnitPrice: d("8")}}},
		MeterParts:        {Model: ModelPerUnit, UnitPrice: d("0.5")},
	}
	nov := at("2026-11-10T08:00:00Z")
	job := append(events("s", MeterSpindleHours, nov, "30"), events("p", MeterParts, nov, "12")...)
	ch, err := InstantCharge(c, events("before", MeterSpindleHours, nov.Add(-time.Hour), "90"), job)
	if err != nil {
		t.Fatal(err)
	}
	// 90 → 120 h: 10×10 + 20×8 = 260; 12 parts × 0.5 = 6
	if len(ch.Lines) != 2 || !ch.Lines[0].Amount.Equal(d("260")) || !ch.Lines[1].Amount.Equal(d("6")) || !ch.Total.Equal(d("266")) {
		t.Fatalf("charge = %+v", ch)
	}
	if !ch.PlatformFee.Add(ch.LessorShare).Equal(ch.Total) || ch.PeriodKey != "2026-11" {
		t.Errorf("fee %s lessor %s period %s", ch.PlatformFee, ch.LessorShare, ch.PeriodKey)
	}

	spanning := append(events("a", MeterSpindleHours, nov, "1"), events("b", MeterSpindleHours, at("2026-12-01T00:00:00Z"), "1")...)
	if _, err := InstantCharge(c, nil, spanning); !errors.Is(err, ErrInvalidUsage) {
		t.Errorf("job spanning two periods: err = %v", err)
	}
	if _, err := InstantCharge(c, nil, nil); !errors.Is(err, ErrInvalidUsage) {
		t.Errorf("empty job: err = %v", err)
	}
	if _, err := InstantCharge(c, events("x", "rpm", nov, "1"), job); !errors.Is(err, ErrInvalidUsage) {
		t.Errorf("unknown meter already charged: err = %v", err)
	}
}

func TestLedgerPostsReceivableRevenueAndFee(t *testing.T) {
	t.Parallel()
	c := contract()
	c.MinimumCommitment = d("5000.00")
	nov := at("2026-11-10T08:00:00Z")
	inv := mustRate(t, c, nov, events("e", MeterSpindleHours, nov, "10.5"))
	entries, err := Ledger(inv)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"lessee:lessee-1:receivable": "5000",
		"lessor:lessor-1:revenue":    "-4500",
		"platform:fees":              "-500",
	}
	if len(entries) != len(want) {
		t.Fatalf("entries = %+v", entries)
	}
	for _, e := range entries {
		if !e.Amount.Equal(d(want[e.Account])) || e.PeriodKey != "2026-11" || e.Currency != "CNY" {
			t.Errorf("entry %+v, want %s", e, want[e.Account])
		}
	}

	tampered := inv
	tampered.PlatformFee = tampered.PlatformFee.Add(d("0.01"))
	if _, err := Ledger(tampered); !errors.Is(err, ErrUnbalanced) {
		t.Errorf("tampered fee: err = %v", err)
	}
	tampered = inv
	tampered.Lines = tampered.Lines[:1]
	if _, err := Ledger(tampered); !errors.Is(err, ErrUnbalanced) {
		t.Errorf("dropped line: err = %v", err)
	}
}

func TestAggregate(t *testing.T) {
	t.Parallel()
	vals := func(ss ...string) []decimal.Decimal {
		out := make([]decimal.Decimal, len(ss))
		for i, s := range ss {
			out[i] = d(s)
		}
		return out
	}
	cases := []struct {
		name string
		agg  Aggregation
		in   []decimal.Decimal
		want string
	}{
		{"sum", AggregationSum, vals("1.5", "2.25", "0.000000001"), "3.750000001"},
		{"sum beyond the fast path", AggregationSum, vals("0.1", "0.00000000001", "123456789012345678901234567890"), "123456789012345678901234567890.10000000001"},
		{"sum spills before int64 overflow", AggregationSum, vals("9000000000", "9000000000", "9000000000"), "27000000000"},
		{"sum of negatives", AggregationSum, vals("-9000000000", "-9000000000", "1"), "-17999999999"},
		{"count", AggregationCount, vals("3", "4"), "7"},
		{"max", AggregationMax, vals("3.5", "7.25", "5"), "7.25"},
		{"max mixes fast and slow readings", AggregationMax, vals("7.25", "7.2500000000001", "1"), "7.2500000000001"},
		{"max of negatives", AggregationMax, vals("-3", "-2.5"), "-2.5"},
		{"nothing", AggregationMax, nil, "0"},
		{"nothing summed", AggregationSum, nil, "0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Aggregate(tc.agg, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(d(tc.want)) {
				t.Errorf("Aggregate = %s, want %s", got, tc.want)
			}
		})
	}
	if _, err := Aggregate("AVG", nil); err == nil {
		t.Error("unknown aggregation accepted")
	}
	if _, err := Aggregate(AggregationCount, vals("1.5")); err == nil {
		t.Error("fractional count accepted")
	}
}

func TestPrepaidUnitsPayForUsageBeyondTheAllowanceBeforeItIsBilled(t *testing.T) {
	t.Parallel()
	nov := at("2026-11-05T08:00:00Z")
	c := contract()
	c.Plans = map[Meter]RatePlan{MeterSpindleHours: {Model: ModelPerUnit, UnitPrice: d("100"), FreeAllowance: d("10")}}
	units := Units{MeterSpindleHours: d("50")}
	rate := func(c Contract, evs []UsageEvent, adjs []Adjustment, u Units) Invoice {
		t.Helper()
		inv, err := RatePeriodWithUnits(c, mustPeriod(t, c, nov), evs, adjs, u)
		if err != nil {
			t.Fatal(err)
		}
		checkInvoice(t, inv)
		return inv
	}
	prepaidLine := func(inv Invoice) *InvoiceLine {
		for i := range inv.Lines {
			if inv.Lines[i].Kind == LinePrepaidUnits {
				return &inv.Lines[i]
			}
		}
		return nil
	}

	// 40 h: 10 free, 30 from the 50 prepaid, nothing billed.
	inv := rate(c, events("a", MeterSpindleHours, nov, "40"), nil, units)
	if pl := prepaidLine(inv); pl == nil || !pl.Quantity.Equal(d("30")) || !pl.Amount.IsZero() || !inv.Total.IsZero() {
		t.Fatalf("40 h with 50 prepaid: %+v", inv.Lines)
	}
	if !strings.Contains(prepaidLine(inv).Description, "20 of 50 available left") {
		t.Errorf("prepaid line %q", prepaidLine(inv).Description)
	}
	// 100 h: 10 free, 50 prepaid, 40 billed at 100.
	inv = rate(c, events("a", MeterSpindleHours, nov, "100"), nil, units)
	if pl := prepaidLine(inv); pl == nil || !pl.Quantity.Equal(d("50")) || !inv.Total.Equal(d("4000")) {
		t.Fatalf("100 h with 50 prepaid: %+v", inv.Lines)
	}
	// Within the free allowance nothing is drawn.
	if inv = rate(c, events("a", MeterSpindleHours, nov, "8"), nil, units); prepaidLine(inv) != nil {
		t.Fatalf("8 h within the allowance drew units: %+v", inv.Lines)
	}

	t.Run("prepaid usage counts towards the minimum at its price", func(t *testing.T) {
		c := c
		c.MinimumCommitment = d("5000")
		// 60 h: 10 free, 50 prepaid (worth 5,000 at the plan's price): met.
		inv := rate(c, events("a", MeterSpindleHours, nov, "60"), nil, units)
		if !inv.Total.IsZero() || len(inv.Lines) != 2 {
			t.Fatalf("minimum met by prepaid usage: %+v", inv.Lines)
		}
		// 30 h: 20 prepaid (2,000): true-up 3,000.
		inv = rate(c, events("a", MeterSpindleHours, nov, "30"), nil, units)
		if !inv.Total.Equal(d("3000")) {
			t.Fatalf("minimum partly met by prepaid usage: total %s, lines %+v", inv.Total, inv.Lines)
		}
	})

	t.Run("the first plan of an amended period draws first", func(t *testing.T) {
		c := c
		eff := at("2026-11-16T00:00:00Z")
		c.Amendments = []Amendment{{EffectiveAt: eff, Plans: map[Meter]RatePlan{MeterSpindleHours: {Model: ModelPerUnit, UnitPrice: d("80")}}}}
		// Before: 5 h free (half of 10), 30 − 5 = 25 drawn. After: 25 left of
		// 50, drawn from 40 h; 15 h billed at 80 = 1,200.
		inv := rate(c, append(events("a", MeterSpindleHours, nov, "30"), events("b", MeterSpindleHours, eff.Add(time.Hour), "40")...), nil, units)
		if pl := prepaidLine(inv); pl == nil || !pl.Quantity.Equal(d("50")) || !inv.Total.Equal(d("1200")) || !inv.Lines[0].Amount.IsZero() {
			t.Fatalf("amended period with prepaid units: %+v", inv.Lines)
		}
	})

	t.Run("instant charges draw what the period draws", func(t *testing.T) {
		var charged []UsageEvent
		total, drew := decimal.Zero, decimal.Zero
		for i, h := range []string{"25", "20", "30"} {
			job := events(fmt.Sprint("j", i), MeterSpindleHours, nov.Add(time.Duration(i)*24*time.Hour), h)
			ch, err := InstantChargeWithUnits(c, charged, job, units)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range ch.Lines {
				if l.Kind == LinePrepaidUnits {
					drew = drew.Add(l.Quantity)
				}
			}
			total = total.Add(ch.Total)
			charged = append(charged, job...)
		}
		inv := rate(c, charged, nil, units)
		// 75 h: 10 free, 50 prepaid, 15 × 100.
		if !total.Equal(inv.Total) || !inv.Total.Equal(d("1500")) || !drew.Equal(d("50")) {
			t.Fatalf("charges %s drawing %s; period %s", total, drew, inv.Total)
		}
	})

	t.Run("late usage draws no more than its period drew", func(t *testing.T) {
		oct := at("2026-10-05T08:00:00Z")
		octP := mustPeriod(t, c, oct)
		billed := events("o", MeterSpindleHours, oct, "40") // drew 30 of 50 in October
		adj := Adjustment{Period: octP, Billed: billed, Late: events("l", MeterSpindleHours, oct.Add(time.Hour), "5"), Drawn: Units{MeterSpindleHours: d("30")}}
		inv := rate(c, nil, []Adjustment{adj}, nil)
		// November: 0 h (allowance) ; October's 5 late hours are billed: 500.
		if !inv.Total.Equal(d("500")) {
			t.Fatalf("late usage with prepaid units: %+v", inv.Lines)
		}
	})

	if _, err := RatePeriodWithUnits(c, mustPeriod(t, c, nov), nil, nil, Units{MeterMaxLoad: d("1")}); !errors.Is(err, ErrInvalidUsage) {
		t.Errorf("prepaid peak load: %v", err)
	}
	if _, err := RatePeriodWithUnits(c, mustPeriod(t, c, nov), nil, nil, Units{MeterSpindleHours: d("-1")}); !errors.Is(err, ErrInvalidUsage) {
		t.Errorf("negative prepaid units: %v", err)
	}
}
