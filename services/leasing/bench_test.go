package leasing

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// Run with: go test -run '^$' -bench 1M -benchtime 5x ./services/leasing/
// BenchmarkRatePeriod1M is the figure; the baselines beside it add the same
// million values with plain decimal arithmetic, so the output reads as a ratio.

const benchEvents = 1_000_000

type benchInput struct {
	c       Contract
	p       Period
	evs     []UsageEvent // one month of a three-machine lease, mixed meters
	values  []decimal.Decimal
	longEvs []UsageEvent // the same with 12-decimal readings, off the fast path
	longVal []decimal.Decimal
}

var (
	benchOnce sync.Once
	bench     benchInput
)

// benchSetup generates the events once per process, outside every timer.
func benchSetup(b *testing.B) *benchInput {
	b.Helper()
	benchOnce.Do(func() {
		c := contract()
		c.EquipmentIDs = []string{"cnc-1", "cnc-2", "cnc-3"}
		c.MinimumCommitment = d("5000.00")
		c.Plans = map[Meter]RatePlan{
			MeterSpindleHours: {Model: ModelGraduated, Tiers: threeTiers, FreeAllowance: d("10")},
			MeterParts:        {Model: ModelPackage, PackageSize: d("100"), PackagePrice: d("30")},
			MeterEnergyKWh:    {Model: ModelPerUnit, UnitPrice: d("0.85")},
			MeterMaxLoad:      {Model: ModelVolume, Tiers: threeTiers},
		}
		c.Amendments = []Amendment{{EffectiveAt: at("2026-11-16T00:00:00Z"), Plans: map[Meter]RatePlan{
			MeterEnergyKWh: {Model: ModelPerUnit, UnitPrice: d("0.80")},
		}}}
		p, err := PeriodAt(c, at("2026-11-10T00:00:00Z"))
		if err != nil {
			panic(err)
		}
		r := rand.New(rand.NewPCG(1, 1))
		span := int64(p.End.Sub(p.Start))
		evs := make([]UsageEvent, benchEvents)
		long := make([]UsageEvent, benchEvents)
		vals := make([]decimal.Decimal, benchEvents)
		longVals := make([]decimal.Decimal, benchEvents)
		for i := range evs {
			m := knownMeters[i%numMeters]
			var v decimal.Decimal
			switch m {
			case MeterSpindleHours:
				v = decimal.New(r.Int64N(10000), -4) // a job's hours, 4 decimals
			case MeterParts:
				v = decimal.NewFromInt(r.Int64N(6))
			case MeterEnergyKWh:
				v = decimal.New(r.Int64N(100000), -3)
			case MeterMaxLoad:
				v = decimal.New(r.Int64N(10000), -2)
			}
			evs[i] = UsageEvent{
				EventID:     fmt.Sprintf("ev-%07d", i),
				EquipmentID: c.EquipmentIDs[(i/1000)%3], // machines report in bursts
				Meter:       m,
				Value:       v,
				At:          p.Start.Add(time.Duration(r.Int64N(span))),
				Seq:         int64(i),
			}
			vals[i] = v
			long[i] = evs[i]
			if m != MeterParts {
				long[i].Value = decimal.New(r.Int64N(1e12), -12)
			}
			longVals[i] = long[i].Value
		}
		bench = benchInput{c: c, p: p, evs: evs, values: vals, longEvs: long, longVal: longVals}
	})
	return &bench
}

// reportPerMillion adds throughput next to ns/op (one op is a million events).
func reportPerMillion(b *testing.B) {
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(benchEvents/(perOp/1e9), "events/s")
	b.ReportMetric(perOp*1e6/benchEvents, "ns/1M-events")
}

func BenchmarkRatePeriod1M(b *testing.B) {
	in := benchSetup(b)
	for _, bc := range []struct {
		name string
		evs  []UsageEvent
	}{{"fast-path", in.evs}, {"12-decimal-readings", in.longEvs}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := RatePeriod(in.c, in.p, bc.evs, nil); err != nil {
					b.Fatal(err)
				}
			}
			reportPerMillion(b)
		})
	}
}

// BenchmarkAggregate1M is the aggregation alone, the part the fast path speeds up.
func BenchmarkAggregate1M(b *testing.B) {
	in := benchSetup(b)
	for _, bc := range []struct {
		name string
		vals []decimal.Decimal
	}{{"fast-path", in.values}, {"12-decimal-readings", in.longVal}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Aggregate(AggregationSum, bc.vals); err != nil {
					b.Fatal(err)
				}
			}
			reportPerMillion(b)
		})
	}
}

// BenchmarkBaselineDecimalSum1M adds the same million values with shopspring
// decimal as it comes: decimal.Sum, and the naive loop of Add.
func BenchmarkBaselineDecimalSum1M(b *testing.B) {
	in := benchSetup(b)
	var sink decimal.Decimal
	b.Run("Sum", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = decimal.Sum(in.values[0], in.values[1:]...)
		}
		reportPerMillion(b)
	})
	b.Run("AddLoop", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s := decimal.Zero
			for _, v := range in.values {
				s = s.Add(v)
			}
			sink = s
		}
		reportPerMillion(b)
	})
	_ = sink
}
