package genealogy_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/genealogy"
)

// The benchmark's network: benchUnits units, each made of benchInputs of
// benchLots lots, so benchUnits*benchInputs INPUT edges and about
// benchUnits*benchInputs/benchLots units reached from each lot.
const (
	benchLots   = 1000
	benchUnits  = 100_000
	benchInputs = 10
	// benchStride spaces a unit's inputs: its j-th lot is
	// (benchBase(u) + j*benchStride) mod benchLots, benchInputs distinct lots.
	benchStride = benchLots / benchInputs
	// The aim the issue sets: a lot traced to its ~1,000 units in under 100 ms.
	benchAim = 100 * time.Millisecond
)

// benchBase scatters the units over the lots (a multiplicative hash), so a
// lot's units are not a regular pattern and their number varies around
// benchUnits*benchInputs/benchLots. The generator's SQL computes the same.
func benchBase(u int64) int64 { return ((u * 2654435761) >> 8) % benchLots }

const benchBaseSQL = `((u::bigint * 2654435761) >> 8) % 1000`

// benchLot is unit u's j-th input lot.
func benchLot(u, j int64) int64 { return (benchBase(u) + j*benchStride) % benchLots }

// timings are the durations of a sub-benchmark's operations, reported as
// p50/p99/max in milliseconds on its line; report returns the p99.
type timings []time.Duration

func (t timings) report(b *testing.B) time.Duration {
	if len(t) == 0 {
		return 0
	}
	slices.Sort(t)
	p99 := t[int(0.99*float64(len(t)-1))]
	b.ReportMetric(ms(t[int(0.50*float64(len(t)-1))]), "p50-ms")
	b.ReportMetric(ms(p99), "p99-ms")
	b.ReportMetric(ms(t[len(t)-1]), "max-ms")
	return p99
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkTraceDownstream measures genealogy.Walk, the recursive query a
// trace runs, on a network of 1,000 lots that went into 100,000 units (10
// lots each: 1,000,000 INPUT edges, about 1,000 units per lot), generated in
// bulk under a random key prefix before the sub-benchmarks and deleted after
// them. Its baseline is the one indexed lookup of a lot's edges
// (edge-lookup), which reads the same rows as the downstream walk of that
// lot; walk's x-of-edge-lookup is the walk's time over the lookup's. upstream
// walks from a unit to its 10 lots. Each operation picks a random lot (or
// unit) and checks it reached exactly what the generator gave it. Whether the
// aim of tracing a lot to its units in under 100 ms is met is logged, never
// failed on.
//
//	go test -run '^$' -bench TraceDownstream -benchtime 20x ./services/genealogy/
func BenchmarkTraceDownstream(b *testing.B) {
	p := testenv.Platform(b)
	ctx := context.Background()
	prefix := "bench-" + uuid.NewString() + "/"
	lotKey := func(n int64) string { return prefix + "lot-" + strconv.FormatInt(n, 10) }
	unitKey := func(n int64) string { return prefix + "unit-" + strconv.FormatInt(n, 10) }

	// How many units each lot reaches, from the generator's formula.
	var want [benchLots]int
	for u := int64(0); u < benchUnits; u++ {
		for j := int64(0); j < benchInputs; j++ {
			want[benchLot(u, j)]++
		}
	}
	lo, hi := want[0], want[0]
	for _, n := range want {
		lo, hi = min(lo, n), max(hi, n)
	}

	t0 := time.Now()
	b.Cleanup(func() {
		t0 := time.Now()
		tag, err := p.DB.Exec(context.Background(), `DELETE FROM genealogy_edges WHERE parent_key LIKE $1 || '%'`, prefix)
		if err != nil {
			b.Errorf("delete the benchmark's edges: %v", err)
			return
		}
		// Vacuumed now, the space is reused by the next run instead of the table growing.
		if _, err := p.DB.Exec(context.Background(), `VACUUM (ANALYZE) genealogy_edges`); err != nil {
			b.Error(err)
		}
		b.Logf("deleted %d benchmark edges in %s", tag.RowsAffected(), time.Since(t0).Round(time.Millisecond))
	})
	tag, err := p.DB.Exec(ctx, `INSERT INTO genealogy_edges (parent_key, child_key, kind, event_id)
		SELECT $1 || 'lot-' || ((`+benchBaseSQL+` + j * $4) % $5), $1 || 'unit-' || u, 'INPUT', 'bench-event'
		FROM generate_series(0, $2 - 1) AS u, generate_series(0, $3 - 1) AS j`,
		prefix, benchUnits, benchInputs, benchStride, benchLots)
	if err != nil {
		b.Fatalf("generate the network: %v", err)
	}
	if tag.RowsAffected() != benchUnits*benchInputs {
		b.Fatalf("generated %d edges, want %d", tag.RowsAffected(), benchUnits*benchInputs)
	}
	// ANALYZE for the planner's statistics; VACUUM sets the visibility map,
	// as autovacuum would on a table in use, so that the lookups may read the
	// primary key's index only, and autovacuum does not start on the million
	// new rows in the middle of the measurement.
	if _, err := p.DB.Exec(ctx, `VACUUM (ANALYZE) genealogy_edges`); err != nil {
		b.Fatal(err)
	}
	var pages, visible int64
	if err := p.DB.QueryRow(ctx, `SELECT relpages, relallvisible FROM pg_class WHERE oid = 'genealogy_edges'::regclass`).Scan(&pages, &visible); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %d lots -> %d units (%d INPUT edges, %d to %d units a lot) under %s in %s; %d of the table's %d pages all-visible",
		benchLots, benchUnits, tag.RowsAffected(), lo, hi, prefix, time.Since(t0).Round(time.Millisecond), visible, pages)

	msPerOp := func(b *testing.B) float64 {
		m := ms(b.Elapsed()) / float64(b.N)
		b.ReportMetric(m, "ms/op")
		return m
	}
	var baseline float64 // edge-lookup's ms/op in this run

	b.Run("edge-lookup", func(b *testing.B) {
		var took timings
		for b.Loop() {
			lot := rand.Int64N(benchLots)
			t := time.Now()
			rows, err := p.DB.Query(ctx, `SELECT child_key FROM genealogy_edges WHERE parent_key = $1`, lotKey(lot))
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for rows.Next() {
				var k string
				if err := rows.Scan(&k); err != nil {
					b.Fatal(err)
				}
				n++
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				b.Fatal(err)
			}
			took = append(took, time.Since(t))
			if n != want[lot] {
				b.Fatalf("lot %d has %d edges, want %d", lot, n, want[lot])
			}
		}
		baseline = msPerOp(b)
		took.report(b)
	})

	b.Run("walk", func(b *testing.B) {
		var took timings
		for b.Loop() {
			lot := rand.Int64N(benchLots)
			t := time.Now()
			got, err := genealogy.Walk(ctx, p.DB, lotKey(lot), genealogy.Downstream, 10)
			took = append(took, time.Since(t))
			if err != nil {
				b.Fatal(err)
			}
			if len(got) != want[lot] {
				b.Fatalf("lot %d traced to %d identifiers, want its %d units", lot, len(got), want[lot])
			}
		}
		mean := msPerOp(b)
		p99 := took.report(b)
		if baseline > 0 {
			b.ReportMetric(mean/baseline, "x-of-edge-lookup")
		} else {
			b.Logf("no x-of-edge-lookup ratio: run the edge-lookup sub-benchmark in the same run")
		}
		met := "met"
		if p99 >= benchAim {
			met = "NOT met"
		}
		b.Logf("aim (a lot traced to its ~1,000 units in under %s, at p99): %s; %.2f ms/op on average, p50 %.2f ms, p99 %.2f ms, slowest %.2f ms, over %d walks",
			benchAim, met, mean, ms(took[len(took)/2]), ms(p99), ms(took[len(took)-1]), b.N)
	})

	b.Run("upstream", func(b *testing.B) {
		var took timings
		for b.Loop() {
			unit := rand.Int64N(benchUnits)
			t := time.Now()
			got, err := genealogy.Walk(ctx, p.DB, unitKey(unit), genealogy.Upstream, 10)
			took = append(took, time.Since(t))
			if err != nil {
				b.Fatal(err)
			}
			if len(got) != benchInputs {
				b.Fatalf("unit %d traced to %d identifiers, want its %d lots", unit, len(got), benchInputs)
			}
			for j := int64(0); j < benchInputs; j++ {
				if d, ok := got[lotKey(benchLot(unit, j))]; !ok || d != 1 {
					b.Fatalf("unit %d: lot %d at depth %d (reached: %v), want 1", unit, benchLot(unit, j), d, ok)
				}
			}
		}
		msPerOp(b)
		took.report(b)
	})
}
