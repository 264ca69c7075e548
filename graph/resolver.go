// Package graph holds the GraphQL resolvers: authorize, call a service or
// Temporal, map types. Business rules live in services.
package graph

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"

	"github.com/masscustom/orchestrator/services/cache"
	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/config"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/leasing"
	"github.com/masscustom/orchestrator/services/orders"
	"github.com/masscustom/orchestrator/services/platform"
)

// Resolver is the root resolver; it carries the services.
type Resolver struct {
	Identity       *identity.Service
	Catalog        *catalog.Store
	OrderSvc       *orders.Service
	Leasing        *leasing.Store
	LeaseGrace     time.Duration
	Cache          *cache.Cache
	Temporal       client.Client
	TaskQueue      string
	DesignTimeout  time.Duration
	WorkflowStarts *prometheus.CounterVec
}

// NewResolver builds the root resolver over a platform, with the settings of cfg.
func NewResolver(p *platform.Platform, cfg config.Config, workflowStarts *prometheus.CounterVec) *Resolver {
	return &Resolver{
		Identity: p.Identity, Catalog: p.Catalog, OrderSvc: p.Orders, Leasing: p.Leasing, LeaseGrace: cfg.LeaseGrace, Cache: p.Cache,
		Temporal: p.Temporal, TaskQueue: cfg.TaskQueue, DesignTimeout: cfg.DesignApprovalTimeout,
		WorkflowStarts: workflowStarts,
	}
}
