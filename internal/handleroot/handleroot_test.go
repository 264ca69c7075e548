package handleroot

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identifiers"
)

const token = "s3cret-admin-token"

var clock = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

func newRoot(t *testing.T, o Options) *Root {
	t.Helper()
	if o.Now == nil {
		o.Now = func() time.Time { return clock }
	}
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func serve(t *testing.T, r *Root) string {
	t.Helper()
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv.URL
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, url, auth, body string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, b}
}

func (r reply) answer(t *testing.T) identifiers.Answer {
	t.Helper()
	var a identifiers.Answer
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("not a Handle answer (%v): %s", err, r.body)
	}
	return a
}

func (r reply) refusal(t *testing.T) (code, message string) {
	t.Helper()
	var e struct{ Code, Message string }
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("not a JSON error (%v): %s", err, r.body)
	}
	if e.Message == "" {
		t.Errorf("refusal without a message: %s", r.body)
	}
	return e.Code, e.Message
}

func mustRegister(t *testing.T, r *Root, prefix, typ, url string) {
	t.Helper()
	if _, _, err := r.Register(prefix, typ, url); err != nil {
		t.Fatal(err)
	}
}

func TestLookupTakesTheLongestRegisteredPrefixSegmentBySegment(t *testing.T) {
	t.Parallel()
	r := newRoot(t, Options{})
	mustRegister(t, r, "88.501", identifiers.ValueTypeSite, "http://a.example")
	mustRegister(t, r, "88.501.7", identifiers.ValueTypeSite, "http://b.example")
	mustRegister(t, r, "88.5", identifiers.ValueTypeServ, "http://c.example")
	mustRegister(t, r, "86", identifiers.ValueTypeServ, "http://d.example")
	cases := []struct{ ask, want string }{
		{"88.501", "88.501"},
		{"88.501.1304", "88.501"},
		{"88.501.1304.9", "88.501"},
		{"88.501.7", "88.501.7"},
		{"88.501.7.2", "88.501.7"},
		{"88.501.70", "88.501"},
		{"88.5010", ""},
		{"88.50", ""},
		{"88.5", "88.5"},
		{"88.5.1", "88.5"},
		{"88", ""},
		{"8", ""},
		{"86.1.2.3", "86"},
		{"860", ""},
	}
	for _, c := range cases {
		g, ok := r.Lookup(c.ask)
		if got := map[bool]string{true: g.Prefix}[ok]; got != c.want {
			t.Errorf("Lookup(%s) = %q, want %q", c.ask, got, c.want)
		}
	}
}

func TestGetAnswersTheRegisteredPrefixWithItsValue(t *testing.T) {
	t.Parallel()
	r := newRoot(t, Options{TTL: 2 * time.Minute})
	mustRegister(t, r, "88.501", identifiers.ValueTypeSite, "http://127.0.0.1:8080/")
	mustRegister(t, r, "86", identifiers.ValueTypeServ, "https://Other-Root.example:9000")
	base := serve(t, r)

	rep := do(t, "GET", base+"/api/handles/0.NA/88.501.1304", "", "")
	if rep.status != 200 || rep.header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content type %q: %s", rep.status, rep.header.Get("Content-Type"), rep.body)
	}
	a := rep.answer(t)
	want := identifiers.Value{Index: 1, Type: "HS_SITE", Data: identifiers.ValueData{Format: "string", Value: "http://127.0.0.1:8080"},
		TTL: 120, Timestamp: "2025-03-01T08:00:00Z"}
	if a.ResponseCode != 1 || a.Handle != "0.NA/88.501" || len(a.Values) != 1 || a.Values[0] != want {
		t.Errorf("answer %+v, want code 1, handle 0.NA/88.501, value %+v", a, want)
	}

	a = do(t, "GET", base+"/api/handles/0.na/86.20", "", "").answer(t)
	if a.ResponseCode != 1 || a.Handle != "0.NA/86" || len(a.Values) != 1 ||
		a.Values[0].Type != "HS_SERV" || a.Values[0].Data.Value != "https://Other-Root.example:9000" {
		t.Errorf("referral answer %+v", a)
	}

	// The filters of the Handle REST interface apply.
	if a := do(t, "GET", base+"/api/handles/0.NA/88.501?type=HS_SITE", "", "").answer(t); a.ResponseCode != 1 || len(a.Values) != 1 {
		t.Errorf("type=HS_SITE: %+v", a)
	}
	rep = do(t, "GET", base+"/api/handles/0.NA/88.501?type=HS_SERV", "", "")
	if a := rep.answer(t); rep.status != 200 || a.ResponseCode != 200 || len(a.Values) != 0 {
		t.Errorf("type=HS_SERV: %d %+v", rep.status, a)
	}
	rep = do(t, "GET", base+"/api/handles/0.NA/88.501?index=zero", "", "")
	if a := rep.answer(t); rep.status != 400 || a.ResponseCode != 102 || a.Message == "" {
		t.Errorf("index=zero: %d %+v", rep.status, a)
	}
}

func TestGetRefusesWhatIsNotARegisteredPrefix(t *testing.T) {
	t.Parallel()
	r := newRoot(t, Options{})
	mustRegister(t, r, "88.501", identifiers.ValueTypeSite, "http://a.example")
	base := serve(t, r)
	cases := []struct {
		path         string
		status, code int
	}{
		{"/api/handles/0.NA/88.50", 404, 100},
		{"/api/handles/0.NA/88.5010.1", 404, 100},
		{"/api/handles/0.NA/99", 404, 100},
		{"/api/handles/0.NA/", 400, 102},
		{"/api/handles/0.NA/88..501", 400, 102},
		{"/api/handles/0.NA/88.0501", 400, 102},
		{"/api/handles/0.NA/abc", 400, 102},
		{"/api/handles/0.NA/88.501/extra", 400, 102},
		{"/api/handles/0.NA/" + strings.Repeat("1.", 40) + "1", 400, 102},
		{"/api/handles/0.NA", 400, 102},
		{"/api/handles/", 400, 102},
		{"/api/handles", 400, 102},
		{"/api/handles/88.501/UNIT-42", 404, 100},
		{"/api/handles/88.501/a%25b", 400, 102},
	}
	for _, c := range cases {
		rep := do(t, "GET", base+c.path, "", "")
		a := rep.answer(t)
		if rep.status != c.status || a.ResponseCode != c.code || a.Message == "" || len(a.Values) != 0 {
			t.Errorf("GET %s: %d %+v, want HTTP %d code %d with a message", c.path, rep.status, a, c.status, c.code)
		}
	}
	// An ordinary identifier is pointed at its prefix handle.
	if a := do(t, "GET", base+"/api/handles/88.501/UNIT-42", "", "").answer(t); !strings.Contains(a.Message, "0.NA/88.501") {
		t.Errorf("message %q does not name 0.NA/88.501", a.Message)
	}
}

func TestMethodsPathsAndHealth(t *testing.T) {
	t.Parallel()
	r := newRoot(t, Options{Token: token})
	mustRegister(t, r, "88", identifiers.ValueTypeSite, "http://a.example")
	base := serve(t, r)

	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		rep := do(t, m, base+"/api/handles/0.NA/88", "Bearer "+token, `{"site":"http://b.example"}`)
		if code, _ := rep.refusal(t); rep.status != 405 || code != "METHOD_NOT_ALLOWED" || rep.header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s /api/handles: %d %s, Allow %q", m, rep.status, rep.body, rep.header.Get("Allow"))
		}
	}
	if g, _ := r.Lookup("88"); g.URL != "http://a.example" {
		t.Errorf("a refused method changed the registration: %+v", g)
	}
	rep := do(t, "HEAD", base+"/api/handles/0.NA/88", "", "")
	if rep.status != 200 || len(rep.body) != 0 {
		t.Errorf("HEAD: %d, %d bytes", rep.status, len(rep.body))
	}
	if rep := do(t, "HEAD", base+"/api/handles/0.NA/99", "", ""); rep.status != 404 {
		t.Errorf("HEAD of an unknown prefix: %d", rep.status)
	}
	rep = do(t, "GET", base+"/healthz", "", "")
	if rep.status != 200 || !strings.Contains(string(rep.body), `"ok"`) {
		t.Errorf("healthz: %d %s", rep.status, rep.body)
	}
	for _, p := range []string{"/", "/api", "/api/prefixes", "/metrics", "/api/handlesx/0.NA/88"} {
		rep := do(t, "GET", base+p, "", "")
		if code, _ := rep.refusal(t); rep.status != 404 || code != "NOT_FOUND" {
			t.Errorf("GET %s: %d %s", p, rep.status, rep.body)
		}
	}
	rep = do(t, "GET", base+"/api/prefixes/88", "Bearer "+token, "")
	if rep.status != 405 || rep.header.Get("Allow") != "PUT, DELETE" {
		t.Errorf("GET /api/prefixes/88: %d, Allow %q", rep.status, rep.header.Get("Allow"))
	}
}

func TestRegistrationOverHTTP(t *testing.T) {
	t.Parallel()
	r := newRoot(t, Options{Token: token})
	base := serve(t, r)
	auth := "Bearer " + token

	rep := do(t, "PUT", base+"/api/prefixes/88.501", auth, `{"site":"http://127.0.0.1:8080/"}`)
	if a := rep.answer(t); rep.status != 201 || a.ResponseCode != 1 || a.Handle != "0.NA/88.501" ||
		len(a.Values) != 1 || a.Values[0].Data.Value != "http://127.0.0.1:8080" || a.Values[0].Type != "HS_SITE" {
		t.Fatalf("PUT new: %d %s", rep.status, rep.body)
	}
	if a := do(t, "GET", base+"/api/handles/0.NA/88.501.3", "", "").answer(t); a.ResponseCode != 1 || a.Values[0].Data.Value != "http://127.0.0.1:8080" {
		t.Errorf("GET after PUT: %+v", a)
	}
	rep = do(t, "PUT", base+"/api/prefixes/88.501", "bearer  "+token+" ", `{"referral":"https://other.example:9000"}`)
	if a := rep.answer(t); rep.status != 200 || a.Values[0].Type != "HS_SERV" || a.Values[0].Data.Value != "https://other.example:9000" {
		t.Errorf("PUT replacing: %d %s", rep.status, rep.body)
	}
	if got := r.Registrations(); len(got) != 1 || got[0].Type != "HS_SERV" {
		t.Errorf("registrations after replacing: %+v", got)
	}
	if rep := do(t, "DELETE", base+"/api/prefixes/88.501", auth, ""); rep.status != 204 {
		t.Errorf("DELETE: %d %s", rep.status, rep.body)
	}
	rep = do(t, "DELETE", base+"/api/prefixes/88.501", auth, "")
	if code, _ := rep.refusal(t); rep.status != 404 || code != "NOT_FOUND" {
		t.Errorf("DELETE again: %d %s", rep.status, rep.body)
	}
	if a := do(t, "GET", base+"/api/handles/0.NA/88.501", "", "").answer(t); a.ResponseCode != 100 {
		t.Errorf("GET after DELETE: %+v", a)
	}
}

func TestRegistrationRefusals(t *testing.T) {
	t.Parallel()
	closed := newRoot(t, Options{})
	closedBase := serve(t, closed)
	rep := do(t, "PUT", closedBase+"/api/prefixes/88", "Bearer anything", `{"site":"http://a.example"}`)
	if code, _ := rep.refusal(t); rep.status != 403 || code != "FORBIDDEN" {
		t.Errorf("PUT without a configured token: %d %s", rep.status, rep.body)
	}
	rep = do(t, "DELETE", closedBase+"/api/prefixes/88", "Bearer ", "")
	if rep.status != 403 {
		t.Errorf("DELETE without a configured token: %d %s", rep.status, rep.body)
	}

	r := newRoot(t, Options{Token: token})
	mustRegister(t, r, "88", identifiers.ValueTypeSite, "http://kept.example")
	base := serve(t, r)
	auth := "Bearer " + token
	big := `{"site":"http://a.example","x":"` + strings.Repeat("a", MaxBody) + `"}`
	cases := []struct {
		name, prefix, auth, body string
		status                   int
		code                     string
	}{
		{"no token", "88", "", `{"site":"http://a.example"}`, 401, "UNAUTHENTICATED"},
		{"a wrong token", "88", "Bearer nope", `{"site":"http://a.example"}`, 401, "UNAUTHENTICATED"},
		{"the token with another scheme", "88", "Basic " + token, `{"site":"http://a.example"}`, 401, "UNAUTHENTICATED"},
		{"the token's prefix", "88", "Bearer " + token[:5], `{"site":"http://a.example"}`, 401, "UNAUTHENTICATED"},
		{"letters in the prefix", "88.x", auth, `{"site":"http://a.example"}`, 400, "INVALID_INPUT"},
		{"a leading zero", "88.01", auth, `{"site":"http://a.example"}`, 400, "INVALID_INPUT"},
		{"an empty segment", "88..1", auth, `{"site":"http://a.example"}`, 400, "INVALID_INPUT"},
		{"an empty prefix", "", auth, `{"site":"http://a.example"}`, 400, "INVALID_INPUT"},
		{"a prefix handle", "0.NA/88", auth, `{"site":"http://a.example"}`, 400, "INVALID_INPUT"},
		{"ftp", "88", auth, `{"site":"ftp://a.example"}`, 400, "INVALID_INPUT"},
		{"a relative URL", "88", auth, `{"site":"/nodes/a"}`, 400, "INVALID_INPUT"},
		{"no scheme", "88", auth, `{"site":"a.example:8080"}`, 400, "INVALID_INPUT"},
		{"no host", "88", auth, `{"site":"http://"}`, 400, "INVALID_INPUT"},
		{"only a port", "88", auth, `{"site":"http://:8080"}`, 400, "INVALID_INPUT"},
		{"a query", "88", auth, `{"site":"http://a.example/?x=1"}`, 400, "INVALID_INPUT"},
		{"an empty query", "88", auth, `{"site":"http://a.example/?"}`, 400, "INVALID_INPUT"},
		{"a fragment", "88", auth, `{"referral":"http://a.example#top"}`, 400, "INVALID_INPUT"},
		{"user information", "88", auth, `{"site":"http://u:p@a.example"}`, 400, "INVALID_INPUT"},
		{"a space in the host", "88", auth, `{"site":"http://a b.example"}`, 400, "INVALID_INPUT"},
		{"a line break", "88", auth, `{"site":"http://a.example/\n"}`, 400, "INVALID_INPUT"},
		{"too long a URL", "88", auth, `{"site":"http://a.example/` + strings.Repeat("a", 300) + `"}`, 400, "INVALID_INPUT"},
		{"an empty URL", "88", auth, `{"site":""}`, 400, "INVALID_INPUT"},
		{"javascript", "88", auth, `{"site":"javascript:alert(1)"}`, 400, "INVALID_INPUT"},
		{"an unknown field", "88", auth, `{"site":"http://a.example","ttl":5}`, 400, "INVALID_INPUT"},
		{"both", "88", auth, `{"site":"http://a.example","referral":"http://b.example"}`, 400, "INVALID_INPUT"},
		{"neither", "88", auth, `{}`, 400, "INVALID_INPUT"},
		{"null", "88", auth, `null`, 400, "INVALID_INPUT"},
		{"an array", "88", auth, `["http://a.example"]`, 400, "INVALID_INPUT"},
		{"a number for the URL", "88", auth, `{"site":8080}`, 400, "INVALID_INPUT"},
		{"no body", "88", auth, ``, 400, "INVALID_INPUT"},
		{"two objects", "88", auth, `{"site":"http://a.example"}{"site":"http://b.example"}`, 400, "INVALID_INPUT"},
		{"not JSON", "88", auth, `site=http://a.example`, 400, "INVALID_INPUT"},
		{"an oversized body", "88", auth, big, 413, "REQUEST_TOO_LARGE"},
	}
	for _, c := range cases {
		rep := do(t, "PUT", base+"/api/prefixes/"+c.prefix, c.auth, c.body)
		code, _ := rep.refusal(t)
		if rep.status != c.status || code != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, rep.status, rep.body, c.status, c.code)
		}
		if c.status == 401 && rep.header.Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("%s: no WWW-Authenticate", c.name)
		}
	}
	// A body over the limit without a declared length is refused as well.
	req, _ := http.NewRequest("PUT", base+"/api/prefixes/88", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("chunked oversized body: %d", resp.StatusCode)
	}
	if rep := do(t, "DELETE", base+"/api/prefixes/88", "Bearer wrong", ""); rep.status != 401 {
		t.Errorf("DELETE with a wrong token: %d", rep.status)
	}
	if got := r.Registrations(); len(got) != 1 || got[0].URL != "http://kept.example" || got[0].Type != "HS_SITE" {
		t.Errorf("refusals changed the registrations: %+v", got)
	}
}

func TestRegisterAndCheckURL(t *testing.T) {
	t.Parallel()
	r := newRoot(t, Options{})
	if _, _, err := r.Register("88", "URL", "http://a.example"); !isInvalid(err) {
		t.Errorf("a type other than HS_SITE/HS_SERV: %v", err)
	}
	if _, _, err := r.Register("88.x", identifiers.ValueTypeSite, "http://a.example"); identifiers.ReasonOf(err) != identifiers.ReasonPrefixSyntax {
		t.Errorf("a bad prefix: %v", err)
	}
	g, created, err := r.Register("88", identifiers.ValueTypeSite, "https://a.example:8443/nodes/a//")
	if err != nil || !created || g.URL != "https://a.example:8443/nodes/a" || !g.At.Equal(clock) {
		t.Errorf("Register: %+v %v %v", g, created, err)
	}
	if _, created, _ := r.Register("88", identifiers.ValueTypeServ, "http://b.example"); created {
		t.Error("a second registration of a prefix reported as new")
	}
	if !r.Remove("88") || r.Remove("88") {
		t.Error("Remove did not report what it removed")
	}
	for _, bad := range []string{"", "http://", "mailto:x@y", "http://a.example?x", "http://[::1"} {
		if _, err := CheckURL("site", bad); !isInvalid(err) {
			t.Errorf("CheckURL(%q) = %v, want INVALID_INPUT", bad, err)
		}
	}
	if _, err := New(Options{TTL: -time.Second}); err == nil {
		t.Error("a negative TTL was accepted")
	}
	if _, err := New(Options{TTL: time.Millisecond}); err == nil {
		t.Error("a TTL under a second was accepted")
	}
	if r := newRoot(t, Options{}); r.TTL() != 3600 {
		t.Errorf("default TTL %d, want 3600", r.TTL())
	}
}

func isInvalid(err error) bool {
	e, ok := errs.As(err)
	return ok && e.Code == errs.InvalidInput && e.Message != ""
}

func TestConfigFileAndMappings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := ReadConfig(write("good.json", `{"sites":{"88.500":"http://127.0.0.1:8080","88.501":"http://127.0.0.1:8081"},"referrals":{"86":"http://other-root:9000"}}`))
	if err != nil {
		t.Fatal(err)
	}
	r := newRoot(t, Options{})
	if err := r.Load(c); err != nil {
		t.Fatal(err)
	}
	got := r.Registrations()
	if len(got) != 3 || got[0].Prefix != "86" || got[0].Type != "HS_SERV" || got[2].Prefix != "88.501" || got[2].URL != "http://127.0.0.1:8081" {
		t.Errorf("loaded %+v", got)
	}

	if _, err := ReadConfig(write("unknown.json", `{"sites":{},"servers":{}}`)); err == nil {
		t.Error("an unknown field in the file was accepted")
	}
	if _, err := ReadConfig(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("a missing file was accepted")
	}
	for name, c := range map[string]Config{
		"a bad URL":          {Sites: map[string]string{"1": "http://ok.example", "2": "ftp://bad.example"}},
		"a bad prefix":       {Referrals: map[string]string{"1": "http://ok.example", "x": "http://ok.example"}},
		"site and referral":  {Sites: map[string]string{"1": "http://a.example"}, Referrals: map[string]string{"1": "http://b.example"}},
		"an empty URL":       {Sites: map[string]string{"1": ""}},
		"a prefix too long":  {Sites: map[string]string{strings.Repeat("1", 65): "http://a.example"}},
		"a leading zero one": {Sites: map[string]string{"01": "http://a.example"}},
	} {
		r := newRoot(t, Options{})
		if err := r.Load(c); err == nil {
			t.Errorf("%s: loaded", name)
		}
		if n := len(r.Registrations()); n != 0 {
			t.Errorf("%s: a refused configuration registered %d prefixes", name, n)
		}
	}

	if p, u, err := ParseMapping("88.500=http://127.0.0.1:8080"); err != nil || p != "88.500" || u != "http://127.0.0.1:8080" {
		t.Errorf("ParseMapping: %q %q %v", p, u, err)
	}
	for _, bad := range []string{"", "88.500", "=http://a", "88.500=", "http://a"} {
		if _, _, err := ParseMapping(bad); err == nil {
			t.Errorf("ParseMapping(%q) accepted", bad)
		}
	}
}

func TestConcurrentRegistrationsAndLookups(t *testing.T) {
	t.Parallel()
	r := newRoot(t, Options{Token: token})
	base := serve(t, r)
	// The goroutines report with t.Error only (never t.Fatal off the test goroutine).
	call := func(method, path, body string) (int, []byte, error) {
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 25 {
				p := fmt.Sprintf("/api/prefixes/88.%d", i%5)
				var status int
				var err error
				if (i+w)%3 == 0 {
					status, _, err = call("DELETE", p, "")
					if err == nil && status != 204 && status != 404 {
						t.Errorf("DELETE %s: %d", p, status)
					}
				} else {
					status, _, err = call("PUT", p, fmt.Sprintf(`{"site":"http://n%d.example"}`, w))
					if err == nil && status != 200 && status != 201 {
						t.Errorf("PUT %s: %d", p, status)
					}
				}
				if err != nil {
					t.Error(err)
				}
			}
		})
		wg.Go(func() {
			for i := range 25 {
				_, b, err := call("GET", fmt.Sprintf("/api/handles/0.NA/88.%d.%d", i%5, w), "")
				var a identifiers.Answer
				if err == nil {
					err = json.Unmarshal(b, &a)
				}
				switch {
				case err != nil:
					t.Error(err)
				case a.ResponseCode == 100:
				case a.ResponseCode == 1 && a.Handle == fmt.Sprintf("0.NA/88.%d", i%5) && len(a.Values) == 1:
				default:
					t.Errorf("inconsistent answer %+v", a)
				}
			}
		})
	}
	wg.Wait()
	for _, g := range r.Registrations() {
		if !strings.HasPrefix(g.URL, "http://n") {
			t.Errorf("registration %+v", g)
		}
	}
}
