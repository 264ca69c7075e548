package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/masscustom/orchestrator/graph"
)

var readConnections = flag.Int("bench.read-connections", 32,
	"requests in flight in BenchmarkCachedOrderRead (each goroutine keeps one connection)")

// latencies collects per-request durations from many goroutines and reports
// p50/p99/max in milliseconds on the benchmark's line.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d []time.Duration) { l.mu.Lock(); l.d = append(l.d, d...); l.mu.Unlock() }

func (l *latencies) report(b *testing.B) {
	if len(l.d) == 0 {
		return
	}
	slices.Sort(l.d)
	at := func(q float64) float64 { return float64(l.d[int(q*float64(len(l.d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(float64(l.d[len(l.d)-1].Microseconds())/1000, "max-ms")
}

// drive sends b.N requests from *readConnections goroutines, each with its own
// kept-alive connection, and reports requests/s and latency percentiles.
func drive(b *testing.B, do func(*http.Client) error) float64 {
	b.Helper()
	conns := *readConnections
	var lat latencies
	var failed sync.Once
	var firstErr error
	work := make(chan struct{}, conns)
	go func() {
		for i := 0; i < b.N; i++ {
			work <- struct{}{}
		}
		close(work)
	}()
	b.ResetTimer()
	var wg sync.WaitGroup
	for g := 0; g < conns; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			var mine []time.Duration
			for range work {
				t0 := time.Now()
				if err := do(c); err != nil {
					failed.Do(func() { firstErr = err })
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			lat.add(mine)
		}()
	}
	wg.Wait()
	b.StopTimer()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	lat.report(b)
	return rate(b, "req/s")
}

// BenchmarkCachedOrderRead measures the gateway's cached order(id) query (HTTP,
// the token lookup, GraphQL parsing and validation, authorization, the orders
// cache in Redis, JSON) against its floor: a bare HTTP handler on the same
// machine that answers each request with one Redis GET of the order's cached
// JSON. Both are driven by the same client with the same number of requests in
// flight (-bench.read-connections, 32 by default), in the same run, so
// x-of-bare-redis-get reads as the share of the floor the gateway reaches.
//
//	go test -run '^$' -bench CachedOrderRead -benchtime 20000x ./gateway/server/
func BenchmarkCachedOrderRead(b *testing.B) {
	s := newBenchStack(b)
	ctx := context.Background()
	wfID, err := s.placer("read-bench-")()
	if err != nil {
		b.Fatal(err)
	}
	orderID, err := uuid.Parse(wfID[len("order/"):])
	if err != nil {
		b.Fatal(err)
	}
	gid := graph.GlobalID("Order", orderID)
	query, _ := json.Marshal(map[string]any{
		"query":     `query($id: ID!) { order(id: $id) { id stage status quantity total currency } }`,
		"variables": map[string]any{"id": gid},
	})
	// Warm the cache and keep the answer, for the bare handler to serve.
	var warm json.RawMessage
	if err := s.post(query, "order", &warm); err != nil {
		b.Fatal(err)
	}
	key := "bench:read:" + orderID.String()
	if err := s.p.Cache.R.Set(ctx, key, []byte(warm), time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.p.Cache.R.Del(context.Background(), key) })

	bl := baselines{}
	benchBareRedisGet(b, s.p.Cache.R, key, bl)
	b.Run("gateway-order", func(b *testing.B) {
		want := []byte(`"id":"` + gid + `"`)
		r := drive(b, func(c *http.Client) error {
			req, _ := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(query))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+s.customer.Secret)
			res, err := c.Do(req)
			if err != nil {
				return err
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			if err != nil || res.StatusCode != http.StatusOK || !bytes.Contains(body, want) {
				return fmt.Errorf("order(id): status %d, %v: %.300s", res.StatusCode, err, body)
			}
			return nil
		})
		bl.ratio(b, r, "bare-redis-get", "x-of-bare-redis-get")
	})
}

// benchBareRedisGet is the baseline of the read benchmarks: a bare HTTP
// handler that answers with one Redis GET of key, driven as the gateway is;
// its rate goes into bl as "bare-redis-get".
func benchBareRedisGet(b *testing.B, r *redis.Client, key string, bl baselines) {
	b.Run("bare-redis-get", func(b *testing.B) {
		bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			v, err := r.Get(req.Context(), key).Bytes()
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(v)
		}))
		defer bare.Close()
		rate := drive(b, func(c *http.Client) error {
			res, err := c.Get(bare.URL)
			if err != nil {
				return err
			}
			defer res.Body.Close()
			if _, err := io.Copy(io.Discard, res.Body); err != nil || res.StatusCode != http.StatusOK {
				return fmt.Errorf("bare handler: status %d, %v", res.StatusCode, err)
			}
			return nil
		})
		bl.set("bare-redis-get", rate)
	})
}
