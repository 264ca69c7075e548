package workflows_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/masscustom/orchestrator/internal/platform"
	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/logistics"
	"github.com/masscustom/orchestrator/services/orders"
	"github.com/masscustom/orchestrator/services/procurement"
	"github.com/masscustom/orchestrator/services/production"
	"github.com/masscustom/orchestrator/workflows"
)

// BenchmarkCompletedOrders measures orders completed end to end per second on
// the real test stack, like the tests it skips without the stack, and like
// every benchmark it runs only under -bench:
//
//	go test -run '^$' -bench CompletedOrders -benchtime 20x ./workflows/
//	go test -run '^$' -bench CompletedOrders -benchtime 20x ./workflows/ -args -bench.concurrency=16
//
// An iteration of journey is one order from placement to ORDER_COMPLETED: the
// customer places it through the orders service and its workflow is started
// on a private task queue, whose worker runs the real activities; then the
// parties act in process, through the services and the typed workflow client
// (not GraphQL: this measures the orchestration), each as soon as the order's
// timeline (read from Postgres, as its subscribers read it) shows it is ready
// for them. The customer approves the design, the supplier accepts every
// offer and ships, the factory receives, reports every stage started and
// finished and passes QA, the carrier reports the shipment picked up, in
// transit, out for delivery and delivered, the customer confirms receipt, and
// the order completes when its warranty (benchWarranty) ends.
//
// An iteration of bare, the baseline, run first on the same dev server, is a
// BareJourney (journey_bench_bare_test.go): the same number of local
// activities and activities, doing nothing, of updates, sent by a client the
// same way, of child workflows and of timers, with the same warranty timer;
// its driver learns when to send the next update from a query (it has no
// timeline). Each line then
// reads the histories of the run, checks that every workflow did the same
// work and reports the activity retries per workflow (a retry is an attempt
// that failed or timed out: a stall in the figures). The journey line checks
// that an order did a BareJourney's work, and reports that work per order and
// its rate as a ratio of bare's (x-of-bare).
//
// Both keep bench.concurrency orders (or BareJourneys) in flight. Everything
// shares this machine's cores (the parties, the worker, the dev server,
// Postgres, Redis): on a busy machine repeat with -count and read the spread.
func BenchmarkCompletedOrders(b *testing.B) {
	j := newBenchJourney(b)
	bare := j.bareDriver(b)
	// What bare measured, by GOMAXPROCS so that a ratio under -cpu compares
	// like with like, and the work of a BareJourney, to compare with an order's.
	bareRates := map[int]float64{}
	var bareWork benchCounts

	b.Run("bare", func(b *testing.B) {
		delete(bareRates, runtime.GOMAXPROCS(0)) // a failed run leaves no rate behind
		r, lat, ids := benchPool(b, *benchConcurrency, bare.run)
		b.ReportMetric(r, "workflows/s")
		b.ReportMetric(lat.Seconds(), "s/workflow")
		work, all, timers, retries := runWork(b, j.p.Temporal, ids)
		b.ReportMetric(float64(all.Tasks)/float64(len(ids)), "workflow-tasks/workflow")
		b.ReportMetric(timers, "timers/workflow")
		b.ReportMetric(retries, "activity-retries/workflow")
		bareRates[runtime.GOMAXPROCS(0)], bareWork = r, work
	})

	b.Run("journey", func(b *testing.B) {
		updateLatency.reset()
		r, lat, ids := benchPool(b, *benchConcurrency, j.order)
		updateLatency.report(b)
		b.ReportMetric(r, "orders/s")
		b.ReportMetric(lat.Seconds(), "s/order")
		work, all, timers, retries := runWork(b, j.p.Temporal, ids)
		b.ReportMetric(float64(work.Activities), "activities/order")
		b.ReportMetric(float64(work.Local), "local-activities/order")
		b.ReportMetric(float64(all.Tasks)/float64(len(ids)), "workflow-tasks/order")
		b.ReportMetric(float64(work.Updates), "updates/order")
		b.ReportMetric(float64(work.Children), "children/order")
		b.ReportMetric(timers, "timers/order")
		b.ReportMetric(retries, "activity-retries/order")
		// The activities and the parties share one pool (pgxpool's default
		// size is the larger of 4 and the number of CPUs; pool_max_conns in
		// DATABASE_URL sets it): with retries, look at its size first.
		b.Logf("Postgres pool of at most %d connections; %d orders in flight", j.p.DB.Config().MaxConns, *benchConcurrency)
		base := bareRates[runtime.GOMAXPROCS(0)]
		if base == 0 {
			b.Log("no x-of-bare ratio: run the bare sub-benchmark in the same run")
			return
		}
		if !work.same(bareWork) {
			b.Fatalf("a BareJourney did not do an order's Temporal work: an order %+v, a BareJourney %+v; make bareScript follow the workflows again", work, bareWork)
		}
		b.ReportMetric(r/base, "x-of-bare")
	})
}

// runWork reads the work of every workflow of a run from their histories:
// it fails the benchmark unless they all did the same, and returns that work
// with the timers and activity retries per workflow (a retry is an attempt
// that failed or timed out and was made again: a stall in the figures).
func runWork(b *testing.B, c client.Client, ids []string) (work, all benchCounts, timers, retries float64) {
	b.Helper()
	if b.Failed() || len(ids) == 0 {
		b.FailNow()
	}
	ctx, cancel := context.WithTimeout(context.Background(), benchOrderWait)
	defer cancel()
	for i, id := range ids {
		n, err := countHistory(ctx, c, id)
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			work = n
		} else if !n.same(work) {
			b.Fatalf("%s did other work than %s: %+v, not %+v", id, ids[0], n, work)
		}
		all.add(n)
	}
	return work, all, float64(all.Timers) / float64(len(ids)), float64(all.Retries) / float64(len(ids))
}

var benchConcurrency = flag.Int("bench.concurrency", 8,
	"orders (or BareJourneys) in flight at once in BenchmarkCompletedOrders")

const (
	// benchWarranty is the order's warranty: the one timer that fires, so
	// the shortest time an order takes from delivery to completion.
	benchWarranty = time.Second
	// benchTimeout is every other duration of the order (design approval,
	// offer SLA, automatic receipt): long enough never to lapse, so that
	// the parties always decide and every journey does the same work.
	benchTimeout = time.Minute
	// benchOrderWait bounds one order's journey, every wait in it included.
	benchOrderWait = 2 * time.Minute
	// benchPollEvery is how often a party looks whether the order is ready
	// for its next step.
	benchPollEvery = 20 * time.Millisecond
	// benchCountry is the destination of the orders: a lane to it is
	// declared by the benchmark's carrier alone (checked in setup).
	benchCountry = "IS"
	// benchTemplate has the fewest BOM lines of the seed templates with its
	// defaults: 4 materials and 5 routing stages (AC-SPLIT has 9 and 7).
	benchTemplate = "FLANGE-CNC"
	// benchFactoryMinutes is the factory's capacity, just under what the
	// gateway's journey test takes for a competitor of its own factory.
	benchFactoryMinutes = production.MaxMinutesPerDay - 1
)

// benchJourney is the benchmark's stack: the order worker on a private queue,
// the template, and the parties with their declarations.
type benchJourney struct {
	p      *platform.Platform
	queue  string
	prefix string       // of idempotency keys
	placed atomic.Int64 // numbers them

	tmpl catalog.Stored
	wf   *workflows.Client // on queue
	// stopWorker stops the journey's worker; midway, when set, runs in an
	// order's journey after its first stage report.
	stopWorker func()
	midway     func()
	lines      int   // BOM lines of the configuration, one Sourcing each
	stages     []int // routing stage numbers
	in         workflows.OrderInput

	customer, supplier, factory, carrier identity.Account
	// The parties' principals, as the gateway authenticates their tokens.
	asCustomer, asFactory, asCarrier *identity.Principal
}

// newBenchJourney prepares the journeys: the template and its
// configuration, the parties and their declarations, and the order worker.
func newBenchJourney(b testing.TB) *benchJourney {
	b.Helper()
	return newBenchJourneyOn(b, func(w worker.Worker, p *platform.Platform) { workflows.Register(w, p.Activities()) })
}

// newBenchJourneyOn is newBenchJourney with the journey's worker registered
// by register.
func newBenchJourneyOn(b testing.TB, register func(worker.Worker, *platform.Platform)) *benchJourney {
	b.Helper()
	p := testenv.Platform(b)
	ctx := context.Background()
	if err := p.Catalog.EnsureSeeded(ctx, catalog.SeedTemplates()); err != nil {
		b.Fatal(err)
	}
	page, err := p.Catalog.Latest(ctx, 50, "")
	if err != nil {
		b.Fatal(err)
	}
	i := slices.IndexFunc(page.Items, func(s catalog.Stored) bool { return s.Code == benchTemplate })
	if i < 0 {
		b.Fatalf("template %s not seeded", benchTemplate)
	}
	q := "bench-journey-" + testenv.Suffix()
	j := &benchJourney{
		p: p, queue: q, wf: workflows.NewClient(p.Temporal, q), prefix: "bench-journey-" + testenv.Suffix() + "-", tmpl: page.Items[i],
		in: workflows.OrderInput{DesignApprovalTimeout: benchTimeout, OfferTimeout: benchTimeout, AutoConfirmAfter: benchTimeout, Warranty: benchWarranty},
	}
	conf := catalog.Configure(j.tmpl.Template, nil, 1)
	if !conf.Valid {
		b.Fatalf("%s with its defaults: %+v", benchTemplate, conf.Violations)
	}
	for _, l := range conf.BOM {
		if l.Quantity.IsPositive() {
			j.lines++
		}
	}
	for _, s := range conf.Routing {
		j.stages = append(j.stages, s.Seq)
	}

	j.customer = testenv.Account(b, p, identity.KindCustomer, identity.RoleMember)
	j.supplier = testenv.Account(b, p, identity.KindSupplier, identity.RoleMember)
	j.factory = testenv.Account(b, p, identity.KindFactory, identity.RoleMember)
	j.carrier = testenv.Account(b, p, identity.KindCarrier, identity.RoleMember)
	for _, a := range []struct {
		acc identity.Account
		to  **identity.Principal
	}{{j.customer, &j.asCustomer}, {j.factory, &j.asFactory}, {j.carrier, &j.asCarrier}} {
		if *a.to, err = p.Identity.Authenticate(ctx, a.acc.Secret); err != nil {
			b.Fatal(err)
		}
	}
	j.declare(b, conf)

	w := worker.New(p.Temporal, j.queue, workflows.WorkerOptions(worker.Options{WorkerStopTimeout: 10 * time.Second}))
	register(w, p)
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	var stopped atomic.Bool
	j.stopWorker = func() {
		if !stopped.Swap(true) {
			w.Stop()
		}
	}
	b.Cleanup(j.stopWorker)
	return j
}

// declare makes the benchmark's supplier, factory and carrier the ones the
// platform picks for its orders, and takes the declarations back when the
// benchmark ends. The stack is shared: it first checks that nobody else
// declared what would compete, and skips, saying what to remove, if so.
func (j *benchJourney) declare(b testing.TB, conf catalog.Result) {
	b.Helper()
	ctx := context.Background()
	var materials []string
	for _, l := range conf.BOM {
		materials = append(materials, l.Material)
	}
	kinds := map[catalog.WorkCentreKind]bool{}
	for _, s := range conf.Routing {
		kinds[s.WorkCentreKind] = true
	}
	kindList := make([]string, 0, len(kinds))
	for k := range kinds {
		kindList = append(kindList, string(k))
	}
	slices.Sort(kindList)

	var competing int
	if err := j.p.DB.QueryRow(ctx, `SELECT count(*) FROM supplier_capabilities WHERE material = ANY($1) AND max_quantity > 0`, materials).Scan(&competing); err != nil {
		b.Fatal(err)
	}
	if competing > 0 {
		b.Skipf("%d supplier capabilities for the %s materials exist on this stack and would compete for the offers (left by an interrupted run?). "+
			"Remove them: DELETE FROM supplier_capabilities WHERE material IN ('%s')", competing, benchTemplate, strings.Join(materials, "', '"))
	}
	// Only a factory that runs every kind, with about as much capacity, can
	// win an assignment over the benchmark's.
	if err := j.p.DB.QueryRow(ctx, `SELECT count(*) FROM (SELECT factory_id FROM factory_capabilities
		WHERE work_centre_kind = ANY($1) AND minutes_per_day >= $2 GROUP BY factory_id HAVING count(*) = $3) f`,
		kindList, benchFactoryMinutes-100_000, len(kindList)).Scan(&competing); err != nil {
		b.Fatal(err)
	}
	if competing > 0 {
		b.Skipf("%d factories on this stack run all of %s with about a thousand machines and would compete for the orders. "+
			"Remove them: DELETE FROM factory_capabilities WHERE work_centre_kind IN ('%s') AND minutes_per_day >= %d",
			competing, strings.Join(kindList, ", "), strings.Join(kindList, "', '"), benchFactoryMinutes-100_000)
	}
	if err := j.p.DB.QueryRow(ctx, `SELECT count(*) FROM carrier_lanes WHERE country = $1 AND currency = $2`, benchCountry, j.tmpl.Currency).Scan(&competing); err != nil {
		b.Fatal(err)
	}
	if competing > 0 {
		b.Skipf("%d lanes to %s in %s exist on this stack and would compete for the shipments. "+
			"Remove them: DELETE FROM carrier_lanes WHERE country = '%s' AND currency = '%s'", competing, benchCountry, j.tmpl.Currency, benchCountry, j.tmpl.Currency)
	}

	b.Cleanup(func() {
		ctx := context.Background()
		if _, err := j.p.DB.Exec(ctx, `DELETE FROM supplier_capabilities WHERE supplier_id = $1`, j.supplier.Enterprise.ID); err != nil {
			b.Errorf("take back the supplier's capabilities: %v", err)
		}
		for k := range kinds {
			if _, err := j.p.Production.SetCapability(ctx, identity.System, j.factory.Enterprise.ID, k, 0); err != nil {
				b.Errorf("take back the factory's %s: %v", k, err)
			}
		}
		if err := j.p.Logistics.RemoveLane(ctx, identity.System, j.carrier.Enterprise.ID, benchCountry); err != nil {
			b.Errorf("take back the carrier's lane: %v", err)
		}
	})
	for _, m := range materials {
		if _, err := j.p.Procurement.SetCapability(ctx, identity.System, j.supplier.Enterprise.ID, m,
			decimal.RequireFromString("10.00"), j.tmpl.Currency, 0, decimal.NewFromInt(1_000_000)); err != nil {
			b.Fatal(err)
		}
	}
	for k := range kinds {
		if _, err := j.p.Production.SetCapability(ctx, identity.System, j.factory.Enterprise.ID, k, benchFactoryMinutes); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := j.p.Logistics.SetLane(ctx, identity.System, logistics.Lane{
		CarrierID: j.carrier.Enterprise.ID, Country: benchCountry, Price: decimal.RequireFromString("0.01"), Currency: j.tmpl.Currency,
	}); err != nil {
		b.Fatal(err)
	}
}

// order plays one order's journey from placement to completion and returns
// its workflow's id. On failure the workflow, if any, is terminated.
func (j *benchJourney) order(ctx context.Context) (wfID string, err error) {
	o, _, err := j.p.Orders.Place(ctx, j.asCustomer, orders.PlaceInput{
		IdempotencyKey: fmt.Sprintf("%s%d", j.prefix, j.placed.Add(1)), TemplateID: &j.tmpl.UUID, Quantity: 1,
		ShippingAddress: orders.Address{Recipient: "Jón Jónsson", Line1: "Laugavegur 1", City: "Reykjavík", PostalCode: "101", Country: benchCountry},
	})
	if err != nil {
		return "", fmt.Errorf("place: %w", err)
	}
	orderID := o.ID.String()
	wfID = workflows.OrderWorkflowID(orderID)
	in := j.in
	in.OrderID = orderID
	if err := j.wf.StartOrder(ctx, in); err != nil {
		return wfID, fmt.Errorf("start %s: %w", wfID, err)
	}
	defer func() {
		if err != nil {
			err = terminateAfter(j.p.Temporal, wfID, err)
		}
	}()
	wf := j.wf
	// The parties follow the order's timeline, as its subscribers do (the
	// orderEvents subscription replays it from Postgres the same way).
	tl := &timeline{p: j.p, id: o.ID, seen: map[string]orders.Event{}}

	// The customer approves the design once it awaits approval.
	if _, err := tl.await(ctx, orders.EventDesignReady); err != nil {
		return wfID, err
	}
	if err := timed(workflows.UpdateApproveDesign, func() error {
		_, err := wf.ApproveDesign(ctx, orderID, workflows.ApproveDesign{ActorID: j.customer.User.ID.String()})
		return err
	}); err != nil {
		return wfID, err
	}

	// The supplier takes every offer and ships it, the factory receives it.
	promised := time.Now().UTC().Add(7 * 24 * time.Hour)
	done := map[int]bool{}
	if err := benchPoll(ctx, benchPollEvery, fmt.Sprintf("%s: all %d materials offered", wfID, j.lines), func() (bool, error) {
		tasks, err := j.p.Procurement.OrderTasks(ctx, o.ID)
		if err != nil {
			return false, err
		}
		for _, t := range tasks {
			if t.Status != procurement.StatusOffered || done[t.Line] {
				continue
			}
			if t.SupplierID != j.supplier.Enterprise.ID {
				return false, fmt.Errorf("%s offered to supplier %s, not the benchmark's: another supplier of %s competes", t.Material, t.SupplierID, t.Material)
			}
			if err := j.source(ctx, orderID, t, promised); err != nil {
				return false, err
			}
			done[t.Line] = true
		}
		return len(done) == j.lines, nil
	}); err != nil {
		return wfID, err
	}

	// The factory reports every stage and QA once production starts.
	if _, err := tl.await(ctx, orders.EventProcured); err != nil {
		return wfID, err
	}
	if f := tl.data(orders.EventProductionAssigned, "factoryId"); f != j.factory.Enterprise.ID.String() {
		return wfID, fmt.Errorf("%s assigned to factory %s, not the benchmark's: another factory competes", wfID, f)
	}
	for _, seq := range j.stages {
		for _, finished := range []bool{false, true} {
			r := workflows.StageReport{Principal: *j.asFactory, Seq: seq, Finished: finished}
			if finished {
				r.Good = 1
			}
			if err := timed(workflows.UpdateReportStage, func() error { _, err := wf.ReportStage(ctx, orderID, r); return err }); err != nil {
				return wfID, err
			}
			if j.midway != nil && seq == j.stages[0] && !finished {
				j.midway()
			}
		}
	}
	if err := timed(workflows.UpdateRecordQA, func() error {
		_, err := wf.RecordQA(ctx, orderID, workflows.QAVerdict{Principal: *j.asFactory, Passed: true, Notes: "dimensions and faces in tolerance"})
		return err
	}); err != nil {
		return wfID, err
	}

	// The carrier reports the shipment once it is booked; the customer confirms receipt.
	if _, err := tl.await(ctx, orders.EventShipmentBooked); err != nil {
		return wfID, err
	}
	if c := tl.data(orders.EventShipmentBooked, "carrierId"); c != j.carrier.Enterprise.ID.String() {
		return wfID, fmt.Errorf("%s shipped by carrier %s, not the benchmark's: another lane to %s competes", wfID, c, benchCountry)
	}
	for _, r := range []workflows.TrackingReport{
		{Kind: logistics.StatusPickedUp, Location: "Hafnarfjörður plant"},
		{Kind: logistics.StatusInTransit, Location: "Reykjavík hub"},
		{Kind: logistics.StatusOutForDelivery, Location: "Reykjavík 101"},
		{Kind: logistics.StatusDelivered, ReceivedBy: "Jón Jónsson", SignatureRef: "sig-" + orderID},
	} {
		r.Principal = *j.asCarrier
		if err := timed(workflows.UpdateTrackShipment, func() error { _, err := wf.TrackShipment(ctx, orderID, r); return err }); err != nil {
			return wfID, err
		}
	}
	if err := timed(workflows.UpdateConfirmDelivery, func() error {
		_, err := wf.ConfirmDelivery(ctx, orderID, workflows.ConfirmDelivery{Principal: *j.asCustomer})
		return err
	}); err != nil {
		return wfID, err
	}

	// The order completes when its warranty ends.
	if err := wf.AwaitOrder(ctx, orderID); err != nil {
		return wfID, fmt.Errorf("%s did not complete: %w", wfID, err)
	}
	return wfID, nil
}

// source plays one BOM line's offer: the supplier accepts all of it and
// ships it, and the factory confirms it received.
func (j *benchJourney) source(ctx context.Context, orderID string, t procurement.Task, promised time.Time) error {
	wf := j.wf
	if err := timed(workflows.UpdateAcceptOffer, func() error {
		_, err := wf.AcceptOffer(ctx, orderID, t.Line, workflows.AcceptOffer{
			TaskID: t.ID.String(), ActorID: j.supplier.User.ID.String(), ActorEnterpriseID: j.supplier.Enterprise.ID.String(),
			UnitPrice: decimal.RequireFromString("10.00"), Quantity: t.Quantity, PromisedDate: promised,
		})
		return err
	}); err != nil {
		return err
	}
	if err := timed(workflows.UpdateReportShipment, func() error {
		_, err := wf.ReportShipment(ctx, orderID, t.Line, workflows.ReportShipment{
			TaskID: t.ID.String(), ActorID: j.supplier.User.ID.String(), ActorEnterpriseID: j.supplier.Enterprise.ID.String(), Quantity: t.Quantity,
		})
		return err
	}); err != nil {
		return err
	}
	return timed(workflows.UpdateConfirmReceipt, func() error {
		_, err := wf.ConfirmReceipt(ctx, orderID, t.Line, workflows.ConfirmReceipt{
			TaskID: t.ID.String(), ActorID: j.factory.User.ID.String(), ActorEnterpriseID: j.factory.Enterprise.ID.String(), Quantity: t.Quantity,
		})
		return err
	})
}

// timeline is an order's timeline as a party follows it: read from Postgres
// after the last event seen.
type timeline struct {
	p    *platform.Platform
	id   uuid.UUID
	last int64
	seen map[string]orders.Event // the latest event of each type
}

// await reads the timeline until an event of type typ is in it.
func (t *timeline) await(ctx context.Context, typ string) (orders.Event, error) {
	err := benchPoll(ctx, benchPollEvery, fmt.Sprintf("order %s: %s", t.id, typ), func() (bool, error) {
		if _, ok := t.seen[typ]; ok {
			return true, nil
		}
		evs, err := t.p.Orders.Events(ctx, t.id, t.last, 100)
		for _, e := range evs {
			t.seen[e.Type], t.last = e, e.Seq
		}
		_, ok := t.seen[typ]
		return ok, err
	})
	return t.seen[typ], err
}

// data is field of the latest event of type typ, as a string.
func (t *timeline) data(typ, field string) string {
	var d map[string]any
	if err := json.Unmarshal(t.seen[typ].Data, &d); err != nil {
		return ""
	}
	v, _ := d[field].(string)
	return v
}

// bareDriver returns the baseline's driver, with BareJourney's worker on a
// queue of its own, running until the benchmark ends.
func (j *benchJourney) bareDriver(b *testing.B) *bareDriver {
	b.Helper()
	d := &bareDriver{c: j.p.Temporal, queue: "bench-bare-" + testenv.Suffix(), poll: benchPollEvery,
		in: bareScript(j.lines, len(j.stages), j.in), prefix: "bench-bare/" + testenv.Suffix() + "/"}
	w := worker.New(j.p.Temporal, d.queue, worker.Options{WorkerStopTimeout: 10 * time.Second})
	registerBare(w)
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(w.Stop)
	return d
}

// benchPool runs b.N journeys, concurrency at a time, each under
// benchOrderWait, and returns their rate, their mean duration and their
// workflow ids. The first failure is reported and cancels the journeys in
// flight (which terminate their workflows).
func benchPool(b *testing.B, concurrency int, one func(context.Context) (string, error)) (rate float64, mean time.Duration, ids []string) {
	run, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	var next, took atomic.Int64
	var failed atomic.Bool
	var mu sync.Mutex
	var wg sync.WaitGroup
	b.ResetTimer()
	for range max(1, min(concurrency, b.N)) {
		wg.Go(func() {
			for !failed.Load() && next.Add(1) <= int64(b.N) {
				ctx, cancel := context.WithTimeout(run, benchOrderWait)
				t0 := time.Now()
				id, err := one(ctx)
				took.Add(int64(time.Since(t0)))
				cancel()
				if err != nil {
					if !failed.Swap(true) {
						b.Error(err)
						cancelRun()
					}
					return
				}
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	return float64(b.N) / b.Elapsed().Seconds(), time.Duration(took.Load() / int64(b.N)), ids
}

// benchPoll calls ready every interval until it reports true or an error,
// or until ctx ends.
func benchPoll(ctx context.Context, every time.Duration, what string, ready func() (bool, error)) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		ok, err := ready()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not in time: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}

// updateLatency holds how long each update of the journeys took, from the
// request to the answer, by update name: the latency a party sees for its
// action, less the gateway.
var updateLatency latencies

type latencies struct {
	mu sync.Mutex
	by map[string][]time.Duration
}

func (l *latencies) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.by = map[string][]time.Duration{}
}

func (l *latencies) add(name string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.by != nil {
		l.by[name] = append(l.by[name], d)
	}
}

// report logs p50, p99 and max per update and reports p50 and p99 of all.
func (l *latencies) report(b *testing.B) {
	l.mu.Lock()
	defer l.mu.Unlock()
	pct := func(ds []time.Duration, p float64) time.Duration {
		return ds[min(len(ds)-1, int(p*float64(len(ds))))]
	}
	var all []time.Duration
	names := make([]string, 0, len(l.by))
	for name, ds := range l.by {
		slices.Sort(ds)
		all = append(all, ds...)
		names = append(names, name)
	}
	if len(all) == 0 {
		return
	}
	slices.Sort(names)
	for _, name := range names {
		ds := l.by[name]
		b.Logf("update %-20s n=%-5d p50 %6.1f ms  p99 %6.1f ms  max %6.1f ms", name, len(ds),
			ms(pct(ds, 0.5)), ms(pct(ds, 0.99)), ms(ds[len(ds)-1]))
	}
	slices.Sort(all)
	b.ReportMetric(ms(pct(all, 0.5)), "update-ms-p50")
	b.ReportMetric(ms(pct(all, 0.99)), "update-ms-p99")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// timed runs one update through the typed client and records its latency.
func timed(name string, send func() error) error {
	t0 := time.Now()
	err := send()
	updateLatency.add(name, time.Since(t0))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
