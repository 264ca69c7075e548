// Command gateway serves the platform's GraphQL API over HTTP and websocket,
// with the playground, health, readiness and Prometheus metrics.
package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/masscustom/orchestrator/gateway/server"
	"github.com/masscustom/orchestrator/graph"
	"github.com/masscustom/orchestrator/internal/platform"
	"github.com/masscustom/orchestrator/services/config"
)

func main() {
	cfg, err := config.FromEnv()
	if err != nil {
		platform.Fatal("gateway", err)
	}
	slog.SetDefault(platform.Logger(cfg, "gateway"))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	p, err := platform.Open(ctx, cfg, platform.Options{Temporal: true})
	if err != nil {
		platform.Fatal("gateway", err)
	}
	defer p.Close()

	if err := platform.ServePprof(ctx, cfg.PprofAddr, "gateway"); err != nil {
		platform.Fatal("gateway", err)
	}
	metrics := server.NewMetrics()
	h := server.New(server.Deps{
		Config:   cfg,
		Resolver: graph.NewResolver(p, cfg, metrics.WorkflowStarts),
		Identity: p.Identity,
		Leasing:  p.Leasing,
		Metrics:  metrics,
		Checks:   server.PlatformChecks(p),
	})
	srv := &http.Server{
		Addr:              cfg.HTTPAddr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	slog.Info("gateway listening", "addr", cfg.HTTPAddr, "graphql", "http://"+cfg.HTTPAddr+"/graphql", "playground", cfg.Playground)
	platform.RegisterNode(ctx, cfg, 10*time.Second)

	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			platform.Fatal("gateway", err)
		}
	case <-ctx.Done():
		slog.Info("shutting down: finishing in-flight requests", "timeout", cfg.ShutdownTimeout.String())
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			slog.Error("shutdown incomplete", "err", err)
		}
	}
	slog.Info("gateway stopped")
}
