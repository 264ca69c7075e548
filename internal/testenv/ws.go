package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/coder/websocket"
)

// WSMessage is one graphql-transport-ws message.
type WSMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// WS is a minimal graphql-transport-ws client for subscription tests. Every
// call takes a context: give it a deadline, since a read otherwise waits for
// the server for ever. (A read cut short by its context closes the socket.)
type WS struct {
	c *websocket.Conn
}

// DialWS opens a graphql-transport-ws websocket to a gateway's GraphQL URL
// (http:// or ws://); the socket is closed when the test ends.
func DialWS(ctx context.Context, t testing.TB, url string) *WS {
	t.Helper()
	c, res, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	if res != nil && res.Body != nil {
		res.Body.Close()
	}
	if got := c.Subprotocol(); got != "graphql-transport-ws" {
		c.CloseNow()
		t.Fatalf("server chose subprotocol %q, want graphql-transport-ws", got)
	}
	t.Cleanup(func() { c.CloseNow() })
	return &WS{c: c}
}

// Send writes one message.
func (w *WS) Send(ctx context.Context, m WSMessage) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return w.c.Write(ctx, websocket.MessageText, b)
}

// Read returns the next message other than a ping (answered with a pong). A
// close by the server comes back as a websocket.CloseError (see CloseOf).
func (w *WS) Read(ctx context.Context) (WSMessage, error) {
	for {
		_, b, err := w.c.Read(ctx)
		if err != nil {
			return WSMessage{}, err
		}
		var m WSMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return WSMessage{}, fmt.Errorf("server sent a message that is not JSON: %s", b)
		}
		if m.Type == "ping" {
			if err := w.Send(ctx, WSMessage{Type: "pong"}); err != nil {
				return WSMessage{}, err
			}
			continue
		}
		return m, nil
	}
}

// Init sends connection_init with {"Authorization": "Bearer <token>"} (an
// empty payload for token "") and returns the server's first answer.
func (w *WS) Init(ctx context.Context, token string) (WSMessage, error) {
	payload := json.RawMessage(`{}`)
	if token != "" {
		payload, _ = json.Marshal(map[string]string{"Authorization": "Bearer " + token})
	}
	if err := w.Send(ctx, WSMessage{Type: "connection_init", Payload: payload}); err != nil {
		return WSMessage{}, err
	}
	return w.Read(ctx)
}

// Subscribe starts operation id with a query and its variables.
func (w *WS) Subscribe(ctx context.Context, id, query string, vars map[string]any) error {
	payload, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	return w.Send(ctx, WSMessage{ID: id, Type: "subscribe", Payload: payload})
}

// Close closes the socket normally.
func (w *WS) Close() { _ = w.c.Close(websocket.StatusNormalClosure, "done") }

// CloseOf reports the status code and reason of a close frame carried by err,
// and whether there was one.
func CloseOf(err error) (code int, reason string, ok bool) {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return int(ce.Code), ce.Reason, true
	}
	return 0, "", false
}
