package leasing_test

import (
	"context"
	"fmt"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/masscustom/orchestrator/services/leasing"
)

// Run with: go test -run '^$' -bench Ingest -benchtime 5x ./services/leasing/
//
// BenchmarkIngest/fresh sends batches of 5,000 new readings spread over 50
// machines of one contract through Ingest (validation, Redis fast path, COPY
// to staging, INSERT ... ON CONFLICT) and, in the same iterations, COPYs as
// many new rows straight into usage_events for 50 other machines of the same
// contract: the same table, indexes and foreign keys, without any check. It
// reports both rates and their ratio. BenchmarkIngest/duplicates re-sends
// batches already stored, through the Redis fast path and through a store
// without Redis (Postgres alone decides), and reports both.

const (
	benchBatch    = 5_000
	benchMachines = 50
)

type ingestBench struct {
	f       *ingestFixture
	ingestM []uuid.UUID // machines fed through Ingest
	copyM   []uuid.UUID // machines fed by the raw COPY
	from    time.Time
	next    atomic.Int64 // readings generated so far: ids, seqs and times follow it
}

func newIngestBench(b *testing.B) *ingestBench {
	b.Helper()
	f := newIngestFixture(b, 2*benchMachines)
	ib := &ingestBench{f: f, ingestM: f.machines[:benchMachines], copyM: f.machines[benchMachines:],
		from: time.Now().UTC().Add(-7 * 24 * time.Hour)}
	b.Cleanup(func() {
		if _, err := f.p.DB.Exec(context.Background(), `DELETE FROM usage_events WHERE contract_id = $1`, f.contract.ID); err != nil {
			b.Errorf("clean up: %v", err)
		}
	})
	// Warm the pool's connections: staging table, prepared statements.
	for range 4 {
		ib.ingest(b, ib.f.store, ib.batch())
		ib.copy(b, ib.rows())
	}
	return ib
}

// at spaces readings 10 ms apart, so a machine's seq and time agree.
func (ib *ingestBench) at(k int64) time.Time {
	return ib.from.Add(time.Duration(k) * 10 * time.Millisecond)
}

func (ib *ingestBench) batch() []leasing.UsageInput {
	k0 := ib.next.Add(benchBatch) - benchBatch
	out := make([]leasing.UsageInput, benchBatch)
	for i := range out {
		k := k0 + int64(i)
		out[i] = leasing.UsageInput{EventID: fmt.Sprintf("bench-%d", k), EquipmentID: ib.ingestM[i%benchMachines].String(),
			Meter: string(leasing.MeterSpindleHours), Value: "0.25", At: ib.at(k).Format(time.RFC3339Nano), Seq: k}
	}
	return out
}

func (ib *ingestBench) rows() [][]any {
	k0 := ib.next.Add(benchBatch) - benchBatch
	value := pgtype.Numeric{Int: big.NewInt(25), Exp: -2, Valid: true}
	out := make([][]any, benchBatch)
	for i := range out {
		k := k0 + int64(i)
		at := ib.at(k)
		per, _ := leasing.PeriodAt(ib.f.contract.Terms, at)
		out[i] = []any{[16]byte(ib.copyM[i%benchMachines]), fmt.Sprintf("raw-%d", k), string(leasing.MeterSpindleHours), value, at, k, [16]byte(ib.f.contract.ID), per.Key}
	}
	return out
}

func (ib *ingestBench) ingest(b *testing.B, s *leasing.Store, batch []leasing.UsageInput) leasing.BatchResult {
	res, err := s.Ingest(context.Background(), ib.f.as, batch)
	if err != nil {
		b.Fatal(err)
	}
	if len(res.Refused) > 0 {
		b.Fatalf("refused %d events, first %+v", len(res.Refused), res.Refused[0])
	}
	return res
}

func (ib *ingestBench) copy(b *testing.B, rows [][]any) {
	n, err := ib.f.p.DB.CopyFrom(context.Background(), pgx.Identifier{"usage_events"},
		[]string{"equipment_id", "event_id", "meter", "value", "at", "seq", "contract_id", "period_key"}, pgx.CopyFromRows(rows))
	if err != nil || n != int64(len(rows)) {
		b.Fatalf("raw copy: %d rows, %v", n, err)
	}
}

func BenchmarkIngest(b *testing.B) {
	ib := newIngestBench(b)

	b.Run("fresh", func(b *testing.B) {
		var inIngest, inCopy time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			batch, rows := ib.batch(), ib.rows()
			b.StartTimer()
			// Alternate the order so that neither always runs on a warmer cache.
			ingest := func() {
				t0 := time.Now()
				if res := ib.ingest(b, ib.f.store, batch); res.Accepted != benchBatch {
					b.Fatalf("accepted %d of %d", res.Accepted, benchBatch)
				}
				inIngest += time.Since(t0)
			}
			raw := func() {
				t0 := time.Now()
				ib.copy(b, rows)
				inCopy += time.Since(t0)
			}
			if i%2 == 0 {
				ingest()
				raw()
			} else {
				raw()
				ingest()
			}
		}
		events := float64(b.N * benchBatch)
		b.ReportMetric(events/inIngest.Seconds(), "events/s")
		b.ReportMetric(events/inCopy.Seconds(), "raw-copy-events/s")
		b.ReportMetric(inCopy.Seconds()/inIngest.Seconds(), "x-of-raw-copy")
	})

	b.Run("duplicates", func(b *testing.B) {
		b.StopTimer()
		batches := make([][]leasing.UsageInput, b.N)
		for i := range batches {
			batches[i] = ib.batch()
			ib.ingest(b, ib.f.store, batches[i])
		}
		noRedis := leasing.NewStore(ib.f.p.DB, nil)
		var fast, slow time.Duration
		b.StartTimer()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			if res := ib.ingest(b, ib.f.store, batches[i]); res.Duplicates != benchBatch {
				b.Fatalf("duplicates %d of %d", res.Duplicates, benchBatch)
			}
			fast += time.Since(t0)
			t0 = time.Now()
			if res := ib.ingest(b, noRedis, batches[i]); res.Duplicates != benchBatch {
				b.Fatalf("duplicates without Redis %d of %d", res.Duplicates, benchBatch)
			}
			slow += time.Since(t0)
		}
		events := float64(b.N * benchBatch)
		b.ReportMetric(events/fast.Seconds(), "events/s")
		b.ReportMetric(events/slow.Seconds(), "postgres-only-events/s")
		b.ReportMetric(slow.Seconds()/fast.Seconds(), "x-of-postgres-only")
	})
}
