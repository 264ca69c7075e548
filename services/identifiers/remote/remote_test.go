package remote

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/masscustom/orchestrator/internal/handleroot"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identifiers"
)

var at = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

// TestMain keeps the warnings of the nodes these tests break on purpose out
// of the output; TEST_LOG=debug shows everything.
func TestMain(m *testing.M) {
	lvl := slog.LevelError
	if os.Getenv("TEST_LOG") == "debug" {
		lvl = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})))
	os.Exit(m.Run())
}

// memCache is a Cache in memory that honours TTLs and records them.
type memCache struct {
	mu   sync.Mutex
	m    map[string]memEntry
	ttls map[string]time.Duration
}

type memEntry struct {
	b   []byte
	exp time.Time
}

func newMemCache() *memCache {
	return &memCache{m: map[string]memEntry{}, ttls: map[string]time.Duration{}}
}

func (c *memCache) Get(_ context.Context, key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || time.Now().After(e.exp) {
		return nil, false
	}
	return slices.Clone(e.b), true
}

func (c *memCache) Set(_ context.Context, key string, b []byte, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[key] = memEntry{b: slices.Clone(b), exp: time.Now().Add(ttl)}
	c.ttls[key] = ttl
}

func (c *memCache) ttl(key string) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ttls[key]
}

// counted serves h on loopback and counts its requests.
func counted(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// directory is a real top node (internal/handleroot) on loopback.
type directory struct {
	URL  string
	Hits *atomic.Int64
	root *handleroot.Root
}

func newDirectory(t *testing.T, ttl time.Duration) *directory {
	t.Helper()
	root, err := handleroot.New(handleroot.Options{TTL: ttl, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	srv, hits := counted(t, root)
	return &directory{URL: srv.URL, Hits: hits, root: root}
}

func (d *directory) site(t *testing.T, prefix, url string) *directory {
	t.Helper()
	if _, _, err := d.root.Register(prefix, identifiers.ValueTypeSite, url); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *directory) refer(t *testing.T, prefix, url string) *directory {
	t.Helper()
	if _, _, err := d.root.Register(prefix, identifiers.ValueTypeServ, url); err != nil {
		t.Fatal(err)
	}
	return d
}

// site is a small node answering Handle JSON for a few identifiers, as the
// platform's own endpoint does, with a few misbehaving suffixes.
type site struct {
	URL     string
	Hits    *atomic.Int64
	mu      sync.Mutex
	queries []string
	release chan struct{} // SLOW waits for it
}

var records = map[string]identifiers.Answer{
	"88.501.1304/unit-42": {ResponseCode: 1, Handle: "88.501.1304/UNIT-42", Values: []identifiers.Value{
		identifiers.StringValue(1, "URL", "https://example.com/units/42", 60, at),
		identifiers.StringValue(2, "EMAIL", "service@example.com", 30, at),
	}},
	"88.501.1304/unit-43": {ResponseCode: 1, Handle: "88.501.1304/UNIT-43", Values: []identifiers.Value{
		identifiers.StringValue(1, "URL", "https://example.com/units/43", 86400, at),
	}},
	"88.501.1304/deaf": {ResponseCode: 1, Handle: "88.501.1304/DEAF", Values: []identifiers.Value{
		identifiers.StringValue(1, "URL", "https://example.com/deaf", 60, at),
		identifiers.StringValue(2, "EMAIL", "deaf@example.com", 60, at),
	}},
	"88.501.1304/slow": {ResponseCode: 1, Handle: "88.501.1304/SLOW", Values: []identifiers.Value{
		identifiers.StringValue(1, "URL", "https://example.com/slow", 60, at),
	}},
}

func newSite(t *testing.T) *site {
	t.Helper()
	s := &site{release: make(chan struct{})}
	srv, hits := counted(t, http.HandlerFunc(s.serve))
	s.URL, s.Hits = srv.URL, hits
	return s
}

func (s *site) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.queries = append(s.queries, r.URL.RawQuery)
	s.mu.Unlock()
	name := strings.TrimPrefix(r.URL.Path, "/api/handles/")
	h, err := identifiers.Parse(name)
	var a identifiers.Answer
	switch {
	case err != nil:
		a = identifiers.Answer{ResponseCode: identifiers.CodeInvalid, Handle: name, Message: err.Error()}
	case strings.EqualFold(h.Suffix(), "LIAR"):
		a = identifiers.Answer{ResponseCode: 1, Handle: "88.501.1304/OTHER", Values: records["88.501.1304/unit-42"].Values}
	default:
		rec, ok := records[h.Key()]
		if !ok {
			a = identifiers.Answer{ResponseCode: identifiers.CodeNotFound, Handle: h.String(), Message: "no such handle"}
			break
		}
		if strings.EqualFold(h.Suffix(), "SLOW") {
			select {
			case <-s.release:
			case <-r.Context().Done():
				return
			}
		}
		q, err := identifiers.ParseQuery(r.URL.Query())
		if err != nil {
			a = identifiers.Answer{ResponseCode: identifiers.CodeInvalid, Handle: h.String(), Message: err.Error()}
			break
		}
		a = rec
		if !strings.EqualFold(h.Suffix(), "DEAF") {
			a = q.Filter(rec)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.HTTPStatus())
	_ = json.NewEncoder(w).Encode(a)
}

func (s *site) lastQuery() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queries) == 0 {
		return ""
	}
	return s.queries[len(s.queries)-1]
}

func newResolver(t *testing.T, c Config) *Resolver {
	t.Helper()
	if c.NodePrefix == "" {
		c.NodePrefix = "88.500"
	}
	r, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func handle(t *testing.T, s string) identifiers.Handle {
	t.Helper()
	h, err := identifiers.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func resolve(t *testing.T, r *Resolver, s string, q identifiers.Query) Result {
	t.Helper()
	res, err := r.Resolve(context.Background(), handle(t, s), q)
	if err != nil {
		t.Fatalf("Resolve(%s): %v", s, err)
	}
	if res.Answer.Handle == "" {
		t.Errorf("Resolve(%s): an answer without a handle: %+v", s, res.Answer)
	}
	if res.Answer.Node != res.Node {
		t.Errorf("Resolve(%s): Answer.Node %q, Node %q", s, res.Answer.Node, res.Node)
	}
	return res
}

// failed requires res to be an error answer whose message has each of words.
func failed(t *testing.T, res Result, words ...string) {
	t.Helper()
	a := res.Answer
	if a.ResponseCode != identifiers.CodeError || a.HTTPStatus() != http.StatusBadGateway || len(a.Values) != 0 {
		t.Fatalf("answer %+v, want CodeError without values", a)
	}
	for _, w := range words {
		if !strings.Contains(a.Message, w) {
			t.Errorf("message %q does not say %q", a.Message, w)
		}
	}
}

func TestResolveAsksTheRootThenTheSite(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	d := newDirectory(t, time.Hour).site(t, "88.501", s.URL)
	r := newResolver(t, Config{Upper: d.URL})

	res := resolve(t, r, "88.501.1304/UNIT-42", identifiers.Query{})
	a := res.Answer
	if a.ResponseCode != 1 || a.Handle != "88.501.1304/UNIT-42" || len(a.Values) != 2 || a.Values[0].Data.Value != "https://example.com/units/42" {
		t.Fatalf("answer %+v", a)
	}
	if res.Node != s.URL || res.Cached {
		t.Errorf("node %q cached %v, want %s not cached", res.Node, res.Cached, s.URL)
	}
	wantHops := []string{d.URL + "/api/handles/0.NA/88.501.1304", s.URL + "/api/handles/88.501.1304/UNIT-42"}
	if !slices.Equal(res.Hops, wantHops) {
		t.Errorf("hops %q, want %q", res.Hops, wantHops)
	}

	// The site's case of the handle is relayed; a lower-case question is the same handle.
	if res := resolve(t, r, "88.501.1304/unit-42", identifiers.Query{}); res.Answer.ResponseCode != 1 || res.Answer.Handle != "88.501.1304/UNIT-42" {
		t.Errorf("lower case: %+v", res.Answer)
	}
	// The site's not-found is relayed, with the node.
	res = resolve(t, r, "88.501.1304/NOPE", identifiers.Query{})
	if res.Answer.ResponseCode != 100 || res.Node != s.URL || res.Answer.HTTPStatus() != 404 {
		t.Errorf("unknown handle: %+v", res)
	}
	// A prefix the root does not know is not found, and no site is asked.
	before := s.Hits.Load()
	res = resolve(t, r, "99.1/X", identifiers.Query{})
	if res.Answer.ResponseCode != 100 || !strings.Contains(res.Answer.Message, "no node serves prefix 99.1") || res.Node != "" || len(res.Hops) != 1 {
		t.Errorf("unknown prefix: %+v", res)
	}
	if s.Hits.Load() != before {
		t.Error("a site was asked about a prefix no node serves")
	}
	// 88.5010 is not under 88.501.
	if res := resolve(t, r, "88.5010/UNIT-42", identifiers.Query{}); res.Answer.ResponseCode != 100 {
		t.Errorf("88.5010: %+v", res.Answer)
	}
}

func TestFiltersArePassedToTheSite(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	d := newDirectory(t, time.Hour).site(t, "88.501", s.URL)
	r := newResolver(t, Config{Upper: d.URL})

	res := resolve(t, r, "88.501.1304/UNIT-42", identifiers.Query{Types: []string{"EMAIL"}})
	if s.lastQuery() != "type=EMAIL" {
		t.Errorf("the site was asked ?%s", s.lastQuery())
	}
	if a := res.Answer; a.ResponseCode != 1 || len(a.Values) != 1 || a.Values[0].Type != "EMAIL" {
		t.Errorf("type=EMAIL: %+v", a)
	}
	res = resolve(t, r, "88.501.1304/UNIT-42", identifiers.Query{Types: []string{"0.TYPE/URL", "X&Y+Z"}, Indexes: []int{1}})
	if q := s.lastQuery(); q != "type=0.TYPE/URL&type=X%26Y%2BZ&index=1" {
		t.Errorf("the site was asked ?%s", q)
	}
	if a := res.Answer; a.ResponseCode != 1 || len(a.Values) != 1 || a.Values[0].Index != 1 {
		t.Errorf("index=1: %+v", a)
	}
	res = resolve(t, r, "88.501.1304/UNIT-42", identifiers.Query{Types: []string{"X&Y+Z"}})
	if a := res.Answer; a.ResponseCode != 200 || len(a.Values) != 0 || res.Node != s.URL {
		t.Errorf("a type no value has: %+v", a)
	}
	// A site that ignores the filter is filtered here.
	res = resolve(t, r, "88.501.1304/DEAF", identifiers.Query{Indexes: []int{2}})
	if a := res.Answer; a.ResponseCode != 1 || len(a.Values) != 1 || a.Values[0].Index != 2 {
		t.Errorf("a deaf site: %+v", a)
	}
	// A malformed query is the caller's mistake.
	if _, err := r.Resolve(context.Background(), handle(t, "88.501.1304/UNIT-42"), identifiers.Query{Types: []string{"a b"}}); !isInvalid(err) {
		t.Errorf("a type with a space: %v", err)
	}
	if _, err := r.Resolve(context.Background(), handle(t, "88.501.1304/UNIT-42"), identifiers.Query{Indexes: []int{0}}); !isInvalid(err) {
		t.Errorf("index 0: %v", err)
	}
}

func isInvalid(err error) bool {
	e, ok := errs.As(err)
	return ok && e.Code == errs.InvalidInput
}

func TestAnswersAreCachedForTheirTTL(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	d := newDirectory(t, time.Hour).site(t, "88.501", s.URL)
	c := newMemCache()
	r := newResolver(t, Config{Upper: d.URL, Cache: c, MaxTTL: 10 * time.Minute})

	first := resolve(t, r, "88.501.1304/UNIT-42", identifiers.Query{})
	second := resolve(t, r, "88.501.1304/UNIT-42", identifiers.Query{})
	if s.Hits.Load() != 1 || d.Hits.Load() != 1 {
		t.Fatalf("site asked %d times, root %d times, want once each", s.Hits.Load(), d.Hits.Load())
	}
	if !second.Cached || first.Cached || second.Node != s.URL || len(second.Hops) != 0 {
		t.Errorf("second %+v", second)
	}
	if a, b := first.Answer, second.Answer; a.ResponseCode != b.ResponseCode || a.Handle != b.Handle || !slices.Equal(a.Values, b.Values) {
		t.Errorf("cached answer %+v differs from %+v", b, a)
	}
	// The answer is kept for its smallest ttl (30 s), the mapping for the
	// root's (1 h) capped at MaxTTL, under the asked and the registered prefix.
	if got := c.ttl("h:88.501.1304/unit-42?"); got != 30*time.Second {
		t.Errorf("answer kept %s, want 30s", got)
	}
	for _, k := range []string{"p:88.501.1304", "p:88.501"} {
		if got := c.ttl(k); got != 10*time.Minute {
			t.Errorf("%s kept %s, want the cap 10m", k, got)
		}
	}
	// A ttl over the cap is capped.
	resolve(t, r, "88.501.1304/UNIT-43", identifiers.Query{})
	if got := c.ttl("h:88.501.1304/unit-43?"); got != 10*time.Minute {
		t.Errorf("answer with ttl 86400 kept %s, want 10m", got)
	}
	// Another handle under the prefix asks the site, not the root.
	if d.Hits.Load() != 1 || s.Hits.Load() != 2 {
		t.Errorf("root asked %d times, site %d, want 1 and 2", d.Hits.Load(), s.Hits.Load())
	}
	// Another filter is another answer.
	res := resolve(t, r, "88.501.1304/UNIT-42", identifiers.Query{Types: []string{"URL"}})
	if res.Cached || s.Hits.Load() != 3 || len(res.Answer.Values) != 1 {
		t.Errorf("a filtered lookup: cached %v, site asked %d times, %+v", res.Cached, s.Hits.Load(), res.Answer)
	}
	// The registered prefix serves a sibling asked later without the root.
	resolve(t, r, "88.501/UNIT-42", identifiers.Query{})
	if d.Hits.Load() != 1 {
		t.Errorf("the cached registered prefix was not used: root asked %d times", d.Hits.Load())
	}
}

func TestMissesAreCachedForMissTTL(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	d := newDirectory(t, time.Hour).site(t, "88.501", s.URL)
	c := newMemCache()
	miss := 150 * time.Millisecond
	r := newResolver(t, Config{Upper: d.URL, Cache: c, MissTTL: miss})

	if res := resolve(t, r, "88.501.1304/NOPE", identifiers.Query{}); res.Answer.ResponseCode != 100 || res.Cached {
		t.Fatalf("first: %+v", res)
	}
	res := resolve(t, r, "88.501.1304/NOPE", identifiers.Query{})
	if res.Answer.ResponseCode != 100 || !res.Cached || s.Hits.Load() != 1 {
		t.Errorf("second: %+v, site asked %d times", res, s.Hits.Load())
	}
	if got := c.ttl("h:88.501.1304/nope?"); got != miss {
		t.Errorf("miss kept %s, want %s", got, miss)
	}
	if res := resolve(t, r, "77.1/X", identifiers.Query{}); res.Answer.ResponseCode != 100 {
		t.Fatalf("unknown prefix: %+v", res)
	}
	resolve(t, r, "77.1/Y", identifiers.Query{})
	if d.Hits.Load() != 2 { // 88.501.1304 and 77.1 once each
		t.Errorf("root asked %d times, want 2: the unknown prefix is remembered", d.Hits.Load())
	}
	if got := c.ttl("p:77.1"); got != miss {
		t.Errorf("unknown prefix kept %s, want %s", got, miss)
	}

	time.Sleep(2 * miss)
	if res := resolve(t, r, "88.501.1304/NOPE", identifiers.Query{}); res.Cached || s.Hits.Load() != 2 {
		t.Errorf("after MissTTL: cached %v, site asked %d times, want asked again", res.Cached, s.Hits.Load())
	}
}

func TestAReferralChainOfTwo(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	c3 := newDirectory(t, time.Hour).site(t, "88.501", s.URL)
	c2 := newDirectory(t, 5*time.Minute).refer(t, "88.501", c3.URL+"/")
	c1 := newDirectory(t, time.Hour).refer(t, "88", c2.URL)
	c := newMemCache()
	r := newResolver(t, Config{Upper: c1.URL, Cache: c, MaxReferrals: 2})

	res := resolve(t, r, "88.501.1304/UNIT-42", identifiers.Query{})
	if res.Answer.ResponseCode != 1 || res.Node != s.URL {
		t.Fatalf("answer %+v", res)
	}
	want := []string{
		c1.URL + "/api/handles/0.NA/88.501.1304",
		c2.URL + "/api/handles/0.NA/88.501.1304",
		c3.URL + "/api/handles/0.NA/88.501.1304",
		s.URL + "/api/handles/88.501.1304/UNIT-42",
	}
	if !slices.Equal(res.Hops, want) {
		t.Errorf("hops %q, want %q", res.Hops, want)
	}
	// The mapping is kept for the smallest ttl along the chain.
	if got := c.ttl("p:88.501.1304"); got != 5*time.Minute {
		t.Errorf("mapping kept %s, want 5m", got)
	}
}

func TestAReferralLoopIsDetected(t *testing.T) {
	t.Parallel()
	a := newDirectory(t, time.Hour)
	b := newDirectory(t, time.Hour).refer(t, "88", a.URL)
	a.refer(t, "88.501", b.URL)
	c := newMemCache()
	r := newResolver(t, Config{Upper: a.URL, Cache: c})

	res := resolve(t, r, "88.501.1304/UNIT-42", identifiers.Query{})
	failed(t, res, "loop", a.URL, b.URL)
	if len(res.Hops) != 2 || a.Hits.Load() != 1 || b.Hits.Load() != 1 {
		t.Errorf("hops %q; A asked %d times, B %d", res.Hops, a.Hits.Load(), b.Hits.Load())
	}
	// The failure is remembered for MissTTL.
	res = resolve(t, r, "88.501.1304/UNIT-42", identifiers.Query{})
	failed(t, res, "loop")
	if !res.Cached || a.Hits.Load() != 1 {
		t.Errorf("a remembered loop was asked again: cached %v, A asked %d times", res.Cached, a.Hits.Load())
	}
	if got := c.ttl("p:88.501.1304"); got != DefaultMissTTL {
		t.Errorf("loop kept %s, want %s", got, DefaultMissTTL)
	}
}

func TestMoreThanMaxReferralsAreRefused(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	chain := []*directory{newDirectory(t, time.Hour).site(t, "88", s.URL)}
	for range 3 {
		chain = append([]*directory{newDirectory(t, time.Hour).refer(t, "88", chain[0].URL)}, chain...)
	}
	// chain[0] → chain[1] → chain[2] → chain[3] (the site): three referrals.
	res := resolve(t, newResolver(t, Config{Upper: chain[0].URL, MaxReferrals: 2}), "88.501/UNIT-42", identifiers.Query{})
	failed(t, res, "more than 2", "too many referrals", chain[3].URL)
	if chain[3].Hits.Load() != 0 || s.Hits.Load() != 0 {
		t.Error("the directory beyond the limit or the site was asked")
	}
	if len(res.Hops) != 3 {
		t.Errorf("hops %q, want the 3 directories within the limit", res.Hops)
	}
	// The default limit, 3, follows the same chain.
	res = resolve(t, newResolver(t, Config{Upper: chain[0].URL}), "88.501/UNIT-42", identifiers.Query{})
	if res.Answer.ResponseCode != 100 || res.Node != s.URL || len(res.Hops) != 5 {
		t.Errorf("within the limit: %+v", res)
	}
}

func deadURL(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	return u
}

func TestADeadNodeAnswersAnErrorQuickly(t *testing.T) {
	t.Parallel()
	dead := deadURL(t)
	d := newDirectory(t, time.Hour).site(t, "88.501", dead)
	c := newMemCache()
	hop := 500 * time.Millisecond
	r := newResolver(t, Config{Upper: d.URL, HopTimeout: hop, Cache: c})

	start := time.Now()
	res := resolve(t, r, "88.501.1304/UNIT-42", identifiers.Query{})
	failed(t, res, dead, "refused", "88.501")
	if took := time.Since(start); took > 10*hop {
		t.Errorf("a refused connection took %s", took)
	}
	if res.Node != dead || len(res.Hops) != 2 {
		t.Errorf("node %q hops %q", res.Node, res.Hops)
	}
	// The dead node is not asked again for MissTTL, for other handles either.
	res = resolve(t, r, "88.501.1304/UNIT-43", identifiers.Query{})
	failed(t, res, dead, "was not asked", "refused")
	if len(res.Hops) != 0 {
		t.Errorf("the dead node was asked again: hops %q", res.Hops)
	}
	if got := c.ttl("n:" + dead); got != DefaultMissTTL {
		t.Errorf("node failure kept %s, want %s", got, DefaultMissTTL)
	}

	// A dead upper node.
	res = resolve(t, newResolver(t, Config{Upper: dead}), "88.501.1304/UNIT-42", identifiers.Query{})
	failed(t, res, "the directory "+dead, "refused")
}

func TestASlowNodeIsGivenUpAfterTheHopTimeout(t *testing.T) {
	t.Parallel()
	gaveUp := make(chan struct{}, 1)
	slow, _ := counted(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done(): // the resolver cancelled its request
			gaveUp <- struct{}{}
		case <-time.After(10 * time.Second):
		}
	}))
	d := newDirectory(t, time.Hour).site(t, "88.501", slow.URL)
	hop := 200 * time.Millisecond
	r := newResolver(t, Config{Upper: d.URL, HopTimeout: hop})

	start := time.Now()
	res := resolve(t, r, "88.501.1304/UNIT-42", identifiers.Query{})
	took := time.Since(start)
	failed(t, res, slow.URL, "did not answer within 200ms")
	select {
	case <-gaveUp:
	case <-time.After(5 * time.Second):
		t.Error("the slow node never saw its request cancelled")
	}
	if took > 10*hop {
		t.Errorf("resolution took %s with a hop timeout of %s", took, hop)
	}

	// A slow directory is the same.
	r = newResolver(t, Config{Upper: slow.URL, HopTimeout: hop})
	failed(t, resolve(t, r, "88.501.1304/UNIT-42", identifiers.Query{}), "the directory "+slow.URL, "within 200ms")
}

func TestSelfAsSiteOrReferralIsALoop(t *testing.T) {
	t.Parallel()
	self := "http://127.0.0.1:1" // never dialled
	d := newDirectory(t, time.Hour).site(t, "88.501", self+"/").refer(t, "88.502", "HTTP://127.0.0.1:1")
	r := newResolver(t, Config{Upper: d.URL, Self: self})

	res := resolve(t, r, "88.501.1304/UNIT-42", identifiers.Query{})
	failed(t, res, "this node", "loop", "88.500")
	if len(res.Hops) != 1 {
		t.Errorf("hops %q, want the directory only", res.Hops)
	}
	failed(t, resolve(t, r, "88.502/X", identifiers.Query{}), "refers prefix 88.502 to this node", "loop")
}

func TestAHandleUnderTheNodePrefixIsLocal(t *testing.T) {
	t.Parallel()
	d := newDirectory(t, time.Hour)
	r := newResolver(t, Config{Upper: d.URL, NodePrefix: "88.500"})
	for _, s := range []string{"88.500/X", "88.500.1304/UNIT-42"} {
		if _, err := r.Resolve(context.Background(), handle(t, s), identifiers.Query{}); !errors.Is(err, ErrLocal) {
			t.Errorf("%s: %v, want ErrLocal", s, err)
		}
	}
	if d.Hits.Load() != 0 {
		t.Errorf("the root was asked %d times about local handles", d.Hits.Load())
	}
	// 88.5001 is not under 88.500.
	if res := resolve(t, r, "88.5001/X", identifiers.Query{}); res.Answer.ResponseCode != 100 || d.Hits.Load() != 1 {
		t.Errorf("88.5001: %+v", res.Answer)
	}
	if _, err := r.Resolve(context.Background(), identifiers.Handle{}, identifiers.Query{}); !isInvalid(err) {
		t.Errorf("the zero handle: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Resolve(ctx, handle(t, "88.501/X"), identifiers.Query{}); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled context: %v", err)
	}
}

func TestAnAnswerAboutAnotherHandleIsAnError(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	liar, _ := counted(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(identifiers.Answer{ResponseCode: 1, Handle: "0.NA/99",
			Values: []identifiers.Value{identifiers.StringValue(1, "HS_SITE", s.URL, 60, at)}})
	}))
	d := newDirectory(t, time.Hour).site(t, "88.501", s.URL).refer(t, "88.502", liar.URL)
	r := newResolver(t, Config{Upper: d.URL})

	res := resolve(t, r, "88.501.1304/LIAR", identifiers.Query{})
	failed(t, res, s.URL, `"88.501.1304/OTHER"`, "88.501.1304/LIAR")
	if res.Answer.Handle != "88.501.1304/LIAR" {
		t.Errorf("the error answer is about %q", res.Answer.Handle)
	}
	failed(t, resolve(t, r, "88.502/X", identifiers.Query{}), liar.URL, `"0.NA/99"`)
}

func TestConcurrentLookupsShareOneResolution(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	d := newDirectory(t, time.Hour).site(t, "88.501", s.URL)
	r := newResolver(t, Config{Upper: d.URL})
	h := handle(t, "88.501.1304/SLOW")
	key := "h:" + h.Key() + "?"

	const n = 8
	results := make(chan Result, n)
	for range n {
		go func() {
			res, err := r.Resolve(context.Background(), h, identifiers.Query{})
			if err != nil {
				t.Error(err)
			}
			results <- res
		}()
	}
	quitter, quit := context.WithCancel(context.Background())
	quitErr := make(chan error, 1)
	go func() {
		_, err := r.Resolve(quitter, h, identifiers.Query{})
		quitErr <- err
	}()
	waitFor(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		f := r.flights[key]
		return f != nil && f.waiters == n+1
	})
	quit()
	if err := <-quitErr; !errors.Is(err, context.Canceled) {
		t.Errorf("a caller that gave up: %v", err)
	}
	close(s.release)
	for range n {
		if res := <-results; res.Answer.ResponseCode != 1 || res.Node != s.URL || len(res.Hops) != 2 {
			t.Errorf("shared result %+v", res)
		}
	}
	if got := s.Hits.Load(); got != 1 {
		t.Errorf("the site was asked %d times, want once", got)
	}
	waitFor(t, func() bool { r.mu.Lock(); defer r.mu.Unlock(); return len(r.flights) == 0 })
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// hostile answers whatever body and status it is set to.
type hostile struct {
	mu     sync.Mutex
	status int
	header map[string]string
	body   []byte
}

func (h *hostile) set(status int, body []byte, header map[string]string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.status, h.body, h.header = status, body, header
}

func (h *hostile) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h.mu.Lock()
	status, body, header := h.status, h.body, h.header
	h.mu.Unlock()
	for k, v := range header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// hostileBodies answer neither as a directory nor as a site for 88.501/X.
var hostileBodies = []string{
	``,
	`not json`,
	`<html>502 Bad Gateway</html>`,
	`[]`,
	`null`,
	`"1"`,
	`{}`,
	`{"responseCode":0,"handle":"88.501/X"}`,
	`{"responseCode":"1","handle":"88.501/X"}`,
	`{"responseCode":1}`,
	`{"responseCode":1,"handle":"88.501/Y"}`,
	`{"responseCode":1,"handle":"0.NA/88.502","values":[{"type":"HS_SITE","data":{"format":"string","value":"http://a.example"}}]}`,
	`{"responseCode":1,"handle":"0.NA/88.501","values":[{"type":"HS_SITE","data":{"format":"string","value":"file:///etc/passwd"}}]}`,
	`{"responseCode":1,"handle":"0.NA/88.501","values":[{"type":"HS_SITE","data":{"format":"string","value":"javascript:alert(1)"}}]}`,
	`{"responseCode":1,"handle":"0.NA/88.501","values":[{"type":"HS_SITE","data":{"format":"hex","value":"687474703a2f2f"}}]}`,
	`{"responseCode":1,"handle":"0.NA/88.501","values":[{"type":"HS_SITE","data":{"format":"string","value":5}}]}`,
	`{"responseCode":1,"handle":"0.NA/88.501","values":[{"type":"HS_SITE","data":{"format":"string","value":"http://u:p@a.example"}}]}`,
	`{"responseCode":1,"handle":"0.NA/88.501","values":null}`,
	`{"responseCode":1,"handle":"0.NA/88.501","values":[null,{}]}`,
	`{"responseCode":2,"handle":"88.501/X","message":"` + strings.Repeat("m", 10000) + `"}`,
	`{"responseCode":301,"handle":"88.501/X"}`,
	`{"responseCode":402,"handle":"88.501/X"}`,
	`{"responseCode":-7,"handle":"88.501/X"}`,
	`{"responseCode":99999999999999999999,"handle":"88.501/X"}`,
	`{"responseCode":1,"handle":"88.501/X\u0000"}`,
	"{\"responseCode\":1,\"handle\":\"88.501/X\xff\"}",
	strings.Repeat("[", 100000),
	`{"responseCode":1,"handle":"88.501/X","values":[` + strings.Repeat(`{"index":1,"type":"URL","data":{"value":"x"}},`, 30000) + `{}]}`,
}

func TestHostileAnswersAreErrors(t *testing.T) {
	t.Parallel()
	bad := &hostile{}
	badSrv, _ := counted(t, bad)
	d := newDirectory(t, time.Hour).site(t, "88.501", badSrv.URL)
	asDirectory := newResolver(t, Config{Upper: badSrv.URL})
	asSite := newResolver(t, Config{Upper: d.URL})

	for i, body := range hostileBodies {
		bad.set(http.StatusOK, []byte(body), nil)
		name := strconv.Itoa(i) + ": " + clip(body)
		if res := resolve(t, asDirectory, "88.501/X", identifiers.Query{}); res.Answer.ResponseCode != identifiers.CodeError || res.Answer.Handle != "88.501/X" {
			t.Errorf("as a directory, %s: %+v", name, res.Answer)
		}
		if res := resolve(t, asSite, "88.501/X", identifiers.Query{}); res.Answer.ResponseCode != identifiers.CodeError || res.Answer.Handle != "88.501/X" || len(res.Answer.Message) > 1000 {
			t.Errorf("as a site, %s: %+v", name, res.Answer)
		}
	}
	// Redirects are not followed.
	bad.set(http.StatusFound, nil, map[string]string{"Location": d.URL + "/api/handles/0.NA/88.501"})
	failed(t, resolve(t, asDirectory, "88.501/X", identifiers.Query{}), "redirect")
	// Answers over MaxAnswer are refused.
	bad.set(http.StatusOK, []byte(`{"responseCode":1,"handle":"88.501/X","message":"`+strings.Repeat("a", MaxAnswer)+`"}`), nil)
	failed(t, resolve(t, asSite, "88.501/X", identifiers.Query{}), "more than 1048576 bytes")
	// A site's own Node is replaced by the site's URL, and an error status with a Handle answer is still that answer.
	bad.set(http.StatusNotFound, []byte(`{"responseCode":100,"handle":"88.501/x","node":"http://elsewhere.example","values":[{"index":1}]}`), nil)
	if res := resolve(t, asSite, "88.501/X", identifiers.Query{}); res.Answer.ResponseCode != 100 || res.Node != badSrv.URL || len(res.Answer.Values) != 0 {
		t.Errorf("a site's own node: %+v", res)
	}
}

// FuzzHostileSite checks that no answer of a site makes the resolver panic
// or relay something about another handle.
func FuzzHostileSite(f *testing.F) {
	for _, b := range hostileBodies[:len(hostileBodies)-2] {
		f.Add(200, []byte(b))
	}
	f.Add(200, []byte(`{"responseCode":1,"handle":"88.501/X","values":[{"index":1,"type":"URL","data":{"format":"string","value":"http://x"},"ttl":-5}]}`))
	f.Add(404, []byte(`{"responseCode":100,"handle":"88.501/X"}`))
	f.Add(500, []byte(`{"responseCode":200,"handle":"88.501/X"}`))
	bad := &hostile{}
	srv := httptest.NewServer(bad)
	defer srv.Close()
	root, _ := handleroot.New(handleroot.Options{})
	if _, _, err := root.Register("88.501", identifiers.ValueTypeSite, srv.URL); err != nil {
		f.Fatal(err)
	}
	rootSrv := httptest.NewServer(root)
	defer rootSrv.Close()
	r, err := New(Config{NodePrefix: "88.500", Upper: rootSrv.URL, HopTimeout: time.Second})
	if err != nil {
		f.Fatal(err)
	}
	h, _ := identifiers.Parse("88.501/X")
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 200 || status > 599 || status/100 == 3 {
			status = 200
		}
		bad.set(status, body, nil)
		res, err := r.Resolve(context.Background(), h, identifiers.Query{Types: []string{"URL"}})
		if err != nil {
			t.Fatal(err)
		}
		a := res.Answer
		switch a.ResponseCode {
		case identifiers.CodeSuccess, identifiers.CodeNotFound, identifiers.CodeInvalid, identifiers.CodeValuesNotFound:
			if !strings.EqualFold(a.Handle, "88.501/X") || res.Node != srv.URL {
				t.Errorf("relayed %+v from %s", a, res.Node)
			}
			for _, v := range a.Values {
				if !strings.EqualFold(v.Type, "URL") {
					t.Errorf("a value the filter excludes was relayed: %+v", v)
				}
			}
		case identifiers.CodeError:
			if a.Handle != "88.501/X" || a.Message == "" {
				t.Errorf("error answer %+v", a)
			}
		default:
			t.Errorf("code %d relayed", a.ResponseCode)
		}
	})
}

func TestNewChecksItsConfiguration(t *testing.T) {
	t.Parallel()
	ok := Config{NodePrefix: "88.500", Upper: "http://root.example:8300"}
	with := func(f func(*Config)) Config { c := ok; f(&c); return c }
	for name, c := range map[string]Config{
		"no node prefix":          with(func(c *Config) { c.NodePrefix = "" }),
		"a bad node prefix":       with(func(c *Config) { c.NodePrefix = "88.x" }),
		"no upper node":           with(func(c *Config) { c.Upper = "" }),
		"an ftp upper node":       with(func(c *Config) { c.Upper = "ftp://root.example" }),
		"an upper with a query":   with(func(c *Config) { c.Upper = "http://root.example/?a=1" }),
		"a relative upper":        with(func(c *Config) { c.Upper = "root.example:8300" }),
		"self without host":       with(func(c *Config) { c.Self = "http://" }),
		"self is the upper":       with(func(c *Config) { c.Self = "HTTP://Root.example:8300/" }),
		"a negative hop timeout":  with(func(c *Config) { c.HopTimeout = -time.Second }),
		"a negative MissTTL":      with(func(c *Config) { c.MissTTL = -time.Second }),
		"a negative MaxTTL":       with(func(c *Config) { c.MaxTTL = -time.Second }),
		"negative max referrals":  with(func(c *Config) { c.MaxReferrals = -1 }),
		"user information in URL": with(func(c *Config) { c.Upper = "http://u:p@root.example" }),
	} {
		if _, err := New(c); !isInvalid(err) {
			t.Errorf("%s: %v, want INVALID_INPUT", name, err)
		}
	}
	r, err := New(with(func(c *Config) { c.Upper = "HTTP://Root.Example:8300/" }))
	if err != nil {
		t.Fatal(err)
	}
	if c := r.cfg; c.Upper != "http://root.example:8300" || c.HopTimeout != 2*time.Second || c.MaxReferrals != 3 ||
		c.MissTTL != 10*time.Second || c.MaxTTL != time.Hour || c.Client == nil || c.Client.Timeout != 0 {
		t.Errorf("defaults %+v", c)
	}
}

func TestRedisCacheFailureIsAMiss(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	rc := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1, DialerRetries: 1})
	defer rc.Close()
	c := NewRedisCache(rc, "test:")
	c.Set(context.Background(), "k", []byte("v"), time.Minute)
	if _, ok := c.Get(context.Background(), "k"); ok {
		t.Error("a Redis that is down answered a hit")
	}
	// The resolver works on without it.
	s := newSite(t)
	d := newDirectory(t, time.Hour).site(t, "88.501", s.URL)
	r := newResolver(t, Config{Upper: d.URL, Cache: c})
	for range 2 {
		if res := resolve(t, r, "88.501.1304/UNIT-42", identifiers.Query{}); res.Answer.ResponseCode != 1 || res.Cached {
			t.Errorf("without Redis: %+v", res)
		}
	}
	if s.Hits.Load() != 2 {
		t.Errorf("site asked %d times, want 2", s.Hits.Load())
	}
	if _, ok := NewRedisCache(nil, "x:").Get(context.Background(), "k"); ok {
		t.Error("a nil client answered a hit")
	}
}

func TestRedisCache(t *testing.T) {
	url := os.Getenv("REDIS_URL")
	if url == "" {
		if os.Getenv("ORCH_REQUIRE_STACK") == "1" {
			t.Fatal("REDIS_URL is unset")
		}
		t.Skip("REDIS_URL is unset: the Redis cache needs a Redis (`make test` starts one)")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opt)
	defer rc.Close()
	ctx := context.Background()
	prefix := "test:remote:" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	t.Cleanup(func() {
		keys, _ := rc.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rc.Del(ctx, keys...)
		}
	})
	c := NewRedisCache(rc, prefix)
	if _, ok := c.Get(ctx, "absent"); ok {
		t.Error("a hit on an absent key")
	}
	c.Set(ctx, "k", []byte("value"), time.Minute)
	if b, ok := c.Get(ctx, "k"); !ok || string(b) != "value" {
		t.Errorf("Get = %q %v", b, ok)
	}
	if ttl := rc.PTTL(ctx, prefix+"k").Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("the key's TTL in Redis is %s", ttl)
	}
	c.Set(ctx, "short", []byte("x"), 100*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	if _, ok := c.Get(ctx, "short"); ok {
		t.Error("an entry outlived its TTL")
	}

	s := newSite(t)
	d := newDirectory(t, time.Hour).site(t, "88.501", s.URL)
	r := newResolver(t, Config{Upper: d.URL, Cache: c})
	resolve(t, r, "88.501.1304/UNIT-42", identifiers.Query{})
	if res := resolve(t, r, "88.501.1304/UNIT-42", identifiers.Query{}); !res.Cached || res.Answer.ResponseCode != 1 || s.Hits.Load() != 1 {
		t.Errorf("through Redis: %+v, site asked %d times", res, s.Hits.Load())
	}
}
