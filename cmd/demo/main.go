// Command demo plays one order's whole journey through the GraphQL API of a
// running gateway, every party under its own demo token (those cmd/seed
// prints): a customer configures and orders air conditioners and approves the
// design; the two demo suppliers answer the offers (supplier B rejects one,
// supplier A lets one lapse), ship, and the factory confirms the receipts;
// the factory reports every production stage and QA; the carrier tracks the
// shipment to its delivery; the customer confirms it and opens a service
// ticket, which the operator dispatches to the factory and the factory
// resolves; the order completes when the warranty ends. The timeline prints as
// it happens, from the orderEvents subscription over a websocket.
//
// Run `make run` in one terminal, with short durations for the demo:
//
//	ORDER_OFFER_TIMEOUT=20s ORDER_AUTO_CONFIRM_AFTER=1m ORDER_WARRANTY=2m make run
//
// and `make demo` in another. With the defaults (an SLA of 24 h, a warranty
// of a year) the demo says so, answers every offer and stops after the
// service ticket.
//
// Settings: HTTP_ADDR (the gateway, 127.0.0.1:8080), TEMPORAL_UI_URL and
// TEMPORAL_NAMESPACE (for the workflow's link); flags: see -help.
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
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/masscustom/orchestrator/internal/journey"
)

func main() {
	quantity := flag.Int("quantity", 8, "air conditioners to order (7 to 10 split the compressors between the two demo suppliers)")
	maxWait := flag.Duration("max-wait", 3*time.Minute, "the longest the demo waits for an offer to lapse or the warranty to end; longer ones are skipped with a note")
	pace := flag.Duration("pace", 300*time.Millisecond, "a pause between the parties' steps, to follow the output")
	timeout := flag.Duration("timeout", 15*time.Minute, "give up after this long")
	verbose := flag.Bool("v", false, "log diagnostics (requests, retries) to stderr")
	leasingStory := flag.Bool("leasing", false, "play a lessee's day of pay-per-use leasing instead of an order's journey")
	docs := flag.String("docs", filepath.Join(".data", "demo"), "where -leasing saves the invoice's PDF")
	flag.Parse()

	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("component", "demo")

	base := "http://" + loopback(envOr("HTTP_ADDR", "127.0.0.1:8080"))
	ui := strings.TrimSuffix(envOr("TEMPORAL_UI_URL", "http://127.0.0.1:18233"), "/") + "/namespaces/" + envOr("TEMPORAL_NAMESPACE", "default")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	if err := reachable(ctx, base); err != nil {
		fmt.Fprintf(os.Stderr, "demo: the gateway at %s is not reachable (%v); start it with `make run` in another terminal\n", base, err)
		os.Exit(1)
	}
	cfg := journey.Config{Base: base, Client: &http.Client{Timeout: 30 * time.Second}, Log: log, Out: os.Stdout, RetryFor: time.Minute,
		Quantity: *quantity, MaxWait: *maxWait, Pace: *pace, UI: ui, Docs: *docs, Recall: true}
	var err error
	if *leasingStory {
		err = journey.Leasing(ctx, cfg)
	} else {
		journey.Note(os.Stdout, "the gateway at %s; every party acts under its own demo token", base)
		_, _, err = journey.Order(ctx, cfg)
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("gave up after %s (-timeout)", *timeout)
		}
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

// reachable checks the gateway's liveness endpoint.
func reachable(ctx context.Context, base string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) {
			return op
		}
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("/healthz answered %s", res.Status)
	}
	return nil
}

// loopback turns a listen address into one to dial (as scripts/run.sh does).
func loopback(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
