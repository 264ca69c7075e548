package server

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/vektah/gqlparser/v2/ast"
)

// Metrics are the gateway's Prometheus series.
type Metrics struct {
	Registry       *prometheus.Registry
	Requests       *prometheus.CounterVec
	Latency        *prometheus.HistogramVec
	WorkflowStarts *prometheus.CounterVec
}

// NewMetrics registers the gateway's series on a fresh registry (one per server,
// so tests can build several).
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graphql_requests_total",
			Help: "GraphQL operations by root field, operation type and outcome (ok or the first error code).",
		}, []string{"operation", "type", "outcome"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "graphql_request_duration_seconds",
			Help:    "Latency of GraphQL operations.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"operation", "type"}),
		WorkflowStarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "workflow_starts_total",
			Help: "Temporal workflows started by the gateway, by workflow type and outcome.",
		}, []string{"workflow", "outcome"}),
	}
	m.Registry.MustRegister(m.Requests, m.Latency, m.WorkflowStarts,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// operationMetrics is a gqlgen extension that counts and times every operation.
type operationMetrics struct{ m *Metrics }

func (operationMetrics) ExtensionName() string                   { return "OperationMetrics" }
func (operationMetrics) Validate(graphql.ExecutableSchema) error { return nil }

func (o operationMetrics) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	start := time.Now()
	resp := next(ctx)
	// The label is the first root field (schema-bounded), not the client-chosen
	// operation name, so a client cannot blow up the series count.
	name, typ := "unknown", "unknown"
	if graphql.HasOperationContext(ctx) {
		oc := graphql.GetOperationContext(ctx)
		if oc.Operation != nil {
			typ = string(oc.Operation.Operation)
			for _, sel := range oc.Operation.SelectionSet {
				if f, ok := sel.(*ast.Field); ok {
					name = f.Name
					break
				}
			}
		}
	}
	outcome := "ok"
	if resp != nil && len(resp.Errors) > 0 {
		outcome = "error"
		if c, ok := resp.Errors[0].Extensions["code"].(string); ok {
			outcome = c
		}
	}
	o.m.Requests.WithLabelValues(name, typ, outcome).Inc()
	o.m.Latency.WithLabelValues(name, typ).Observe(time.Since(start).Seconds())
	return resp
}
