// Package graph holds the GraphQL resolvers: authorize, call a service or
// Temporal, map types. Business rules live in services.
package graph

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/masscustom/orchestrator/internal/platform"
	"github.com/masscustom/orchestrator/services/aftersales"
	"github.com/masscustom/orchestrator/services/cache"
	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/config"
	"github.com/masscustom/orchestrator/services/genealogy"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/leasing"
	"github.com/masscustom/orchestrator/services/logistics"
	"github.com/masscustom/orchestrator/services/orders"
	"github.com/masscustom/orchestrator/services/procurement"
	"github.com/masscustom/orchestrator/services/production"
	"github.com/masscustom/orchestrator/services/registry"
	"github.com/masscustom/orchestrator/workflows"
)

// Resolver is the root resolver; it carries the services.
type Resolver struct {
	Identity       *identity.Service
	Catalog        *catalog.Store
	OrderSvc       *orders.Service
	Leasing        *leasing.Store
	Procurement    *procurement.Service
	ProductionSvc  *production.Service
	Logistics      *logistics.Service
	Aftersales     *aftersales.Service
	LeaseGrace     time.Duration
	LeaseReview    time.Duration
	Cache          *cache.Cache
	Workflows      *workflows.Client // every start, update and query of the workflows
	TaskQueue      string
	DesignTimeout  time.Duration
	OrderDurations config.Config // OfferTimeout, AutoConfirmAfter, Warranty
	WorkflowStarts *prometheus.CounterVec
	Registry       *registry.Service
	Genealogy      *genealogy.Service
	// Remote resolves other nodes' identifiers; nil without an upper node.
	Remote registry.RemoteResolver
}

// NewResolver builds the root resolver over a platform, with the settings of cfg.
func NewResolver(p *platform.Platform, cfg config.Config, workflowStarts *prometheus.CounterVec) *Resolver {
	return &Resolver{
		Identity: p.Identity, Catalog: p.Catalog, OrderSvc: p.Orders, Leasing: p.Leasing, LeaseGrace: cfg.LeaseGrace, LeaseReview: cfg.LeaseReview,
		Procurement: p.Procurement, ProductionSvc: p.Production, Logistics: p.Logistics, Aftersales: p.Aftersales, Cache: p.Cache,
		Workflows: workflows.NewClient(p.Temporal, cfg.TaskQueue), TaskQueue: cfg.TaskQueue, DesignTimeout: cfg.DesignApprovalTimeout, OrderDurations: cfg,
		WorkflowStarts: workflowStarts, Registry: p.Registry, Genealogy: p.Genealogy, Remote: p.Remote,
	}
}
