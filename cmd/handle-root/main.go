// Command handle-root runs a top-level node of identifier resolution: a
// directory that answers, for a prefix, the URL of the node that serves the
// identifiers under it (HS_SITE) or of another directory to ask (HS_SERV).
// The protocol is described in internal/handleroot.
//
// Usage:
//
//	handle-root [-addr 127.0.0.1:8300] [-ttl 3600] [-config prefixes.json]
//	            [-site 88.500=http://127.0.0.1:8080 ...] [-refer 86=http://other-root:9000 ...]
//
// -site and -refer may be repeated; they are applied after -config's file
// ({"sites": {...}, "referrals": {...}}) and replace its entry for the same
// prefix. -ttl is in seconds (or a duration such as 1h). The admin token
// that PUT and DELETE /api/prefixes/<prefix> need is read from
// HANDLE_ROOT_TOKEN; without it registrations can only come from the command
// line. LOG_LEVEL (debug, info, warn, error) sets the logging level. The node
// stops on SIGINT or SIGTERM, finishing the requests in flight.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/masscustom/orchestrator/internal/handleroot"
	"github.com/masscustom/orchestrator/services/identifiers"
)

func main() {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(strings.ToUpper(os.Getenv("LOG_LEVEL"))))
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})).With("component", "handle-root"))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv("HANDLE_ROOT_TOKEN")); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		slog.Error("handle-root failed", "err", err)
		os.Exit(1)
	}
}

// mappings collects repeated -site or -refer flags.
type mappings []string

func (m *mappings) String() string { return strings.Join(*m, ",") }

func (m *mappings) Set(s string) error {
	if _, _, err := handleroot.ParseMapping(s); err != nil {
		return err
	}
	*m = append(*m, s)
	return nil
}

// ttlFlag takes seconds ("3600") or a Go duration ("1h").
type ttlFlag struct{ d time.Duration }

func (t *ttlFlag) String() string { return strconv.Itoa(int(t.d / time.Second)) }

func (t *ttlFlag) Set(s string) error {
	if n, err := strconv.Atoi(s); err == nil {
		t.d = time.Duration(n) * time.Second
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("the TTL is seconds (3600) or a duration (1h)")
	}
	t.d = d
	return nil
}

func run(ctx context.Context, args []string, token string) error {
	fs := flag.NewFlagSet("handle-root", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	addr := fs.String("addr", "127.0.0.1:8300", "address to listen on")
	config := fs.String("config", "", `JSON file of the initial map: {"sites":{"88.500":"http://..."},"referrals":{"86":"http://..."}}`)
	ttl := ttlFlag{d: handleroot.DefaultTTL}
	fs.Var(&ttl, "ttl", "time to live of the answers, in seconds or as a duration")
	var sites, refers mappings
	fs.Var(&sites, "site", "`prefix=url` of a node serving the prefix (repeatable)")
	fs.Var(&refers, "refer", "`prefix=url` of another directory to refer the prefix to (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.New("unexpected arguments: " + strings.Join(fs.Args(), " "))
	}

	root, err := handleroot.New(handleroot.Options{TTL: ttl.d, Token: token})
	if err != nil {
		return err
	}
	if *config != "" {
		c, err := handleroot.ReadConfig(*config)
		if err != nil {
			return err
		}
		if err := root.Load(c); err != nil {
			return err
		}
	}
	for _, set := range []struct {
		flag, typ string
		m         mappings
	}{{"site", identifiers.ValueTypeSite, sites}, {"refer", identifiers.ValueTypeServ, refers}} {
		for _, s := range set.m {
			p, u, _ := handleroot.ParseMapping(s)
			if _, _, err := root.Register(p, set.typ, u); err != nil {
				return fmt.Errorf("-%s %s: %w", set.flag, s, err)
			}
		}
	}
	for _, g := range root.Registrations() {
		slog.Info("prefix registered", "prefix", g.Prefix, "type", g.Type, "url", g.URL)
	}
	if token == "" {
		slog.Warn("HANDLE_ROOT_TOKEN is not set: PUT and DELETE /api/prefixes are refused")
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           root,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	slog.Info("handle-root listening", "addr", ln.Addr().String(), "ttl", root.TTL(), "prefixes", len(root.Registrations()))

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		slog.Info("shutting down: finishing in-flight requests")
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			slog.Error("shutdown incomplete", "err", err)
		}
	}
	slog.Info("handle-root stopped")
	return nil
}
