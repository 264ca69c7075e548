// Command worker runs the platform's Temporal workflows and activities. It is
// stateless: run as many as the load needs against the same Temporal cluster.
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

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/worker"

	"github.com/masscustom/orchestrator/internal/platform"
	"github.com/masscustom/orchestrator/services/config"
	"github.com/masscustom/orchestrator/workflows"
)

func main() {
	cfg, err := config.FromEnv()
	if err != nil {
		platform.Fatal("worker", err)
	}
	slog.SetDefault(platform.Logger(cfg, "worker"))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	p, err := platform.Open(ctx, cfg, platform.Options{Temporal: true})
	if err != nil {
		platform.Fatal("worker", err)
	}
	defer p.Close()

	w := worker.New(p.Temporal, cfg.TaskQueue, workflows.WorkerOptions(worker.Options{
		// On SIGTERM running activities get this long to finish before the worker exits.
		WorkerStopTimeout: cfg.ShutdownTimeout,
	}))
	workflows.Register(w, p.Activities())
	if err := w.Start(); err != nil {
		platform.Fatal("worker", err)
	}
	slog.Info("worker polling", "task_queue", cfg.TaskQueue, "temporal", cfg.TemporalAddress, "namespace", cfg.TemporalNamespace)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	hs := &http.Server{Addr: cfg.WorkerHTTPAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("worker health endpoint failed", "err", err)
		}
	}()

	<-ctx.Done()
	slog.Info("shutting down: stop polling, drain running tasks")
	w.Stop() // returns when in-flight activities finished or WorkerStopTimeout passed
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	slog.Info("worker stopped")
}
