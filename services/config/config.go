// Package config reads the platform's settings from environment variables whose
// defaults match `make run`, so a developer sets nothing locally.
package config

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of the gateway and the worker.
type Config struct {
	DatabaseURL       string
	RedisURL          string
	TemporalAddress   string
	TemporalNamespace string
	// Temporal's connection security, for a self-hosted cluster with TLS (mutual or
	// not) or Temporal Cloud (mTLS or an API key): see temporal.go.
	Temporal       TemporalSecurity
	TaskQueue      string
	HTTPAddr       string
	WorkerHTTPAddr string
	// PprofAddr, when set, serves Go's profiles on a listener of its own (off by default).
	PprofAddr string
	LogLevel  string

	Introspection bool
	Playground    bool
	MaxDepth      int
	MaxComplexity int
	MaxBodyBytes  int64
	// MaxTokens, MaxAliases, MaxFragmentSpreads and MaxFields bound a GraphQL
	// document before it is validated: validation costs up to the square of the
	// document's size, so these are checked on a cheap parse first.
	MaxTokens          int
	MaxAliases         int
	MaxFragmentSpreads int
	MaxFields          int
	// WebsocketInitTimeout is how long a websocket may stay open without a
	// connection_init before it is closed with 4408.
	WebsocketInitTimeout time.Duration
	ShutdownTimeout      time.Duration
	TokenCacheTTL        time.Duration

	// DesignApprovalTimeout is how long a customer has to approve a design.
	DesignApprovalTimeout time.Duration
	// LeaseGrace is how long late usage of a closed period is still accepted
	// (as an adjustment), and how long a lease's final period waits to close.
	LeaseGrace time.Duration
	// LeaseReview is how long a closed period's invoice stays a DRAFT for
	// finance's review, taking late usage, before it is final; 0 makes
	// invoices final at close.
	LeaseReview time.Duration
	// OfferTimeout is a supplier's SLA to answer a procurement offer.
	OfferTimeout time.Duration
	// AutoConfirmAfter is how long after delivery receipt is confirmed for the customer.
	AutoConfirmAfter time.Duration
	// Warranty is how long the warranty runs from delivery.
	Warranty time.Duration

	// NodePrefix is the platform's prefix as a secondary node of identifier
	// resolution: enterprise prefixes are <NodePrefix>.<code>.
	NodePrefix string
	// NodeURL is the base URL at which other nodes reach this gateway
	// (loop detection in recursive resolution).
	NodeURL string
	// UpperNode is the base URL of the upper node asked for the node of a
	// prefix that is not this platform's (empty: other prefixes are answered
	// 301, not responsible).
	UpperNode string
	// ResolveHopTimeout bounds each request of recursive resolution.
	ResolveHopTimeout time.Duration
	// UpperToken, when set, is the bearer token with which the gateway
	// registers NodePrefix at NodeURL with the upper node at start-up.
	UpperToken string
}

// Defaults are the values `make run` uses.
func Defaults() Config {
	return Config{
		DatabaseURL:          "postgres://orch:orch@127.0.0.1:15432/orch?sslmode=disable",
		RedisURL:             "redis://127.0.0.1:16379/0",
		TemporalAddress:      "127.0.0.1:17233",
		TemporalNamespace:    "default",
		TaskQueue:            "orders",
		HTTPAddr:             "127.0.0.1:8080",
		WorkerHTTPAddr:       "127.0.0.1:8081",
		LogLevel:             "info",
		Introspection:        true,
		Playground:           true,
		MaxDepth:             12,
		MaxComplexity:        5000,
		MaxBodyBytes:         1 << 20,
		MaxTokens:            5000,
		MaxAliases:           50,
		MaxFragmentSpreads:   100,
		MaxFields:            1000,
		WebsocketInitTimeout: 10 * time.Second,
		ShutdownTimeout:      20 * time.Second,
		TokenCacheTTL:        5 * time.Minute,

		DesignApprovalTimeout: 72 * time.Hour,
		LeaseGrace:            72 * time.Hour,
		LeaseReview:           48 * time.Hour,
		OfferTimeout:          24 * time.Hour,
		AutoConfirmAfter:      7 * 24 * time.Hour,
		Warranty:              365 * 24 * time.Hour,
		NodePrefix:            "88.500",
		NodeURL:               "http://127.0.0.1:8080",
		ResolveHopTimeout:     2 * time.Second,
	}
}

// Vars lists every environment variable read, with its meaning, for the README and -help.
var Vars = [][2]string{
	{"DATABASE_URL", "Postgres connection string"},
	{"REDIS_URL", "Redis URL"},
	{"TEMPORAL_ADDRESS", "Temporal frontend host:port"},
	{"TEMPORAL_NAMESPACE", "Temporal namespace"},
	{"TEMPORAL_TLS", "connect to Temporal over TLS (true/false; on by itself when a certificate, CA or API key is set)"},
	{"TEMPORAL_TLS_CA_FILE", "PEM file of the CA that signs the Temporal frontend's certificate (default: the system's roots)"},
	{"TEMPORAL_TLS_CERT_FILE", "PEM client certificate for mutual TLS (with TEMPORAL_TLS_KEY_FILE)"},
	{"TEMPORAL_TLS_KEY_FILE", "PEM private key of TEMPORAL_TLS_CERT_FILE"},
	{"TEMPORAL_TLS_SERVER_NAME", "server name to verify in the frontend's certificate (default: the host of TEMPORAL_ADDRESS)"},
	{"TEMPORAL_API_KEY", "Temporal Cloud API key (sent as a bearer token; needs TLS)"},
	{"TEMPORAL_API_KEY_FILE", "file holding the Temporal Cloud API key, instead of TEMPORAL_API_KEY"},
	{"TEMPORAL_TASK_QUEUE", "task queue of the order workflows"},
	{"HTTP_ADDR", "gateway listen address"},
	{"WORKER_HTTP_ADDR", "worker health and metrics listen address"},
	{"LOG_LEVEL", "debug, info, warn or error"},
	{"PPROF_ADDR", "host:port on which the gateway serves /debug/pprof/ on a listener of its own (empty: off)"},
	{"GRAPHQL_INTROSPECTION", "allow schema introspection (true/false)"},
	{"GRAPHQL_PLAYGROUND", "serve the playground at / (true/false)"},
	{"GRAPHQL_MAX_DEPTH", "deepest selection a query may have"},
	{"GRAPHQL_MAX_COMPLEXITY", "highest complexity a query may have"},
	{"HTTP_MAX_BODY_BYTES", "largest request body accepted"},
	{"GRAPHQL_MAX_TOKENS", "most lexical tokens a GraphQL document may have"},
	{"GRAPHQL_MAX_ALIASES", "most aliased fields a GraphQL document may have"},
	{"GRAPHQL_MAX_FRAGMENT_SPREADS", "most fragment spreads a GraphQL document may have"},
	{"GRAPHQL_MAX_FIELDS", "most fields a GraphQL document may select, fragments expanded"},
	{"WEBSOCKET_INIT_TIMEOUT", "how long a websocket may wait before connection_init (Go duration)"},
	{"SHUTDOWN_TIMEOUT", "how long in-flight work may take on SIGTERM (Go duration)"},
	{"TOKEN_CACHE_TTL", "how long a token lookup stays cached in Redis (Go duration)"},
	{"LEASE_LATE_GRACE", "how long late usage is accepted as an adjustment after its period closed (Go duration)"},
	{"ORDER_OFFER_TIMEOUT", "a supplier's SLA to answer a procurement offer (Go duration)"},
	{"ORDER_AUTO_CONFIRM_AFTER", "how long after delivery receipt is confirmed automatically (Go duration)"},
	{"ORDER_WARRANTY", "how long the warranty runs from delivery (Go duration)"},
	{"HANDLE_NODE_PREFIX", "the platform's node prefix for industrial identifiers (enterprise prefixes are <prefix>.<code>)"},
	{"HANDLE_NODE_URL", "the base URL at which other resolution nodes reach this gateway"},
	{"HANDLE_UPPER_NODE", "base URL of the upper node that says which node serves another prefix (empty: none)"},
	{"HANDLE_HOP_TIMEOUT", "how long each request of recursive identifier resolution may take (Go duration)"},
	{"HANDLE_UPPER_TOKEN", "when set, the gateway registers its node prefix at HANDLE_NODE_URL with the upper node at start-up, with this bearer token"},
	{"ORDER_DESIGN_APPROVAL_TIMEOUT", "how long a customer has to approve a design before the order goes ON_HOLD (Go duration)"},
}

// FromEnv reads the configuration, starting from Defaults.
func FromEnv() (Config, error) {
	c := Defaults()
	var errs []string
	str := func(name string, dst *string) {
		if v, ok := os.LookupEnv(name); ok && v != "" {
			*dst = v
		}
	}
	boolean := func(name string, dst *bool) {
		if v, ok := os.LookupEnv(name); ok && v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s=%q is not a boolean", name, v))
				return
			}
			*dst = b
		}
	}
	integer := func(name string, dst *int) {
		if v, ok := os.LookupEnv(name); ok && v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				errs = append(errs, fmt.Sprintf("%s=%q is not a positive integer", name, v))
				return
			}
			*dst = n
		}
	}
	duration := func(name string, dst *time.Duration) {
		if v, ok := os.LookupEnv(name); ok && v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				errs = append(errs, fmt.Sprintf("%s=%q is not a positive duration", name, v))
				return
			}
			*dst = d
		}
	}
	str("DATABASE_URL", &c.DatabaseURL)
	str("REDIS_URL", &c.RedisURL)
	str("TEMPORAL_ADDRESS", &c.TemporalAddress)
	str("TEMPORAL_NAMESPACE", &c.TemporalNamespace)
	errs = append(errs, c.Temporal.fromEnv()...)
	str("TEMPORAL_TASK_QUEUE", &c.TaskQueue)
	str("HTTP_ADDR", &c.HTTPAddr)
	str("WORKER_HTTP_ADDR", &c.WorkerHTTPAddr)
	str("LOG_LEVEL", &c.LogLevel)
	str("PPROF_ADDR", &c.PprofAddr)
	if c.PprofAddr != "" {
		if _, _, err := net.SplitHostPort(c.PprofAddr); err != nil {
			errs = append(errs, fmt.Sprintf("PPROF_ADDR=%q is not host:port", c.PprofAddr))
		}
	}
	boolean("GRAPHQL_INTROSPECTION", &c.Introspection)
	boolean("GRAPHQL_PLAYGROUND", &c.Playground)
	integer("GRAPHQL_MAX_DEPTH", &c.MaxDepth)
	integer("GRAPHQL_MAX_COMPLEXITY", &c.MaxComplexity)
	var body int
	integer("HTTP_MAX_BODY_BYTES", &body)
	if body > 0 {
		c.MaxBodyBytes = int64(body)
	}
	integer("GRAPHQL_MAX_TOKENS", &c.MaxTokens)
	integer("GRAPHQL_MAX_ALIASES", &c.MaxAliases)
	integer("GRAPHQL_MAX_FRAGMENT_SPREADS", &c.MaxFragmentSpreads)
	integer("GRAPHQL_MAX_FIELDS", &c.MaxFields)
	duration("WEBSOCKET_INIT_TIMEOUT", &c.WebsocketInitTimeout)
	duration("SHUTDOWN_TIMEOUT", &c.ShutdownTimeout)
	duration("TOKEN_CACHE_TTL", &c.TokenCacheTTL)
	duration("ORDER_DESIGN_APPROVAL_TIMEOUT", &c.DesignApprovalTimeout)
	duration("LEASE_LATE_GRACE", &c.LeaseGrace)
	if v, ok := os.LookupEnv("LEASE_REVIEW_WINDOW"); ok && v != "" {
		// 0 is allowed here: invoices are then final at close.
		if d, err := time.ParseDuration(v); err != nil || d < 0 {
			errs = append(errs, fmt.Sprintf("LEASE_REVIEW_WINDOW=%q is not a duration of 0 or more", v))
		} else {
			c.LeaseReview = d
		}
	}
	duration("ORDER_OFFER_TIMEOUT", &c.OfferTimeout)
	duration("ORDER_AUTO_CONFIRM_AFTER", &c.AutoConfirmAfter)
	duration("ORDER_WARRANTY", &c.Warranty)
	str("HANDLE_NODE_PREFIX", &c.NodePrefix)
	str("HANDLE_NODE_URL", &c.NodeURL)
	str("HANDLE_UPPER_NODE", &c.UpperNode)
	duration("HANDLE_HOP_TIMEOUT", &c.ResolveHopTimeout)
	str("HANDLE_UPPER_TOKEN", &c.UpperToken)
	errs = append(errs, c.checkTemporal()...)
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Sprintf("LOG_LEVEL=%q is not one of debug, info, warn, error", c.LogLevel))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("configuration: %s", strings.Join(errs, "; "))
	}
	return c, nil
}
