// Package handleroot is a small top-level node for identifier resolution: a
// directory that knows, for each registered prefix, which node serves the
// identifiers under it. It holds no identifiers itself. cmd/handle-root runs
// it; the platform's recursive resolution (services/identifiers/remote) asks
// it.
//
// # Asking for a prefix
//
//	GET /api/handles/0.NA/{prefix}
//
// The record of a prefix lives under the prefix handle 0.NA/<prefix>. The
// prefix asked may be a registered prefix or any prefix below one: the
// directory answers with the longest registered prefix that contains it,
// comparing whole segments, so with 88.501 registered, 88.501 and 88.501.1304
// find it while 88.5010 and 88.50 do not. A more specific registration wins:
// with 88.501 and 88.501.7 both registered, 88.501.7.2 finds 88.501.7.
//
// A found prefix answers HTTP 200 with a Handle REST answer whose handle is
// the registered prefix's handle (not necessarily the one asked) and one value:
//
//	{"responseCode": 1, "handle": "0.NA/88.501",
//	 "values": [{"index": 1, "type": "HS_SITE",
//	             "data": {"format": "string", "value": "http://10.0.0.5:8080"},
//	             "ttl": 3600, "timestamp": "2025-03-01T08:00:00Z"}]}
//
// The value's type says what its URL is:
//
//   - HS_SITE: the base URL of the node that serves the identifiers under the
//     prefix. Ask it for an identifier with GET <url>/api/handles/<identifier>.
//   - HS_SERV: a referral, the base URL of another directory that knows more
//     about the prefix. Ask it the same question, GET <url>/api/handles/0.NA/<prefix>.
//
// ttl is how many seconds the answer may be kept (the same for every
// registration, set when the node starts; an hour unless configured) and
// timestamp is when the prefix was registered, in UTC.
//
// The other answers are:
//
//   - responseCode 100, HTTP 404: no registered prefix contains the one asked.
//   - responseCode 102, HTTP 400: what follows 0.NA/ is not a prefix (decimal
//     segments separated by single dots, no leading zeros, at most 64
//     characters), or the query's filters are malformed.
//   - responseCode 100, HTTP 404, for GET /api/handles/<identifier> of an
//     ordinary identifier: a directory does not hold identifiers; the message
//     says which prefix handle to ask for instead.
//
// The Handle REST filters ?type=HS_SITE and ?index=1 may be given and behave
// as on any node: a registration that does not match answers responseCode
// 200. HEAD is answered like GET without a body; any other method on
// /api/handles is refused with HTTP 405.
//
// # Registering a prefix
//
//	PUT    /api/prefixes/{prefix}   {"site": "http://10.0.0.5:8080"}
//	PUT    /api/prefixes/{prefix}   {"referral": "http://other-root:9000"}
//	DELETE /api/prefixes/{prefix}
//
// Both need the header Authorization: Bearer <admin token>, the token the
// node was started with. A node started without a token refuses every
// change (HTTP 403 FORBIDDEN); a missing or wrong token is HTTP 401
// UNAUTHENTICATED.
//
// The body is one JSON object of at most 4 KiB with exactly one of site and
// referral, and no other field. The URL must be absolute, http or https, with
// a host, without user name, password, query or fragment, at most 255
// characters; a trailing "/" is dropped. A prefix holds one registration: a
// PUT replaces what was there (HTTP 200; HTTP 201 when the prefix was new)
// and answers the prefix's record as a GET of it would. DELETE answers HTTP
// 204, or 404 NOT_FOUND when the prefix was not registered; it removes that
// prefix only, not those registered below it.
//
// A refused change answers a JSON error and changes nothing:
//
//	{"code": "INVALID_INPUT", "message": "the referral URL must start with http:// or https://"}
//
// with HTTP 400 INVALID_INPUT for a malformed prefix, URL or body, 413
// REQUEST_TOO_LARGE for a body over 4 KiB, 401, 403 or 405 as above.
// Registrations are kept in memory: a restarted node starts again from its
// command line and configuration file.
//
// # Other paths
//
// GET /healthz answers HTTP 200 {"status":"ok"} while the node runs; any other
// path answers HTTP 404 with {"code":"NOT_FOUND", ...}.
package handleroot

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identifiers"
)

// DefaultTTL is how long resolvers may keep an answer unless Options.TTL says otherwise.
const DefaultTTL = time.Hour

// MaxBody is the largest registration body accepted, in bytes.
const MaxBody = 4 << 10

// maxURL is the longest node URL: it is a value's data.
const maxURL = identifiers.MaxValueData

// Registration is what the directory knows about one prefix.
type Registration struct {
	Prefix string    // the registered prefix, e.g. 88.501
	Type   string    // identifiers.ValueTypeSite or identifiers.ValueTypeServ
	URL    string    // the node's base URL, without a trailing "/"
	At     time.Time // when it was registered
}

// Options configure a Root.
type Options struct {
	// TTL is the time to live of every answer, in whole seconds (at least
	// one); zero means DefaultTTL.
	TTL time.Duration
	// Token is the admin bearer token that PUT and DELETE need; empty
	// refuses every change over HTTP.
	Token string
	// Now is the clock of registration timestamps; nil means time.Now.
	Now func() time.Time
}

// Root is the directory: safe for concurrent use, and an http.Handler
// serving the protocol of the package documentation.
type Root struct {
	ttl   int // seconds
	token []byte
	now   func() time.Time

	mu  sync.RWMutex
	reg map[string]Registration // by prefix
}

// New returns an empty Root.
func New(o Options) (*Root, error) {
	if o.TTL < 0 {
		return nil, errs.Invalid([]string{"ttl"}, "the TTL must not be negative, not %s", o.TTL)
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	secs := int64(o.TTL / time.Second)
	if secs < 1 {
		return nil, errs.Invalid([]string{"ttl"}, "the TTL must be at least one second, not %s", o.TTL)
	}
	if secs > 1<<31-1 {
		return nil, errs.Invalid([]string{"ttl"}, "the TTL must be at most %d seconds, not %d", 1<<31-1, secs)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &Root{ttl: int(secs), now: o.Now, reg: map[string]Registration{}}
	if o.Token != "" {
		r.token = []byte(o.Token)
	}
	return r, nil
}

// TTL is the time to live of the root's answers, in seconds.
func (r *Root) TTL() int { return r.ttl }

// Register sets the registration of prefix, replacing any, and returns it
// with whether the prefix was new. typ is identifiers.ValueTypeSite or
// identifiers.ValueTypeServ; a malformed prefix or URL is an INVALID_INPUT.
func (r *Root) Register(prefix, typ, nodeURL string) (Registration, bool, error) {
	if err := identifiers.ValidatePrefix(prefix); err != nil {
		return Registration{}, false, identifiers.At(err, []string{"prefix"})
	}
	var what string
	switch typ {
	case identifiers.ValueTypeSite:
		what = "site"
	case identifiers.ValueTypeServ:
		what = "referral"
	default:
		return Registration{}, false, errs.Invalid([]string{"type"}, "a registration is %s or %s, not %q",
			identifiers.ValueTypeSite, identifiers.ValueTypeServ, typ)
	}
	u, err := CheckURL(what, nodeURL)
	if err != nil {
		return Registration{}, false, err
	}
	g := Registration{Prefix: prefix, Type: typ, URL: u, At: r.now().UTC().Truncate(time.Second)}
	r.mu.Lock()
	_, had := r.reg[prefix]
	r.reg[prefix] = g
	r.mu.Unlock()
	return g, !had, nil
}

// Remove drops the registration of exactly prefix and reports whether there was one.
func (r *Root) Remove(prefix string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, had := r.reg[prefix]
	delete(r.reg, prefix)
	return had
}

// Lookup finds the longest registered prefix that is prefix or contains it,
// segment by segment.
func (r *Root) Lookup(prefix string) (Registration, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for p := prefix; p != ""; {
		if g, ok := r.reg[p]; ok {
			return g, true
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return Registration{}, false
}

// Registrations lists every registration, by prefix.
func (r *Root) Registrations() []Registration {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := slices.Collect(maps.Values(r.reg))
	slices.SortFunc(out, func(a, b Registration) int { return strings.Compare(a.Prefix, b.Prefix) })
	return out
}

// Answer is the directory's answer about prefix, unfiltered: its
// registration (code 1), nothing (100) or a refusal of the prefix (102).
func (r *Root) Answer(prefix string) identifiers.Answer {
	asked := identifiers.PrefixHandle(prefix)
	if err := identifiers.ValidatePrefix(prefix); err != nil {
		return identifiers.Answer{ResponseCode: identifiers.CodeInvalid, Handle: asked, Message: message(err)}
	}
	g, ok := r.Lookup(prefix)
	if !ok {
		return identifiers.Answer{ResponseCode: identifiers.CodeNotFound, Handle: asked,
			Message: fmt.Sprintf("no node is registered for prefix %s or a prefix containing it", prefix)}
	}
	return r.answerFor(g)
}

func (r *Root) answerFor(g Registration) identifiers.Answer {
	return identifiers.Answer{
		ResponseCode: identifiers.CodeSuccess,
		Handle:       identifiers.PrefixHandle(g.Prefix),
		Values:       []identifiers.Value{identifiers.StringValue(1, g.Type, g.URL, r.ttl, g.At)},
	}
}

// Config is the initial map of a Root, as a JSON file gives it:
// {"sites": {"88.500": "http://..."}, "referrals": {"86": "http://..."}}.
type Config struct {
	Sites     map[string]string `json:"sites"`
	Referrals map[string]string `json:"referrals"`
}

// ReadConfig reads a Config from a JSON file; unknown fields are refused.
func ReadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	var c Config
	if err := decodeStrict(b, &c); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Load registers every prefix of c, or none when any is refused. A prefix
// may not be both a site and a referral.
func (r *Root) Load(c Config) error {
	for p := range c.Sites {
		if _, dup := c.Referrals[p]; dup {
			return errs.Invalid([]string{"prefix"}, "prefix %s is given both as a site and as a referral", p)
		}
	}
	type item struct{ prefix, typ, url string }
	var items []item
	for p, u := range c.Sites {
		items = append(items, item{p, identifiers.ValueTypeSite, u})
	}
	for p, u := range c.Referrals {
		items = append(items, item{p, identifiers.ValueTypeServ, u})
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.prefix, b.prefix) })
	// Check everything before registering anything.
	probe, _ := New(Options{Now: r.now})
	for _, it := range items {
		if _, _, err := probe.Register(it.prefix, it.typ, it.url); err != nil {
			return fmt.Errorf("prefix %q: %w", it.prefix, err)
		}
	}
	for _, it := range items {
		if _, _, err := r.Register(it.prefix, it.typ, it.url); err != nil {
			return fmt.Errorf("prefix %q: %w", it.prefix, err)
		}
	}
	return nil
}

// ParseMapping reads a command-line mapping <prefix>=<url>, as the -site and
// -refer flags of cmd/handle-root take it. It checks only the shape; Register
// checks the prefix and the URL.
func ParseMapping(s string) (prefix, nodeURL string, err error) {
	prefix, nodeURL, ok := strings.Cut(s, "=")
	prefix, nodeURL = strings.TrimSpace(prefix), strings.TrimSpace(nodeURL)
	if !ok || prefix == "" || nodeURL == "" {
		return "", "", errs.Invalid(nil, "a mapping is <prefix>=<url>, such as 88.500=http://127.0.0.1:8080, not %q", s)
	}
	return prefix, nodeURL, nil
}

// CheckURL checks a node's base URL and returns it without a trailing "/":
// absolute http or https with a host, no user information, query or
// fragment, at most 255 characters. what names the URL in the refusal (site,
// referral).
func CheckURL(what, s string) (string, error) {
	field := []string{what}
	if s == "" {
		return "", errs.Invalid(field, "the %s URL is empty", what)
	}
	if err := identifiers.ValidateValueData(s); err != nil {
		return "", errs.Invalid(field, "the %s URL must be one line of at most %d characters", what, maxURL)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", errs.Invalid(field, "the %s URL %q does not parse: %v", what, s, unwrapURLError(err))
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", errs.Invalid(field, "the %s URL must start with http:// or https://, not %q", what, s)
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return "", errs.Invalid(field, "the %s URL %q has no host", what, s)
	case u.User != nil:
		return "", errs.Invalid(field, "the %s URL %q must not carry a user name or password", what, s)
	case u.RawQuery != "" || u.ForceQuery:
		return "", errs.Invalid(field, "the %s URL %q must not have a query (\"?\")", what, s)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return "", errs.Invalid(field, "the %s URL %q must not have a fragment (\"#\")", what, s)
	}
	return strings.TrimRight(s, "/"), nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// message is the text of a refusal for people: a coded error's message
// without its code.
func message(err error) string {
	if e, ok := errs.As(err); ok {
		return e.Message
	}
	return err.Error()
}

func decodeStrict(b []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("the body is empty: expected a JSON object")
		}
		return fmt.Errorf("not the expected JSON object: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("expected one JSON object and nothing after it")
	}
	return nil
}

// ServeHTTP serves the protocol of the package documentation.
func (r *Root) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	path := req.URL.Path
	switch {
	case path == "/healthz":
		if !getOrHead(w, req) {
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	case path == "/api/handles" || strings.HasPrefix(path, "/api/handles/"):
		if !getOrHead(w, req) {
			return
		}
		r.serveHandle(w, req, strings.TrimPrefix(strings.TrimPrefix(path, "/api/handles"), "/"))
	case strings.HasPrefix(path, "/api/prefixes/"):
		r.servePrefix(w, req, strings.TrimPrefix(path, "/api/prefixes/"))
	default:
		writeError(w, http.StatusNotFound, errs.NotFound, "no such path: this node serves GET /api/handles/0.NA/<prefix>, PUT and DELETE /api/prefixes/<prefix>, and GET /healthz")
	}
}

func getOrHead(w http.ResponseWriter, req *http.Request) bool {
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", fmt.Sprintf("%s is not allowed here: use GET or HEAD", req.Method))
	return false
}

func (r *Root) serveHandle(w http.ResponseWriter, req *http.Request, handle string) {
	var a identifiers.Answer
	if len(handle) > len(identifiers.PrefixHandlePrefix) && strings.EqualFold(handle[:len(identifiers.PrefixHandlePrefix)+1], identifiers.PrefixHandlePrefix+"/") {
		prefix := handle[len(identifiers.PrefixHandlePrefix)+1:]
		a = r.Answer(prefix)
		if a.ResponseCode == identifiers.CodeSuccess {
			q, err := identifiers.ParseQuery(req.URL.Query())
			if err != nil {
				a = identifiers.Answer{ResponseCode: identifiers.CodeInvalid, Handle: identifiers.PrefixHandle(prefix),
					Message: "the query's filters are malformed: " + message(err)}
			} else {
				a = q.Filter(a)
			}
		}
	} else if h, err := identifiers.Parse(handle); err != nil {
		a = identifiers.Answer{ResponseCode: identifiers.CodeInvalid, Handle: handle,
			Message: "ask for a prefix handle 0.NA/<prefix>: " + message(err)}
	} else {
		a = identifiers.Answer{ResponseCode: identifiers.CodeNotFound, Handle: h.String(),
			Message: fmt.Sprintf("this node is a directory and holds no identifiers: ask it for %s to learn which node serves %s",
				identifiers.PrefixHandle(h.Prefix()), h.String())}
	}
	writeJSON(w, a.HTTPStatus(), a)
}

func (r *Root) servePrefix(w http.ResponseWriter, req *http.Request, prefix string) {
	if req.Method != http.MethodPut && req.Method != http.MethodDelete {
		w.Header().Set("Allow", "PUT, DELETE")
		writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", fmt.Sprintf("%s is not allowed here: use PUT or DELETE", req.Method))
		return
	}
	if r.token == nil {
		writeError(w, http.StatusForbidden, errs.Forbidden, "registration is disabled: this node was started without an admin token")
		return
	}
	if !r.authorized(req.Header.Get("Authorization")) {
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeError(w, http.StatusUnauthorized, errs.Unauthenticated, "the admin token is required: Authorization: Bearer <token>")
		return
	}
	if err := identifiers.ValidatePrefix(prefix); err != nil {
		writeError(w, http.StatusBadRequest, errs.InvalidInput, message(err))
		return
	}
	if req.Method == http.MethodDelete {
		if !r.Remove(prefix) {
			writeError(w, http.StatusNotFound, errs.NotFound, fmt.Sprintf("prefix %s is not registered", prefix))
			return
		}
		slog.InfoContext(req.Context(), "prefix removed", "prefix", prefix, "remote", req.RemoteAddr)
		w.WriteHeader(http.StatusNoContent)
		return
	}

	if req.ContentLength > MaxBody {
		writeError(w, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE", fmt.Sprintf("a registration is at most %d bytes", MaxBody))
		return
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, req.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE", fmt.Sprintf("a registration is at most %d bytes", MaxBody))
			return
		}
		writeError(w, http.StatusBadRequest, errs.InvalidInput, "the body could not be read")
		return
	}
	var body struct {
		Site     *string `json:"site"`
		Referral *string `json:"referral"`
	}
	if err := decodeStrict(b, &body); err != nil {
		writeError(w, http.StatusBadRequest, errs.InvalidInput, `the body must be {"site":"<url>"} or {"referral":"<url>"}: `+err.Error())
		return
	}
	var typ, u string
	switch {
	case body.Site != nil && body.Referral != nil:
		writeError(w, http.StatusBadRequest, errs.InvalidInput, "give either site or referral, not both")
		return
	case body.Site != nil:
		typ, u = identifiers.ValueTypeSite, *body.Site
	case body.Referral != nil:
		typ, u = identifiers.ValueTypeServ, *body.Referral
	default:
		writeError(w, http.StatusBadRequest, errs.InvalidInput, `the body must be {"site":"<url>"} or {"referral":"<url>"}`)
		return
	}
	g, created, err := r.Register(prefix, typ, u)
	if err != nil {
		writeError(w, http.StatusBadRequest, errs.InvalidInput, message(err))
		return
	}
	slog.InfoContext(req.Context(), "prefix registered", "prefix", g.Prefix, "type", g.Type, "url", g.URL,
		"created", created, "remote", req.RemoteAddr)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, r.answerFor(g))
}

// authorized compares the bearer token in constant time (over digests, so
// its length does not show either).
func (r *Root) authorized(header string) bool {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return false
	}
	got, want := sha256.Sum256([]byte(tok)), sha256.Sum256(r.token)
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		slog.Debug("answer not written", "err", err)
	}
}

func writeError(w http.ResponseWriter, status int, code errs.Code, msg string) {
	writeJSON(w, status, map[string]string{"code": string(code), "message": msg})
}
