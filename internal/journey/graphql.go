package journey

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// party is one demo enterprise acting through the gateway under its own token.
type party struct {
	who   string // the role in the demo, as cmd/seed names it: "supplier-a"
	token string
	url   string // the gateway's GraphQL endpoint
	http  *http.Client
	log   *slog.Logger
	// observe, when set, hears of every operation (Config.Observe).
	observe func(operation string, took time.Duration, err error)
	// retryFor is how long a request without an answer is sent again.
	retryFor time.Duration

	id   string // its enterprise's global id (from viewer)
	name string // its enterprise's name
}

// gqlError is a top-level GraphQL error.
type gqlError struct {
	Message    string `json:"message"`
	Extensions struct {
		Code string `json:"code"`
	} `json:"extensions"`
}

// userError is a domain refusal in a mutation's payload.
type userError struct {
	Code    string   `json:"code"`
	Field   []string `json:"field"`
	Message string   `json:"message"`
}

// refusal is a mutation refused in its payload.
type refusal struct {
	who, field string
	errs       []userError
}

func (r *refusal) Error() string {
	parts := make([]string, len(r.errs))
	for i, e := range r.errs {
		parts[i] = e.Code + ": " + e.Message
	}
	return fmt.Sprintf("%s: %s refused: %s", r.who, r.field, strings.Join(parts, "; "))
}

// code is the first refusal's code.
func (r *refusal) code() string { return r.errs[0].Code }

// retryable is an answer that says nothing about the request's outcome: the
// gateway was unreachable, timed out, restarted, or the platform behind it
// was briefly unavailable. Such a request is sent again, as it was.
type retryable struct{ err error }

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// query posts an operation and decodes its data into out (a struct whose
// fields are the operation's root fields). While the answer says nothing of
// the outcome (a transport error, a timeout, a 5xx without a GraphQL answer,
// UNAVAILABLE or INTERNAL) it is sent again, for up to p.retryFor, with the
// same body and, for a mutation, the same Idempotency-Key: the platform
// answers a repeated request with the first one's outcome, so a retry never
// acts twice.
func (p *party) query(ctx context.Context, q string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": q, "variables": vars})
	if err != nil {
		return err
	}
	key := ""
	if strings.HasPrefix(strings.TrimSpace(q), "mutation") {
		key = newKey()
	}
	deadline := time.Now().Add(p.retryFor)
	wait := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := p.once(ctx, q, body, key, out)
		if p.observe != nil {
			p.observe(operationName(q), time.Since(start), err)
		}
		var r *retryable
		if err == nil || !errors.As(err, &r) || ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			return err
		}
		p.log.Debug("no answer; sending the request again", "who", p.who, "operation", operationName(q), "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// once sends the request one time.
func (p *party) once(ctx context.Context, q string, body []byte, key string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+p.token)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	start := time.Now()
	res, err := p.http.Do(req)
	if err != nil {
		return &retryable{fmt.Errorf("%s: %w", p.who, err)}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return &retryable{fmt.Errorf("%s: %w", p.who, err)}
	}
	p.log.Debug("graphql", "who", p.who, "operation", firstWords(q), "status", res.StatusCode, "took", time.Since(start))
	var answer struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil {
		err := fmt.Errorf("%s: the gateway answered %d with %q", p.who, res.StatusCode, truncate(string(raw), 200))
		if res.StatusCode >= 500 {
			return &retryable{err}
		}
		return err
	}
	if len(answer.Errors) > 0 {
		e := answer.Errors[0]
		err := fmt.Errorf("%s: %s (%s)", p.who, e.Message, e.Extensions.Code)
		if e.Extensions.Code == "UNAVAILABLE" || e.Extensions.Code == "INTERNAL" {
			return &retryable{err}
		}
		return err
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(answer.Data, out)
}

// newKey is a fresh Idempotency-Key.
func newKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// mutate runs mutation field(input: in) with the payload fields in selection;
// a refusal in the payload comes back as a *refusal. The payload is decoded
// into out when it is not nil.
func (p *party) mutate(ctx context.Context, field, inputType, selection string, in map[string]any, out any) error {
	q := fmt.Sprintf(`mutation($in: %s!) { %s(input: $in) { %s errors { code field message } } }`, inputType, field, selection)
	var data map[string]json.RawMessage
	if err := p.query(ctx, q, map[string]any{"in": in}, &data); err != nil {
		return err
	}
	var payload struct {
		Errors []userError `json:"errors"`
	}
	if err := json.Unmarshal(data[field], &payload); err != nil {
		return fmt.Errorf("%s: %s: %w", p.who, field, err)
	}
	if len(payload.Errors) > 0 {
		return &refusal{who: p.who, field: field, errs: payload.Errors}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data[field], out)
}

// mutateSoon is mutate, tried again while it is refused with ILLEGAL_STATE,
// for a few seconds (or p.retryFor, when longer): a client that acts on an
// event it just saw may reach the workflow a moment before the workflow has
// applied that event, or, when a worker died after writing the event, until
// another worker has run the workflow's step again.
func (p *party) mutateSoon(ctx context.Context, field, inputType, selection string, in map[string]any, out any) error {
	deadline := time.Now().Add(max(5*time.Second, p.retryFor))
	wait := 100 * time.Millisecond
	for {
		err := p.mutate(ctx, field, inputType, selection, in, out)
		var r *refusal
		if !errors.As(err, &r) || r.code() != "ILLEGAL_STATE" || time.Now().After(deadline) || lapsedRefusal(err) {
			return err // (an offer no longer open will not open again)
		}
		p.log.Debug("refused for now; trying again", "who", p.who, "field", field, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// connection reads every page of a connection field; q takes $after and
// selects edges { node { ... } } pageInfo { hasNextPage endCursor }.
func connection[T any](ctx context.Context, p *party, q, field string, vars map[string]any) ([]T, error) {
	v := map[string]any{"after": nil}
	for k, x := range vars {
		v[k] = x
	}
	var out []T
	for {
		var data map[string]struct {
			Edges []struct {
				Node T `json:"node"`
			} `json:"edges"`
			PageInfo struct {
				HasNextPage bool   `json:"hasNextPage"`
				EndCursor   string `json:"endCursor"`
			} `json:"pageInfo"`
		}
		if err := p.query(ctx, q, v, &data); err != nil {
			return nil, err
		}
		conn := data[field]
		for _, e := range conn.Edges {
			out = append(out, e.Node)
		}
		if !conn.PageInfo.HasNextPage {
			return out, nil
		}
		v["after"] = conn.PageInfo.EndCursor
	}
}

func firstWords(q string) string {
	return truncate(strings.Join(strings.Fields(q), " "), 60)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// operationName is the first root field of a document: "placeOrder",
// "procurementInbox" (an alias is skipped).
func operationName(q string) string {
	i := strings.IndexByte(q, '{')
	if i < 0 {
		return firstWords(q)
	}
	rest := q[i+1:]
	ident := func() string {
		rest = strings.TrimLeft(rest, " \t\r\n")
		n := strings.IndexFunc(rest, func(r rune) bool {
			return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		})
		if n < 0 {
			n = len(rest)
		}
		name := rest[:n]
		rest = rest[n:]
		return name
	}
	name := ident()
	if strings.HasPrefix(strings.TrimLeft(rest, " \t\r\n"), ":") {
		rest = strings.TrimLeft(rest, " \t\r\n")[1:]
		name = ident()
	}
	return name
}
