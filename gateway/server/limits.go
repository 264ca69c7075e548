package server

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// depthLimit refuses an operation whose selections nest deeper than Max, before
// any resolver runs. Fragments are followed; a fragment cycle is already refused
// by validation, and visited guards against it anyway.
type depthLimit struct{ Max int }

const errDepthLimit = "DEPTH_LIMIT_EXCEEDED"

// A protocol-kind code makes gqlgen answer 422: a refused operation never ran.
func init() {
	errcode.RegisterErrorType(errDepthLimit, errcode.KindProtocol)
	errcode.RegisterErrorType("COMPLEXITY_LIMIT_EXCEEDED", errcode.KindProtocol)
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimit{}

func (depthLimit) ExtensionName() string                   { return "DepthLimit" }
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (d depthLimit) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	depth := selectionDepth(rc.Operation.SelectionSet, rc.Doc.Fragments, map[string]bool{})
	if depth > d.Max {
		err := gqlerror.Errorf("operation has depth %d, more than the allowed %d", depth, d.Max)
		errcode.Set(err, errDepthLimit)
		return err
	}
	return nil
}

func selectionDepth(set ast.SelectionSet, frags ast.FragmentDefinitionList, visited map[string]bool) int {
	deepest := 0
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			if len(s.SelectionSet) > 0 {
				d = 1 + selectionDepth(s.SelectionSet, frags, visited)
			} else {
				d = 1
			}
		case *ast.InlineFragment:
			d = selectionDepth(s.SelectionSet, frags, visited)
		case *ast.FragmentSpread:
			if visited[s.Name] {
				continue
			}
			if f := frags.ForName(s.Name); f != nil {
				visited[s.Name] = true
				d = selectionDepth(f.SelectionSet, frags, visited)
				delete(visited, s.Name)
			}
		}
		if d > deepest {
			deepest = d
		}
	}
	return deepest
}
