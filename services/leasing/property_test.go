package leasing

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/masscustom/orchestrator/services/money"
	"github.com/shopspring/decimal"
)

// randomPlan draws a valid plan of any model. With whole, every figure is a
// whole number of units and cents, so that no rounding happens downstream and
// sums can be compared exactly.
func randomPlan(r *rand.Rand, whole bool) RatePlan {
	cents := func() decimal.Decimal { return decimal.New(r.Int64N(5000), -2) }
	qty := func(n int64) decimal.Decimal {
		if whole {
			return decimal.NewFromInt(1 + r.Int64N(n))
		}
		return decimal.New(1+r.Int64N(n*1000), -3)
	}
	var p RatePlan
	switch r.IntN(4) {
	case 0:
		p = RatePlan{Model: ModelPerUnit, UnitPrice: cents()}
	case 1, 2:
		p.Model = ModelGraduated
		if r.IntN(2) == 0 {
			p.Model = ModelVolume
		}
		bound := decimal.Zero
		for i, n := 0, 1+r.IntN(4); i < n; i++ {
			t := Tier{UnitPrice: cents()}
			if r.IntN(3) == 0 {
				t.FlatFee = cents()
			}
			if i < n-1 {
				bound = bound.Add(qty(50))
				b := bound
				t.UpTo = &b
			}
			p.Tiers = append(p.Tiers, t)
		}
	default:
		p = RatePlan{Model: ModelPackage, PackageSize: qty(20), PackagePrice: cents()}
	}
	if r.IntN(3) == 0 {
		p.FreeAllowance = qty(30)
	}
	return p
}

func randomValue(r *rand.Rand, m Meter, whole bool) decimal.Decimal {
	if m == MeterParts || whole {
		return decimal.NewFromInt(r.Int64N(20))
	}
	return decimal.New(r.Int64N(100000), -r.Int32N(5))
}

func randomEvents(r *rand.Rand, prefix string, p Period, n int, whole bool) []UsageEvent {
	evs := make([]UsageEvent, n)
	span := int64(p.End.Sub(p.Start))
	for i := range evs {
		m := knownMeters[r.IntN(numMeters)]
		evs[i] = UsageEvent{
			EventID:     fmt.Sprintf("%s-%d", prefix, i),
			EquipmentID: fmt.Sprintf("cnc-%d", 1+r.IntN(2)),
			Meter:       m,
			Value:       randomValue(r, m, whole),
			At:          p.Start.Add(time.Duration(r.Int64N(span))),
			Seq:         int64(i),
		}
	}
	return evs
}

func randomContract(r *rand.Rand) Contract {
	c := contract()
	c.Currency = []string{"CNY", "JPY", "KWD"}[r.IntN(3)]
	places, _ := money.MinorUnit(c.Currency)
	c.Plans = map[Meter]RatePlan{}
	for _, m := range knownMeters {
		if r.IntN(4) > 0 {
			c.Plans[m] = randomPlan(r, false)
		}
	}
	if len(c.Plans) == 0 {
		c.Plans[MeterSpindleHours] = randomPlan(r, false)
	}
	if r.IntN(2) == 0 {
		c.MinimumCommitment = decimal.New(r.Int64N(3000), 0).Add(decimal.New(r.Int64N(1000), -3).Truncate(places))
	}
	c.PlatformFeePercent = decimal.New(r.Int64N(10001), -2)
	if r.IntN(2) == 0 {
		// an amendment inside November, changing some plans
		eff := at("2026-11-01T00:00:00Z").Add(time.Duration(r.Int64N(int64(29 * 24 * time.Hour))))
		a := Amendment{EffectiveAt: eff, Plans: map[Meter]RatePlan{}}
		for _, m := range knownMeters {
			if r.IntN(2) == 0 {
				a.Plans[m] = randomPlan(r, false)
			}
		}
		c.Amendments = []Amendment{a}
	}
	return c
}

func shuffled(r *rand.Rand, evs []UsageEvent) []UsageEvent {
	out := append([]UsageEvent(nil), evs...)
	// resend a few readings, as machines do
	for i := 0; i < len(evs)/10; i++ {
		out = append(out, evs[r.IntN(len(evs))])
	}
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func TestPropertyInvoicesBalanceAndIgnoreEventOrder(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 11))
	nov, oct := at("2026-11-10T00:00:00Z"), at("2026-10-10T00:00:00Z")
	for n := 0; n < 2000; n++ {
		c := randomContract(r)
		p, octP := mustPeriod(t, c, nov), mustPeriod(t, c, oct)
		evs := randomEvents(r, "e", p, r.IntN(60), false)
		var adjs []Adjustment
		if r.IntN(3) == 0 {
			adjs = []Adjustment{{Period: octP, Billed: randomEvents(r, "b", octP, r.IntN(30), false), Late: randomEvents(r, "l", octP, 1+r.IntN(10), false)}}
		}
		inv, err := RatePeriod(c, p, evs, adjs)
		if err != nil {
			t.Fatalf("case %d: %v", n, err)
		}
		checkInvoice(t, inv)
		entries, err := Ledger(inv)
		if err != nil {
			t.Fatalf("case %d: %v", n, err)
		}
		sum := decimal.Zero
		for _, e := range entries {
			sum = sum.Add(e.Amount)
		}
		if !sum.IsZero() {
			t.Fatalf("case %d: ledger sums to %s: %+v", n, sum, entries)
		}

		for i := range adjs {
			adjs[i].Billed, adjs[i].Late = shuffled(r, adjs[i].Billed), shuffled(r, adjs[i].Late)
		}
		again, err := RatePeriod(c, p, shuffled(r, evs), adjs)
		if err != nil {
			t.Fatalf("case %d: %v", n, err)
		}
		if a, b := mustJSON(t, inv), mustJSON(t, again); a != b {
			t.Fatalf("case %d: event order changed the invoice:\n%s\n%s", n, a, b)
		}
	}
}

func TestPropertyFeeSplitAlwaysSumsToTheTotal(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 5))
	for n := 0; n < 5000; n++ {
		cur := []string{"CNY", "JPY", "KWD"}[r.IntN(3)]
		places, _ := money.MinorUnit(cur)
		total := decimal.New(r.Int64N(2_000_000)-1_000_000, -places)
		pct := decimal.New(r.Int64N(1_000_001), -4) // 0.0000 .. 100.0000
		fee, lessor, err := splitFee(total, pct, cur)
		if err != nil {
			t.Fatal(err)
		}
		if !fee.Add(lessor).Equal(total) {
			t.Fatalf("split of %s at %s%%: %s + %s", total, pct, fee, lessor)
		}
		exact := total.Mul(pct).Div(hundred)
		if fee.Sub(exact).Abs().GreaterThanOrEqual(decimal.New(1, -places)) {
			t.Fatalf("fee %s is a minor unit or more from %s", fee, exact)
		}
	}
}

// Charging jobs one by one, each continuing the period-to-date quantity, adds
// up to rating the whole period at once: graduated pricing of q equals the
// pricing of 0..a plus a..q, and the same holds for every model. Whole figures
// keep rounding out of the comparison.
func TestPropertyInstantChargesAddUpToThePeriod(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(13, 17))
	nov := at("2026-11-10T00:00:00Z")
	for n := 0; n < 3000; n++ {
		c := contract()
		m := knownMeters[r.IntN(numMeters)]
		c.Plans = map[Meter]RatePlan{m: randomPlan(r, true)}
		if n%2 == 0 {
			c.Plans[m] = RatePlan{Model: ModelGraduated, Tiers: randomPlan(r, true).Tiers, FreeAllowance: randomPlan(r, true).FreeAllowance}
			if len(c.Plans[m].Tiers) == 0 {
				c.Plans[m] = RatePlan{Model: ModelGraduated, Tiers: []Tier{{UpTo: dp("7"), UnitPrice: d("3")}, {UnitPrice: d("2")}}}
			}
		}
		p := mustPeriod(t, c, nov)
		var all []UsageEvent
		charged := decimal.Zero
		for j, jobs := 0, 1+r.IntN(5); j < jobs; j++ {
			job := randomEvents(r, fmt.Sprintf("j%d", j), p, 1+r.IntN(4), true)
			for i := range job {
				job[i].Meter = m
			}
			ch, err := InstantCharge(c, all, job)
			if err != nil {
				t.Fatalf("case %d: %v", n, err)
			}
			charged = charged.Add(ch.Total)
			all = append(all, job...)
		}
		inv, err := RatePeriod(c, p, all, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !inv.Subtotal.Equal(charged) {
			t.Fatalf("case %d (%s %+v): jobs charged %s, period rated %s", n, m, c.Plans[m], charged, inv.Subtotal)
		}
	}
}

// priceByUnits is an oracle for whole quantities: it walks the billable units
// one by one, independently of how price splits tiers.
func priceByUnits(p RatePlan, q int64) decimal.Decimal {
	billable := q - p.FreeAllowance.IntPart()
	if billable <= 0 {
		return decimal.Zero
	}
	if p.Model == ModelVolume {
		t := tierOf(p.Tiers, decimal.NewFromInt(billable))
		return decimal.NewFromInt(billable).Mul(t.UnitPrice).Add(t.FlatFee)
	}
	total := decimal.Zero
	entered := map[int]bool{}
	for u := int64(1); u <= billable; u++ {
		for i, t := range p.Tiers {
			if t.UpTo == nil || decimal.NewFromInt(u).LessThanOrEqual(*t.UpTo) {
				total = total.Add(t.UnitPrice)
				if !entered[i] {
					entered[i] = true
					total = total.Add(t.FlatFee)
				}
				break
			}
		}
	}
	return total
}

func TestPropertyTieredPricingMatchesUnitByUnitOracle(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(19, 23))
	for n := 0; n < 3000; n++ {
		p := randomPlan(r, true)
		if p.Model != ModelGraduated && p.Model != ModelVolume {
			continue
		}
		q := r.Int64N(300)
		if got, want := price(p, decimal.NewFromInt(q)), priceByUnits(p, q); !got.Equal(want) {
			t.Fatalf("%+v at %d: price %s, oracle %s", p, q, got, want)
		}
	}
}

func TestPropertyAggregateIsExact(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(29, 31))
	for n := 0; n < 2000; n++ {
		vals := make([]decimal.Decimal, r.IntN(50))
		for i := range vals {
			switch r.IntN(4) {
			case 0: // too many digits for an int64
				vals[i] = decimal.RequireFromString(fmt.Sprintf("%d%018d.%d", r.Int64N(1000), r.Int64N(1e18), r.Int64N(1000)))
			case 1: // close to the int64 limit once scaled
				vals[i] = decimal.New(9_000_000_000+r.Int64N(1e9), 0)
			default:
				vals[i] = decimal.New(r.Int64N(2_000_000)-1_000_000, -r.Int32N(16))
			}
		}
		sum, maxv := decimal.Zero, decimal.Zero
		for i, v := range vals {
			sum = sum.Add(v)
			if i == 0 || v.GreaterThan(maxv) {
				maxv = v
			}
		}
		if got, _ := Aggregate(AggregationSum, vals); !got.Equal(sum) {
			t.Fatalf("sum of %v = %s, want %s", vals, got, sum)
		}
		if got, _ := Aggregate(AggregationMax, vals); !got.Equal(maxv) {
			t.Fatalf("max of %v = %s, want %s", vals, got, maxv)
		}
	}
}
