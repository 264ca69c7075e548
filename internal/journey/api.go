// Package journey plays the platform's stories through its GraphQL API, as
// the parties would, each under its own token: one order's whole journey
// (Order) and a lessee's day of leasing (Leasing). cmd/demo prints them;
// cmd/load runs many orders at once and measures them.
package journey

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config says where the gateway is and how to play.
type Config struct {
	// Base is the gateway, http://host:port.
	Base string
	// Client makes the requests (its timeout bounds each one).
	Client *http.Client
	Log    *slog.Logger
	// Out receives the printed story (io.Discard for none).
	Out io.Writer
	// Quantity of air conditioners to order (7 to 10 split the compressors
	// between the two demo suppliers).
	Quantity int
	// MaxWait is the longest wait for an SLA to lapse or the warranty to end.
	MaxWait time.Duration
	// Pace is a pause between the parties' steps, to follow the output.
	Pace time.Duration
	// UI is the Temporal UI's namespace URL, for the order's workflow link.
	UI string
	// Observe, when set, is told of every GraphQL operation: its name (the
	// root field), how long it took and its error (nil, a refusal or a
	// transport error).
	Observe func(operation string, took time.Duration, err error)
	// Docs is where Leasing saves the invoice's PDF.
	Docs string
	// RetryFor is how long a request that got no answer (a transport error,
	// a timeout, UNAVAILABLE) is sent again, under the same Idempotency-Key;
	// 0 sends it once.
	RetryFor time.Duration
	// Template is the seed template ordered: "AC-SPLIT" (the default, with
	// Quantity air conditioners to Qingdao) or "FLANGE-CNC" (Quantity DN100
	// carbon-steel flanges to Houston, in USD).
	Template string
	// CancelAt, when set, makes the customer cancel the order instead of
	// going on: "DESIGN" instead of approving it, "PROCUREMENT" once the
	// factory is assigned. Order then ends at ORDER_CANCELLED.
	CancelAt string
	// Followed, when set, is told at the end of Order what its orderEvents
	// subscription saw: the events delivered, events the server sent again
	// after a reconnect (dropped, never shown twice), and the reconnects.
	Followed func(orderID string, delivered, repeated, reconnects int)
	// Recall, when set, ends the service step by printing the identifiers of
	// the delivered units with their genealogy and having the supplier of
	// one of their lots recall it (make demo does; load tests do not).
	Recall bool
}

func (c Config) party(who string) *party {
	return &party{who: who, token: "mco_demo_" + who, url: c.Base + "/graphql", http: c.Client, log: c.Log, observe: c.Observe, retryFor: c.RetryFor}
}

// Order plays one order's journey, from the quote to the service ticket (and
// to the warranty's end when MaxWait allows), and returns the order's global
// id with how many timeline events it saw.
func Order(ctx context.Context, cfg Config) (orderID string, events int, err error) {
	out := &printer{w: cfg.Out}
	d := &demo{
		out: out, quantity: cfg.Quantity, maxWait: cfg.MaxWait, pace: cfg.Pace, ui: cfg.UI,
		customer: cfg.party("customer"), supplierA: cfg.party("supplier-a"), supplierB: cfg.party("supplier-b"),
		factory: cfg.party("factory"), carrier: cfg.party("carrier"), operator: cfg.party("operator"),
		cancelAt: cfg.CancelAt, template: cfg.Template, recall: cfg.Recall,
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var f *follower
	follow := func(orderID string) (<-chan event, <-chan error) {
		f = &follower{url: cfg.Base + "/graphql", token: d.customer.token, orderID: orderID, log: cfg.Log, done: make(chan struct{})}
		raw, events, errc := make(chan event, 64), make(chan event, 1024), make(chan error, 1)
		go func() { errc <- f.run(ctx, raw) }()
		go func() {
			for {
				select {
				case e := <-raw:
					out.event(e)
					events <- e
				case <-ctx.Done():
					return
				}
			}
		}()
		return events, errc
	}
	err = d.run(ctx, follow)
	if f != nil && cfg.Followed != nil {
		cancel()
		<-f.done
		cfg.Followed(d.orderID, int(f.last), f.repeated, f.reconnects)
	}
	return d.orderID, d.last.Seq, err
}

// Leasing plays a lessee's day of pay-per-use leasing (see leasingDemo).
func Leasing(ctx context.Context, cfg Config) error {
	out := &printer{w: cfg.Out}
	out.note("the gateway at %s; the lessor, its finance and the factory act under their own demo tokens", cfg.Base)
	ld := &leasingDemo{out: out, lessor: cfg.party("lessor"), finance: cfg.party("finance"), factory: cfg.party("factory"),
		base: cfg.Base, docs: cfg.Docs, pace: cfg.Pace}
	return ld.run(ctx)
}

// Note prints a note line the way the stories do.
func Note(w io.Writer, format string, args ...any) { (&printer{w: w}).note(format, args...) }

// workflowID is the order workflow's id, order/<uuid>, from the order's
// global id (base64 of "Order:<uuid>").
func workflowID(orderID string) string {
	raw, err := base64.RawURLEncoding.DecodeString(orderID)
	if _, id, ok := strings.Cut(string(raw), ":"); err == nil && ok {
		return "order/" + id
	}
	return "order/" + orderID
}

// ErrorCode classifies an operation's error for a report: a payload's
// refusal by its code, a GraphQL error by its extensions code, anything else
// (a refused connection, a timeout) as TRANSPORT.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var r *refusal
	if errors.As(err, &r) {
		return r.code()
	}
	msg := err.Error()
	if strings.HasSuffix(msg, ")") {
		if i := strings.LastIndexByte(msg, '('); i >= 0 {
			code := msg[i+1 : len(msg)-1]
			if code != "" && strings.ToUpper(code) == code && !strings.ContainsAny(code, " :") {
				return code
			}
		}
	}
	return "TRANSPORT"
}

// Many plays n order journeys, concurrency at a time, the i-th on
// bases[i % len(bases)] with 7 + i%4 air conditioners (both demo suppliers
// then share the compressors). vary, when set, adjusts the i-th journey's
// Config before it starts; done hears how each ended (its order's global id,
// the events it saw, its error). It returns when all have ended or ctx ends.
func Many(ctx context.Context, cfg Config, bases []string, n, concurrency int, vary func(i int, c *Config), done func(i int, c Config, orderID string, events int, err error)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				c := cfg
				c.Base = bases[i%len(bases)]
				c.Quantity = 7 + i%4
				if vary != nil {
					vary(i, &c)
				}
				id, events, err := Order(ctx, c)
				if done != nil {
					done(i, c, id, events, err)
				}
			}
		}()
	}
	wg.Wait()
}

// Vary is the mix of journeys make load and make chaos play, by index: one
// in three orders flanges (70 to 109, enough for the two demo suppliers to
// split the forgings) instead of air conditioners, one in ten is cancelled
// at design and one in ten during procurement.
func Vary(i int, c *Config) {
	if i%3 == 2 {
		c.Template, c.Quantity = "FLANGE-CNC", 70+i%40
	}
	switch i % 10 {
	case 3:
		c.CancelAt = "DESIGN"
	case 7:
		c.CancelAt = "PROCUREMENT"
	}
}
