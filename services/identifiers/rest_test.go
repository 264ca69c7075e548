package identifiers

import (
	"encoding/json"
	"net/url"
	"slices"
	"testing"
	"time"
)

// keys lists an object's field names, sorted.
func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestAnswerHasTheHandleRESTShapeFieldByField checks the JSON an answer
// encodes to against the Handle value model (RFC 3651 section 3.1: index,
// type, data, TTL, timestamp) as the REST interface writes it.
func TestAnswerHasTheHandleRESTShapeFieldByField(t *testing.T) {
	at := time.Date(2026, 12, 3, 8, 30, 15, 123456789, time.FixedZone("CST", 8*3600))
	a := Answer{ResponseCode: CodeSuccess, Handle: "88.500.1304/UNIT-42", Values: []Value{
		StringValue(1, "URL", "https://example.com/u/42", 86400, at),
		StringValue(7, "MC.SERIAL", "UNIT-42", 0, at),
	}}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]any
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	if got := keys(top); !slices.Equal(got, []string{"handle", "responseCode", "values"}) {
		t.Fatalf("top-level fields %v", got)
	}
	if top["responseCode"] != float64(1) || top["handle"] != "88.500.1304/UNIT-42" {
		t.Fatalf("responseCode %v handle %v", top["responseCode"], top["handle"])
	}
	values := top["values"].([]any)
	if len(values) != 2 {
		t.Fatalf("%d values", len(values))
	}
	v := values[0].(map[string]any)
	if got := keys(v); !slices.Equal(got, []string{"data", "index", "timestamp", "ttl", "type"}) {
		t.Fatalf("value fields %v", got)
	}
	// index: an unsigned integer, unique in the record; type: UTF-8 text.
	if idx, ok := v["index"].(float64); !ok || idx != 1 || v["type"] != "URL" {
		t.Fatalf("index %v (%T), type %v", v["index"], v["index"], v["type"])
	}
	// data: the format and the value.
	d := v["data"].(map[string]any)
	if got := keys(d); !slices.Equal(got, []string{"format", "value"}) || d["format"] != "string" || d["value"] != "https://example.com/u/42" {
		t.Fatalf("data %v", d)
	}
	// ttl: relative, in seconds, an integer (0: do not cache).
	if ttl, ok := v["ttl"].(float64); !ok || ttl != 86400 || values[1].(map[string]any)["ttl"] != float64(0) {
		t.Fatalf("ttl %v", v["ttl"])
	}
	// timestamp: when the value was last changed, UTC, to the second.
	if v["timestamp"] != "2026-12-03T00:30:15Z" {
		t.Fatalf("timestamp %v", v["timestamp"])
	}
	// An answer that found nothing carries no values.
	b, _ = json.Marshal(Answer{ResponseCode: CodeNotFound, Handle: "88.500/none"})
	if string(b) != `{"responseCode":100,"handle":"88.500/none"}` {
		t.Fatalf("not found: %s", b)
	}
}

func TestResponseCodesMapToHTTPStatuses(t *testing.T) {
	for code, status := range map[int]int{
		CodeSuccess: 200, CodeValuesNotFound: 200, CodeNotFound: 404, CodeInvalid: 400, CodeNotResponsible: 409, CodeError: 502, CodeAuthRequired: 401,
	} {
		if got := (Answer{ResponseCode: code}).HTTPStatus(); got != status {
			t.Errorf("code %d: HTTP %d, want %d", code, got, status)
		}
	}
}

func TestQueryFiltersByTypeOrIndexAndEncodesEscaped(t *testing.T) {
	at := time.Now()
	found := Answer{ResponseCode: CodeSuccess, Handle: "88.500/x", Values: []Value{
		StringValue(1, "URL", "a", 1, at), StringValue(2, "EMAIL", "b", 1, at), StringValue(3, "URL", "c", 1, at),
	}}
	q, err := ParseQuery(url.Values{"type": {"url"}, "index": {"2"}})
	if err != nil {
		t.Fatal(err)
	}
	got := q.Filter(found)
	if got.ResponseCode != CodeSuccess || len(got.Values) != 3 {
		t.Fatalf("type URL or index 2: %+v", got)
	}
	if got := (Query{Indexes: []int{9}}).Filter(found); got.ResponseCode != CodeValuesNotFound || got.Values != nil {
		t.Fatalf("nothing matches: %+v", got)
	}
	if got := (Query{}).Filter(found); len(got.Values) != 3 {
		t.Fatal("no filter dropped values")
	}
	for _, bad := range []url.Values{{"index": {"0"}}, {"index": {"x"}}, {"index": {"-3"}}, {"type": {""}}, {"type": {"a b"}}} {
		if _, err := ParseQuery(bad); ReasonOf(err) == "" {
			t.Errorf("%v accepted", bad)
		}
	}
	enc := Query{Types: []string{"A&B+C=D"}, Indexes: []int{4}}.Encode()
	back, err := url.ParseQuery(enc)
	if err != nil || back.Get("type") != "A&B+C=D" || back.Get("index") != "4" {
		t.Fatalf("encoded %q decodes to %v (%v)", enc, back, err)
	}
}
