package server

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"
)

const errDocumentLimit = "DOCUMENT_LIMIT_EXCEEDED"

func init() {
	errcode.RegisterErrorType(errDocumentLimit, errcode.KindProtocol)
}

// documentLimits refuses a document that is too big to validate cheaply, before
// gqlgen parses and validates it. Validation is not linear: overlapping-field
// checks compare fields pairwise and fragments are expanded where spread, so
// thousands of spreads cost seconds of CPU. Counting tokens costs one pass of
// the lexer; the other counts need a parse, which is linear once tokens are
// bounded. It runs for every transport (HTTP and websocket subscribe).
//
// The verdict depends on the document's text alone, so documents that passed
// are remembered (Passed, when set) and a client repeating its queries, as
// every client does, pays for the counting once, as for gqlgen's own parse.
type documentLimits struct {
	MaxTokens, MaxAliases, MaxSpreads, MaxFields int
	Passed                                       *lru.LRU[struct{}]
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = documentLimits{}

func (documentLimits) ExtensionName() string                   { return "DocumentLimits" }
func (documentLimits) Validate(graphql.ExecutableSchema) error { return nil }

func (l documentLimits) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if l.Passed != nil {
		if _, ok := l.Passed.Get(ctx, p.Query); ok {
			return nil
		}
	}
	parsed, refusal := l.check(p.Query)
	if refusal != nil {
		return refusal
	}
	if parsed && l.Passed != nil {
		l.Passed.Add(ctx, p.Query, struct{}{})
	}
	return nil
}

// check counts the document; parsed reports whether it parsed, so that only
// a verdict on a real document is remembered. A document that does not lex or
// parse passes here: gqlgen's parse reports it with its position.
func (l documentLimits) check(query string) (parsed bool, refusal *gqlerror.Error) {
	src := &ast.Source{Input: query}
	if n, ok := countTokens(src, l.MaxTokens); !ok {
		return false, nil
	} else if n > l.MaxTokens {
		return false, limitError("tokens", l.MaxTokens, "the document has more than %d tokens", l.MaxTokens)
	}
	doc, err := parser.ParseQuery(src)
	if err != nil {
		return false, nil
	}
	c := countDocument(doc, l.MaxFields)
	switch {
	case c.aliases > l.MaxAliases:
		return true, limitError("aliases", l.MaxAliases, "the document has %d aliases, more than the allowed %d", c.aliases, l.MaxAliases)
	case c.spreads > l.MaxSpreads:
		return true, limitError("fragmentSpreads", l.MaxSpreads, "the document has %d fragment spreads, more than the allowed %d", c.spreads, l.MaxSpreads)
	case c.fields > l.MaxFields:
		return true, limitError("fields", l.MaxFields, "the document selects more than %d fields once its fragments are expanded", l.MaxFields)
	}
	return true, nil
}

func limitError(limit string, max int, format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	errcode.Set(err, errDocumentLimit)
	err.Extensions["limit"] = limit
	err.Extensions["max"] = max
	return err
}

// countTokens counts the document's tokens, stopping once it passes max; ok is
// false on a lexical error.
func countTokens(src *ast.Source, max int) (n int, ok bool) {
	lx := lexer.New(src)
	for n <= max {
		tok, err := lx.ReadToken()
		if err != nil {
			return n, false
		}
		if tok.Kind == lexer.EOF {
			return n, true
		}
		n++
	}
	return n, true
}

type documentCount struct{ aliases, spreads, fields int }

// countDocument counts aliases and spreads as written, and fields as selected
// with every spread expanded (what validation and execution walk). Expansion
// is memoised per fragment and saturates just above maxFields, so a chain of
// fragments each spreading the next twice costs linear time here, not
// exponential; a fragment cycle counts as nothing (validation refuses it).
func countDocument(doc *ast.QueryDocument, maxFields int) documentCount {
	var c documentCount
	sat := func(n int) int { return min(n, maxFields+1) }
	sizes := map[string]int{}
	inProgress := map[string]bool{}
	var size func(ast.SelectionSet) int
	fragSize := func(name string) int {
		if n, ok := sizes[name]; ok {
			return n
		}
		f := doc.Fragments.ForName(name)
		if f == nil || inProgress[name] {
			return 0
		}
		inProgress[name] = true
		n := size(f.SelectionSet)
		delete(inProgress, name)
		sizes[name] = n
		return n
	}
	size = func(set ast.SelectionSet) int {
		n := 0
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				n = sat(n + 1 + size(s.SelectionSet))
			case *ast.InlineFragment:
				n = sat(n + size(s.SelectionSet))
			case *ast.FragmentSpread:
				n = sat(n + fragSize(s.Name))
			}
		}
		return n
	}
	var written func(ast.SelectionSet)
	written = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				if s.Alias != "" && s.Alias != s.Name {
					c.aliases++
				}
				written(s.SelectionSet)
			case *ast.InlineFragment:
				written(s.SelectionSet)
			case *ast.FragmentSpread:
				c.spreads++
			}
		}
	}
	for _, op := range doc.Operations {
		written(op.SelectionSet)
		c.fields = sat(c.fields + size(op.SelectionSet))
	}
	for _, f := range doc.Fragments {
		written(f.SelectionSet)
	}
	return c
}
