package platform

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// PprofHandler serves Go's runtime profiles under /debug/pprof/ (CPU, heap,
// goroutines, mutex and block profiles, the execution trace).
func PprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// ServePprof serves PprofHandler on its own listener at addr until ctx ends, so
// profiles are never reachable through the public port. An empty addr (the
// default) serves nothing. Profiles reveal internals: an address that is not
// loopback is served, but logged as a warning.
func ServePprof(ctx context.Context, addr, component string) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if host, _, _ := net.SplitHostPort(ln.Addr().String()); !net.ParseIP(host).IsLoopback() {
		slog.Warn("pprof listens beyond loopback: anyone reaching it can read the process's profiles", "addr", ln.Addr().String())
	}
	srv := &http.Server{Handler: PprofHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("pprof stopped", "err", err)
		}
	}()
	slog.Info("pprof listening", "component", component, "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	return nil
}
