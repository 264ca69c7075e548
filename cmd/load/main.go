// Command load drives many order journeys at once through a running
// platform's GraphQL API and websocket, every party under its own demo token
// acting as soon as its work shows (internal/journey, the story `make demo`
// prints), and reports what it measured: completed journeys per second,
// latency per operation, refusals and errors by code, and the events each
// journey's subscription received. Before the journeys it measures its
// baseline in the same run: the gateway answering `{ viewer { id } }` at the
// same concurrency, so the figures read against what the gateway does with
// nothing behind it.
//
//	make load                      # 50 journeys, 16 at a time
//	bin/load -journeys 200 -concurrency 32
//
// Settings: HTTP_ADDR (the gateway, 127.0.0.1:8080); flags: see -help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/masscustom/orchestrator/internal/journey"
)

type stats struct {
	mu     sync.Mutex
	took   map[string][]time.Duration
	codes  map[string]int // per operation and code: "placeOrder ILLEGAL_STATE"
	events []int          // per completed journey
	failed map[string]int // journeys that failed, by first error
}

func (s *stats) observe(op string, d time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.took[op] = append(s.took[op], d)
	if code := journey.ErrorCode(err); code != "" {
		s.codes[op+" "+code]++
	}
}

func main() {
	journeys := flag.Int("journeys", 50, "order journeys to run")
	gateways := flag.Int("gateways", 1, "gateways on consecutive ports from HTTP_ADDR's (as GATEWAYS=N make run starts them); journeys take them in turn")
	cpu := flag.String("cpu", "", "comma-separated pids whose CPU time (from /proc) to report beside the rates, e.g. $(pgrep -d, -f bin/)")
	concurrency := flag.Int("concurrency", 16, "journeys in flight at once")
	baseline := flag.Duration("baseline", 5*time.Second, "how long to measure the viewer baseline first (0: skip)")
	timeout := flag.Duration("timeout", 30*time.Minute, "give up after this long")
	verbose := flag.Bool("v", false, "log diagnostics to stderr")
	retryFor := flag.Duration("retry-for", 2*time.Minute, "how long a request without an answer is sent again (same Idempotency-Key)")
	flag.Parse()
	if *journeys < 1 || *concurrency < 1 {
		fmt.Fprintln(os.Stderr, "load: -journeys and -concurrency must be at least 1")
		os.Exit(2)
	}
	level := slog.LevelError
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("component", "load")
	addr := os.Getenv("HTTP_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	if host, port, err := net.SplitHostPort(addr); err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	host, port, err := net.SplitHostPort(addr)
	first, perr := strconv.Atoi(port)
	if err != nil || perr != nil || *gateways < 1 {
		fmt.Fprintf(os.Stderr, "load: HTTP_ADDR=%q is not host:port, or -gateways is below 1\n", addr)
		os.Exit(2)
	}
	bases := make([]string, *gateways)
	for g := range bases {
		bases[g] = "http://" + net.JoinHostPort(host, strconv.Itoa(first+g))
	}
	base := bases[0]
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	tr := &http.Transport{MaxIdleConns: 4 * *concurrency, MaxIdleConnsPerHost: 4 * *concurrency}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	if *baseline > 0 {
		rate, p99, err := viewerBaseline(ctx, client, base, *concurrency, *baseline)
		if err != nil {
			fmt.Fprintf(os.Stderr, "load: the gateway at %s does not answer (%v); start it with `make run`\n", base, err)
			os.Exit(1)
		}
		fmt.Printf("baseline: { viewer { id } } at %d in flight: %.0f req/s, p99 %.1f ms\n", *concurrency, rate, ms(p99))
	}

	// A leased machine streams usage to POST /usage while the journeys run.
	us := &journey.UsageStream{Base: base, HTTP: client}
	if err := us.SetUp(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "load: setting up the leased machine: %v\n", err)
		os.Exit(1)
	}
	usageCtx, endUsage := context.WithCancel(ctx)
	usageDone := make(chan error, 1)
	go func() { usageDone <- us.Run(usageCtx) }()

	before := cpuTimes(*cpu)
	st := &stats{took: map[string][]time.Duration{}, codes: map[string]int{}, failed: map[string]int{}}
	cfg := journey.Config{Base: base, Client: client, Log: log, Out: io.Discard, Quantity: 8, MaxWait: 0, Pace: 0, Observe: st.observe, RetryFor: *retryFor}
	var done, failed atomic.Int64
	start := time.Now()
	progress := time.NewTicker(5 * time.Second)
	defer progress.Stop()
	finished := make(chan struct{})
	go func() {
		for {
			select {
			case <-progress.C:
				st.mu.Lock()
				ops := 0
				for _, l := range st.took {
					ops += len(l)
				}
				st.mu.Unlock()
				fmt.Printf("  %5.0fs  %d/%d journeys done, %d failed, %d operations\n", time.Since(start).Seconds(), done.Load(), *journeys, failed.Load(), ops)
			case <-finished:
				return
			}
		}
	}()
	journey.Many(ctx, cfg, bases, *journeys, *concurrency, journey.Vary, func(_ int, _ journey.Config, _ string, events int, err error) {
		st.mu.Lock()
		defer st.mu.Unlock()
		if err != nil {
			failed.Add(1)
			st.failed[truncate(err.Error(), 120)]++
			return
		}
		done.Add(1)
		st.events = append(st.events, events)
	})
	close(finished)
	elapsed := time.Since(start)
	endUsage()
	usageErr := <-usageDone
	report(st, done.Load(), failed.Load(), elapsed, *concurrency)
	fmt.Printf("\nusage: %d events of a leased machine reported to POST /usage in batches of 20, %s h in all", us.Answered, us.Sum)
	if usageErr != nil {
		fmt.Printf(", then: %v", usageErr)
	}
	fmt.Println()
	if len(before) > 0 {
		fmt.Printf("\nCPU during the journeys (%d gateways):\n", len(bases))
		after := cpuTimes(*cpu)
		for _, pid := range sortedKeys(before) {
			b, a := before[pid], after[pid]
			fmt.Printf("  pid %-8s %-10s %6.1f s CPU, %5.1f%% of one core\n", pid, a.name, (a.cpu - b.cpu).Seconds(), 100*(a.cpu-b.cpu).Seconds()/elapsed.Seconds())
		}
	}
	if failed.Load() > 0 || usageErr != nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		os.Exit(1)
	}
}

func report(st *stats, done, failed int64, elapsed time.Duration, concurrency int) {
	fmt.Printf("\n%d journeys completed, %d failed, in %s at %d in flight: %.3f completed journeys/s\n",
		done, failed, elapsed.Round(time.Millisecond), concurrency, float64(done)/elapsed.Seconds())
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tcount\tp50 ms\tp99 ms\tmax ms\t")
	ops := make([]string, 0, len(st.took))
	for op := range st.took {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		l := st.took[op]
		slices.Sort(l)
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t\n", op, len(l), ms(at(l, 0.5)), ms(at(l, 0.99)), ms(l[len(l)-1]))
	}
	tw.Flush()
	if len(st.codes) > 0 {
		fmt.Println("\nrefusals and errors by operation and code (some are the story's own: a supplier's rejection, an offer that lapsed):")
		keys := make([]string, 0, len(st.codes))
		for k := range st.codes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Printf("  %-50s %d\n", k, st.codes[k])
		}
	}
	if len(st.events) > 0 {
		slices.Sort(st.events)
		sum := 0
		for _, e := range st.events {
			sum += e
		}
		fmt.Printf("\norderEvents per completed journey (one subscription each): min %d, median %d, max %d, %d in all\n",
			st.events[0], st.events[len(st.events)/2], st.events[len(st.events)-1], sum)
	}
	for msg, n := range st.failed {
		fmt.Printf("failed %d×: %s\n", n, msg)
	}
}

// viewerBaseline measures the gateway answering the smallest authenticated
// query at the load's concurrency.
func viewerBaseline(ctx context.Context, client *http.Client, base string, conc int, d time.Duration) (float64, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	var first error
	var wg sync.WaitGroup
	body := `{"query":"{ viewer { id } }"}`
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/graphql", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer mco_demo_customer")
				t0 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						mu.Lock()
						first = err
						mu.Unlock()
					}
					break
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					mu.Lock()
					first = fmt.Errorf("viewer answered %s", res.Status)
					mu.Unlock()
					break
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if first != nil {
		return 0, 0, first
	}
	if len(lat) == 0 {
		return 0, 0, errors.New("no request completed")
	}
	slices.Sort(lat)
	return float64(len(lat)) / time.Since(start).Seconds(), at(lat, 0.99), nil
}

func at(l []time.Duration, q float64) time.Duration { return l[int(q*float64(len(l)-1))] }
func ms(d time.Duration) float64                    { return float64(d.Microseconds()) / 1000 }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

type proc struct {
	name string
	cpu  time.Duration
}

// cpuTimes reads user+system time of the given pids from /proc (Linux; 100
// clock ticks a second, as on every kernel this runs on).
func cpuTimes(pids string) map[string]proc {
	out := map[string]proc{}
	for _, pid := range strings.Split(pids, ",") {
		pid = strings.TrimSpace(pid)
		if pid == "" {
			continue
		}
		raw, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			continue
		}
		s := string(raw)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		fields := strings.Fields(s[close+1:])
		if len(fields) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(fields[11], 10, 64)
		st, _ := strconv.ParseInt(fields[12], 10, 64)
		out[pid] = proc{name: s[open+1 : close], cpu: time.Duration(ut+st) * 10 * time.Millisecond}
	}
	return out
}

func sortedKeys(m map[string]proc) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
