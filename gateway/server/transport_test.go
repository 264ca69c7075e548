package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/config"
)

// httpAnswer is a response as the GraphQL-over-HTTP rules look at it: status,
// content type, the first error's code, and whether a data entry exists.
type httpAnswer struct {
	status      int
	contentType string
	code        string
	hasData     bool
	raw         string
}

func send(t *testing.T, method, target string, header map[string]string, body string) httpAnswer {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, target, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	a := httpAnswer{status: res.StatusCode, contentType: res.Header.Get("Content-Type"), raw: string(b)}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatalf("%s %s answered %d with a body that is not a JSON object: %s", method, target, res.StatusCode, b)
	}
	_, a.hasData = top["data"]
	var errs []struct {
		Extensions map[string]any `json:"extensions"`
	}
	if e, ok := top["errors"]; ok {
		_ = json.Unmarshal(e, &errs)
		if len(errs) > 0 {
			a.code, _ = errs[0].Extensions["code"].(string)
		}
	}
	return a
}

func TestGraphQLOverHTTPRules(t *testing.T) {
	srv, p := gateway(t, func(c *config.Config) { c.MaxAliases = 3 })
	a := testenv.Account(t, p, "PLATFORM", "ADMIN")
	endpoint := srv.URL + "/graphql"
	tok := "Bearer " + a.Secret
	jsonReq := map[string]string{"Authorization": tok, "Content-Type": "application/json"}
	with := func(h map[string]string, k, v string) map[string]string {
		out := map[string]string{}
		for hk, hv := range h {
			out[hk] = hv
		}
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
		return out
	}
	gqlResp := with(jsonReq, "Accept", "application/graphql-response+json")
	legacy := with(jsonReq, "Accept", "application/json")
	get := func(q string, vars string) string {
		v := url.Values{"query": {q}}
		if vars != "" {
			v.Set("variables", vars)
		}
		return endpoint + "?" + v.Encode()
	}
	const ok = ""
	cases := []struct {
		name     string
		method   string
		url      string
		header   map[string]string
		body     string
		status   int
		code     string // "" for an answer without errors
		noData   bool   // the answer must have no data entry
		wantType string // a prefix of the response Content-Type, when it matters
	}{
		// Authentication comes first, and is the same for no token and a bad one.
		{name: "no token is 401 UNAUTHENTICATED", method: "POST", header: with(jsonReq, "Authorization", ""), body: `{"query":"{ __typename }"}`, status: 401, code: "UNAUTHENTICATED"},
		{name: "unknown token is 401 UNAUTHENTICATED", method: "POST", header: with(jsonReq, "Authorization", "Bearer mco_nope"), body: `{"query":"{ __typename }"}`, status: 401, code: "UNAUTHENTICATED"},
		{name: "not a bearer header is 401 UNAUTHENTICATED", method: "POST", header: with(jsonReq, "Authorization", "Basic eDp5"), body: `{"query":"{ __typename }"}`, status: 401, code: "UNAUTHENTICATED"},
		{name: "no token is refused before the document is parsed", method: "POST", header: with(jsonReq, "Authorization", ""), body: `{"query":"{ nope { "}`, status: 401, code: "UNAUTHENTICATED"},
		{name: "no token on GET is 401", method: "GET", url: get("{ __typename }", ""), header: map[string]string{}, status: 401, code: "UNAUTHENTICATED"},

		// Methods and media types.
		{name: "PUT is 405", method: "PUT", header: jsonReq, body: `{"query":"{ __typename }"}`, status: 405, code: "METHOD_NOT_ALLOWED"},
		{name: "DELETE is 405", method: "DELETE", header: jsonReq, status: 405, code: "METHOD_NOT_ALLOWED"},
		{name: "PATCH is 405", method: "PATCH", header: jsonReq, body: `{}`, status: 405, code: "METHOD_NOT_ALLOWED"},
		{name: "text/plain is 415", method: "POST", header: with(jsonReq, "Content-Type", "text/plain"), body: `{"query":"{ __typename }"}`, status: 415, code: "UNSUPPORTED_MEDIA_TYPE"},
		{name: "application/graphql is 415", method: "POST", header: with(jsonReq, "Content-Type", "application/graphql"), body: `{ __typename }`, status: 415, code: "UNSUPPORTED_MEDIA_TYPE"},
		{name: "no content type is 415", method: "POST", header: with(jsonReq, "Content-Type", ""), body: `{"query":"{ __typename }"}`, status: 415, code: "UNSUPPORTED_MEDIA_TYPE"},
		{name: "a charset other than UTF-8 is 415", method: "POST", header: with(jsonReq, "Content-Type", "application/json; charset=iso-8859-1"), body: `{"query":"{ __typename }"}`, status: 415, code: "UNSUPPORTED_MEDIA_TYPE"},
		{name: "UTF-8 charset is served", method: "POST", header: with(jsonReq, "Content-Type", "application/json; charset=utf-8"), body: `{"query":"{ __typename }"}`, status: 200, code: ok},

		// Request parameters.
		{name: "empty body is 400", method: "POST", header: jsonReq, status: 400, code: "BAD_REQUEST"},
		{name: "invalid JSON is 400", method: "POST", header: gqlResp, body: `{ "not a JSON`, status: 400, code: "BAD_REQUEST"},
		{name: "no query is 400", method: "POST", header: jsonReq, body: `{"qeury":"{ __typename }"}`, status: 400, code: "BAD_REQUEST"},
		{name: "object query is 400", method: "POST", header: jsonReq, body: `{"query":{"obj":"ect"}}`, status: 400, code: "BAD_REQUEST"},
		{name: "number query is 400", method: "POST", header: jsonReq, body: `{"query":0}`, status: 400, code: "BAD_REQUEST"},
		{name: "array body is 400", method: "POST", header: jsonReq, body: `[{"query":"{ __typename }"}]`, status: 400, code: "BAD_REQUEST"},
		{name: "number operationName is 400", method: "POST", header: jsonReq, body: `{"query":"{ __typename }","operationName":0}`, status: 400, code: "BAD_REQUEST"},
		{name: "string variables is 400", method: "POST", header: jsonReq, body: `{"query":"{ __typename }","variables":"x"}`, status: 400, code: "BAD_REQUEST"},
		{name: "array variables is 400", method: "POST", header: jsonReq, body: `{"query":"{ __typename }","variables":["array"]}`, status: 400, code: "BAD_REQUEST"},
		{name: "boolean extensions is 400", method: "POST", header: jsonReq, body: `{"query":"{ __typename }","extensions":false}`, status: 400, code: "BAD_REQUEST"},
		{name: "null parameters are allowed", method: "POST", header: gqlResp, body: `{"query":"{ __typename }","variables":null,"operationName":null,"extensions":null}`, status: 200, code: ok},

		// Content negotiation of a successful request.
		{name: "graphql-response+json is answered in kind", method: "POST", header: gqlResp, body: `{"query":"{ __typename }"}`, status: 200, code: ok, wantType: "application/graphql-response+json"},
		{name: "no Accept is answered with application/json", method: "POST", header: jsonReq, body: `{"query":"{ __typename }"}`, status: 200, code: ok, wantType: "application/json"},
		{name: "GET runs a query", method: "GET", url: get("query Q($n: String!) { __type(name: $n) { name } }", `{"n":"Order"}`), header: map[string]string{"Authorization": tok}, status: 200, code: ok},
		{name: "GET refuses a mutation", method: "GET", url: get("mutation { __typename }", ""), header: map[string]string{"Authorization": tok, "Accept": "application/graphql-response+json"}, status: 405, code: "METHOD_NOT_ALLOWED"},
		{name: "GET with variables that are not JSON is 400", method: "GET", url: get("{ __typename }", "{nope"), header: map[string]string{"Authorization": tok}, status: 400, code: "BAD_REQUEST"},

		// Request errors: 400 without data under graphql-response+json, 200 without data under application/json.
		{name: "parse failure, graphql-response+json", method: "POST", header: gqlResp, body: `{"query":"{"}`, status: 400, code: "GRAPHQL_PARSE_FAILED", noData: true, wantType: "application/graphql-response+json"},
		{name: "parse failure, application/json", method: "POST", header: legacy, body: `{"query":"{"}`, status: 200, code: "GRAPHQL_PARSE_FAILED", noData: true, wantType: "application/json"},
		{name: "validation failure, graphql-response+json", method: "POST", header: gqlResp, body: `{"query":"{ nope }"}`, status: 400, code: "GRAPHQL_VALIDATION_FAILED", noData: true},
		{name: "validation failure, application/json", method: "POST", header: legacy, body: `{"query":"{ nope }"}`, status: 200, code: "GRAPHQL_VALIDATION_FAILED", noData: true},
		{name: "variable coercion failure, graphql-response+json", method: "POST", header: gqlResp, body: `{"query":"query($n: String!) { __type(name: $n) { name } }","variables":{"n":null}}`, status: 400, code: "GRAPHQL_VALIDATION_FAILED", noData: true},
		{name: "variable coercion failure, application/json", method: "POST", header: legacy, body: `{"query":"query($n: String!) { __type(name: $n) { name } }","variables":{"n":null}}`, status: 200, code: "GRAPHQL_VALIDATION_FAILED", noData: true},
		{name: "unknown operation name, graphql-response+json", method: "POST", header: gqlResp, body: `{"query":"query A { __typename }","operationName":"B"}`, status: 400, code: "GRAPHQL_VALIDATION_FAILED", noData: true},
		{name: "document limit, graphql-response+json", method: "POST", header: gqlResp, body: `{"query":"{ a: __typename b: __typename c: __typename d: __typename }"}`, status: 400, code: "DOCUMENT_LIMIT_EXCEEDED", noData: true},
		{name: "document limit, application/json", method: "POST", header: legacy, body: `{"query":"{ a: __typename b: __typename c: __typename d: __typename }"}`, status: 200, code: "DOCUMENT_LIMIT_EXCEEDED", noData: true},

		// GraphQL Int is 32 bits and never a string.
		{name: "Int variable given as a string is refused", method: "POST", header: gqlResp, body: `{"query":"query($n: Int) { enterprises(first: $n) { edges { cursor } } }","variables":{"n":"5"}}`, status: 400, code: "GRAPHQL_VALIDATION_FAILED", noData: true},
		{name: "Int variable beyond 32 bits is refused", method: "POST", header: gqlResp, body: `{"query":"query($n: Int) { enterprises(first: $n) { edges { cursor } } }","variables":{"n":4294967296}}`, status: 400, code: "GRAPHQL_VALIDATION_FAILED", noData: true},
		{name: "Int variable with a fraction is refused", method: "POST", header: gqlResp, body: `{"query":"query($n: Int) { enterprises(first: $n) { edges { cursor } } }","variables":{"n":1.5}}`, status: 400, code: "GRAPHQL_VALIDATION_FAILED", noData: true},
		{name: "Int literal beyond 32 bits is refused", method: "POST", header: gqlResp, body: `{"query":"{ enterprises(first: 2147483648) { edges { cursor } } }"}`, status: 400, code: "GRAPHQL_VALIDATION_FAILED", noData: true},
		{name: "Int literal given as a string is refused", method: "POST", header: gqlResp, body: `{"query":"{ enterprises(first: \"5\") { edges { cursor } } }"}`, status: 400, code: "GRAPHQL_VALIDATION_FAILED", noData: true},
		{name: "Int variable within 32 bits is served", method: "POST", header: gqlResp, body: `{"query":"query($n: Int) { enterprises(first: $n) { edges { cursor } } }","variables":{"n":2}}`, status: 200, code: ok},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			target := c.url
			if target == "" {
				target = endpoint
			}
			got := send(t, c.method, target, c.header, c.body)
			if got.status != c.status || got.code != c.code {
				t.Fatalf("got %d %q, want %d %q: %s", got.status, got.code, c.status, c.code, got.raw)
			}
			if c.noData && got.hasData {
				t.Errorf("a request error has a data entry: %s", got.raw)
			}
			if c.wantType != "" && !strings.HasPrefix(got.contentType, c.wantType) {
				t.Errorf("Content-Type %q, want %s", got.contentType, c.wantType)
			}
		})
	}
}

func TestListsAreRefusedByTheComplexityLimitBeforeTheyRun(t *testing.T) {
	srv, p := gateway(t)
	a := testenv.Account(t, p, "PLATFORM", "ADMIN")
	c := testenv.Client{URL: srv.URL + "/graphql", Token: a.Secret}
	wide := "{"
	for i := range 31 {
		wide += fmt.Sprintf(" o%d: orders(first: 100) { edges { node { timeline(first: 100) { seq type message } } } }", i)
	}
	wide += " }"
	cases := []struct {
		name, query, code string
	}{
		{"31 aliases of orders with their timelines", wide, "COMPLEXITY_LIMIT_EXCEEDED"},
		{"one page of orders with their timelines", `{ orders(first: 100) { edges { node { timeline(first: 100) { seq } } } } }`, "COMPLEXITY_LIMIT_EXCEEDED"},
		{"default pages of orders with their default timelines and texts", `{ orders { edges { node { timeline { seq type stage status message at } } } } }`, "COMPLEXITY_LIMIT_EXCEEDED"},
		{"lease contracts with their ledgers", `{ leaseContracts(first: 50) { edges { node { ledger { account } } } } }`, "COMPLEXITY_LIMIT_EXCEEDED"},
		{"templates with their options and choices", `{ productTemplates(first: 100) { edges { node { options { code choices { code label } } } } } }`, "COMPLEXITY_LIMIT_EXCEEDED"},
		{"inboxes of tasks with their orders' timelines", `{ procurementInbox(first: 100) { edges { node { order { timeline { seq } } } } } }`, "COMPLEXITY_LIMIT_EXCEEDED"},
		{"a small page with short timelines is served", `{ orders(first: 5) { edges { node { id status timeline(first: 10) { seq } } } } }`, ""},
		{"a factory's inbox page with its stages is served", `{ productionInbox(first: 50) { edges { node { id status factory { id } order { id } stages { seq code status } } } } }`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Do(t, tc.query, nil)
			if r.Code() != tc.code {
				t.Fatalf("code %q (%+v), want %q", r.Code(), r.Errors, tc.code)
			}
		})
	}
}
