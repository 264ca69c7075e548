package leasing_test

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/leasing"
)

var (
	closeContracts = flag.Int("bench.contracts", 10_000, "contracts whose period BenchmarkClosePeriods closes")
	closeWorkers   = flag.Int("bench.close-workers", 8, "periods closed at once in BenchmarkClosePeriods")
)

// Run with: go test -run '^$' -bench ClosePeriods -benchtime 2x ./services/leasing/
//
// BenchmarkClosePeriods closes one monthly period of each of
// -bench.contracts contracts (10,000 by default), each with a few usage
// readings, 13% VAT and a minimum commitment: rating, the draft invoice, its
// stamping and event, then finalizing it (rating again, posting the ledger),
// -bench.close-workers at a time as the lease workflows would. Its baseline,
// in the same run, is one batched INSERT of as many invoice rows with the same
// columns into a table shaped like invoices: the floor of writing the
// invoices at all. Each iteration closes the next month.
func BenchmarkClosePeriods(b *testing.B) {
	p := testenv.Platform(b)
	ctx := context.Background()
	store := leasing.NewStore(p.DB, p.Cache)
	lessor := testenv.Account(b, p, identity.KindLessor, identity.RoleAdmin)
	lessee := testenv.Account(b, p, identity.KindFactory, identity.RoleAdmin)
	lp := testenv.Principal(lessor)
	n := *closeContracts
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	suffix := testenv.Suffix()

	contracts := make([]uuid.UUID, n)
	machines := make([]uuid.UUID, n)
	t0 := time.Now()
	parallel(b, n, *closeWorkers, func(i int) error {
		m, err := store.RegisterEquipment(ctx, lp, lessor.Enterprise.ID, fmt.Sprintf("BENCH-%s-%d", suffix, i), "CNC_MILL", []leasing.Meter{leasing.MeterSpindleHours})
		if err != nil {
			return err
		}
		c, err := store.CreateContract(ctx, lp, leasing.Contract{
			LessorID: lessor.Enterprise.ID.String(), LesseeID: lessee.Enterprise.ID.String(),
			EquipmentIDs: []string{m.ID.String()}, Currency: "CNY",
			Plans: map[leasing.Meter]leasing.RatePlan{leasing.MeterSpindleHours: {Model: leasing.ModelGraduated, Tiers: []leasing.Tier{
				{UpTo: dp("10"), UnitPrice: d("100")}, {UnitPrice: d("80")}}}},
			MinimumCommitment: d("500"), PlatformFeePercent: d("10"), VATRatePercent: d("13"), CreditLimit: d("1000000"),
			Period: leasing.BillingPeriod{Unit: leasing.PeriodMonthly, Anchor: leasing.AnchorCalendar},
			Start:  start, End: start.AddDate(10, 0, 0),
		})
		if err != nil {
			return err
		}
		machines[i], contracts[i] = m.ID, c.ID
		return nil
	})
	b.Logf("%d contracts set up in %s", n, time.Since(t0).Round(time.Millisecond))

	// Shaped like invoices, with its defaults, checks and indexes (not its
	// foreign keys).
	table := "bench_invoices_" + suffix
	if _, err := p.DB.Exec(ctx, `CREATE TABLE `+table+` (LIKE invoices INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)`); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _, _ = p.DB.Exec(context.Background(), `DROP TABLE IF EXISTS `+table) })
	body := []byte(`{"lines":[{"kind":"USAGE","amount":"1200.00","tax":"156.00","gross":"1356.00"}],"total":"1200.00","tax":"156.00","gross":"1356.00"}`)

	var month atomic.Int64
	var closing, baseline time.Duration
	for b.Loop() {
		m := int(month.Add(1)) - 1
		periodStart := start.AddDate(0, m, 0)
		// Each contract's usage of the month: three readings.
		rows := make([][]any, 0, 3*n)
		for i := range n {
			for k := range 3 {
				at := periodStart.Add(time.Duration(24*(k+1)) * time.Hour)
				rows = append(rows, []any{machines[i], fmt.Sprintf("m%d-%d", m, k), "spindle_hours", decimal.NewFromInt(int64(4 + k)), at, at.UnixNano(), contracts[i], periodStart.Format("2006-01")})
			}
		}
		if _, err := p.DB.CopyFrom(ctx, pgx.Identifier{"usage_events"},
			[]string{"equipment_id", "event_id", "meter", "value", "at", "seq", "contract_id", "period_key"}, pgx.CopyFromRows(rows)); err != nil {
			b.Fatal(err)
		}

		t1 := time.Now()
		parallel(b, n, *closeWorkers, func(i int) error {
			draft, err := store.DraftPeriod(ctx, contracts[i], periodStart, time.Hour)
			if err != nil {
				return err
			}
			final, err := store.FinalizeDraft(ctx, draft.ID)
			// 4 + 5 + 6 = 15 h: 10 × 100 + 5 × 80 = 1,400.00 net, 182.00 VAT.
			if err == nil && !final.Body.Gross.Equal(d("1582")) {
				err = fmt.Errorf("contract %d: gross %s", i, final.Body.Gross)
			}
			return err
		})
		closing += time.Since(t1)

		t2 := time.Now()
		inv := make([][]any, n)
		for i := range n {
			inv[i] = []any{uuid.New(), contracts[i], "PERIOD", periodStart.Format("2006-01"), fmt.Sprintf("period:%d", m), "CNY", body,
				d("1200.00"), d("120.00"), d("1080.00")}
		}
		if _, err := p.DB.CopyFrom(ctx, pgx.Identifier{table},
			[]string{"id", "contract_id", "kind", "period_key", "charge_key", "currency", "body", "total", "platform_fee", "lessor_share"},
			pgx.CopyFromRows(inv)); err != nil {
			b.Fatal(err)
		}
		baseline += time.Since(t2)
	}
	iters := float64(month.Load())
	perClose := closing.Seconds() / iters
	perBase := baseline.Seconds() / iters
	b.ReportMetric(perClose, "s-per-close-of-all")
	b.ReportMetric(float64(n)/perClose, "periods/s")
	b.ReportMetric(perBase, "s-bare-insert-of-all")
	b.ReportMetric(perClose/perBase, "x-of-bare-insert")
}

// parallel runs f(0..n-1) on workers goroutines and fails b on the first error.
func parallel(b *testing.B, n, workers int, f func(i int) error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
}
