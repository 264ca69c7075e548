package server

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/masscustom/orchestrator/graph"
	"github.com/masscustom/orchestrator/services/cache"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/orders"
)

// orderReadCache answers a repeated read of one order from memory: the same
// request body (document and variables), from the same token, while the
// order's cache generation in Redis is unchanged, gets the answer the first
// one got, without GraphQL execution. It is as fresh as the resolver's own
// cache: every hit reads the generation from Redis, which each write of the
// order changes, and without Redis nothing is cached.
//
// Only what a read of the order row decides is cached: a document whose only
// root field is order(id) selecting the order's own scalar fields (no nested
// objects, arguments, fragments or directives), read by a customer (whose
// access to an order is that it placed it) or the platform's staff. A
// supplier's or factory's access depends on other records, so their reads
// always run. Only answers without errors are kept.
type orderReadCache struct {
	cache   *cache.Cache
	shapes  *lru.LRU[orderDoc]
	answers *lru.LRU[cachedAnswer]
}

// orderDoc is what a document is for the cache: cacheable, and where its
// order id is (a variable's name, or the literal).
type orderDoc struct {
	ok          bool
	idVar, idLi string
}

type cachedAnswer struct {
	contentType string
	body        []byte
}

// orderScalars are the Order fields served from the order row itself.
var orderScalars = map[string]bool{
	"__typename": true, "id": true, "status": true, "stage": true, "configVersion": true, "quantity": true,
	"total": true, "currency": true, "designDeadline": true, "designApprovedAt": true, "createdAt": true, "updatedAt": true,
}

func newOrderReadCache(c *cache.Cache) *orderReadCache {
	if c == nil {
		return nil
	}
	return &orderReadCache{cache: c, shapes: lru.New[orderDoc](1000), answers: lru.New[cachedAnswer](10000)}
}

// shape parses a document once and says whether its answers may be cached.
func shape(query string) orderDoc {
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil || len(doc.Operations) != 1 || len(doc.Fragments) != 0 {
		return orderDoc{}
	}
	op := doc.Operations[0]
	if op.Operation != ast.Query || len(op.Directives) != 0 || len(op.SelectionSet) != 1 {
		return orderDoc{}
	}
	root, ok := op.SelectionSet[0].(*ast.Field)
	if !ok || root.Name != "order" || len(root.Directives) != 0 || len(root.Arguments) != 1 || root.Arguments[0].Name != "id" || len(root.SelectionSet) == 0 {
		return orderDoc{}
	}
	for _, s := range root.SelectionSet {
		f, ok := s.(*ast.Field)
		if !ok || !orderScalars[f.Name] || len(f.Arguments) != 0 || len(f.Directives) != 0 || len(f.SelectionSet) != 0 {
			return orderDoc{}
		}
	}
	switch v := root.Arguments[0].Value; v.Kind {
	case ast.Variable:
		return orderDoc{ok: true, idVar: v.Raw}
	case ast.StringValue:
		return orderDoc{ok: true, idLi: v.Raw}
	}
	return orderDoc{}
}

// wrap serves cached answers in front of next (the GraphQL handler); the
// body was read, checked and its fields decoded by readGraphQLBody.
func (c *orderReadCache) wrap(next http.Handler) http.Handler {
	if c == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := identity.FromContext(r.Context())
		if r.Method != http.MethodPost || p == nil || (p.Kind != identity.KindCustomer && p.Kind != identity.KindPlatform) {
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		params := paramsOf(ctx)
		rawQuery := params["query"]
		if !bytes.Contains(rawQuery, []byte("order")) {
			next.ServeHTTP(w, r)
			return
		}
		doc, known := c.shapes.Get(ctx, string(rawQuery)) // keyed by the query as sent, still JSON-quoted
		if !known {
			var query string
			if json.Unmarshal(rawQuery, &query) == nil {
				doc = shape(query)
			}
			c.shapes.Add(ctx, string(rawQuery), doc)
		}
		if !doc.ok {
			next.ServeHTTP(w, r)
			return
		}
		gid := doc.idLi
		if doc.idVar != "" {
			var vars map[string]json.RawMessage
			if json.Unmarshal(params["variables"], &vars) != nil || json.Unmarshal(vars[doc.idVar], &gid) != nil {
				next.ServeHTTP(w, r)
				return
			}
		}
		typ, id, ok := graph.ParseGlobalID(gid)
		if !ok || typ != "Order" {
			next.ServeHTTP(w, r)
			return
		}
		gen, ok := c.cache.Generation(ctx, orders.CacheKey(id))
		if !ok || gen == "" {
			next.ServeHTTP(w, r)
			return
		}
		// Every field of the request, as sent: equal requests, equal keys.
		key := p.TokenID.String() + "\x00" + gen + "\x00" + string(rawQuery) + "\x00" + string(params["variables"]) +
			"\x00" + string(params["operationName"]) + "\x00" + string(params["extensions"])
		if a, hit := c.answers.Get(ctx, key); hit {
			w.Header().Set("Content-Type", a.contentType)
			_, _ = w.Write(a.body)
			return
		}
		rec := &recordingWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		if rec.status == http.StatusOK && !rec.overflow && !bytes.Contains(rec.buf.Bytes(), []byte(`"errors"`)) {
			c.answers.Add(ctx, key, cachedAnswer{contentType: w.Header().Get("Content-Type"), body: bytes.Clone(rec.buf.Bytes())})
		}
	})
}

// recordingWriter passes a response on and keeps a copy of a small one.
type recordingWriter struct {
	http.ResponseWriter
	status   int
	buf      bytes.Buffer
	overflow bool
}

// maxCachedAnswer bounds the answers kept (an order's scalars are far less).
const maxCachedAnswer = 16 << 10

func (w *recordingWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	if !w.overflow {
		if w.buf.Len()+len(b) > maxCachedAnswer {
			w.overflow = true
			w.buf.Reset()
		} else {
			w.buf.Write(b)
		}
	}
	return w.ResponseWriter.Write(b)
}
