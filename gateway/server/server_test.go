package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/masscustom/orchestrator/gateway/server"
	"github.com/masscustom/orchestrator/graph"
	"github.com/masscustom/orchestrator/internal/platform"
	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/config"
)

// gateway starts the real handler on the real stack.
func gateway(t *testing.T, mutate ...func(*config.Config)) (*httptest.Server, *platform.Platform) {
	t.Helper()
	p := testenv.Platform(t)
	cfg := p.Config
	for _, m := range mutate {
		m(&cfg)
	}
	metrics := server.NewMetrics()
	srv := httptest.NewServer(server.New(server.Deps{
		Config:   cfg,
		Resolver: graph.NewResolver(p, cfg, metrics.WorkflowStarts),
		Identity: p.Identity,
		Leasing:  p.Leasing,
		Metrics:  metrics,
		Checks:   server.PlatformChecks(p),
	}))
	t.Cleanup(srv.Close)
	return srv, p
}

func TestHealthAndReadinessOnTheRealStack(t *testing.T) {
	srv, _ := gateway(t)
	res, err := http.Get(srv.URL + "/healthz")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", err, res)
	}
	res, err = http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	_ = json.NewDecoder(res.Body).Decode(&body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("readyz status %d: %v", res.StatusCode, body)
	}
	for _, dep := range []string{"postgres", "redis", "temporal"} {
		if body[dep] != "ok" {
			t.Errorf("readyz %s = %q, want ok", dep, body[dep])
		}
	}
}

func TestReadinessNamesTheDependencyThatIsDown(t *testing.T) {
	p := testenv.Platform(t)
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer dead.Close()
	checks := server.PlatformChecks(p)
	for i := range checks {
		if checks[i].Name == "redis" {
			checks[i].Ping = func(ctx context.Context) error { return dead.Ping(ctx).Err() }
		}
	}
	metrics := server.NewMetrics()
	srv := httptest.NewServer(server.New(server.Deps{Config: p.Config, Resolver: graph.NewResolver(p, p.Config, metrics.WorkflowStarts), Identity: p.Identity, Metrics: metrics, Checks: checks}))
	defer srv.Close()
	res, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]string
	_ = json.NewDecoder(res.Body).Decode(&body)
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", res.StatusCode)
	}
	if !strings.HasPrefix(body["redis"], "down") || body["postgres"] != "ok" || body["temporal"] != "ok" {
		t.Fatalf("readyz body %v: want redis down, others ok", body)
	}
}

func TestMetricsCountOperationsByOutcome(t *testing.T) {
	srv, p := gateway(t)
	a := testenv.Account(t, p, "CUSTOMER", "MEMBER")
	c := testenv.Client{URL: srv.URL + "/graphql", Token: a.Secret}
	c.Do(t, `{ viewer { user { email } } }`, nil)
	c.Do(t, `{ enterprises(first: -1) { edges { cursor } } }`, nil)
	res, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	buf := new(strings.Builder)
	_, _ = bufCopy(buf, res)
	text := buf.String()
	for _, want := range []string{
		`graphql_requests_total{operation="viewer",outcome="ok",type="query"} 1`,
		`graphql_requests_total{operation="enterprises",outcome="INVALID_INPUT",type="query"} 1`,
		`graphql_request_duration_seconds_bucket{operation="viewer",type="query"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func bufCopy(b *strings.Builder, res *http.Response) (int64, error) {
	var n int64
	chunk := make([]byte, 32<<10)
	for {
		k, err := res.Body.Read(chunk)
		b.Write(chunk[:k])
		n += int64(k)
		if err != nil {
			return n, nil
		}
	}
}

// Request errors (parse, validation, limits) answer 200 here because the client
// sends no Accept header, which means application/json; TestGraphQLOverHTTPRules
// covers application/graphql-response+json, where they answer 400.
func TestBadInputIsRefusedWithACode(t *testing.T) {
	srv, p := gateway(t, func(c *config.Config) { c.MaxDepth = 7; c.MaxComplexity = 200; c.MaxBodyBytes = 4096 })
	a := testenv.Account(t, p, "PLATFORM", "ADMIN")
	url := srv.URL + "/graphql"
	authed := testenv.Client{URL: url, Token: a.Secret}

	cases := []struct {
		name   string
		do     func() testenv.Response
		status int
		code   string
	}{
		{"malformed JSON", func() testenv.Response { return authed.Raw(t, "application/json", []byte(`{"query": "{ viewer`)) }, 400, "BAD_REQUEST"},
		{"JSON without a query", func() testenv.Response { return authed.Raw(t, "application/json", []byte(`{"q": 1}`)) }, 400, "BAD_REQUEST"},
		{"malformed GraphQL", func() testenv.Response { return authed.Do(t, `{ viewer { `, nil) }, 200, "GRAPHQL_PARSE_FAILED"},
		{"unknown field", func() testenv.Response { return authed.Do(t, `{ nope }`, nil) }, 200, "GRAPHQL_VALIDATION_FAILED"},
		{"unknown token", func() testenv.Response {
			return testenv.Client{URL: url, Token: "mco_not_a_real_token"}.Do(t, `{ viewer { user { id } } }`, nil)
		}, 401, "UNAUTHENTICATED"},
		{"token that is not ours", func() testenv.Response {
			return testenv.Client{URL: url, Token: "abc"}.Do(t, `{ viewer { user { id } } }`, nil)
		}, 401, "UNAUTHENTICATED"},
		{"missing token", func() testenv.Response {
			return testenv.Client{URL: url}.Do(t, `{ viewer { user { id } } }`, nil)
		}, 401, "UNAUTHENTICATED"},
		{"too deep", func() testenv.Response {
			return authed.Do(t, `{ viewer { user { enterprise { users { edges { node { enterprise { name } } } } } } } }`, nil)
		}, 200, "DEPTH_LIMIT_EXCEEDED"},
		{"too complex", func() testenv.Response {
			return authed.Do(t, `{ enterprises(first: 100) { edges { node { users(first: 100) { edges { node { email } } } } } } }`, nil)
		}, 200, "COMPLEXITY_LIMIT_EXCEEDED"},
		{"body too large", func() testenv.Response {
			return authed.Do(t, `{ viewer { user { id } } }`, map[string]any{"pad": strings.Repeat("x", 5000)})
		}, 413, "REQUEST_TOO_LARGE"},
		{"negative page size", func() testenv.Response { return authed.Do(t, `{ enterprises(first: -1) { edges { cursor } } }`, nil) }, 200, "INVALID_INPUT"},
		{"forged cursor", func() testenv.Response {
			return authed.Do(t, `{ enterprises(after: "zzz") { edges { cursor } } }`, nil)
		}, 200, "INVALID_INPUT"},
		{"Decimal-free float where an ID is due", func() testenv.Response {
			return authed.Do(t, `mutation { createUser(input: {enterpriseId: 1.5, email: "a@b.c", name: "x", role: ADMIN}) { errors { code } } }`, nil)
		}, 200, "GRAPHQL_VALIDATION_FAILED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.do()
			if r.Status != c.status || r.Code() != c.code {
				t.Fatalf("got status %d code %q (%+v), want %d %q", r.Status, r.Code(), r.Errors, c.status, c.code)
			}
		})
	}
}

func TestIntrospectionAndPlaygroundFollowConfiguration(t *testing.T) {
	on, p := gateway(t)
	off, _ := gateway(t, func(c *config.Config) { c.Introspection = false; c.Playground = false })
	a := testenv.Account(t, p, "CUSTOMER", "MEMBER")
	q := `{ __schema { queryType { name } } }`
	if r := (testenv.Client{URL: on.URL + "/graphql", Token: a.Secret}).Do(t, q, nil); len(r.Errors) > 0 {
		t.Fatalf("introspection on: %+v", r.Errors)
	}
	if r := (testenv.Client{URL: off.URL + "/graphql", Token: a.Secret}).Do(t, q, nil); len(r.Errors) == 0 {
		t.Fatal("introspection off but answered")
	}
	for _, c := range []struct {
		url  string
		want int
	}{{on.URL + "/", 200}, {off.URL + "/", 404}} {
		res, err := http.Get(c.url)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.want {
			t.Errorf("GET %s = %d, want %d", c.url, res.StatusCode, c.want)
		}
	}
}
