// Package graph holds the GraphQL resolvers: authorize, call a service or
// Temporal, map types. Business rules live in services.
package graph

import (
	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"

	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/platform"
)

// Resolver is the root resolver; it carries the services.
type Resolver struct {
	Identity       *identity.Service
	Temporal       client.Client
	WorkflowStarts *prometheus.CounterVec
}

// NewResolver builds the root resolver over a platform.
func NewResolver(p *platform.Platform, workflowStarts *prometheus.CounterVec) *Resolver {
	return &Resolver{Identity: p.Identity, Temporal: p.Temporal, WorkflowStarts: workflowStarts}
}
