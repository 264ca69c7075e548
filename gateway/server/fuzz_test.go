package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/masscustom/orchestrator/gateway/server"
	"github.com/masscustom/orchestrator/graph"
	"github.com/masscustom/orchestrator/graph/generated"
	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/identity"
)

// The edge fuzzer builds operations from the schema (every root query and
// mutation, with arguments and selections the schema allows) and fills them
// with plausible and hostile values: NUL characters, huge and fractional
// numbers where an Int is due, "NaN" and exponents as Decimals, forged ids,
// deep JSON, wrong types. Each goes through the real handler on the real
// stack under a token of some party. Whatever the input, the answer must be
// below 500, JSON, every error coded, and never INTERNAL.

// fuzzRequest is one generated request and the hostile kinds of value in it.
type fuzzRequest struct {
	body   []byte
	accept string
	token  int // index into the parties
	tags   map[string]bool
}

type generator struct {
	s    *ast.Schema
	ids  []string // ids of objects that exist on the stack
	r    *rand.Rand
	tags map[string]bool
	vars map[string]any
	defs []string
}

func (g *generator) pick(n int) int { return g.r.IntN(n) }
func (g *generator) chance(p float64) bool {
	return g.r.Float64() < p
}

var idTypes = []string{"Order", "Enterprise", "User", "ApiToken", "ProductTemplate", "Quote", "LeaseContract",
	"Equipment", "Invoice", "ProcurementTask", "ProductionOrder", "Shipment", "ServiceTicket"}

// hv is a hostile value and the tag that names its kind.
type hv struct {
	tag string
	v   any
}

func tagged(tag string, v any) hv { return hv{tag, v} }

// oneOf picks one of the values and records its tag ("" for a plain one).
func (g *generator) oneOf(vs ...hv) any {
	h := vs[g.pick(len(vs))]
	if h.tag != "" {
		g.tags[h.tag] = true
	}
	return h.v
}

func plain(v any) hv { return hv{"", v} }

// scalar returns a value for a named scalar, plausible most of the time.
func (g *generator) scalar(name string) any {
	hostile := g.chance(0.35)
	switch name {
	case "Int":
		if !hostile {
			return []int{0, 1, 2, 5, 20, 100}[g.pick(6)]
		}
		return g.oneOf(
			tagged("int:negative", -1), tagged("int:over32", int64(1)<<31), tagged("int:over32", int64(-1)<<40),
			tagged("int:huge", json.Number("123456789012345678901234567890")), tagged("int:fraction", 1.5),
			tagged("int:exponent", json.Number("1e308")), tagged("int:string", "12"), tagged("int:string", "NaN"), tagged("int:bool", true),
		)
	case "Float":
		return g.oneOf(plain(0.5), plain(1), tagged("float:huge", json.Number("1e308")), tagged("float:string", "NaN"))
	case "Boolean":
		if hostile {
			return g.oneOf(tagged("bool:string", "true"), tagged("bool:number", 1))
		}
		return g.chance(0.5)
	case "ID":
		if !hostile {
			// Real ids reach the resolvers' writes, where hostile text
			// next to them gets to the domain and the database.
			if len(g.ids) > 0 && g.chance(0.7) {
				return g.ids[g.pick(len(g.ids))]
			}
			return graph.GlobalID(idTypes[g.pick(len(idTypes))], uuid.New())
		}
		return g.oneOf(
			tagged("id:garbage", "zzz"), tagged("id:empty", ""), tagged("string:NUL", "Order\x00"),
			tagged("id:baduuid", base64.RawURLEncoding.EncodeToString([]byte("Order:not-a-uuid"))),
			tagged("id:number", 12345), tagged("id:long", strings.Repeat("A", 5000)),
			tagged("id:othertype", base64.RawURLEncoding.EncodeToString([]byte("Nope:"+uuid.NewString()))),
		)
	case "Decimal":
		if !hostile {
			return []string{"12.50", "0", "3.5", "1", "100"}[g.pick(5)]
		}
		return g.oneOf(
			tagged("decimal:NaN", "NaN"), tagged("decimal:infinity", "Infinity"), tagged("decimal:exponent", "1e1000000"),
			tagged("decimal:negative", "-1"), tagged("decimal:tiny", "0.0000000000000000000000000000000001"),
			tagged("decimal:empty", ""), tagged("decimal:garbage", "abc"), tagged("decimal:float", 1.5),
			tagged("decimal:huge", strings.Repeat("9", 400)), tagged("string:NUL", "1\x00"),
		)
	case "Time":
		if !hostile {
			return "2026-01-01T00:00:00Z"
		}
		return g.oneOf(tagged("time:garbage", "2026-13-45T99:99:99Z"), tagged("time:empty", ""), tagged("time:number", 0),
			tagged("time:far", "9999-12-31T23:59:59Z"))
	case "JSON":
		if !hostile {
			return map[string]any{"a": 1}
		}
		deep := any("x")
		for range 200 {
			deep = map[string]any{"d": deep}
		}
		return g.oneOf(tagged("json:deep", deep), tagged("json:string", "not an object"), tagged("string:NUL", map[string]any{"k\x00": "v\x00"}))
	default: // String and anything else
		if !hostile {
			return []string{"AC-SPLIT", "capacity", "colour", "CN", "Qingdao", "a@b.example", "Zhang Min", "ACTIVE", "2026-01"}[g.pick(9)]
		}
		return g.oneOf(
			tagged("string:NUL", "a\x00b"), tagged("string:NUL", "\x00"), tagged("string:empty", ""),
			tagged("string:long", strings.Repeat("x", 20000)), tagged("string:NaN", "NaN"),
			tagged("string:unicode", "💥\u202eﷺ"), tagged("string:sql", "'; DROP TABLE orders;--"),
			tagged("string:format", "%s%n%x"), tagged("string:control", "\x01\x1b[2J"),
			tagged("string:number", 12),
		)
	}
}

// value returns a value of type t (usually; sometimes of the wrong shape).
func (g *generator) value(t *ast.Type, depth int) any {
	if !t.NonNull && g.chance(0.1) {
		return nil
	}
	if t.NonNull && g.chance(0.02) {
		return tagged("null:nonnull", nil)
	}
	if t.Elem != nil {
		if g.chance(0.05) {
			return g.value(t.Elem, depth+1) // a single value where a list is due
		}
		n := g.pick(3)
		if g.chance(0.05) {
			n = 60
			g.tags["list:long"] = true
		}
		out := make([]any, 0, n)
		for range n {
			out = append(out, g.value(t.Elem, depth+1))
		}
		return out
	}
	def := g.s.Types[t.NamedType]
	switch {
	case def == nil:
		return nil
	case def.Kind == ast.Enum:
		if g.chance(0.1) {
			return tagged("enum:unknown", "NOPE")
		}
		return def.EnumValues[g.pick(len(def.EnumValues))].Name
	case def.Kind == ast.InputObject:
		if depth > 6 || g.chance(0.03) {
			return tagged("input:wrongshape", "not an object")
		}
		obj := map[string]any{}
		for _, f := range def.Fields {
			if f.Type.NonNull && f.DefaultValue == nil {
				if g.chance(0.03) {
					g.tags["input:missing"] = true
					continue
				}
				obj[f.Name] = g.value(f.Type, depth+1)
			} else if g.chance(0.5) {
				obj[f.Name] = g.value(f.Type, depth+1)
			}
		}
		if g.chance(0.05) {
			obj["unknownField"] = tagged("input:unknown", 1)
		}
		return obj
	default:
		return g.scalar(def.Name)
	}
}

// literal writes v as a GraphQL literal for type t.
func literal(v any, t *ast.Type, s *ast.Schema) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case []any:
		parts := make([]string, len(x))
		elem := t
		if t.Elem != nil {
			elem = t.Elem
		}
		for i, e := range x {
			parts[i] = literal(e, elem, s)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		def := s.Types[t.Name()]
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			ft := &ast.Type{NamedType: "String"}
			if def != nil {
				if f := def.Fields.ForName(k); f != nil {
					ft = f.Type
				}
			}
			if !isName(k) {
				continue // not writable as a literal field name
			}
			parts = append(parts, k+": "+literal(x[k], ft, s))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case string:
		if def := s.Types[t.Name()]; def != nil && def.Kind == ast.Enum && isName(x) {
			return x
		}
		b, _ := json.Marshal(x)
		return string(b)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func isName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// args writes a field's arguments, as variables or literals.
func (g *generator) args(f *ast.FieldDefinition) string {
	var parts []string
	for _, a := range f.Arguments {
		if !a.Type.NonNull && g.chance(0.4) {
			continue
		}
		v := g.value(a.Type, 0)
		if g.chance(0.7) {
			name := fmt.Sprintf("v%d", len(g.defs))
			g.defs = append(g.defs, "$"+name+": "+a.Type.String())
			g.vars[name] = v
			parts = append(parts, a.Name+": $"+name)
		} else {
			parts = append(parts, a.Name+": "+literal(v, a.Type, g.s))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// selection writes a selection set for a composite type.
func (g *generator) selection(def *ast.Definition, depth int) string {
	if def.Kind == ast.Interface || def.Kind == ast.Union {
		var b strings.Builder
		b.WriteString("{ __typename")
		possible := g.s.GetPossibleTypes(def)
		for range 1 + g.pick(2) {
			if len(possible) == 0 {
				break
			}
			p := possible[g.pick(len(possible))]
			b.WriteString(" ... on " + p.Name + " " + g.selection(p, depth+1))
		}
		b.WriteString(" }")
		return b.String()
	}
	fields := make([]*ast.FieldDefinition, 0, len(def.Fields))
	for _, f := range def.Fields {
		if !strings.HasPrefix(f.Name, "__") {
			fields = append(fields, f)
		}
	}
	var b strings.Builder
	b.WriteString("{")
	n := 1 + g.pick(4)
	if g.chance(0.05) {
		n = 12
	}
	wrote := 0
	for range n {
		f := fields[g.pick(len(fields))]
		target := g.s.Types[f.Type.Name()]
		composite := target != nil && (target.Kind == ast.Object || target.Kind == ast.Interface || target.Kind == ast.Union)
		if composite && depth >= 4 && !g.chance(0.1) {
			continue
		}
		b.WriteString(" ")
		if g.chance(0.05) {
			fmt.Fprintf(&b, "a%d: ", g.pick(1000))
		}
		b.WriteString(f.Name + g.args(f))
		if composite {
			b.WriteString(" " + g.selection(target, depth+1))
		}
		wrote++
	}
	if wrote == 0 {
		b.WriteString(" __typename")
	}
	b.WriteString(" }")
	return b.String()
}

// generate builds one request from a seed.
func generate(s *ast.Schema, ids []string, seed uint64, parties int) fuzzRequest {
	g := &generator{s: s, ids: ids, r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), tags: map[string]bool{}, vars: map[string]any{}}
	// The platform operator may do the most, so a third of the requests are its.
	req := fuzzRequest{tags: g.tags, token: g.pick(parties)}
	if g.chance(0.33) {
		req.token = 0
	}
	req.accept = []string{"", "application/json", "application/graphql-response+json"}[g.pick(3)]
	root := s.Query
	kind := "query"
	if g.chance(0.45) {
		root, kind = s.Mutation, "mutation"
	}
	var sel strings.Builder
	for range 1 + g.pick(2) {
		f := root.Fields[g.pick(len(root.Fields))]
		if strings.HasPrefix(f.Name, "__") {
			continue
		}
		sel.WriteString(" " + f.Name + g.args(f))
		if t := s.Types[f.Type.Name()]; t != nil && (t.Kind == ast.Object || t.Kind == ast.Interface || t.Kind == ast.Union) {
			sel.WriteString(" " + g.selection(t, 1))
		}
	}
	if sel.Len() == 0 {
		sel.WriteString(" __typename")
	}
	q := kind
	if len(g.defs) > 0 {
		q += "(" + strings.Join(g.defs, ", ") + ")"
	}
	q += " {" + sel.String() + " }"
	body := map[string]any{"query": q, "variables": g.vars}
	b, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	// Now and then the envelope itself is damaged.
	switch {
	case g.chance(0.03):
		b = b[:g.pick(len(b))]
		g.tags["body:truncated"] = true
	case g.chance(0.03):
		b = bytes.Replace(b, []byte(`"variables":`), []byte(`"variables":[[[[[[[[[[[[[[[[[[[[`), 1)
		g.tags["body:broken"] = true
	}
	req.body = b
	return req
}

// edge is a gateway with a token of each kind of party.
type edge struct {
	url    string
	schema *ast.Schema
	tokens []string // the platform operator's first
	ids    []string
}

func newEdge(t testing.TB) *edge {
	p := testenv.Platform(t)
	metrics := server.NewMetrics()
	srv := httptest.NewServer(server.New(server.Deps{
		Config: p.Config, Resolver: graph.NewResolver(p, p.Config, metrics.WorkflowStarts),
		Identity: p.Identity, Leasing: p.Leasing, Metrics: metrics, Checks: server.PlatformChecks(p),
	}))
	t.Cleanup(srv.Close)
	e := &edge{url: srv.URL + "/graphql", schema: generated.NewExecutableSchema(generated.Config{Resolvers: &graph.Resolver{}}).Schema()}
	for _, kr := range []struct {
		k identity.Kind
		r identity.Role
	}{
		{identity.KindPlatform, identity.RoleAdmin}, {identity.KindCustomer, identity.RoleMember}, {identity.KindCustomer, identity.RoleAdmin},
		{identity.KindSupplier, identity.RoleMember}, {identity.KindFactory, identity.RoleMember}, {identity.KindCarrier, identity.RoleMember},
		{identity.KindLessor, identity.RoleAdmin}, {identity.KindLessor, identity.RoleFinance}, {identity.KindCustomer, identity.RoleViewer},
	} {
		a := testenv.Account(t, p, kr.k, kr.r)
		e.tokens = append(e.tokens, a.Secret)
		// Not the token ids: a generated revokeApiToken would lock the party out.
		e.ids = append(e.ids, graph.GlobalID("Enterprise", a.Enterprise.ID), graph.GlobalID("User", a.User.ID))
	}
	if err := p.Catalog.EnsureSeeded(context.Background(), catalog.SeedTemplates()); err != nil {
		t.Fatal(err)
	}
	var templates struct {
		Edges []struct{ Node struct{ ID string } }
	}
	testenv.Client{URL: e.url, Token: e.tokens[0]}.Do(t, `{ productTemplates(first: 100) { edges { node { id } } } }`, nil).Into(t, "productTemplates", &templates)
	for _, edge := range templates.Edges {
		e.ids = append(e.ids, edge.Node.ID)
	}
	return e
}

// fuzzOutcome is what one request got: "status code" (code "ok" without errors).
type fuzzOutcome struct {
	status int
	code   string
}

// send posts a generated request and returns its outcome, and a reason when
// the answer breaks the edge's rules.
func (e *edge) send(t testing.TB, req fuzzRequest) (fuzzOutcome, string) {
	hr, err := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(req.body))
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Authorization", "Bearer "+e.tokens[req.token])
	if req.accept != "" {
		hr.Header.Set("Accept", req.accept)
	}
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		return fuzzOutcome{}, "no answer: " + err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := fuzzOutcome{status: res.StatusCode, code: "ok"}
	var resp struct {
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		return out, fmt.Sprintf("answer is not JSON (status %d): %.300s", res.StatusCode, b)
	}
	if res.StatusCode >= 500 {
		return out, fmt.Sprintf("status %d: %.300s", res.StatusCode, b)
	}
	for i, e := range resp.Errors {
		code, _ := e.Extensions["code"].(string)
		if i == 0 {
			out.code = code
		}
		if code == "" {
			return out, fmt.Sprintf("an error without a code: %q", e.Message)
		}
		if code == "INTERNAL" {
			out.code = "INTERNAL"
			return out, "INTERNAL"
		}
	}
	return out, ""
}

// fuzzCount is how many requests the bounded run in `make test` sends.
func fuzzCount(t *testing.T) int {
	if s := os.Getenv("FUZZ_EDGE_N"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("FUZZ_EDGE_N=%q is not a positive integer", s)
		}
		return n
	}
	return 1000
}

func TestGeneratedOperationsNeverAnswer5xxPanicOrInternal(t *testing.T) {
	e := newEdge(t)
	base := uint64(20261202)
	if s := os.Getenv("FUZZ_EDGE_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("FUZZ_EDGE_SEED=%q is not a number", s)
		}
		base = v
	}
	n := fuzzCount(t)
	counts := map[fuzzOutcome]int{}
	tagged := map[string]int{}
	failures := 0
	for i := range n {
		seed := base + uint64(i)
		req := generate(e.schema, e.ids, seed, len(e.tokens))
		out, bad := e.send(t, req)
		counts[out]++
		if out.code == "INTERNAL" {
			for tag := range req.tags {
				tagged[tag]++
			}
		}
		if bad != "" {
			failures++
			if failures <= 20 {
				tags := make([]string, 0, len(req.tags))
				for tag := range req.tags {
					tags = append(tags, tag)
				}
				sort.Strings(tags)
				t.Errorf("seed %d: %s; tags %v; request %.600s", seed, bad, tags, req.body)
			}
		}
	}
	keys := make([]fuzzOutcome, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].status != keys[j].status {
			return keys[i].status < keys[j].status
		}
		return keys[i].code < keys[j].code
	})
	var summary strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&summary, "\n  %d %s: %d", k.status, k.code, counts[k])
	}
	t.Logf("%d generated requests (seeds %d..%d), by status and first error code:%s", n, base, base+uint64(n)-1, summary.String())
	if len(tagged) > 0 {
		t.Logf("hostile values in the requests that answered INTERNAL: %v", tagged)
	}
	if len(counts) < 5 {
		t.Errorf("only %d distinct outcomes: the generator is not reaching the schema", len(counts))
	}
}

// FuzzGraphQLEdge is the same check driven by the fuzzing engine:
// go test ./gateway/server -run '^$' -fuzz FuzzGraphQLEdge -fuzztime 5m
// (with the test stack's environment). Without -fuzz it runs its seeds.
func FuzzGraphQLEdge(f *testing.F) {
	e := newEdge(f)
	for _, s := range []uint64{1, 2, 3, 42, 20261202, 1 << 40} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seed uint64) {
		req := generate(e.schema, e.ids, seed, len(e.tokens))
		if _, bad := e.send(t, req); bad != "" {
			t.Fatalf("%s; request %.600s", bad, req.body)
		}
	})
}
