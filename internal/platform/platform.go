// Package platform wires the services to their dependencies: the one place where
// the gateway, the worker and the tools connect to Postgres, Redis and Temporal.
package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"github.com/masscustom/orchestrator/schema"
	"github.com/masscustom/orchestrator/services/aftersales"
	"github.com/masscustom/orchestrator/services/cache"
	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/config"
	"github.com/masscustom/orchestrator/services/genealogy"
	"github.com/masscustom/orchestrator/services/identifiers"
	"github.com/masscustom/orchestrator/services/identifiers/remote"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/leasing"
	"github.com/masscustom/orchestrator/services/logistics"
	"github.com/masscustom/orchestrator/services/orders"
	"github.com/masscustom/orchestrator/services/procurement"
	"github.com/masscustom/orchestrator/services/production"
	"github.com/masscustom/orchestrator/services/registry"
	"github.com/masscustom/orchestrator/services/store"
	"github.com/masscustom/orchestrator/workflows/activities"
)

// Platform holds the connections and the services built on them.
type Platform struct {
	Config      config.Config
	DB          *pgxpool.Pool
	Cache       *cache.Cache
	Temporal    client.Client
	Identity    *identity.Service
	Catalog     *catalog.Store
	Orders      *orders.Service
	Leasing     *leasing.Store
	Production  *production.Service
	Logistics   *logistics.Service
	Aftersales  *aftersales.Service
	Procurement *procurement.Service
	Registry    *registry.Service
	Genealogy   *genealogy.Service
	// Remote resolves other nodes' identifiers through the upper node; nil
	// when none is configured.
	Remote registry.RemoteResolver

	stop    context.CancelFunc
	stopped chan struct{}
}

// Options choose what to connect; the seed tool, for example, needs no Temporal.
type Options struct {
	Temporal bool
}

// Open connects everything, applies migrations and builds the services. Each
// dependency that does not answer is named in the error, with how to start it.
func Open(ctx context.Context, cfg config.Config, opt Options) (*Platform, error) {
	p := &Platform{Config: cfg}
	var err error
	if p.DB, err = store.Connect(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	if err = store.Migrate(ctx, p.DB, schema.Migrations); err != nil {
		p.Close()
		return nil, err
	}
	if p.Cache, err = cache.Connect(ctx, cfg.RedisURL); err != nil {
		p.Close()
		return nil, err
	}
	if opt.Temporal {
		topts, err := TemporalOptions(cfg)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.Temporal, err = client.DialContext(ctx, topts)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("temporal at %s (namespace %s, tls %t) is not reachable (%v); `make run` starts the dev server", cfg.TemporalAddress, cfg.TemporalNamespace, cfg.Temporal.TLS, firstLine(err))
		}
	}
	p.Identity = identity.New(p.DB, p.Cache, cfg.TokenCacheTTL)
	p.Catalog = catalog.NewStore(p.DB)
	p.Orders = orders.New(p.DB, p.Cache, p.Catalog)
	p.Leasing = leasing.NewStore(p.DB, p.Cache)
	p.Production = production.New(p.DB, p.Cache)
	p.Logistics = logistics.New(p.DB, p.Cache)
	p.Aftersales = aftersales.New(p.DB)
	p.Procurement = procurement.New(p.DB, p.Cache)
	if p.Registry, err = registry.New(p.DB, p.Cache, cfg.NodePrefix); err != nil {
		p.Close()
		return nil, fmt.Errorf("HANDLE_NODE_PREFIX: %w", err)
	}
	p.Genealogy = genealogy.New(p.DB, p.Registry)
	if cfg.UpperNode != "" {
		rr, err := remote.New(remote.Config{NodePrefix: cfg.NodePrefix, Self: cfg.NodeURL, Upper: cfg.UpperNode,
			HopTimeout: cfg.ResolveHopTimeout, Cache: remote.NewRedisCache(p.Cache.R, "resolve:")})
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("HANDLE_UPPER_NODE: %w", err)
		}
		p.Remote = func(ctx context.Context, h identifiers.Handle, q identifiers.Query) (identifiers.Answer, error) {
			res, err := rr.Resolve(ctx, h, q)
			return res.Answer, err
		}
	}
	p.Procurement.Genealogy, p.Production.Genealogy, p.Logistics.Genealogy, p.Leasing.Genealogy = p.Genealogy, p.Genealogy, p.Genealogy, p.Genealogy
	var runCtx context.Context
	runCtx, p.stop = context.WithCancel(context.WithoutCancel(ctx))
	p.stopped = make(chan struct{})
	go func() {
		defer close(p.stopped)
		p.Identity.Run(runCtx)
	}()
	return p, nil
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// Close releases every connection.
func (p *Platform) Close() {
	if p.stop != nil {
		p.stop()
		<-p.stopped
	}
	if p.Temporal != nil {
		p.Temporal.Close()
	}
	if p.Cache != nil {
		_ = p.Cache.Close()
	}
	if p.DB != nil {
		p.DB.Close()
	}
}

// Logger returns the JSON logger of the platform at the configured level.
func Logger(cfg config.Config, component string) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel)))
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})).With("component", component)
}

// Fatal prints one clear line for a start-up failure and exits, instead of a stack trace.
func Fatal(component string, err error) {
	var msg string
	if err != nil {
		msg = err.Error()
	}
	fmt.Fprintf(os.Stderr, "%s: cannot start: %s\n", component, msg)
	if errors.Is(err, context.Canceled) {
		os.Exit(130)
	}
	os.Exit(1)
}

// Activities returns the activity adapters over the platform's services.
func (p *Platform) Activities() *activities.Activities {
	return &activities.Activities{Orders: p.Orders, Catalog: p.Catalog, Leasing: p.Leasing,
		Production: p.Production, Logistics: p.Logistics, Aftersales: p.Aftersales,
		Procurement: &activities.ProcurementActivities{Procurement: p.Procurement, Orders: p.Orders}}
}
