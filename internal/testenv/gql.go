package testenv

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// Response is a GraphQL answer as a client sees it.
type Response struct {
	Status int
	Data   map[string]json.RawMessage
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	}
}

// Code returns the first top-level error's extensions.code, or "".
func (r Response) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// Into decodes the data field name into v.
func (r Response) Into(t testing.TB, name string, v any) {
	t.Helper()
	raw, ok := r.Data[name]
	if !ok {
		t.Fatalf("no data.%s in response (errors: %+v)", name, r.Errors)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decode data.%s: %v (%s)", name, err, raw)
	}
}

// Client posts GraphQL to a gateway under a bearer token ("" for none), with
// Header's fields on every request (an Idempotency-Key, say).
type Client struct {
	URL    string
	Token  string
	Header http.Header
}

// Do posts a query with variables and decodes the answer.
func (c Client) Do(t testing.TB, query string, vars map[string]any) Response {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	return c.Raw(t, "application/json", body)
}

// Raw posts a body as it is, for malformed-input tests.
func (c Client) Raw(t testing.TB, contentType string, body []byte) Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range c.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Content-Type", contentType)
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := Response{Status: res.StatusCode}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("response is not JSON (status %d): %s", res.StatusCode, b)
	}
	out.Status = res.StatusCode
	return out
}
