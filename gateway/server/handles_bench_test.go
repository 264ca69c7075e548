package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/identifiers"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/registry"
)

// BenchmarkResolveCachedIdentifier measures anonymous identifier resolution
// through the gateway (GET /api/handles/<handle>: routing, the handle's
// parse, the registry's cached record, the public values' filter, JSON)
// against its floor: a bare HTTP handler that answers each request with one
// Redis GET of a small key. The identifier is minted with a few public values
// and resolved once before the runs, so the gateway serves it from the
// registry's cache. Both are driven by drive, with the same number of
// requests in flight (-bench.read-connections), in the same run, so
// x-of-bare-redis-get reads as the share of the floor the gateway reaches.
// Every gateway answer must be 200 with responseCode 1: a request that fails
// fails the benchmark; a duration never does.
//
//	go test -run '^$' -bench ResolveCachedIdentifier -benchtime 20000x ./gateway/server/
func BenchmarkResolveCachedIdentifier(b *testing.B) {
	s := newBenchStack(b)
	ctx := context.Background()
	base := strings.TrimSuffix(s.url, "/graphql")

	owner := testenv.Account(b, s.p, identity.KindSupplier, identity.RoleAdmin)
	values := []registry.ValueInput{
		{Type: "URL", Data: "https://supplier.test.example/lots/bench"},
		{Type: "DESC", Data: "Copper tube, 9.52 mm, lot for the resolution benchmark"},
		{Type: "EMAIL", Data: "quality@supplier.test.example"},
	}
	batch, err := s.p.Registry.MintBatch(ctx, testenv.Principal(owner), registry.BatchInput{
		Key: "bench-resolve-" + testenv.Suffix(), Kind: registry.KindLot,
		Suffixes: []string{"BENCH-LOT-" + testenv.Suffix()}, Values: values,
	})
	if err != nil {
		b.Fatal(err)
	}
	handle := batch.Handles[0]
	b.Cleanup(func() {
		// The minted rows only: the enterprise and its prefix stay, as other tests' do.
		h, err := identifiers.Parse(handle)
		if err != nil {
			return
		}
		for _, q := range []string{`DELETE FROM handle_values WHERE handle_key = $1`, `DELETE FROM handles WHERE key = $1`} {
			if _, err := s.p.DB.Exec(context.Background(), q, h.Key()); err != nil {
				b.Error(err)
			}
		}
		s.p.Registry.Invalidate(context.Background(), h.Key())
	})
	url := base + "/api/handles/" + handle

	// Warm the cache with one resolution, check its answer, and keep it for
	// the bare handler to serve (so both write a body of the same size).
	res, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	warm, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		b.Fatal(err)
	}
	var a identifiers.Answer
	if err := json.Unmarshal(warm, &a); err != nil || res.StatusCode != http.StatusOK || a.ResponseCode != identifiers.CodeSuccess ||
		a.Handle != handle || len(a.Values) != len(values) {
		b.Fatalf("warming GET %s: status %d, %v: %s", url, res.StatusCode, err, warm)
	}
	key := "bench:handle:" + testenv.Suffix()
	if err := s.p.Cache.R.Set(ctx, key, warm, time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.p.Cache.R.Del(context.Background(), key) })

	bl := baselines{}
	benchBareRedisGet(b, s.p.Cache.R, key, bl)
	b.Run("gateway-handle", func(b *testing.B) {
		// The answer starts with its code and names the handle; checking the
		// bytes keeps the client's share of the machine small.
		ok := []byte(`{"responseCode":1,"handle":"` + handle + `",`)
		var failures atomic.Int64
		b.Cleanup(func() {
			if n := failures.Load(); n > 0 {
				b.Logf("%d of %d requests failed", n, b.N)
			}
		})
		r := drive(b, func(c *http.Client) error {
			res, err := c.Get(url)
			if err != nil {
				failures.Add(1)
				return err
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			if err != nil || res.StatusCode != http.StatusOK || !bytes.HasPrefix(body, ok) {
				failures.Add(1)
				return fmt.Errorf("GET %s: status %d, %v: %.300s", url, res.StatusCode, err, body)
			}
			return nil
		})
		b.ReportMetric(float64(failures.Load()), "failed")
		bl.ratio(b, r, "bare-redis-get", "x-of-bare-redis-get")
	})
}
