package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
)

// The rules of GraphQL over HTTP that gqlgen's transports leave open, applied
// in front of them: which methods and media types are served, what a request
// body must look like, and which status a GraphQL request error answers with.

const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// graphQLMethods answers 405 for any method but GET, POST and OPTIONS (the
// last is gqlgen's, it lists the methods).
func graphQLMethods(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodPost, http.MethodOptions:
			next.ServeHTTP(w, r)
		default:
			w.Header().Set("Allow", "GET, POST, OPTIONS")
			gqlError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "/graphql answers GET and POST only")
		}
	})
}

// upgradeOr sends websocket upgrades (and OPTIONS) straight to gql: a
// websocket authenticates with its connection_init, which the protocol guard
// demands before any subscribe. Everything else goes to next.
func upgradeOr(gql, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodGet && r.Header.Get("Upgrade") != "") || r.Method == http.MethodOptions {
			gql.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// readGraphQLBody checks a POST before gqlgen sees it: application/json (in
// UTF-8) or 415; at most max bytes or 413; a JSON object whose query is a
// string and whose operationName, variables and extensions are absent, null
// or of their type, or 400. The body is handed on as read.
func readGraphQLBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		if msg, ok := acceptableContentType(r.Header.Get("Content-Type")); !ok {
			gqlError(w, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", msg)
			return
		}
		if r.ContentLength > max {
			gqlError(w, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE", "request body is larger than the allowed size")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				gqlError(w, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE", "request body is larger than the allowed size")
				return
			}
			gqlError(w, http.StatusBadRequest, "BAD_REQUEST", "could not read the request body")
			return
		}
		params, msg := checkParams(body)
		if msg != "" {
			gqlError(w, http.StatusBadRequest, "BAD_REQUEST", msg)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestParams{}, params)))
	})
}

func acceptableContentType(ct string) (string, bool) {
	if ct == "" {
		return "a POST needs Content-Type: application/json", false
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != mediaJSON {
		return "the request body must be application/json", false
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return "the request body must be encoded in UTF-8", false
	}
	return "", true
}

// requestParams is the context key of a checked request's top-level fields
// (query, variables, …), decoded once by readGraphQLBody for the handlers
// after it.
type requestParams struct{}

// paramsOf returns the checked request's top-level fields, nil before
// readGraphQLBody.
func paramsOf(ctx context.Context) map[string]json.RawMessage {
	p, _ := ctx.Value(requestParams{}).(map[string]json.RawMessage)
	return p
}

// checkParams decodes a GraphQL request's top-level fields, or returns why
// body is not one.
func checkParams(body []byte) (map[string]json.RawMessage, string) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, "the request body is empty"
	}
	// One decode tells both: a syntax error is checked for over the whole
	// body before anything is decoded.
	var params map[string]json.RawMessage
	if err := json.Unmarshal(body, &params); err != nil || params == nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return nil, "the request body is not valid JSON"
		}
		return nil, "the request body must be a JSON object with a query"
	}
	q, ok := params["query"]
	if !ok {
		return nil, "the request body has no query"
	}
	if kindOf(q) != '"' {
		return nil, "query must be a string"
	}
	for name, want := range map[string]byte{"operationName": '"', "variables": '{', "extensions": '{'} {
		if v, ok := params[name]; ok && kindOf(v) != 'n' && kindOf(v) != want {
			if want == '"' {
				return nil, name + " must be a string or null"
			}
			return nil, name + " must be an object or null"
		}
	}
	return params, ""
}

// kindOf is the first byte of a valid JSON value: '"', '{', '[', 'n', 't', 'f'
// or a digit or '-'.
func kindOf(v json.RawMessage) byte {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return 0
	}
	return v[0]
}

// requestErrorStatus sets the status of a GraphQL request error (a document
// that does not parse or validate, variables that do not coerce, a limit
// exceeded), which gqlgen answers with 422 or 400, the way GraphQL over HTTP
// prescribes it: 400 when the client accepts application/graphql-response+json,
// 200 under application/json (the legacy type, where a well-formed request
// gets 200 whatever its GraphQL errors). Either way the response has no data
// entry, since nothing ran. A failure with no GraphQL code (say, a GET whose
// variables are not JSON) keeps its status and gets BAD_REQUEST.
func requestErrorStatus(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &requestErrorWriter{ResponseWriter: w, method: r.Method}
		next.ServeHTTP(rw, r)
		rw.finish()
	})
}

type requestErrorWriter struct {
	http.ResponseWriter
	method   string
	captured bool
	status   int
	body     bytes.Buffer
}

func (rw *requestErrorWriter) WriteHeader(code int) {
	if code >= 400 && code < 500 {
		rw.captured, rw.status = true, code
		return
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *requestErrorWriter) Write(b []byte) (int, error) {
	if rw.captured {
		return rw.body.Write(b)
	}
	return rw.ResponseWriter.Write(b)
}

func (rw *requestErrorWriter) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

func (rw *requestErrorWriter) finish() {
	if !rw.captured {
		return
	}
	var resp struct {
		Errors     []map[string]any `json:"errors"`
		Extensions map[string]any   `json:"extensions,omitempty"`
	}
	if err := json.Unmarshal(rw.body.Bytes(), &resp); err != nil || len(resp.Errors) == 0 {
		rw.ResponseWriter.WriteHeader(rw.status)
		_, _ = rw.ResponseWriter.Write(rw.body.Bytes())
		return
	}
	graphQLError := true
	for _, e := range resp.Errors {
		ext, _ := e["extensions"].(map[string]any)
		if ext == nil {
			ext = map[string]any{}
			e["extensions"] = ext
		}
		if _, ok := ext["code"].(string); !ok {
			ext["code"] = "BAD_REQUEST"
			graphQLError = false
		}
	}
	status := rw.status
	if status == http.StatusNotAcceptable && rw.method == http.MethodGet {
		// gqlgen's answer to a mutation sent with GET; the method is what is wrong.
		status = http.StatusMethodNotAllowed
		rw.Header().Set("Allow", "POST")
		for _, e := range resp.Errors {
			e["extensions"].(map[string]any)["code"] = "METHOD_NOT_ALLOWED"
		}
	}
	if graphQLError {
		status = http.StatusOK
		if strings.HasPrefix(rw.Header().Get("Content-Type"), mediaGraphQLResponse) {
			status = http.StatusBadRequest
		}
	}
	out, _ := json.Marshal(resp)
	rw.Header().Del("Content-Length")
	rw.ResponseWriter.WriteHeader(status)
	_, _ = rw.ResponseWriter.Write(out)
}
