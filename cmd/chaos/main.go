// Command chaos runs `make load`'s order journeys while parts of the platform
// fail on a schedule, then checks from Postgres and Temporal that nothing was
// lost, repeated or left half done.
//
// It starts its own workers and gateways (bin/worker, bin/gateway, built by
// `make build`) against the dev stack in the environment (scripts/stack.sh env
// dev), so that it can kill and restart them: the worker is SIGKILLed, the
// gateway restarted, Postgres restarted, Redis stopped for 20 s and the
// Temporal dev server paused and resumed (scripts/stack.sh fault). Meanwhile a
// leased machine streams usage to POST /usage. The clients send every request
// again while it has no answer, under the same Idempotency-Key.
//
// Afterwards it prints a table of checks and exits 1 on any violation:
// every journey completed and its order's workflow is running or completed;
// one ORDER_PLACED and at most one ORDER_COMPLETED per order; timelines
// without a gap or a repeated sequence number; every subscriber saw each event
// once across its reconnects; the accepted usage sums to what was sent, once;
// one period invoice per contract period; every contract's ledger sums to zero;
// every delivered order's genealogy is whole.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/masscustom/orchestrator/graph"
	"github.com/masscustom/orchestrator/internal/journey"
	"github.com/masscustom/orchestrator/workflows"
)

func main() {
	journeys := flag.Int("journeys", 50, "order journeys to run")
	concurrency := flag.Int("concurrency", 16, "journeys in flight at once")
	gateways := flag.Int("gateways", 1, "gateways to run, on consecutive ports from HTTP_ADDR's")
	workers := flag.Int("workers", 1, "workers to run")
	every := flag.Duration("every", 15*time.Second, "time between two faults")
	redisDown := flag.Duration("redis-down", 20*time.Second, "how long Redis stays stopped")
	pause := flag.Duration("temporal-pause", 10*time.Second, "how long the Temporal dev server stays paused")
	timeout := flag.Duration("timeout", 30*time.Minute, "give up after this long")
	verbose := flag.Bool("v", false, "log the clients' retries to stderr")
	sla := flag.Duration("sla", 30*time.Second, "the suppliers' time to answer an offer on chaos's processes (ORDER_OFFER_TIMEOUT), short so that the journeys let offers lapse; 0 keeps the default and every offer is answered")
	flag.Parse()
	if *journeys < 1 || *concurrency < 1 || *gateways < 1 || *workers < 1 {
		fmt.Fprintln(os.Stderr, "chaos: -journeys, -concurrency, -gateways and -workers must be at least 1")
		os.Exit(2)
	}
	level := slog.LevelError
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	r, err := newRun(*gateways, *workers, *sla)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	defer r.stopAll()
	if err := r.startAll(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
	fmt.Printf("chaos: %d journeys at %d in flight over %d gateway(s) and %d worker(s); a fault every %s\n",
		*journeys, *concurrency, *gateways, *workers, *every)

	// Usage from a leased machine, all through the chaos.
	us := &journey.UsageStream{Base: r.bases[0], HTTP: r.http}
	if err := us.SetUp(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: setting up the leased machine:", err)
		os.Exit(1)
	}

	var (
		mu         sync.Mutex
		orders     []string
		failed     []string
		subscribed = map[string][3]int{}
		cancelled  = map[string]bool{}
		codes      = map[string]int{}
		done       atomic.Int64
	)
	cfg := journey.Config{Client: r.http, Log: log, Out: io.Discard, RetryFor: 3 * time.Minute,
		Observe: func(_ string, _ time.Duration, err error) {
			if err != nil {
				mu.Lock()
				codes[journey.ErrorCode(err)]++
				mu.Unlock()
			}
		},
		Followed: func(id string, delivered, repeated, reconnects int) {
			mu.Lock()
			subscribed[id] = [3]int{delivered, repeated, reconnects}
			mu.Unlock()
		}}
	start := time.Now()
	loadCtx, endLoad := context.WithCancel(ctx)
	faultsDone := make(chan []string)
	go func() { faultsDone <- r.faults(loadCtx, *every, *redisDown, *pause) }()
	usageDone := make(chan error, 1)
	go func() { usageDone <- us.Run(loadCtx) }()
	progress := time.NewTicker(10 * time.Second)
	go func() {
		for {
			select {
			case <-progress.C:
				fmt.Printf("  %5.0fs  %d/%d journeys done, %d usage events sent\n", time.Since(start).Seconds(), done.Load(), *journeys, us.Sent.Load())
			case <-loadCtx.Done():
				return
			}
		}
	}()
	journey.Many(ctx, cfg, r.bases, *journeys, *concurrency, func(i int, c *journey.Config) {
		journey.Vary(i, c)
		if *sla > 0 {
			c.MaxWait = *sla + 10*time.Second // supplier A lets one offer lapse
		}
	}, func(i int, c journey.Config, id string, _ int, err error) {
		mu.Lock()
		defer mu.Unlock()
		if id != "" {
			orders = append(orders, id)
			if c.CancelAt != "" {
				cancelled[id] = true
			}
		}
		if err != nil {
			failed = append(failed, fmt.Sprintf("journey %d (%s): %v", i, id, err))
		} else {
			done.Add(1)
		}
	})
	endLoad()
	progress.Stop()
	faults := <-faultsDone
	usageErr := <-usageDone
	elapsed := time.Since(start)
	fmt.Printf("\nthe load took %.0f s: %d of %d journeys completed (%.3f/s)\n", elapsed.Seconds(), done.Load(), *journeys, float64(done.Load())/elapsed.Seconds())
	fmt.Println("faults:")
	for _, f := range faults {
		fmt.Println("  " + f)
	}
	if len(codes) > 0 {
		fmt.Print("answers without an outcome or refusals, before retries: ")
		for _, k := range slices.Sorted(maps.Keys(codes)) {
			fmt.Printf("%s %d  ", k, codes[k])
		}
		fmt.Println()
	}

	// The platform has to be whole again before it is checked.
	if err := r.waitReady(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: the platform did not come back:", err)
		os.Exit(1)
	}
	checks := r.check(ctx, orders, cancelled, failed, subscribed, us, usageErr)
	fmt.Println("\nchecks:")
	bad := 0
	for _, c := range checks {
		mark := "ok  "
		if !c.ok {
			mark, bad = "FAIL", bad+1
		}
		fmt.Printf("  %s  %-62s %s\n", mark, c.name, c.detail)
	}
	if bad > 0 {
		fmt.Printf("\nchaos: %d of %d checks failed\n", bad, len(checks))
		r.stopAll()
		os.Exit(1)
	}
	fmt.Printf("\nchaos: all %d checks passed\n", len(checks))
}

// proc is one binary chaos runs and restarts.
type proc struct {
	name string
	bin  string
	env  []string
	log  *os.File
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *proc) start() error {
	cmd := exec.Command(p.bin)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches chaos only, which stops them in order
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(p.done)
	return nil
}

// signal sends sig and waits (up to 30 s) for the process to end.
func (p *proc) signal(sig syscall.Signal) {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
}

type run struct {
	repo     string
	gateways []*proc
	workers  []*proc
	bases    []string
	http     *http.Client
	mu       sync.Mutex // one fault at a time against the processes
}

func newRun(gateways, workers int, sla time.Duration) (*run, error) {
	repo, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	for _, v := range []string{"DATABASE_URL", "REDIS_URL", "TEMPORAL_ADDRESS"} {
		if os.Getenv(v) == "" {
			return nil, fmt.Errorf("%s is not set: run it as `make chaos` (which starts the dev stack and sets its environment)", v)
		}
	}
	addr := os.Getenv("HTTP_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8180"
	}
	host, port, err := net.SplitHostPort(addr)
	first, perr := strconv.Atoi(port)
	if err != nil || perr != nil {
		return nil, fmt.Errorf("HTTP_ADDR=%q is not host:port", addr)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	logs := filepath.Join(repo, ".data", "log")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return nil, err
	}
	var extra []string
	if sla > 0 {
		extra = append(extra, "ORDER_OFFER_TIMEOUT="+sla.String())
	}
	r := &run{repo: repo, http: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxIdleConns: 128}}}
	open := func(name string) (*os.File, error) {
		return os.OpenFile(filepath.Join(logs, "chaos-"+name+".log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	}
	for g := range gateways {
		name := fmt.Sprintf("gateway-%d", g+1)
		f, err := open(name)
		if err != nil {
			return nil, err
		}
		hp := net.JoinHostPort(host, strconv.Itoa(first+g))
		r.gateways = append(r.gateways, &proc{name: name, bin: filepath.Join(repo, "bin", "gateway"), env: append([]string{"HTTP_ADDR=" + hp}, extra...), log: f})
		r.bases = append(r.bases, "http://"+hp)
	}
	for w := range workers {
		name := fmt.Sprintf("worker-%d", w+1)
		f, err := open(name)
		if err != nil {
			return nil, err
		}
		hp := net.JoinHostPort(host, strconv.Itoa(first+gateways+w))
		r.workers = append(r.workers, &proc{name: name, bin: filepath.Join(repo, "bin", "worker"), env: append([]string{"WORKER_HTTP_ADDR=" + hp}, extra...), log: f})
	}
	return r, nil
}

func (r *run) startAll(ctx context.Context) error {
	for _, p := range append(append([]*proc{}, r.workers...), r.gateways...) {
		if err := p.start(); err != nil {
			return err
		}
	}
	return r.waitReady(ctx)
}

// waitReady waits until every gateway answers /readyz with 200.
func (r *run) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(2 * time.Minute)
	for _, b := range r.bases {
		for {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b+"/readyz", nil)
			res, err := r.http.Do(req)
			if err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("%s/readyz does not answer 200 (%v)", b, err)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	return nil
}

func (r *run) stopAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range append(append([]*proc{}, r.gateways...), r.workers...) {
		p.signal(syscall.SIGTERM)
	}
}

// fault runs scripts/stack.sh fault dev action.
func (r *run) fault(ctx context.Context, action string) error {
	out, err := exec.CommandContext(ctx, filepath.Join(r.repo, "scripts", "stack.sh"), "fault", "dev", action).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", action, err, bytes.TrimSpace(out))
	}
	return nil
}

// faults injects one fault every period until ctx ends, in turn: kill a
// worker, restart a gateway, restart Postgres, stop Redis, pause Temporal. It
// returns what it did, when.
func (r *run) faults(ctx context.Context, every, redisDown, pause time.Duration) []string {
	var did []string
	start := time.Now()
	note := func(format string, a ...any) {
		did = append(did, fmt.Sprintf("%5.0fs  ", time.Since(start).Seconds())+fmt.Sprintf(format, a...))
	}
	sleep := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	for n := 0; ; n++ {
		if !sleep(every) {
			return did
		}
		r.mu.Lock()
		switch n % 5 {
		case 0:
			w := r.workers[(n/5)%len(r.workers)]
			w.signal(syscall.SIGKILL)
			note("%s SIGKILLed", w.name)
			r.mu.Unlock()
			sleep(2 * time.Second)
			r.mu.Lock()
			if err := w.start(); err != nil {
				note("%s did not start again: %v", w.name, err)
			} else {
				note("%s started again", w.name)
			}
		case 1:
			g := r.gateways[(n/5)%len(r.gateways)]
			g.signal(syscall.SIGTERM)
			if err := g.start(); err != nil {
				note("%s did not start again: %v", g.name, err)
			} else {
				note("%s restarted (SIGTERM, then started again)", g.name)
			}
		case 2:
			if err := r.fault(context.Background(), "postgres-restart"); err != nil {
				note("postgres restart failed: %v", err)
			} else {
				note("postgres restarted")
			}
		case 3:
			if err := r.fault(context.Background(), "redis-stop"); err != nil {
				note("redis stop failed: %v", err)
				break
			}
			note("redis stopped")
			r.mu.Unlock()
			time.Sleep(redisDown) // whatever happens, Redis comes back
			r.mu.Lock()
			if err := r.fault(context.Background(), "redis-start"); err != nil {
				note("redis did not start again: %v", err)
			} else {
				note("redis started again after %s", redisDown)
			}
		case 4:
			if err := r.fault(context.Background(), "temporal-pause"); err != nil {
				note("temporal pause failed: %v", err)
				break
			}
			note("temporal dev server paused")
			r.mu.Unlock()
			time.Sleep(pause)
			r.mu.Lock()
			if err := r.fault(context.Background(), "temporal-resume"); err != nil {
				note("temporal did not resume: %v", err)
			} else {
				note("temporal dev server resumed after %s", pause)
			}
		}
		r.mu.Unlock()
	}
}

type check struct {
	name   string
	ok     bool
	detail string
}

func (r *run) check(ctx context.Context, orders []string, cancelled map[string]bool, failed []string, subscribed map[string][3]int, us *journey.UsageStream, usageErr error) []check {
	var out []check
	add := func(name string, ok bool, format string, a ...any) {
		out = append(out, check{name, ok, fmt.Sprintf(format, a...)})
	}
	detail := ""
	if len(failed) > 0 {
		detail = failed[0]
	}
	add("every journey completed", len(failed) == 0, "%d of %d %s", len(orders)-len(failed), len(orders), detail)

	db, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		add("Postgres reachable", false, "%v", err)
		return out
	}
	defer db.Close()
	ids := make([]string, 0, len(orders))
	for _, o := range orders {
		if _, id, ok := graph.ParseGlobalID(o); ok {
			ids = append(ids, id.String())
		}
	}
	var placed, completed, gaps, wrong int
	err = db.QueryRow(ctx, `WITH e AS (SELECT order_id, seq, type FROM order_events WHERE order_id = ANY($1::uuid[])),
		per AS (SELECT order_id, count(*) FILTER (WHERE type = 'ORDER_PLACED') AS placed, count(*) FILTER (WHERE type = 'ORDER_COMPLETED') AS completed,
			count(*) AS n, count(DISTINCT seq) AS distinct_seq, max(seq) AS max_seq FROM e GROUP BY order_id)
		SELECT count(*) FILTER (WHERE placed <> 1), count(*) FILTER (WHERE completed > 1),
			count(*) FILTER (WHERE n <> distinct_seq OR max_seq <> n OR (SELECT min(seq) FROM e WHERE e.order_id = per.order_id) <> 1),
			$2 - count(*) FROM per`, ids, len(ids)).Scan(&placed, &completed, &gaps, &wrong)
	if err != nil {
		add("order timelines readable", false, "%v", err)
	} else {
		add("one ORDER_PLACED per order", placed == 0 && wrong == 0, "%d orders without exactly one, %d without a timeline", placed, wrong)
		add("at most one ORDER_COMPLETED per order", completed == 0, "%d orders with more", completed)
		add("timelines have no gap and no repeated sequence number", gaps == 0, "%d timelines broken, of %d", gaps, len(ids))
	}
	// The journey's end: the service stage, or cancelled for those the
	// customer cancelled.
	stages, wrongEnd, firstWrong := map[string]int{}, 0, ""
	rows, err := db.Query(ctx, `SELECT id, stage, status FROM orders WHERE id = ANY($1::uuid[])`, ids)
	if err == nil {
		for rows.Next() {
			var id uuid.UUID
			var stage, status string
			if rows.Scan(&id, &stage, &status) != nil {
				continue
			}
			stages[stage+"/"+status]++
			want := stage == "SERVICE" && (status == "ACTIVE" || status == "COMPLETED")
			if cancelled[graph.GlobalID("Order", id)] {
				want = status == "CANCELLED"
			}
			if !want {
				wrongEnd++
				if firstWrong == "" {
					firstWrong = fmt.Sprintf("; order %s is %s/%s", id, stage, status)
				}
			}
		}
		rows.Close()
	}
	add("every order reached its expected end (service, or cancelled)", err == nil && wrongEnd == 0 && len(ids) == len(orders),
		"%v, %d cancelled by their customers%s", stages, len(cancelled), firstWrong)

	// Temporal: each order's workflow runs on (the warranty) or completed; none failed.
	tc, err := client.Dial(client.Options{HostPort: os.Getenv("TEMPORAL_ADDRESS"), Namespace: envOr("TEMPORAL_NAMESPACE", "default")})
	if err != nil {
		add("Temporal reachable", false, "%v", err)
	} else {
		bad := 0
		first := ""
		for _, id := range ids {
			d, err := tc.DescribeWorkflowExecution(ctx, workflows.OrderWorkflowID(id), "")
			st := enumspb.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED
			if err == nil {
				st = d.WorkflowExecutionInfo.Status
			}
			if err != nil || (st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING && st != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED &&
				st != enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW) {
				bad++
				if first == "" {
					first = fmt.Sprintf("order/%s: %v %v", id, st, err)
				}
			}
		}
		tc.Close()
		add("every order's workflow is running or completed in Temporal", bad == 0, "%d of %d not %s", bad, len(ids), first)
	}

	repeats, reconnects, short := 0, 0, 0
	for _, o := range orders {
		s, ok := subscribed[o]
		if !ok {
			short++
			continue
		}
		repeats += s[1]
		reconnects += s[2]
	}
	add("every subscriber saw each event once across its reconnects", repeats == 0 && short == 0,
		"%d events sent again after a reconnect, %d subscriptions unreported; %d reconnects", repeats, short, reconnects)

	if us.ContractID != "" {
		_, cid, _ := graph.ParseGlobalID(us.ContractID)
		var n int64
		var sum decimal.Decimal
		err := db.QueryRow(ctx, `SELECT count(*), coalesce(sum(value), 0) FROM usage_events WHERE contract_id = $1 AND voided_at IS NULL`, cid).Scan(&n, &sum)
		ok := err == nil && usageErr == nil && n == us.Answered && sum.Equal(us.Sum)
		why := ""
		for _, e := range []error{usageErr, err} {
			if e != nil {
				why += "; " + e.Error()
			}
		}
		add("every usage event counted once", ok, "sent %d events summing to %s h, stored %d summing to %s h%s", us.Answered, us.Sum, n, sum, why)
	}
	// The genealogy each delivered order recorded in its own writes: as many
	// unscrapped units as ordered, all packed into one package, one
	// commissioning per lot shipped, whatever failed meanwhile.
	var delivered, wrongGenealogy int
	err = db.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE
			(SELECT count(*) FROM production_units u JOIN production_orders po ON po.id = u.production_order_id
			 WHERE po.order_id = o.id AND u.scrapped_seq IS NULL) <> o.quantity
			OR (SELECT count(*) FROM epcis_events e WHERE e.order_id = o.id AND e.biz_step = 'packing') <> 1
			OR (SELECT count(*) FROM genealogy_edges g JOIN handles h ON h.key = g.child_key
			    WHERE h.order_id = o.id AND h.kind = 'PACKAGE' AND g.kind = 'PACKED') <> o.quantity
			OR (SELECT count(*) FROM handles h WHERE h.order_id = o.id AND h.kind = 'LOT')
			   <> (SELECT count(*) FROM epcis_events e WHERE e.order_id = o.id AND e.biz_step = 'commissioning'))
		FROM orders o WHERE o.id = ANY($1::uuid[]) AND o.stage = 'SERVICE'`, ids).Scan(&delivered, &wrongGenealogy)
	if err != nil {
		add("genealogy readable", false, "%v", err)
	} else {
		add("every delivered order's genealogy is whole", wrongGenealogy == 0 && delivered > 0,
			"%d of %d delivered orders with units, package or lots missing or twice", wrongGenealogy, delivered)
	}
	var dupInvoices, unbalanced int
	if err := db.QueryRow(ctx, `SELECT (SELECT count(*) FROM (SELECT 1 FROM invoices WHERE kind = 'PERIOD' GROUP BY contract_id, period_key HAVING count(*) > 1) d),
		(SELECT count(*) FROM (SELECT 1 FROM ledger_entries GROUP BY contract_id HAVING sum(amount) <> 0) u)`).Scan(&dupInvoices, &unbalanced); err != nil {
		add("invoices and ledger readable", false, "%v", err)
	} else {
		add("one period invoice per contract period", dupInvoices == 0, "%d contract periods with more", dupInvoices)
		add("every contract's ledger sums to zero", unbalanced == 0, "%d contracts do not", unbalanced)
	}
	return out
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
