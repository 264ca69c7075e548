package server_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/masscustom/orchestrator/gateway/server"
	"github.com/masscustom/orchestrator/graph"
	"github.com/masscustom/orchestrator/internal/handleroot"
	"github.com/masscustom/orchestrator/internal/platform"
	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/config"
	"github.com/masscustom/orchestrator/services/identifiers"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/registry"
)

// fedServer is an httptest server whose handler is set after it listens, so
// that a node's own URL can go into its configuration before it is built.
type fedServer struct {
	*httptest.Server
	h        atomic.Pointer[http.Handler]
	handles  atomic.Int64 // requests for /api/handles/...
	received atomic.Int64 // every request
}

func newFedServer(t *testing.T) *fedServer {
	t.Helper()
	s := &fedServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.received.Add(1)
		if strings.HasPrefix(r.URL.Path, "/api/handles/") {
			s.handles.Add(1)
		}
		h := s.h.Load()
		if h == nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		(*h).ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *fedServer) set(h http.Handler) { s.h.Store(&h) }

// fedNode is one platform node: its own database, its gateway on its own listener.
type fedNode struct {
	name   string
	prefix string
	srv    *fedServer
	p      *platform.Platform
}

// openFedNode opens a platform over cfg (no Temporal) with the node prefix,
// its own URL and the upper node set, and serves its gateway on srv.
func openFedNode(t *testing.T, ctx context.Context, name string, cfg config.Config, prefix, upper string, hop time.Duration, srv *fedServer) *fedNode {
	t.Helper()
	cfg.NodePrefix = prefix
	cfg.NodeURL = srv.URL
	cfg.UpperNode = upper
	cfg.ResolveHopTimeout = hop
	p, err := platform.Open(ctx, cfg, platform.Options{Temporal: false})
	if err != nil {
		t.Fatalf("open node %s: %v", name, err)
	}
	t.Cleanup(p.Close)
	if p.Remote == nil {
		t.Fatalf("node %s: platform.Open with UpperNode %q built no remote resolver", name, upper)
	}
	metrics := server.NewMetrics()
	srv.set(server.New(server.Deps{
		Config:   cfg,
		Resolver: graph.NewResolver(p, cfg, metrics.WorkflowStarts),
		Identity: p.Identity,
		Leasing:  p.Leasing,
		Metrics:  metrics,
	}))
	return &fedNode{name: name, prefix: prefix, srv: srv, p: p}
}

type fedReply struct {
	status  int
	header  http.Header
	answer  identifiers.Answer
	raw     string
	elapsed time.Duration
}

func fedGet(t *testing.T, u, token string) fedReply {
	t.Helper()
	start := time.Now()
	res, b := get(t, u, "", token)
	r := fedReply{status: res.StatusCode, header: res.Header, raw: string(b), elapsed: time.Since(start)}
	if err := json.Unmarshal(b, &r.answer); err != nil {
		t.Fatalf("GET %s: HTTP %d, body is not a Handle answer (%v): %s", u, res.StatusCode, err, b)
	}
	return r
}

// fedTypes lists the types of an answer's values, with their data.
func fedValues(a identifiers.Answer) map[string]string {
	out := map[string]string{}
	for _, v := range a.Values {
		out[v.Type] = v.Data.Value
	}
	return out
}

func fedRandom(t *testing.T, n int64) int64 {
	t.Helper()
	v, err := rand.Int(rand.Reader, big.NewInt(n))
	if err != nil {
		t.Fatal(err)
	}
	return v.Int64()
}

// Two platforms, each a secondary node with its own database, find each
// other's identifiers through a top-level node (internal/handleroot):
// public values only, relayed with the node that answered, filters passed
// on, cached; and the failures of recursive resolution (a prefix nobody
// serves, a referral loop, a node down, a node too slow) answer at once
// with what went wrong.
func TestTwoPlatformNodesResolveEachOthersIdentifiersThroughTheTopNode(t *testing.T) {
	base := testenv.Config(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const hop = 300 * time.Millisecond
	const bound = 10 * hop

	// Prefixes unique to this run: the resolution cache lives in the shared Redis.
	run := 1000 + fedRandom(t, 9000)
	pfx := func(last int) string { return fmt.Sprintf("88.6%d%d", run, last) }
	prefixA, prefixB, prefixDead, prefixSlow, prefixNone := pfx(1), pfx(2), pfx(3), pfx(4), pfx(9)
	prefixLoop := fmt.Sprintf("88.7%d1", run)
	for _, p := range []string{prefixA, prefixB, prefixDead, prefixSlow, prefixNone, prefixLoop} {
		if err := identifiers.ValidatePrefix(p); err != nil {
			t.Fatalf("prefix %s: %v", p, err)
		}
	}

	// The top node, and a second directory for the referral loop.
	root, err := handleroot.New(handleroot.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rootSrv := httptest.NewServer(root)
	t.Cleanup(rootSrv.Close)
	other, err := handleroot.New(handleroot.Options{})
	if err != nil {
		t.Fatal(err)
	}
	otherSrv := httptest.NewServer(other)
	t.Cleanup(otherSrv.Close)

	srvA, srvB := newFedServer(t), newFedServer(t)
	register := func(r *handleroot.Root, prefix, typ, u string) {
		t.Helper()
		if _, _, err := r.Register(prefix, typ, u); err != nil {
			t.Fatalf("register %s %s %s: %v", prefix, typ, u, err)
		}
	}
	register(root, prefixA, identifiers.ValueTypeSite, srvA.URL)
	register(root, prefixB, identifiers.ValueTypeSite, srvB.URL)

	// Node A on the stack's database.
	a := openFedNode(t, ctx, "A", base, prefixA, rootSrv.URL, hop, srvA)

	// Node B on a database of its own on the same server, and Redis DB 1.
	dbName := "orch_node_b_" + testenv.Suffix()
	if _, err := a.p.DB.Exec(ctx, `CREATE DATABASE `+dbName); err != nil {
		t.Fatalf("create database %s: %v", dbName, err)
	}
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer dcancel()
		if _, err := a.p.DB.Exec(dctx, `DROP DATABASE IF EXISTS `+dbName+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", dbName, err)
		}
	})
	cfgB := base
	dbURL, err := url.Parse(base.DatabaseURL)
	if err != nil {
		t.Fatalf("DATABASE_URL: %v", err)
	}
	dbURL.Path = "/" + dbName
	cfgB.DatabaseURL = dbURL.String()
	redisURL, err := url.Parse(base.RedisURL)
	if err != nil {
		t.Fatalf("REDIS_URL: %v", err)
	}
	if redisURL.Path == "/1" {
		redisURL.Path = "/2"
	} else {
		redisURL.Path = "/1"
	}
	cfgB.RedisURL = redisURL.String()
	b := openFedNode(t, ctx, "B", cfgB, prefixB, rootSrv.URL, hop, srvB)
	if a.p.Registry.Node() != prefixA || b.p.Registry.Node() != prefixB {
		t.Fatalf("node prefixes %s and %s, want %s and %s", a.p.Registry.Node(), b.p.Registry.Node(), prefixA, prefixB)
	}

	// One identifier on each node: two public values and one for the owner only.
	type minted struct {
		handle string
		owner  identity.Account
	}
	mint := func(n *fedNode) minted {
		t.Helper()
		owner := testenv.Account(t, n.p, identity.KindFactory, identity.RoleAdmin)
		batch, err := n.p.Registry.MintBatch(ctx, testenv.Principal(owner), registry.BatchInput{
			Key: "federation-" + testenv.Suffix(), Kind: registry.KindEquipment,
			Suffixes: []string{"MACHINE-" + n.name + "-" + testenv.Suffix()},
			Values: []registry.ValueInput{
				{Type: "URL", Data: "https://" + strings.ToLower(n.name) + ".example/machine"},
				{Type: "SPEC.MODEL", Data: "press " + n.name},
				{Type: "SPEC.COST", Data: "secret cost of " + n.name, Readable: registry.ReadOwner},
			},
		})
		if err != nil {
			t.Fatalf("mint on node %s: %v", n.name, err)
		}
		if len(batch.Handles) != 1 || !strings.HasPrefix(batch.Handles[0], n.prefix+".") {
			t.Fatalf("node %s minted %v, want one handle under %s", n.name, batch.Handles, n.prefix)
		}
		return minted{handle: batch.Handles[0], owner: owner}
	}
	handleA, handleB := mint(a), mint(b)

	// Each node answers its own identifier: the owner sees all three values
	// (the OWNER value exists), the public only two. This also warms each
	// node's record cache before the short hop timeout applies to it.
	for _, c := range []struct {
		n *fedNode
		m minted
	}{{a, handleA}, {b, handleB}} {
		r := fedGet(t, c.n.srv.URL+"/api/handles/"+c.m.handle, c.m.owner.Secret)
		if r.status != http.StatusOK || r.answer.ResponseCode != identifiers.CodeSuccess || len(r.answer.Values) != 3 {
			t.Fatalf("node %s, its own %s for its owner: HTTP %d %s, want 200, code 1, three values", c.n.name, c.m.handle, r.status, r.raw)
		}
		r = fedGet(t, c.n.srv.URL+"/api/handles/"+c.m.handle, "")
		if r.status != http.StatusOK || r.answer.ResponseCode != identifiers.CodeSuccess || len(r.answer.Values) != 2 {
			t.Fatalf("node %s, its own %s without a token: HTTP %d %s, want 200, code 1, two values", c.n.name, c.m.handle, r.status, r.raw)
		}
	}

	wantPublic := func(n *fedNode, a identifiers.Answer) {
		t.Helper()
		got := fedValues(a)
		want := map[string]string{"URL": "https://" + strings.ToLower(n.name) + ".example/machine", "SPEC.MODEL": "press " + n.name}
		if len(a.Values) != 2 || got["URL"] != want["URL"] || got["SPEC.MODEL"] != want["SPEC.MODEL"] {
			t.Errorf("values %v, want exactly the public %v", got, want)
		}
		if _, leaked := got["SPEC.COST"]; leaked {
			t.Errorf("the OWNER value SPEC.COST was relayed: %v", got)
		}
		for _, v := range a.Values {
			if strings.Contains(v.Data.Value, "secret") {
				t.Errorf("a value carries the owner's secret: %+v", v)
			}
		}
	}

	// A resolves B's identifier, and B resolves A's, through the top node.
	for _, c := range []struct {
		from, to *fedNode
		m        minted
	}{{a, b, handleB}, {b, a, handleA}} {
		before := c.to.srv.handles.Load()
		r := fedGet(t, c.from.srv.URL+"/api/handles/"+c.m.handle, "")
		if r.status != http.StatusOK || r.answer.ResponseCode != identifiers.CodeSuccess {
			t.Fatalf("node %s asked for %s (node %s's): HTTP %d %s, want 200 code 1", c.from.name, c.m.handle, c.to.name, r.status, r.raw)
		}
		if !strings.EqualFold(r.answer.Handle, c.m.handle) {
			t.Errorf("node %s relayed handle %q, want %q", c.from.name, r.answer.Handle, c.m.handle)
		}
		if r.answer.Node != c.to.srv.URL {
			t.Errorf("node %s relayed node %q, want node %s's URL %s", c.from.name, r.answer.Node, c.to.name, c.to.srv.URL)
		}
		if h := r.header.Get("X-Handle-Node"); h != c.to.srv.URL {
			t.Errorf("node %s: X-Handle-Node %q, want %s", c.from.name, h, c.to.srv.URL)
		}
		wantPublic(c.to, r.answer)
		if got := c.to.srv.handles.Load() - before; got != 1 {
			t.Errorf("node %s was asked %d times for %s, want once", c.to.name, got, c.m.handle)
		}
	}

	// The second GET of B's identifier from A comes from the cache: B is not asked.
	before := srvB.received.Load()
	r := fedGet(t, srvA.URL+"/api/handles/"+handleB.handle, "")
	if r.status != http.StatusOK || r.answer.ResponseCode != identifiers.CodeSuccess || r.answer.Node != srvB.URL {
		t.Fatalf("second GET of %s from A: HTTP %d %s, want 200, code 1, node %s", handleB.handle, r.status, r.raw, srvB.URL)
	}
	wantPublic(b, r.answer)
	if got := srvB.received.Load() - before; got != 0 {
		t.Errorf("the second GET of %s from A reached B %d times, want 0 (served from the cache)", handleB.handle, got)
	}

	// Filters pass through to the node that serves the identifier.
	before = srvB.handles.Load()
	r = fedGet(t, srvA.URL+"/api/handles/"+handleB.handle+"?type=SPEC.MODEL", "")
	if r.status != http.StatusOK || r.answer.ResponseCode != identifiers.CodeSuccess || len(r.answer.Values) != 1 ||
		r.answer.Values[0].Type != "SPEC.MODEL" || r.answer.Values[0].Data.Value != "press B" || r.answer.Node != srvB.URL {
		t.Errorf("?type=SPEC.MODEL from A: HTTP %d %s, want 200, code 1, only SPEC.MODEL = press B from %s", r.status, r.raw, srvB.URL)
	}
	if got := srvB.handles.Load() - before; got != 1 {
		t.Errorf("the filtered GET asked B %d times, want once (another filter, another cache entry)", got)
	}
	r = fedGet(t, srvA.URL+"/api/handles/"+handleB.handle+"?type=URL&type=SPEC.MODEL", "")
	if r.status != http.StatusOK || r.answer.ResponseCode != identifiers.CodeSuccess {
		t.Errorf("?type=URL&type=SPEC.MODEL from A: HTTP %d %s, want 200 code 1", r.status, r.raw)
	} else {
		wantPublic(b, r.answer)
	}
	r = fedGet(t, srvB.URL+"/api/handles/"+handleA.handle+"?type=url", "")
	if r.status != http.StatusOK || r.answer.ResponseCode != identifiers.CodeSuccess || len(r.answer.Values) != 1 ||
		r.answer.Values[0].Type != "URL" || r.answer.Node != srvA.URL {
		t.Errorf("?type=url from B: HTTP %d %s, want 200, code 1, only the URL value from %s", r.status, r.raw, srvA.URL)
	}
	// The OWNER value is not readable through another node: 200, no value matches.
	r = fedGet(t, srvA.URL+"/api/handles/"+handleB.handle+"?type=SPEC.COST", "")
	if r.status != http.StatusOK || r.answer.ResponseCode != identifiers.CodeValuesNotFound || len(r.answer.Values) != 0 {
		t.Errorf("?type=SPEC.COST from A: HTTP %d %s, want 200, code 200, no value", r.status, r.raw)
	}
	// An identifier B does not have, under B's prefix: B's 100 relayed.
	r = fedGet(t, srvA.URL+"/api/handles/"+strings.SplitN(handleB.handle, "/", 2)[0]+"/NO-SUCH-"+testenv.Suffix(), "")
	if r.status != http.StatusNotFound || r.answer.ResponseCode != identifiers.CodeNotFound || r.answer.Node != srvB.URL {
		t.Errorf("an unknown identifier under B's prefix from A: HTTP %d %s, want 404, code 100, node %s", r.status, r.raw, srvB.URL)
	}

	// A prefix nobody registered: 100, HTTP 404.
	r = fedGet(t, srvA.URL+"/api/handles/"+prefixNone+"/X", "")
	if r.status != http.StatusNotFound || r.answer.ResponseCode != identifiers.CodeNotFound {
		t.Errorf("%s/X from A: HTTP %d %s, want 404, code 100", prefixNone, r.status, r.raw)
	}

	// A referral loop between two directories: 2, HTTP 502, named a loop.
	register(root, prefixLoop, identifiers.ValueTypeServ, otherSrv.URL)
	register(other, prefixLoop, identifiers.ValueTypeServ, rootSrv.URL)
	r = fedGet(t, srvA.URL+"/api/handles/"+prefixLoop+"/X", "")
	if r.status != http.StatusBadGateway || r.answer.ResponseCode != identifiers.CodeError || !strings.Contains(r.answer.Message, "loop") {
		t.Errorf("%s/X (a referral loop) from A: HTTP %d %s, want 502, code 2, a message naming a loop", prefixLoop, r.status, r.raw)
	}
	if r.elapsed > bound {
		t.Errorf("the referral loop took %s to answer, want under %s", r.elapsed, bound)
	}

	// A node that is down (its listener closed): 2, HTTP 502, at once.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	register(root, prefixDead, identifiers.ValueTypeSite, deadURL)
	r = fedGet(t, srvA.URL+"/api/handles/"+prefixDead+"/X", "")
	if r.status != http.StatusBadGateway || r.answer.ResponseCode != identifiers.CodeError || !strings.Contains(r.answer.Message, deadURL) {
		t.Errorf("%s/X (node down at %s) from A: HTTP %d %s, want 502, code 2, a message naming the node", prefixDead, deadURL, r.status, r.raw)
	}
	if r.elapsed > bound {
		t.Errorf("the dead node took %s to answer, want under %s", r.elapsed, bound)
	}

	// A node slower than the hop timeout: 2, HTTP 502, after about one hop.
	var slowAsked atomic.Int64
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slowAsked.Add(1)
		select {
		case <-time.After(3 * hop):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(identifiers.Answer{ResponseCode: identifiers.CodeSuccess,
			Handle: strings.TrimPrefix(r.URL.Path, "/api/handles/"), Values: []identifiers.Value{identifiers.StringValue(1, "URL", "https://slow.example", 60, time.Now())}})
	}))
	t.Cleanup(slow.Close)
	register(root, prefixSlow, identifiers.ValueTypeSite, slow.URL)
	r = fedGet(t, srvA.URL+"/api/handles/"+prefixSlow+"/X", "")
	if r.status != http.StatusBadGateway || r.answer.ResponseCode != identifiers.CodeError || len(r.answer.Values) != 0 {
		t.Errorf("%s/X (a slow node) from A: HTTP %d %s, want 502, code 2, no value", prefixSlow, r.status, r.raw)
	}
	if !strings.Contains(r.answer.Message, slow.URL) {
		t.Errorf("the slow node's failure %q does not name it (%s)", r.answer.Message, slow.URL)
	}
	if r.elapsed > bound {
		t.Errorf("the slow node took %s to answer, want under %s", r.elapsed, bound)
	}
	if slowAsked.Load() != 1 {
		t.Errorf("the slow node was asked %d times, want once", slowAsked.Load())
	}

	// Through all of that, the two nodes still resolve each other.
	r = fedGet(t, srvB.URL+"/api/handles/"+handleA.handle, "")
	if r.status != http.StatusOK || r.answer.ResponseCode != identifiers.CodeSuccess || r.answer.Node != srvA.URL {
		t.Errorf("B asked again for %s: HTTP %d %s, want 200, code 1, node %s", handleA.handle, r.status, r.raw, srvA.URL)
	}
	if !slices.ContainsFunc(r.answer.Values, func(v identifiers.Value) bool { return v.Type == "SPEC.MODEL" && v.Data.Value == "press A" }) {
		t.Errorf("B asked again for %s: values %v, want SPEC.MODEL = press A", handleA.handle, fedValues(r.answer))
	}
}
