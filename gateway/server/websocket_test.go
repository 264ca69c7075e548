package server_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.temporal.io/sdk/worker"

	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/config"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/workflows"
)

// protocolStack is a gateway with a short websocket init timeout, a worker, and
// a customer with one order, to hold a subscription open.
func protocolStack(t *testing.T) (url, token, orderID string) {
	t.Helper()
	queue := "test-orders-" + testenv.Suffix()
	srv, p := gateway(t, func(c *config.Config) { c.TaskQueue = queue; c.WebsocketInitTimeout = 300 * time.Millisecond })
	if err := p.Catalog.EnsureSeeded(context.Background(), catalog.SeedTemplates()); err != nil {
		t.Fatal(err)
	}
	w := worker.New(p.Temporal, queue, worker.Options{})
	workflows.Register(w, p.Activities())
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	url = srv.URL + "/graphql"
	customer := testenv.Account(t, p, identity.KindCustomer, identity.RoleMember)
	return url, customer.Secret, placeAC(t, testenv.Client{URL: url, Token: customer.Secret})
}

// rawDial opens a graphql-transport-ws socket without the testenv client, to
// send what a well-behaved client never would.
func rawDial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	c, res, err := websocket.Dial(readCtx(t), url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	if res != nil && res.Body != nil {
		res.Body.Close()
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func writeText(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.Write(readCtx(t), websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("write %s: %v", msg, err)
	}
}

// closeCode reads until the server closes the socket and returns its close
// code and reason, failing on any message of a type not in allowed.
func closeCode(t *testing.T, c *websocket.Conn, allowed ...string) (int, string) {
	t.Helper()
	for {
		_, b, err := c.Read(readCtx(t))
		if err != nil {
			code, reason, ok := testenv.CloseOf(err)
			if !ok {
				t.Fatalf("socket ended without a close frame: %v", err)
			}
			return code, reason
		}
		var m struct{ Type string }
		_ = json.Unmarshal(b, &m)
		ok := false
		for _, a := range allowed {
			ok = ok || m.Type == a
		}
		if !ok {
			t.Fatalf("got %s before the close; want only %v", b, allowed)
		}
	}
}

func TestWebsocketProtocolViolationsCloseWithTheProtocolsCodes(t *testing.T) {
	url, token, orderID := protocolStack(t)
	initMsg := `{"type":"connection_init","payload":{"Authorization":"Bearer ` + token + `"}}`
	sub := func(id string) string {
		b, _ := json.Marshal(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{
			"query": orderEventsSubscription, "variables": map[string]any{"id": orderID, "after": 0}}})
		return string(b)
	}
	cases := []struct {
		name    string
		send    []string // messages in order
		allowed []string // message types the server may answer before closing
		code    int
		reason  string
	}{
		{"a silent socket is closed after the init timeout", nil, nil, 4408, "Connection initialisation timeout"},
		{"a socket that only pings is closed after the init timeout", []string{`{"type":"ping"}`}, []string{"pong"}, 4408, "Connection initialisation timeout"},
		{"invalid JSON before init is a bad message", []string{`{"type":`}, nil, 4400, ""},
		{"invalid JSON after init is a bad message", []string{initMsg, `not json`}, []string{"connection_ack"}, 4400, ""},
		{"a message without a type is a bad message", []string{initMsg, `{"id":"1"}`}, []string{"connection_ack"}, 4400, ""},
		{"an unknown type is a bad message", []string{initMsg, `{"type":"start","id":"1","payload":{}}`}, []string{"connection_ack"}, 4400, ""},
		{"a server message type from the client is a bad message", []string{initMsg, `{"type":"next","id":"1","payload":{}}`}, []string{"connection_ack"}, 4400, ""},
		{"subscribe without an id is a bad message", []string{initMsg, `{"type":"subscribe","payload":{"query":"subscription { __typename }"}}`}, []string{"connection_ack"}, 4400, ""},
		{"subscribe without a query is a bad message", []string{initMsg, `{"type":"subscribe","id":"1","payload":{}}`}, []string{"connection_ack"}, 4400, ""},
		{"connection_init with a payload that is not an object is a bad message", []string{`{"type":"connection_init","payload":"x"}`}, nil, 4400, ""},
		{"subscribe before connection_init is unauthorized", []string{sub("1")}, nil, 4401, "Unauthorized"},
		{"a second connection_init is too many", []string{initMsg, initMsg}, []string{"connection_ack"}, 4429, "Too many initialisation requests"},
		{"a subscription id already running is refused", []string{initMsg, sub("1"), sub("1")}, []string{"connection_ack", "next", "complete"}, 4409, "Subscriber for 1 already exists"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ws := rawDial(t, url)
			for _, m := range c.send {
				writeText(t, ws, m)
			}
			code, reason := closeCode(t, ws, c.allowed...)
			if code != c.code || (c.reason != "" && reason != c.reason) {
				t.Fatalf("closed with %d %q, want %d %q", code, reason, c.code, c.reason)
			}
		})
	}
}

func TestWebsocketSubscriptionIDCanBeReusedOnceCompleted(t *testing.T) {
	url, token, orderID := protocolStack(t)
	ws := testenv.DialWS(readCtx(t), t, url)
	if ack, err := ws.Init(readCtx(t), token); err != nil || ack.Type != "connection_ack" {
		t.Fatalf("init: %+v %v", ack, err)
	}
	for round := range 2 {
		if err := ws.Subscribe(readCtx(t), "1", orderEventsSubscription, map[string]any{"id": orderID, "after": 0}); err != nil {
			t.Fatal(err)
		}
		m, err := ws.Read(readCtx(t))
		if err != nil || m.Type != "next" || m.ID != "1" {
			t.Fatalf("round %d: got %+v %v, want next of 1", round, m, err)
		}
		if err := ws.Send(readCtx(t), testenv.WSMessage{ID: "1", Type: "complete"}); err != nil {
			t.Fatal(err)
		}
		// Drain until the server has let go of the id: events already in
		// flight may still arrive; a ping round trip marks the point where
		// every earlier message was handled.
		if err := ws.Send(readCtx(t), testenv.WSMessage{Type: "ping"}); err != nil {
			t.Fatal(err)
		}
		for {
			m, err := ws.Read(readCtx(t))
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			if m.Type == "pong" {
				break
			}
		}
	}
}

func TestWebsocketRefusesADocumentOverTheLimitsWithACode(t *testing.T) {
	url, token, _ := protocolStack(t)
	ws := testenv.DialWS(readCtx(t), t, url)
	if ack, err := ws.Init(readCtx(t), token); err != nil || ack.Type != "connection_ack" {
		t.Fatalf("init: %+v %v", ack, err)
	}
	q := "subscription {"
	for range 60 {
		q += " a" + testenv.Suffix() + ": __typename"
	}
	q += " }"
	if err := ws.Subscribe(readCtx(t), "big", q, nil); err != nil {
		t.Fatal(err)
	}
	m, err := ws.Read(readCtx(t))
	if err != nil || m.Type != "error" || m.ID != "big" {
		t.Fatalf("got %+v %v, want an error for operation big", m, err)
	}
	var errs []struct{ Extensions map[string]any }
	if err := json.Unmarshal(m.Payload, &errs); err != nil || len(errs) == 0 || errs[0].Extensions["code"] != "DOCUMENT_LIMIT_EXCEEDED" {
		t.Fatalf("error payload %s, want DOCUMENT_LIMIT_EXCEEDED", m.Payload)
	}
}
