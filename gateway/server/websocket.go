package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// Close codes of graphql-transport-ws
// (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md).
const (
	wsBadMessage      = 4400
	wsUnauthorized    = 4401
	wsInitTimeout     = 4408
	wsDuplicateID     = 4409
	wsTooManyInits    = 4429
	transportWSProto  = "graphql-transport-ws"
	wsInitTimeoutText = "Connection initialisation timeout"
)

// protocolGuard accepts websockets through gqlgen's implementation and checks
// every client message against graphql-transport-ws before gqlgen reads it,
// closing with the protocol's code where gqlgen would answer 1002, 1000 or
// serve a subscription twice: 4400 for a message that is not one, 4401 for a
// subscribe before the connection is acknowledged, 4429 for a second
// connection_init, 4409 for a subscription id already running, 4408 when no
// connection_init arrives within InitTimeout. A socket of the legacy graphql-ws
// protocol only gets the init timeout.
type protocolGuard struct {
	InitTimeout time.Duration
}

var _ transport.WebsocketImplementation = protocolGuard{}

func (g protocolGuard) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	inner, err := transport.CoderWebsocketImplementation{}.Accept(w, r, o)
	if err != nil {
		return nil, err
	}
	c := &guardedConn{inner: inner, strict: inner.Subprotocol() == transportWSProto, active: map[string]bool{}, closing: map[string]bool{}}
	if g.InitTimeout > 0 {
		c.initTimer = time.AfterFunc(g.InitTimeout, func() { c.refuse(wsInitTimeout, wsInitTimeoutText) })
	}
	return c, nil
}

type guardedConn struct {
	inner  transport.WebsocketConn
	strict bool

	mu        sync.Mutex
	initTimer *time.Timer
	inited    bool // a connection_init was received
	acked     bool // the server acknowledged it
	refused   bool
	active    map[string]bool // subscription ids the server has not completed
	// closing holds the ids the client completed: gqlgen still sends its own
	// complete for them afterwards, which the protocol does not expect and
	// which would end a new subscription that reuses the id; it is dropped.
	closing map[string]bool
}

var (
	_ transport.WebsocketConn          = (*guardedConn)(nil)
	_ transport.WebsocketReadLimiter   = (*guardedConn)(nil)
	_ transport.WebsocketReadDeadliner = (*guardedConn)(nil)
)

type wsEnvelope struct {
	ID      *string         `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

// refuse closes the socket with a protocol code; the reader then sees the
// socket closed.
func (c *guardedConn) refuse(code int, reason string) {
	c.mu.Lock()
	if c.refused {
		c.mu.Unlock()
		return
	}
	c.refused = true
	if c.initTimer != nil {
		c.initTimer.Stop()
	}
	c.mu.Unlock()
	_ = c.inner.WriteClose(code, reason)
}

func (c *guardedConn) NextReader() (int, io.Reader, error) {
	for {
		mt, r, err := c.inner.NextReader()
		if err != nil {
			if c.isRefused() {
				return mt, nil, transport.ErrWebsocketClosed
			}
			return mt, r, err
		}
		data, err := io.ReadAll(r)
		if err != nil {
			return mt, nil, err
		}
		forward, code, reason := c.check(data)
		if code != 0 {
			c.refuse(code, reason)
			return mt, nil, transport.ErrWebsocketClosed
		}
		if forward {
			return mt, bytes.NewReader(data), nil
		}
	}
}

// check decides what to do with one client message: forward it to gqlgen,
// swallow it (answered here), or close with code.
func (c *guardedConn) check(data []byte) (forward bool, code int, reason string) {
	var m wsEnvelope
	valid := json.Unmarshal(data, &m) == nil && m.Type != ""
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.Type == "connection_init" && !c.inited && c.initTimer != nil {
		c.initTimer.Stop()
	}
	if !c.strict {
		if m.Type == "connection_init" {
			c.inited = true
		}
		return true, 0, ""
	}
	if !valid {
		return false, wsBadMessage, "Invalid message received"
	}
	switch m.Type {
	case "connection_init":
		if c.inited {
			return false, wsTooManyInits, "Too many initialisation requests"
		}
		c.inited = true
		if k := kindOf(m.Payload); k != 0 && k != '{' && k != 'n' {
			return false, wsBadMessage, "Invalid message received: connection_init payload must be an object"
		}
	case "ping", "pong":
		if !c.acked {
			// gqlgen expects connection_init first; the protocol allows pings
			// at any time, so they are answered here until then.
			if m.Type == "ping" {
				_ = c.inner.WriteJSON(map[string]string{"type": "pong"})
			}
			return false, 0, ""
		}
	case "subscribe":
		if !c.acked {
			return false, wsUnauthorized, "Unauthorized"
		}
		if m.ID == nil || *m.ID == "" {
			return false, wsBadMessage, "Invalid message received: subscribe needs an id"
		}
		var p struct {
			Query *string `json:"query"`
		}
		if kindOf(m.Payload) != '{' || json.Unmarshal(m.Payload, &p) != nil || p.Query == nil {
			return false, wsBadMessage, "Invalid message received: subscribe payload needs a query"
		}
		if c.active[*m.ID] {
			return false, wsDuplicateID, "Subscriber for " + *m.ID + " already exists"
		}
		c.active[*m.ID] = true
	case "complete":
		if m.ID == nil || *m.ID == "" {
			return false, wsBadMessage, "Invalid message received: complete needs an id"
		}
		if c.active[*m.ID] {
			delete(c.active, *m.ID)
			c.closing[*m.ID] = true
		}
	default:
		return false, wsBadMessage, "Invalid message received: unknown type " + truncate(m.Type, 40)
	}
	return true, 0, ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func (c *guardedConn) isRefused() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refused
}

// WriteJSON notes what the server tells the client: the acknowledgement that
// opens subscribing, and the end of each subscription, which frees its id.
func (c *guardedConn) WriteJSON(v any) error {
	if c.strict {
		if b, err := json.Marshal(v); err == nil {
			var m wsEnvelope
			if json.Unmarshal(b, &m) == nil {
				c.mu.Lock()
				drop := false
				switch m.Type {
				case "connection_ack":
					c.acked = true
				case "complete", "error":
					if m.ID != nil {
						if c.closing[*m.ID] {
							delete(c.closing, *m.ID)
							drop = m.Type == "complete"
						} else {
							delete(c.active, *m.ID)
						}
					}
				}
				c.mu.Unlock()
				if drop {
					return nil
				}
			}
		}
	}
	return c.inner.WriteJSON(v)
}

func (c *guardedConn) WriteClose(code int, msg string) error {
	c.mu.Lock()
	if c.initTimer != nil {
		c.initTimer.Stop()
	}
	c.mu.Unlock()
	return c.inner.WriteClose(code, msg)
}

func (c *guardedConn) Close() error {
	c.mu.Lock()
	if c.initTimer != nil {
		c.initTimer.Stop()
	}
	c.mu.Unlock()
	return c.inner.Close()
}

func (c *guardedConn) Subprotocol() string { return c.inner.Subprotocol() }

func (c *guardedConn) SetReadLimit(n int64) {
	if l, ok := c.inner.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(n)
	}
}

func (c *guardedConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.inner.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}
