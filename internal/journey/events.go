package journey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// event is an entry of the order's timeline, as orderEvents delivers it.
type event struct {
	Seq     int             `json:"seq"`
	Type    string          `json:"type"`
	Stage   string          `json:"stage"`
	Status  string          `json:"status"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

const orderEventsSubscription = `subscription($id: ID!, $after: Int) {
  orderEvents(orderId: $id, after: $after) { seq type stage status message data }
}`

// wsMessage is a graphql-transport-ws message.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// follower follows an order's orderEvents subscription over a websocket and
// hands every event on, in order, once. When the socket drops it subscribes
// again after the last sequence number it delivered, which is what the
// subscription's `after` is for: a reconnecting client loses nothing.
type follower struct {
	url     string // the gateway's GraphQL endpoint (http://...)
	token   string
	orderID string
	log     *slog.Logger

	last int // the last sequence number delivered
	// repeated counts events the server sent again at or before last (not
	// delivered twice); reconnects counts subscriptions after the first.
	repeated, reconnects int
	done                 chan struct{} // closed when run returns (make it before run starts)
}

// run delivers events to out until ctx ends, or returns why it cannot.
func (f *follower) run(ctx context.Context, out chan<- event) error {
	defer close(f.done)
	failures := 0
	for first := true; ; first = false {
		if !first {
			f.reconnects++
		}
		delivered, err := f.once(ctx, out)
		if ctx.Err() != nil {
			return nil
		}
		if delivered {
			failures = 0
		}
		failures++
		if failures > 5 {
			return fmt.Errorf("the orderEvents subscription keeps failing: %w", err)
		}
		f.log.Warn("the subscription dropped; subscribing again", "after", f.last, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Duration(failures) * time.Second):
		}
	}
}

// once subscribes after f.last and delivers events until the socket ends. It
// reports whether it delivered anything.
func (f *follower) once(ctx context.Context, out chan<- event) (delivered bool, err error) {
	wsURL := "ws" + strings.TrimPrefix(f.url, "http")
	dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, res, err := websocket.Dial(dialCtx, wsURL, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return false, fmt.Errorf("dial %s: %w", wsURL, err)
	}
	if res != nil && res.Body != nil {
		res.Body.Close()
	}
	defer c.CloseNow()
	send := func(m wsMessage) error {
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		return c.Write(ctx, websocket.MessageText, b)
	}
	read := func() (wsMessage, error) {
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				return wsMessage{}, err
			}
			var m wsMessage
			if err := json.Unmarshal(b, &m); err != nil {
				return wsMessage{}, fmt.Errorf("the server sent %q", truncate(string(b), 200))
			}
			if m.Type == "ping" {
				if err := send(wsMessage{Type: "pong"}); err != nil {
					return wsMessage{}, err
				}
				continue
			}
			return m, nil
		}
	}

	init, _ := json.Marshal(map[string]string{"Authorization": "Bearer " + f.token})
	if err := send(wsMessage{Type: "connection_init", Payload: init}); err != nil {
		return false, err
	}
	ack, err := read()
	if err != nil {
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return false, fmt.Errorf("the gateway refused the subscription: %d %s", ce.Code, ce.Reason)
		}
		return false, err
	}
	if ack.Type != "connection_ack" {
		return false, fmt.Errorf("connection_init answered %s %s", ack.Type, ack.Payload)
	}
	payload, _ := json.Marshal(map[string]any{"query": orderEventsSubscription, "variables": map[string]any{"id": f.orderID, "after": f.last}})
	if err := send(wsMessage{ID: "1", Type: "subscribe", Payload: payload}); err != nil {
		return false, err
	}
	f.log.Debug("subscribed", "order", f.orderID, "after", f.last)
	for {
		m, err := read()
		if err != nil {
			return delivered, err
		}
		switch m.Type {
		case "next":
		case "error":
			return delivered, fmt.Errorf("subscription error: %s", m.Payload)
		case "complete":
			return delivered, errors.New("the gateway completed the subscription")
		default:
			continue
		}
		var p struct {
			Data struct {
				OrderEvents *event `json:"orderEvents"`
			} `json:"data"`
			Errors []gqlError `json:"errors"`
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			return delivered, err
		}
		if len(p.Errors) > 0 {
			return delivered, fmt.Errorf("subscription: %s (%s)", p.Errors[0].Message, p.Errors[0].Extensions.Code)
		}
		e := p.Data.OrderEvents
		switch {
		case e == nil:
			continue
		case e.Seq <= f.last:
			f.repeated++
			continue // already delivered (cannot happen after `after`, but a repeat must not show twice)
		case e.Seq != f.last+1:
			return delivered, fmt.Errorf("event %d arrived after %d: the timeline has a gap", e.Seq, f.last)
		}
		select {
		case out <- *e:
		case <-ctx.Done():
			return delivered, ctx.Err()
		}
		f.last, delivered = e.Seq, true
	}
}
