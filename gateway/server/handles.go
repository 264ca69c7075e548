package server

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/masscustom/orchestrator/services/identifiers"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/registry"
)

// HandlesHandler serves GET /api/handles/{handle}: identifier resolution in
// the shape of the Handle REST interface (responseCode 1 found, 100 not
// found, 102 invalid, 200 no value matches, 301 another node's and no upper
// node, 2 another node failed), with the `type` and `index` filters. Without
// a token it answers the public values; with one, each value the caller may
// read. Another node's identifiers are resolved through remote.
func HandlesHandler(id *identity.Service, reg *registry.Service, remote registry.RemoteResolver) http.Handler {
	answer := func(w http.ResponseWriter, a identifiers.Answer) {
		w.Header().Set("Content-Type", "application/json")
		if a.Node != "" {
			w.Header().Set("X-Handle-Node", a.Node)
		}
		w.WriteHeader(a.HTTPStatus())
		_ = json.NewEncoder(w).Encode(a)
	}
	resolve := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handle := r.PathValue("handle")
		q, err := identifiers.ParseQuery(r.URL.Query())
		if err != nil {
			answer(w, identifiers.Answer{ResponseCode: identifiers.CodeInvalid, Handle: handle, Message: err.(*identifiers.Error).Err.Message})
			return
		}
		a, _, err := reg.ResolveText(r.Context(), identity.FromContext(r.Context()), handle, q, remote)
		if err != nil {
			slog.ErrorContext(r.Context(), "identifier resolution failed", "handle", handle, "err", err)
			answer(w, identifiers.Answer{ResponseCode: identifiers.CodeError, Handle: handle, Message: "resolution is unavailable, try again"})
			return
		}
		answer(w, a)
	})
	authed := authenticate(id, resolve)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			resolve.ServeHTTP(w, r)
			return
		}
		authed.ServeHTTP(w, r)
	})
}
