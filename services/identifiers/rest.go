package identifiers

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The Handle REST answer: the JSON shape a Handle server's HTTP interface
// gives for GET /api/handles/{handle}, used by the platform's own endpoint,
// by the top node of cmd/handle-root and by recursive resolution between
// nodes. A value is the Handle data model's value (RFC 3651 section 3.1):
// its index, type, data, time to live and timestamp; the data of every value
// the platform writes is a string.

// The response codes of a Handle REST answer.
const (
	CodeSuccess         = 1   // the handle was found (values may be filtered)
	CodeError           = 2   // the server could not answer (a node down, a loop)
	CodeNotFound        = 100 // no such handle
	CodeInvalid         = 102 // the handle does not parse
	CodeValuesNotFound  = 200 // the handle exists, no value matches the filter
	CodeNotResponsible  = 301 // the handle's prefix is served by another node
	CodeAuthRequired    = 402 // reserved: authentication needed
	DataFormatString    = "string"
	PrefixHandlePrefix  = "0.NA" // the prefix of prefix handles, 0.NA/<prefix>
	ValueTypeSite       = "HS_SITE"
	ValueTypeServ       = "HS_SERV"
	defaultAnswerStatus = http.StatusOK
)

// Answer is a Handle REST answer.
type Answer struct {
	ResponseCode int     `json:"responseCode"`
	Handle       string  `json:"handle"`
	Values       []Value `json:"values,omitempty"`
	Message      string  `json:"message,omitempty"`
	// Node is the node that gave the answer (an extension of the
	// platform's): the node prefix on a platform's answer about its own
	// identifiers, the base URL of the node asked on an answer relayed by
	// recursive resolution.
	Node string `json:"node,omitempty"`
}

// Value is one typed value of a record.
type Value struct {
	Index     int       `json:"index"`
	Type      string    `json:"type"`
	Data      ValueData `json:"data"`
	TTL       int       `json:"ttl"`
	Timestamp string    `json:"timestamp"`
}

// ValueData is a value's data with its format.
type ValueData struct {
	Format string `json:"format"`
	Value  string `json:"value"`
}

// StringValue builds a value whose data is a string, its timestamp in RFC
// 3339 UTC with seconds, as Handle servers write it.
func StringValue(index int, typ, data string, ttl int, at time.Time) Value {
	return Value{Index: index, Type: typ, Data: ValueData{Format: DataFormatString, Value: data},
		TTL: ttl, Timestamp: at.UTC().Format(time.RFC3339)}
}

// HTTPStatus is the HTTP status that goes with an answer's response code.
func (a Answer) HTTPStatus() int {
	switch a.ResponseCode {
	case CodeSuccess, CodeValuesNotFound:
		return http.StatusOK
	case CodeNotFound:
		return http.StatusNotFound
	case CodeInvalid:
		return http.StatusBadRequest
	case CodeNotResponsible:
		return http.StatusConflict
	case CodeAuthRequired:
		return http.StatusUnauthorized
	case CodeError:
		return http.StatusBadGateway
	}
	return defaultAnswerStatus
}

// MaxFilter bounds the types, and the indexes, a query filters by.
const MaxFilter = 20

// Query filters a record's values: by type and by index, as the REST
// interface's repeated `type` and `index` parameters (a value matches when
// its type is one of Types, or its index one of Indexes; no filter matches
// all).
type Query struct {
	Types   []string
	Indexes []int
}

// IsZero reports whether q filters nothing.
func (q Query) IsZero() bool { return len(q.Types) == 0 && len(q.Indexes) == 0 }

// ParseQuery reads the `type` and `index` parameters of a request's query.
// An index that is not a positive integer, a type the grammar refuses, or
// more than MaxFilter of either, is an *Error.
func ParseQuery(values map[string][]string) (Query, error) {
	var q Query
	if len(values["type"]) > MaxFilter || len(values["index"]) > MaxFilter {
		return Query{}, fault(ReasonTooLong, "filter by at most %d types and %d indexes", MaxFilter, MaxFilter)
	}
	for _, t := range values["type"] {
		if err := ValidateValueType(t); err != nil {
			return Query{}, err
		}
		q.Types = append(q.Types, t)
	}
	for _, s := range values["index"] {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return Query{}, fault(ReasonCharacter, "an index must be a positive integer, not %q", s)
		}
		q.Indexes = append(q.Indexes, n)
	}
	return q, nil
}

// Encode writes q back as query parameters (without "?", escaped), "" when
// q is zero.
func (q Query) Encode() string {
	var parts []string
	for _, t := range q.Types {
		parts = append(parts, "type="+url.QueryEscape(t))
	}
	for _, i := range q.Indexes {
		parts = append(parts, "index="+strconv.Itoa(i))
	}
	return strings.Join(parts, "&")
}

// Match reports whether v passes the filter.
func (q Query) Match(v Value) bool {
	if q.IsZero() {
		return true
	}
	for _, t := range q.Types {
		if strings.EqualFold(t, v.Type) {
			return true
		}
	}
	for _, i := range q.Indexes {
		if i == v.Index {
			return true
		}
	}
	return false
}

// Filter applies q to a found record: the answer keeps the values that
// match, and becomes CodeValuesNotFound when none does.
func (q Query) Filter(a Answer) Answer {
	if a.ResponseCode != CodeSuccess || q.IsZero() {
		return a
	}
	kept := make([]Value, 0, len(a.Values))
	for _, v := range a.Values {
		if q.Match(v) {
			kept = append(kept, v)
		}
	}
	a.Values = kept
	if len(kept) == 0 {
		a.ResponseCode, a.Values = CodeValuesNotFound, nil
	}
	return a
}

// PrefixHandle is the handle under which a node prefix's record lives,
// 0.NA/<prefix>.
func PrefixHandle(prefix string) string { return PrefixHandlePrefix + "/" + prefix }
