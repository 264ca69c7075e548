// Package remote resolves identifiers that other nodes serve: the recursive
// resolution of a secondary node, which asks the upper node's directory
// which node serves an identifier's prefix, follows its referrals, then asks
// that node for the identifier and relays its answer.
//
// # Steps
//
// For an identifier <prefix>/<suffix> not under the platform's own node
// prefix (those are resolved locally: ErrLocal):
//
//  1. GET <upper>/api/handles/0.NA/<prefix>. An HS_SITE value names the node
//     that serves the prefix; an HS_SERV value names another directory, which
//     is asked the same question, at most MaxReferrals times. The first
//     usable value of the lowest index is taken, HS_SITE before HS_SERV; only
//     http and https URLs are followed. A directory asked twice, or this node
//     named as a directory or as the site, is a loop. A 100 from a directory
//     answers 100: no node serves that prefix.
//  2. GET <site>/api/handles/<identifier>?type=...&index=... The site's
//     answer is relayed with Node set to the site: codes 1, 100, 102 and 200
//     as given (the filter applied again, in case the site ignored it), any
//     other code as an error.
//
// Every request has HopTimeout, no redirect is followed and no more than
// MaxAnswer bytes are read. An answer must be a Handle REST answer about
// what was asked: the site's handle equal to the one asked (ignoring case),
// the directory's a prefix handle of the asked prefix or of one containing
// it.
//
// # Failures
//
// A node that cannot be reached, times out, answers something that is not a
// Handle answer or answers about something else, a loop and too many
// referrals all give an answer with CodeError (HTTP 502 once relayed) and a
// message that names the node and what happened, and a nil error: the error
// of Resolve is for the caller's own mistakes and its cancelled context.
//
// # Caching
//
// With a Cache, the prefix's site is kept for the smallest ttl of the values
// that led to it (the referrals' too) under both the registered prefix the
// directory answered and the prefix asked; an identifier's answer for the
// smallest ttl of its values, per filter. Each ttl is capped by MaxTTL; a ttl
// of 0 keeps nothing. A not-found, any other code without values and every
// failure are kept for MissTTL, and a node that failed is not asked again
// for MissTTL (its failure is answered at once). Lookups of the same
// identifier and filter that run at the same time share one resolution.
package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identifiers"
)

// The defaults of Config's zero fields.
const (
	DefaultHopTimeout   = 2 * time.Second
	DefaultMaxReferrals = 3
	DefaultMissTTL      = 10 * time.Second
	DefaultMaxTTL       = time.Hour
)

// MaxAnswer is the most of any node's answer that is read, in bytes.
const MaxAnswer = 1 << 20

// ErrLocal is the error of Resolve for a handle under the platform's own node
// prefix, which the caller resolves from its own records.
var ErrLocal = errors.New("the handle is under this node's prefix: resolve it locally")

// Config configures a Resolver. Zero durations and MaxReferrals take their
// defaults; negative ones are refused.
type Config struct {
	NodePrefix   string        // this platform's own node prefix: never resolved remotely
	Self         string        // this node's own base URL (a referral or site pointing here is a loop); may be empty
	Upper        string        // base URL of the upper (top-level) node
	HopTimeout   time.Duration // per HTTP request; default 2s
	MaxReferrals int           // default 3: HS_SERV referrals followed at most
	MissTTL      time.Duration // how long a not-found (100) or a failed lookup is remembered; default 10s
	MaxTTL       time.Duration // cap on cached TTLs; default 1h
	Client       *http.Client  // default: one with no overall timeout that follows no redirect (the hop timeout is per request via context)
	Cache        Cache         // may be nil: no caching
}

// Cache keeps resolution answers. It is an optimisation: a miss or a failure
// of the store is the same to the Resolver.
type Cache interface {
	// Get returns the bytes stored under key; a miss or a failure is false.
	Get(ctx context.Context, key string) ([]byte, bool)
	// Set stores b under key for ttl (positive); a failure is not reported.
	Set(ctx context.Context, key string, b []byte, ttl time.Duration)
}

// Result is the outcome of a resolution.
type Result struct {
	Answer identifiers.Answer // with Answer.Node set to the base URL of the node that answered
	Node   string             // same
	Hops   []string           // the URLs asked, in order (for diagnostics)
	Cached bool               // the answer came from the Cache, nothing was asked
}

// Resolver resolves handles through the upper node. It is safe for
// concurrent use.
type Resolver struct {
	cfg Config

	mu      sync.Mutex
	flights map[string]*flight
}

// flight is a resolution under way, shared by the lookups of one key.
type flight struct {
	done    chan struct{}
	res     Result
	waiters int
}

// New checks c and returns its Resolver.
func New(c Config) (*Resolver, error) {
	if err := identifiers.ValidatePrefix(c.NodePrefix); err != nil {
		return nil, identifiers.At(err, []string{"NodePrefix"})
	}
	u, err := nodeURL(c.Upper)
	if err != nil {
		return nil, errs.Invalid([]string{"Upper"}, "the upper node URL %q: %v", c.Upper, err)
	}
	c.Upper = u
	if c.Self != "" {
		s, err := nodeURL(c.Self)
		if err != nil {
			return nil, errs.Invalid([]string{"Self"}, "this node's URL %q: %v", c.Self, err)
		}
		if s == c.Upper {
			return nil, errs.Invalid([]string{"Upper"}, "the upper node %s is this node itself", c.Upper)
		}
		c.Self = s
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{{"HopTimeout", &c.HopTimeout, DefaultHopTimeout}, {"MissTTL", &c.MissTTL, DefaultMissTTL}, {"MaxTTL", &c.MaxTTL, DefaultMaxTTL}} {
		if *d.v < 0 {
			return nil, errs.Invalid([]string{d.name}, "%s must not be negative, not %s", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if c.MaxReferrals < 0 {
		return nil, errs.Invalid([]string{"MaxReferrals"}, "MaxReferrals must not be negative, not %d", c.MaxReferrals)
	}
	if c.MaxReferrals == 0 {
		c.MaxReferrals = DefaultMaxReferrals
	}
	if c.Client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 16
		c.Client = &http.Client{
			Transport:     t,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &Resolver{cfg: c, flights: map[string]*flight{}}, nil
}

// Resolve resolves h, filtered by q, through the upper node. A failure of a
// node is an answer with CodeError and a nil error; the error is ErrLocal
// for a handle under the node prefix, the context's error when ctx ends
// first, or an INVALID_INPUT for a zero handle or a malformed query.
func (r *Resolver) Resolve(ctx context.Context, h identifiers.Handle, q identifiers.Query) (Result, error) {
	if h.IsZero() {
		return Result{}, errs.Invalid(nil, "no handle to resolve")
	}
	if h.Under(r.cfg.NodePrefix) {
		return Result{}, fmt.Errorf("%w: %s is under %s", ErrLocal, h, r.cfg.NodePrefix)
	}
	query, err := encodeQuery(q)
	if err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	key := "h:" + h.Key() + "?" + query
	var e answerEntry
	if r.get(ctx, key, &e) && e.Answer.ResponseCode != 0 {
		return Result{Answer: e.Answer, Node: e.Answer.Node, Cached: true}, nil
	}

	r.mu.Lock()
	f, running := r.flights[key]
	if !running {
		f = &flight{done: make(chan struct{})}
		r.flights[key] = f
	}
	f.waiters++
	r.mu.Unlock()
	if !running {
		// The resolution outlives a caller that gives up: others may wait
		// for it, and each of its requests is bounded by HopTimeout.
		go r.fly(context.WithoutCancel(ctx), key, f, h, q, query)
	}
	select {
	case <-f.done:
		return f.res.clone(), nil
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

func (r *Resolver) fly(ctx context.Context, key string, f *flight, h identifiers.Handle, q identifiers.Query, query string) {
	defer func() {
		if p := recover(); p != nil {
			slog.ErrorContext(ctx, "remote resolution panicked", "handle", h.String(), "panic", p)
			f.res = Result{Answer: identifiers.Answer{ResponseCode: identifiers.CodeError, Handle: h.String(),
				Message: "resolution failed inside this node"}}
		}
		r.mu.Lock()
		delete(r.flights, key)
		r.mu.Unlock()
		close(f.done)
	}()
	res, ttl := r.resolve(ctx, h, q, query)
	if ttl > 0 {
		r.set(ctx, key, answerEntry{Answer: res.Answer}, ttl)
	}
	f.res = res
}

// resolve runs the two steps and returns the result and how long to keep it.
func (r *Resolver) resolve(ctx context.Context, h identifiers.Handle, q identifiers.Query, query string) (Result, time.Duration) {
	site, res, ok, keep := r.findSite(ctx, h)
	if !ok {
		if !keep {
			return res, 0
		}
		return res, r.cfg.MissTTL
	}
	hops := res.Hops
	fail := func(format string, args ...any) (Result, time.Duration) {
		a := identifiers.Answer{ResponseCode: identifiers.CodeError, Handle: h.String(), Node: site,
			Message: fmt.Sprintf(format, args...)}
		slog.DebugContext(ctx, "remote resolution failed", "handle", h.String(), "message", a.Message)
		return Result{Answer: a, Node: site, Hops: hops}, r.cfg.MissTTL
	}
	u := site + "/api/handles/" + h.String()
	if query != "" {
		u += "?" + query
	}
	a, err := r.ask(ctx, site, u, &hops)
	if err != nil {
		res, ttl := fail("the node %s, which serves prefix %s, %v", site, h.Prefix(), err)
		if !remembered(err) {
			ttl = 0
		}
		return res, ttl
	}
	if !strings.EqualFold(a.Handle, h.String()) {
		return fail("the node %s answered about %q when asked for %s", site, clip(a.Handle), h.String())
	}
	switch a.ResponseCode {
	case identifiers.CodeSuccess:
		a = q.Filter(a)
	case identifiers.CodeNotFound, identifiers.CodeInvalid, identifiers.CodeValuesNotFound:
		a.Values = nil
	case identifiers.CodeError:
		return fail("the node %s could not answer for %s: %s", site, h.String(), clip(a.Message))
	case identifiers.CodeNotResponsible:
		return fail("the node %s says it does not serve %s (code 301), though the directory names it for prefix %s", site, h.String(), h.Prefix())
	default:
		return fail("the node %s answered %s with code %d, which is not relayed", site, h.String(), a.ResponseCode)
	}
	a.Node = site
	ttl := r.cfg.MissTTL
	if a.ResponseCode == identifiers.CodeSuccess && len(a.Values) > 0 {
		ttl = r.cfg.MaxTTL
		for _, v := range a.Values {
			ttl = min(ttl, r.capTTL(v.TTL))
		}
	}
	return Result{Answer: a, Node: site, Hops: hops}, ttl
}

// prefixEntry is a cached outcome of step 1: a site, or a code and message.
type prefixEntry struct {
	Site    string `json:"site,omitempty"`
	Code    int    `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

type answerEntry struct {
	Answer identifiers.Answer `json:"answer"`
}

type downEntry struct {
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}

// findSite is step 1: the site that serves h's prefix, or (ok false) the
// final result, with keep false when that result is already remembered (a
// cached outcome, a node that failed recently) and need not be kept again.
func (r *Resolver) findSite(ctx context.Context, h identifiers.Handle) (site string, res Result, ok, keep bool) {
	prefix := h.Prefix()
	var hops []string
	stop := func(code int, remember bool, format string, args ...any) (string, Result, bool, bool) {
		msg := fmt.Sprintf(format, args...)
		if remember {
			r.set(ctx, "p:"+prefix, prefixEntry{Code: code, Message: msg}, r.cfg.MissTTL)
		}
		if code == identifiers.CodeError {
			slog.DebugContext(ctx, "remote resolution failed", "handle", h.String(), "message", msg)
		}
		return "", Result{Answer: identifiers.Answer{ResponseCode: code, Handle: h.String(), Message: msg}, Hops: hops}, false, remember
	}
	var e prefixEntry
	if r.get(ctx, "p:"+prefix, &e) {
		if e.Site != "" {
			return e.Site, Result{}, true, false
		}
		if e.Code != 0 {
			_, res, _, _ := stop(e.Code, false, "%s", e.Message)
			res.Cached = true
			return "", res, false, false
		}
	}

	dir := r.cfg.Upper
	chain := []string{dir}
	ttl := r.cfg.MaxTTL
	for referrals := 0; ; {
		a, err := r.ask(ctx, dir, dir+"/api/handles/"+identifiers.PrefixHandle(prefix), &hops)
		if err != nil {
			return stop(identifiers.CodeError, remembered(err), "the directory %s, asked which node serves prefix %s, %v", dir, prefix, err)
		}
		switch a.ResponseCode {
		case identifiers.CodeSuccess:
		case identifiers.CodeNotFound:
			return stop(identifiers.CodeNotFound, true, "no node serves prefix %s (the directory %s knows none)", prefix, dir)
		default:
			return stop(identifiers.CodeError, true, "the directory %s answered code %d for prefix %s: %s", dir, a.ResponseCode, prefix, clip(a.Message))
		}
		registered, okh := registeredPrefix(a.Handle, prefix)
		if !okh {
			return stop(identifiers.CodeError, true, "the directory %s answered about %q when asked for %s", dir, clip(a.Handle), identifiers.PrefixHandle(prefix))
		}
		v, target, found := pick(a.Values)
		if !found {
			return stop(identifiers.CodeError, true, "the directory %s answered prefix %s without an http or https %s or %s value",
				dir, prefix, identifiers.ValueTypeSite, identifiers.ValueTypeServ)
		}
		ttl = min(ttl, r.capTTL(v.TTL))
		if v.Type == identifiers.ValueTypeSite {
			if target == r.cfg.Self {
				return stop(identifiers.CodeError, true, "the directory %s names this node (%s) as the node serving prefix %s, which is not under this node's prefix %s: a loop",
					dir, target, prefix, r.cfg.NodePrefix)
			}
			if ttl > 0 {
				r.set(ctx, "p:"+prefix, prefixEntry{Site: target}, ttl)
				if registered != prefix {
					r.set(ctx, "p:"+registered, prefixEntry{Site: target}, ttl)
				}
			}
			return target, Result{Hops: hops}, true, false
		}
		if target == r.cfg.Self {
			return stop(identifiers.CodeError, true, "the directory %s refers prefix %s to this node (%s): a loop", dir, prefix, target)
		}
		if slices.Contains(chain, target) {
			return stop(identifiers.CodeError, true, "the directory %s refers prefix %s to %s, which was asked already: a referral loop (%s → %s)",
				dir, prefix, target, strings.Join(chain, " → "), target)
		}
		referrals++
		if referrals > r.cfg.MaxReferrals {
			return stop(identifiers.CodeError, true, "prefix %s was referred more than %d times (%s → %s): too many referrals",
				prefix, r.cfg.MaxReferrals, strings.Join(chain, " → "), target)
		}
		dir = target
		chain = append(chain, dir)
	}
}

// registeredPrefix reads a directory's answer handle 0.NA/<p>, which must
// be the asked prefix or contain it.
func registeredPrefix(handle, asked string) (string, bool) {
	n := len(identifiers.PrefixHandlePrefix) + 1
	if len(handle) <= n || !strings.EqualFold(handle[:n], identifiers.PrefixHandlePrefix+"/") {
		return "", false
	}
	p := handle[n:]
	if identifiers.ValidatePrefix(p) != nil {
		return "", false
	}
	return p, asked == p || strings.HasPrefix(asked, p+".")
}

// pick chooses the value to follow: the lowest index HS_SITE with a string
// http(s) URL, else the lowest such HS_SERV. target is its URL, normalised.
func pick(values []identifiers.Value) (v identifiers.Value, target string, ok bool) {
	for _, typ := range []string{identifiers.ValueTypeSite, identifiers.ValueTypeServ} {
		best := -1
		for i, c := range values {
			if !strings.EqualFold(c.Type, typ) || (c.Data.Format != "" && !strings.EqualFold(c.Data.Format, identifiers.DataFormatString)) {
				continue
			}
			u, err := nodeURL(c.Data.Value)
			if err != nil {
				continue
			}
			if best < 0 || c.Index < values[best].Index {
				best, target = i, u
			}
		}
		if best >= 0 {
			v = values[best]
			v.Type = typ
			return v, target, true
		}
	}
	return identifiers.Value{}, "", false
}

// ask GETs u from node and decodes its answer. The error says what went
// wrong, as the end of a sentence naming the node.
func (r *Resolver) ask(ctx context.Context, node, u string, hops *[]string) (identifiers.Answer, error) {
	var down downEntry
	if r.get(ctx, "n:"+node, &down) && down.Message != "" {
		return identifiers.Answer{}, notAsked{fmt.Sprintf("was not asked: it failed %s ago and is left alone for %s after a failure (it %s)",
			max(time.Since(down.At), 0).Round(time.Millisecond), r.cfg.MissTTL, down.Message)}
	}
	*hops = append(*hops, u)
	a, msg := r.get1(ctx, u)
	if msg != "" {
		slog.WarnContext(ctx, "identifier node failed", "node", node, "url", u, "message", msg)
		r.set(ctx, "n:"+node, downEntry{Message: msg, At: time.Now()}, r.cfg.MissTTL)
		return identifiers.Answer{}, errors.New(msg)
	}
	return a, nil
}

// notAsked is the error of ask for a node that failed recently: its
// failure is already remembered, so the outcome is not kept again.
type notAsked struct{ msg string }

func (e notAsked) Error() string { return e.msg }

func remembered(err error) bool {
	var n notAsked
	return !errors.As(err, &n)
}

// get1 is one request, bounded by the hop timeout; msg is a failure.
func (r *Resolver) get1(ctx context.Context, u string) (a identifiers.Answer, msg string) {
	hctx, cancel := context.WithTimeout(ctx, r.cfg.HopTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(hctx, http.MethodGet, u, nil)
	if err != nil {
		return a, fmt.Sprintf("could not be asked: %v", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.cfg.Client.Do(req)
	if err != nil {
		return a, describe(hctx, err, r.cfg.HopTimeout)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return a, fmt.Sprintf("answered HTTP %d, a redirect (to %q), which resolution does not follow", resp.StatusCode, clip(resp.Header.Get("Location")))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer+1))
	if err != nil {
		return a, describe(hctx, err, r.cfg.HopTimeout)
	}
	if len(body) > MaxAnswer {
		return a, fmt.Sprintf("answered more than %d bytes", MaxAnswer)
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return identifiers.Answer{}, fmt.Sprintf("answered HTTP %d with a body that is not a Handle answer (%s)", resp.StatusCode, clip(err.Error()))
	}
	if a.ResponseCode == 0 {
		return identifiers.Answer{}, fmt.Sprintf("answered HTTP %d without a responseCode: not a Handle answer", resp.StatusCode)
	}
	return a, ""
}

// describe says in words why a request failed.
func describe(hctx context.Context, err error, hop time.Duration) string {
	switch {
	case errors.Is(hctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("did not answer within %s", hop)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused the connection: nothing listens there"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset the connection"
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return fmt.Sprintf("could not be found: its host name does not resolve (%s)", dns.Err)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Sprintf("could not be reached: %s", clip(err.Error()))
}

// nodeURL checks a node's base URL (absolute http or https with a host, no
// user information, query or fragment) and normalises it: lower-case scheme
// and host, no trailing "/".
func nodeURL(s string) (string, error) {
	if s == "" {
		return "", errors.New("the URL is empty")
	}
	if len(s) > 2048 {
		return "", errors.New("the URL is too long")
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", errors.New("the URL does not parse")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", errors.New("only http and https URLs are followed")
	case u.Opaque != "" || u.Hostname() == "":
		return "", errors.New("the URL has no host")
	case u.User != nil:
		return "", errors.New("the URL carries a user name or password")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(s, "?#"):
		return "", errors.New("the URL has a query or a fragment")
	}
	return u.Scheme + "://" + strings.ToLower(u.Host) + strings.TrimRight(u.EscapedPath(), "/"), nil
}

// encodeQuery writes q as the query of a request to a site, checking it:
// the order of q, each type escaped where a query needs it.
func encodeQuery(q identifiers.Query) (string, error) {
	parts := make([]string, 0, len(q.Types)+len(q.Indexes))
	for _, t := range q.Types {
		if err := identifiers.ValidateValueType(t); err != nil {
			return "", identifiers.At(err, []string{"type"})
		}
		parts = append(parts, "type="+escape(t))
	}
	for _, i := range q.Indexes {
		if i <= 0 {
			return "", errs.Invalid([]string{"index"}, "an index must be a positive integer, not %d", i)
		}
		parts = append(parts, "index="+strconv.Itoa(i))
	}
	return strings.Join(parts, "&"), nil
}

// escape percent-encodes what a query value cannot carry as it is; a value
// type such as 0.TYPE/URL stays as written.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/:@!$'()*,", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// capTTL turns a value's ttl in seconds into a duration at most MaxTTL; a
// ttl of 0 or less keeps nothing.
func (r *Resolver) capTTL(secs int) time.Duration {
	if secs <= 0 {
		return 0
	}
	if int64(secs) >= int64(r.cfg.MaxTTL/time.Second) {
		return r.cfg.MaxTTL
	}
	return time.Duration(secs) * time.Second
}

func (r *Resolver) get(ctx context.Context, key string, dst any) bool {
	if r.cfg.Cache == nil {
		return false
	}
	b, ok := r.cfg.Cache.Get(ctx, key)
	if !ok {
		return false
	}
	if err := json.Unmarshal(b, dst); err != nil {
		slog.WarnContext(ctx, "resolution cache entry unreadable", "key", key, "err", err)
		return false
	}
	return true
}

func (r *Resolver) set(ctx context.Context, key string, v any, ttl time.Duration) {
	if r.cfg.Cache == nil || ttl <= 0 {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		slog.WarnContext(ctx, "resolution cache entry not encoded", "key", key, "err", err)
		return
	}
	r.cfg.Cache.Set(ctx, key, b, ttl)
}

// clone copies a result so that callers sharing a flight share no slices.
func (res Result) clone() Result {
	res.Hops = slices.Clone(res.Hops)
	res.Answer.Values = slices.Clone(res.Answer.Values)
	return res
}

// clip shortens text from a remote node for a message.
func clip(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}
