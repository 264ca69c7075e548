package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/masscustom/orchestrator/gateway/server"
	"github.com/masscustom/orchestrator/graph"
	"github.com/masscustom/orchestrator/internal/platform"
	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/workflows"
	"github.com/masscustom/orchestrator/workflows/activities"
)

// Benchmarks of the gateway on the real test stack. Like the tests they skip
// without the stack, and like every benchmark they run only under -bench:
//
//	go test -run '^$' -bench . -benchtime 3s ./gateway/server/
//	go test -run '^$' -bench . ./gateway/server/ -args -bench.parallelism=16
//
// In each benchmark the baselines run first, against the same stack, and the
// gateway's line carries the ratios (x-of-<baseline> = gateway rate / baseline
// rate), so a reader never compares figures from different runs or machines.
// Everything shares this machine's cores (the benchmark's HTTP client, the
// gateway, the worker, the Temporal dev server, Postgres, Redis, and whatever
// else runs), so on a busy machine repeat with -count and read the spread.

var benchParallelism = flag.Int("bench.parallelism", 4,
	"goroutines per GOMAXPROCS issuing requests in the gateway benchmarks (b.SetParallelism)")

// benchStack is a gateway whose orders go to a private task queue, a customer
// with a token, and the AC-SPLIT template as the gateway names it and as it is
// stored.
type benchStack struct {
	p        *platform.Platform
	url      string
	http     *http.Client
	queue    string
	customer identity.Account
	tmplGID  string
	tmpl     catalog.Stored
	sel      []catalog.Selection // acSelections, decoded as the gateway decodes them
}

// newBenchStack builds what orderStack builds, for a *testing.B: the helpers in
// orders_test.go and server_test.go take a *testing.T.
func newBenchStack(b *testing.B) *benchStack {
	b.Helper()
	p := testenv.Platform(b)
	checkGoroutines(b)
	ctx := context.Background()
	s := &benchStack{p: p, queue: "bench-orders-" + testenv.Suffix()}
	cfg := p.Config
	cfg.TaskQueue, cfg.DesignApprovalTimeout = s.queue, time.Hour
	if err := p.Catalog.EnsureSeeded(ctx, catalog.SeedTemplates()); err != nil {
		b.Fatal(err)
	}
	metrics := server.NewMetrics()
	srv := httptest.NewServer(server.New(server.Deps{
		Config:   cfg,
		Resolver: graph.NewResolver(p, cfg, metrics.WorkflowStarts),
		Identity: p.Identity,
		Metrics:  metrics,
		Checks:   server.PlatformChecks(p),
	}))
	b.Cleanup(srv.Close)
	s.url = srv.URL + "/graphql"
	// Enough idle connections for every RunParallel goroutine: the default two
	// per host would make most requests dial.
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
	s.http = &http.Client{Transport: tr, Timeout: time.Minute}
	b.Cleanup(tr.CloseIdleConnections)

	s.customer = testenv.Account(b, p, identity.KindCustomer, identity.RoleMember)
	var list struct {
		Edges []struct{ Node struct{ ID, Code string } }
	}
	testenv.Client{URL: s.url, Token: s.customer.Secret}.
		Do(b, `{ productTemplates(first: 50) { edges { node { id code } } } }`, nil).Into(b, "productTemplates", &list)
	for _, e := range list.Edges {
		if e.Node.Code == "AC-SPLIT" {
			s.tmplGID = e.Node.ID
		}
	}
	_, tid, ok := graph.ParseGlobalID(s.tmplGID)
	if !ok {
		b.Fatalf("template AC-SPLIT not listed (got %q)", s.tmplGID)
	}
	var err error
	if s.tmpl, err = p.Catalog.Get(ctx, tid); err != nil {
		b.Fatal(err)
	}
	raw, _ := json.Marshal(acSelections)
	if err := json.Unmarshal(raw, &s.sel); err != nil {
		b.Fatal(err)
	}
	return s
}

// startWorker runs the order worker on the stack's queue until the benchmark ends.
func (s *benchStack) startWorker(b *testing.B) {
	// Stopping lets running activities finish instead of cancelling them.
	w := worker.New(s.p.Temporal, s.queue, workflows.WorkerOptions(worker.Options{WorkerStopTimeout: 10 * time.Second}))
	workflows.Register(w, &activities.Activities{Orders: s.p.Orders})
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(w.Stop)
}

// post sends one GraphQL request and decodes data.<field> into v. It reports
// errors instead of failing, so that RunParallel goroutines can call it.
func (s *benchStack) post(body []byte, field string, v any) error {
	req, err := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.customer.Secret)
	res, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	var out struct {
		Data   map[string]json.RawMessage
		Errors []any
	}
	if err := json.Unmarshal(raw, &out); err != nil || res.StatusCode != http.StatusOK || len(out.Errors) > 0 || out.Data[field] == nil {
		return fmt.Errorf("status %d: %s", res.StatusCode, raw)
	}
	return json.Unmarshal(out.Data[field], v)
}

// baselines holds the rate of each baseline sub-benchmark by name and
// GOMAXPROCS, so that a ratio under -cpu compares like with like.
type baselines map[string]float64

func (bl baselines) key(name string) string { return fmt.Sprintf("%s@%d", name, runtime.GOMAXPROCS(0)) }

func (bl baselines) set(name string, rate float64) { bl[bl.key(name)] = rate }

// ratio reports rate/baseline as unit on b's line; without the baseline in this
// run, it says why there is no ratio.
func (bl baselines) ratio(b *testing.B, rate float64, name, unit string) {
	base, ok := bl[bl.key(name)]
	if !ok || base == 0 {
		b.Logf("no %s ratio: run the %s sub-benchmark in the same run", unit, name)
		return
	}
	b.ReportMetric(rate/base, unit)
}

func rate(b *testing.B, unit string) float64 {
	r := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(r, unit)
	return r
}

// BenchmarkConfigureThroughGateway measures the configure query through the
// gateway (HTTP, auth, GraphQL, the template cache, JSON) against the same
// configuration computed by catalog.Configure directly, and by the orders
// service the resolver calls (authorization and template lookup on top).
func BenchmarkConfigureThroughGateway(b *testing.B) {
	s := newBenchStack(b)
	bl := baselines{}
	ctx := context.Background()

	b.Run("direct", func(b *testing.B) {
		b.SetParallelism(*benchParallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if res := catalog.Configure(s.tmpl.Template, s.sel, 2); !res.Valid {
					b.Errorf("invalid: %+v", res.Violations)
					return
				}
			}
		})
		b.StopTimer()
		bl.set("direct", rate(b, "configs/s"))
	})

	b.Run("service", func(b *testing.B) {
		p, err := s.p.Identity.Authenticate(ctx, s.customer.Secret)
		if err != nil {
			b.Fatal(err)
		}
		b.SetParallelism(*benchParallelism)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, res, err := s.p.Orders.Configure(ctx, p, s.tmpl.UUID, s.sel, 2)
				if err != nil || !res.Valid {
					b.Errorf("configure: %v %+v", err, res.Violations)
					return
				}
			}
		})
		b.StopTimer()
		bl.set("service", rate(b, "configs/s"))
	})

	b.Run("gateway", func(b *testing.B) {
		body, _ := json.Marshal(map[string]any{
			"query":     `query($in: ConfigureInput!) { configure(input: $in) { valid violations { code message } price { total currency } bom { material } routing { code } } }`,
			"variables": map[string]any{"in": map[string]any{"templateId": s.tmplGID, "selections": acSelections, "quantity": 2}},
		})
		b.SetParallelism(*benchParallelism)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				var got struct{ Valid bool }
				if err := s.post(body, "configure", &got); err != nil || !got.Valid {
					b.Errorf("configure: %v %+v", err, got)
					return
				}
			}
		})
		b.StopTimer()
		r := rate(b, "configs/s")
		bl.ratio(b, r, "direct", "x-of-direct")
		bl.ratio(b, r, "service", "x-of-service")
	})
}

// BenchmarkPlaceOrder measures how many orders per second the gateway accepts
// (placeOrder returned an order, so the order row is written and its workflow
// started), against what the two stores under it take on their own: a bare
// orders INSERT through the pool and a bare ExecuteWorkflow of the same
// workflow type on a queue that no worker polls. A worker runs on the gateway's
// queue meanwhile, as in production, and takes its share of the machine; the
// benchmark measures acceptance, not completion. %-reached-design is the share
// of the orders accepted in the measured loop whose workflow had brought them
// to DESIGN when the loop ended: far below 100, the acceptance rate is a burst
// that the worker does not sustain.
//
// The gateway's x-of-bare-start compares two loops run one after the other;
// gateway-vs-bare-start measures the same ratio with every goroutine
// alternating a placeOrder and a bare start, so that both see the same
// machine. Trust the second when the first drifts (a ratio above 1 is drift:
// the gateway does a start and more).
func BenchmarkPlaceOrder(b *testing.B) {
	s := newBenchStack(b)
	ctx := context.Background()
	// What the runs leave is removed once every run is over, not between runs,
	// where the server's work of terminating would slow the next measurement.
	// Registered before the worker starts, so that it runs after it has stopped.
	var started workflowIDs
	insertPrefix := "bench-insert-" + testenv.Suffix() + "-"
	b.Cleanup(func() {
		started.terminate(b, s.p.Temporal)
		if _, err := s.p.DB.Exec(ctx, `DELETE FROM orders WHERE customer_id = $1 AND idempotency_key LIKE $2`, s.customer.Enterprise.ID, insertPrefix+"%"); err != nil {
			b.Error(err)
		}
	})
	s.startWorker(b)
	bl := baselines{}

	b.Run("bare-pgx-insert", func(b *testing.B) {
		// The row placeOrder writes: same statement, same payload sizes.
		res := catalog.Configure(s.tmpl.Template, s.sel, 1)
		selRaw, _ := json.Marshal(res.Resolved)
		addrRaw, _ := json.Marshal(address)
		resRaw, _ := json.Marshal(res)
		prefix := insertPrefix + testenv.Suffix() + "-"
		var seq atomic.Int64
		b.SetParallelism(*benchParallelism)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, err := s.p.DB.Exec(ctx, `INSERT INTO orders (id, customer_id, placed_by, idempotency_key, template_id, quote_id, selections, quantity,
					shipping_address, result, total, currency, status, stage)
					VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,'ACTIVE','INTERACTION') ON CONFLICT (id) DO NOTHING`,
					uuid.New(), s.customer.Enterprise.ID, s.customer.User.ID, prefix+strconv.FormatInt(seq.Add(1), 10), s.tmpl.UUID, nil,
					selRaw, 1, addrRaw, resRaw, res.Price.Total, res.Price.Currency)
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.StopTimer()
		bl.set("bare-pgx-insert", rate(b, "orders/s"))
	})

	b.Run("bare-execute-workflow", func(b *testing.B) {
		start := s.starter("bench-noworker-" + testenv.Suffix())
		var ids workflowIDs
		b.SetParallelism(*benchParallelism)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			var mine []string
			defer func() { ids.add(mine...) }()
			for pb.Next() {
				id, err := start()
				if err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, id)
			}
		})
		b.StopTimer()
		bl.set("bare-execute-workflow", rate(b, "orders/s"))
		started.add(ids.take()...)
	})

	b.Run("gateway", func(b *testing.B) {
		prefix := "bench-" + testenv.Suffix() + "-"
		place := s.placer(prefix)
		var ids workflowIDs
		b.SetParallelism(*benchParallelism)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			var mine []string
			defer func() { ids.add(mine...) }()
			for pb.Next() {
				id, err := place()
				if err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, id)
			}
		})
		b.StopTimer()
		r := rate(b, "orders/s")
		bl.ratio(b, r, "bare-execute-workflow", "x-of-bare-start")
		bl.ratio(b, r, "bare-pgx-insert", "x-of-bare-insert")

		var reached int
		if err := s.p.DB.QueryRow(ctx, `SELECT count(*) FROM orders WHERE customer_id = $1 AND idempotency_key LIKE $2 AND stage <> 'INTERACTION'`,
			s.customer.Enterprise.ID, prefix+"%").Scan(&reached); err != nil {
			b.Error(err)
		}
		b.ReportMetric(100*float64(reached)/float64(b.N), "%-reached-design")
		accepted := ids.take()
		// Accepted means started: the resolver returns no order when the start fails.
		if len(accepted) > 0 {
			if _, err := s.p.Temporal.DescribeWorkflowExecution(ctx, accepted[len(accepted)-1], ""); err != nil {
				b.Errorf("accepted order's workflow: %v", err)
			}
		}
		started.add(accepted...)
	})

	b.Run("gateway-vs-bare-start", func(b *testing.B) {
		// Each iteration is one of each; with the goroutines always busy, the
		// ratio of their throughputs is the inverse ratio of their mean times.
		place := s.placer("bench-" + testenv.Suffix() + "-")
		start := s.starter("bench-noworker-" + testenv.Suffix())
		var ids workflowIDs
		var placing, starting atomic.Int64 // nanoseconds
		b.SetParallelism(*benchParallelism)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			var mine []string
			defer func() { ids.add(mine...) }()
			for i := 0; pb.Next(); i++ {
				// Alternate which goes first, so neither always follows the other.
				first, second, firstNanos, secondNanos := place, start, &placing, &starting
				if i%2 == 1 {
					first, second, firstNanos, secondNanos = start, place, &starting, &placing
				}
				t0 := time.Now()
				a, err := first()
				t1 := time.Now()
				if err == nil {
					var c string
					c, err = second()
					secondNanos.Add(int64(time.Since(t1)))
					mine = append(mine, a, c)
				}
				firstNanos.Add(int64(t1.Sub(t0)))
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.StopTimer()
		n := float64(b.N)
		b.ReportMetric(float64(placing.Load())/n/1e6, "ms/gateway-order")
		b.ReportMetric(float64(starting.Load())/n/1e6, "ms/bare-start")
		b.ReportMetric(float64(starting.Load())/float64(placing.Load()), "x-of-bare-start")
		started.add(ids.take()...)
	})
}

// placer returns a function that places one order through the gateway under a
// new idempotency key (prefix and a counter) and returns its workflow's id.
func (s *benchStack) placer(prefix string) func() (string, error) {
	// The body is the key spliced between two constant halves, so the client
	// spends as little of the shared CPU as it can.
	const query = `mutation($in: PlaceOrderInput!) { placeOrder(input: $in) { order { id } errors { code message } } }`
	in := map[string]any{"idempotencyKey": "KEY", "templateId": s.tmplGID, "selections": acSelections, "quantity": 1, "shippingAddress": address}
	whole, _ := json.Marshal(map[string]any{"query": query, "variables": map[string]any{"in": in}})
	head, tail, _ := bytes.Cut(whole, []byte(`"KEY"`))
	var seq atomic.Int64
	return func() (string, error) {
		body := make([]byte, 0, len(whole)+len(prefix)+24)
		body = append(append(body, head...), '"')
		body = strconv.AppendInt(append(body, prefix...), seq.Add(1), 10)
		body = append(append(body, '"'), tail...)
		var got struct {
			Order  *struct{ ID string }
			Errors []struct{ Code, Message string }
		}
		if err := s.post(body, "placeOrder", &got); err != nil {
			return "", err
		}
		if got.Order == nil {
			return "", fmt.Errorf("placeOrder refused: %+v", got.Errors)
		}
		_, id, _ := graph.ParseGlobalID(got.Order.ID)
		return workflows.OrderWorkflowID(id.String()), nil
	}
}

// starter returns a function that starts one order workflow with startOrder's
// options and input on queue, and returns its id. With no worker on the queue,
// only the start is measured.
func (s *benchStack) starter(queue string) func() (string, error) {
	return func() (string, error) {
		id := uuid.NewString()
		run, err := s.p.Temporal.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
			ID:                       workflows.OrderWorkflowID(id),
			TaskQueue:                queue,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
			WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		}, workflows.OrderWorkflow, workflows.OrderInput{OrderID: id, DesignApprovalTimeout: time.Hour})
		if err != nil {
			return "", err
		}
		return run.GetID(), nil
	}
}

// workflowIDs collects the workflows a benchmark started, to end them after it:
// the test stack is shared, and open workflows would keep timers and tasks.
type workflowIDs struct {
	mu  sync.Mutex
	ids []string
}

func (w *workflowIDs) add(ids ...string) {
	w.mu.Lock()
	w.ids = append(w.ids, ids...)
	w.mu.Unlock()
}

func (w *workflowIDs) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := w.ids
	w.ids = nil
	return ids
}

// terminate ends every collected workflow, a few at a time, and waits.
func (w *workflowIDs) terminate(b *testing.B, c client.Client) {
	ids := w.take()
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	next := make(chan string)
	var failed atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for id := range next {
				var done *serviceerror.NotFound // finished already
				if err := c.TerminateWorkflow(ctx, id, "", "benchmark finished"); err != nil && !errors.As(err, &done) {
					failed.Add(1)
				}
			}
		})
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
	b.Logf("terminated %d benchmark workflows in %s; %d could not be", len(ids), time.Since(t0).Round(time.Millisecond), failed.Load())
}

// checkGoroutines fails the benchmark if it leaves goroutines behind: it
// counts them now and, once every other cleanup has run, waits for the count
// to come back down.
func checkGoroutines(b *testing.B) {
	before := runtime.NumGoroutine()
	b.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				b.Errorf("%d goroutines left running (had %d):\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
