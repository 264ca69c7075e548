// Package server builds the gateway's HTTP handler: GraphQL over HTTP and
// websocket with bearer auth and limits, the playground, health, readiness and
// metrics. The gateway's main and the integration tests both use it.
package server

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/masscustom/orchestrator/graph"
	"github.com/masscustom/orchestrator/graph/generated"
	"github.com/masscustom/orchestrator/services/config"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/leasing"
	"github.com/masscustom/orchestrator/workflows"
)

// Check is a named readiness probe.
type Check struct {
	Name string
	Ping func(context.Context) error
}

// Deps is what the gateway serves with.
type Deps struct {
	Config   config.Config
	Resolver *graph.Resolver
	Identity *identity.Service
	Leasing  *leasing.Store
	Metrics  *Metrics
	Checks   []Check
}

// New returns the gateway's handler.
func New(d Deps) http.Handler {
	if d.Metrics == nil {
		d.Metrics = NewMetrics()
	}
	gql := newGraphQL(d)
	var reads *orderReadCache
	if d.Resolver != nil {
		reads = newOrderReadCache(d.Resolver.Cache)
	}
	mux := http.NewServeMux()
	// The order is the point: method and authentication are checked before the
	// body is read, and the body's shape before GraphQL parses anything, so an
	// anonymous or malformed request costs no parse or validation CPU.
	mux.Handle("/graphql", graphQLMethods(upgradeOr(gql,
		authenticate(d.Identity, idempotencyKey(readGraphQLBody(d.Config.MaxBodyBytes,
			reads.wrap(graph.LoadersMiddleware(d.Identity, requestErrorStatus(gql)))))))))
	mux.Handle("POST /usage", authenticate(d.Identity, UsageHandler(d.Leasing, leasing.IngestOptions{Grace: d.Config.LeaseGrace})))
	mux.Handle("GET /invoices/{file}", authenticate(d.Identity, InvoicePDFHandler(d.Identity, d.Leasing)))
	mux.Handle("GET /notes/{file}", authenticate(d.Identity, NotePDFHandler(d.Identity, d.Leasing)))
	mux.Handle("GET /leases/{contract}/usage/{file}", authenticate(d.Identity, UsageCSVHandler(d.Leasing)))
	if d.Resolver != nil && d.Resolver.Registry != nil {
		mux.Handle("GET /api/handles/{handle...}", HandlesHandler(d.Identity, d.Resolver.Registry, d.Resolver.Remote))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", readiness(d.Checks))
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.Metrics.Registry, promhttp.HandlerOpts{}))
	if d.Config.Playground {
		mux.Handle("GET /{$}", playground.Handler("Mass customization platform", "/graphql"))
	}
	return requestID(accessLog(mux))
}

func newGraphQL(d Deps) *handler.Server {
	cfg := generated.Config{Resolvers: d.Resolver}
	connectionComplexity(&cfg.Complexity)
	es := generated.NewExecutableSchema(cfg)
	srv := handler.New(es)
	srv.AddTransport(transport.Websocket{
		KeepAlivePingInterval: 15 * time.Second,
		InitFunc:              websocketAuth(d.Identity),
		// The guard enforces graphql-transport-ws (init timeout, message order,
		// duplicate ids) with the protocol's close codes; gqlgen's own
		// InitTimeout stays off since it closes with 1002.
		Implementation: protocolGuard{InitTimeout: d.Config.WebsocketInitTimeout},
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if d.Config.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(documentLimits{
		MaxTokens: d.Config.MaxTokens, MaxAliases: d.Config.MaxAliases,
		MaxSpreads: d.Config.MaxFragmentSpreads, MaxFields: d.Config.MaxFields,
		Passed: lru.New[struct{}](1000),
	})
	srv.Use(strictInt{schema: es.Schema()})
	srv.Use(depthLimit{Max: d.Config.MaxDepth})
	srv.Use(extension.FixedComplexityLimit(d.Config.MaxComplexity))
	srv.Use(operationMetrics{m: d.Metrics})
	srv.SetErrorPresenter(graph.ErrorPresenter)
	srv.SetRecoverFunc(graph.RecoverFunc)
	return srv
}

// gqlError writes a GraphQL-shaped error response with a code, for refusals that
// happen before GraphQL runs (auth, size, malformed JSON).
func gqlError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{
		"errors": []map[string]any{{"message": msg, "extensions": map[string]any{"code": code}}},
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// bearer extracts the token from an Authorization header value.
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// authenticate resolves the bearer token into a principal. Every operation of
// the API needs one (introspection too), so a request without a token is
// refused like a bad one, 401 UNAUTHENTICATED, before its body is read.
func authenticate(id *identity.Service, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if h == "" {
			w.Header().Set("WWW-Authenticate", "Bearer")
			gqlError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "a bearer token is required: Authorization: Bearer <token>")
			return
		}
		secret, ok := bearer(h)
		if !ok {
			w.Header().Set("WWW-Authenticate", "Bearer")
			gqlError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "the Authorization header must be `Bearer <token>`")
			return
		}
		p, err := id.Authenticate(r.Context(), secret)
		if err != nil {
			if e, ok := errs.As(err); ok && e.Code == errs.Unauthenticated {
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
				gqlError(w, http.StatusUnauthorized, "UNAUTHENTICATED", e.Message)
				return
			}
			slog.ErrorContext(r.Context(), "authentication failed", "err", err)
			gqlError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "authentication is unavailable, try again")
			return
		}
		next.ServeHTTP(w, r.WithContext(identity.WithPrincipal(r.Context(), p)))
	})
}

// maxIdempotencyKey is the longest Idempotency-Key header accepted.
const maxIdempotencyKey = 200

// idempotencyKey takes a request's Idempotency-Key header (1 to 200 visible
// ASCII characters): the workflow updates the request sends are named by it,
// scoped to the caller's token, so a client that sends the request again
// under the same key (after a timeout, a lost answer or a restarted gateway)
// gets the first outcome instead of a second effect or an ILLEGAL_STATE. A
// malformed key is refused before anything runs.
func idempotencyKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			next.ServeHTTP(w, r)
			return
		}
		if len(key) > maxIdempotencyKey || strings.IndexFunc(key, func(c rune) bool { return c < '!' || c > '~' }) >= 0 {
			gqlError(w, http.StatusBadRequest, string(errs.InvalidInput),
				fmt.Sprintf("the Idempotency-Key header must be 1 to %d visible ASCII characters", maxIdempotencyKey))
			return
		}
		scope := ""
		if p := identity.FromContext(r.Context()); p != nil {
			scope = p.TokenID.String()
		}
		next.ServeHTTP(w, r.WithContext(workflows.WithRequestKey(r.Context(), scope+"/"+key)))
	})
}

// websocketAuth authenticates a subscription from its connection_init payload
// ({"Authorization": "Bearer <token>"} or {"authToken": "<token>"}).
func websocketAuth(id *identity.Service) transport.WebsocketInitFunc {
	return func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		secret, ok := bearer(payload.Authorization())
		if !ok {
			if t, isStr := payload["authToken"].(string); isStr && t != "" {
				secret, ok = t, true
			}
		}
		refuse := func(msg string) (context.Context, *transport.InitPayload, error) {
			// 4403 Forbidden is what graphql-transport-ws prescribes; the reason
			// is the only text a client of that protocol receives.
			return transport.WithWebsocketCloseCode(transport.AppendCloseReason(ctx, msg), 4403), nil, errors.New(msg)
		}
		if !ok {
			return refuse("UNAUTHENTICATED: connection_init must carry Authorization: Bearer <token>")
		}
		p, err := id.Authenticate(ctx, secret)
		if err != nil {
			return refuse("UNAUTHENTICATED: unknown, revoked or expired bearer token")
		}
		return identity.WithPrincipal(ctx, p), nil, nil
	}
}

// readiness reports each dependency; 503 names the ones that do not answer.
func readiness(checks []Check) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		status := http.StatusOK
		out := map[string]string{}
		for _, c := range checks {
			if err := c.Ping(ctx); err != nil {
				out[c.Name] = "down: " + err.Error()
				status = http.StatusServiceUnavailable
			} else {
				out[c.Name] = "ok"
			}
		}
		writeJSON(w, status, out)
	}
}

type reqIDKey struct{}

// RequestID returns the request id in ctx, or "".
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(reqIDKey{}).(string)
	return s
}

func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), reqIDKey{}, id)))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController and the websocket upgrade reach the connection.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if r.URL.Path == "/healthz" || r.URL.Path == "/metrics" {
			return
		}
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		slog.InfoContext(r.Context(), "http request", "request_id", RequestID(r.Context()),
			"method", r.Method, "path", r.URL.Path, "status", sw.status, "duration_ms", time.Since(start).Milliseconds())
	})
}

var _ graphql.HandlerExtension = operationMetrics{}

// Hijack lets the websocket transport take over the connection.
func (s *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := s.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("connection cannot be hijacked")
	}
	s.status = http.StatusSwitchingProtocols
	return h.Hijack()
}
