package server

import (
	"context"
	"math"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/masscustom/orchestrator/graph/scalar"
)

// strictInt refuses, as a request error before anything runs, an Int that is
// not a 32-bit integer: in a variable (gqlparser's coercion lets "5" and
// 2^40 through) or in a literal (its validation checks the kind of a literal,
// not its range). graph/scalar's Int refuses the same values again if one
// gets past, but only as a field error once execution started.
type strictInt struct{ schema *ast.Schema }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = strictInt{}

func (strictInt) ExtensionName() string                   { return "StrictInt" }
func (strictInt) Validate(graphql.ExecutableSchema) error { return nil }

func (s strictInt) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	for _, def := range rc.Operation.VariableDefinitions {
		v, ok := rc.Variables[def.Variable]
		if !ok {
			continue
		}
		if msg := checkIntValue(s.schema, def.Type, v); msg != "" {
			return intRequestError("variable $%s: %s", def.Variable, msg)
		}
	}
	if msg := literalInts(rc.Doc); msg != "" {
		return intRequestError("%s", msg)
	}
	return nil
}

func intRequestError(format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	errcode.Set(err, errcode.ValidationFailed)
	return err
}

// checkIntValue walks a coerced variable value along its type and returns why
// an Int in it is refused, or "".
func checkIntValue(schema *ast.Schema, typ *ast.Type, v any) string {
	if v == nil || typ == nil {
		return ""
	}
	if typ.Elem != nil {
		list, ok := v.([]any)
		if !ok {
			return checkIntValue(schema, typ.Elem, v) // a single value coerced to a list
		}
		for _, item := range list {
			if msg := checkIntValue(schema, typ.Elem, item); msg != "" {
				return msg
			}
		}
		return ""
	}
	if typ.NamedType == "Int" {
		if _, err := scalar.UnmarshalInt(v); err != nil {
			return err.Error()
		}
		return ""
	}
	def := schema.Types[typ.NamedType]
	obj, ok := v.(map[string]any)
	if def == nil || def.Kind != ast.InputObject || !ok {
		return ""
	}
	for _, f := range def.Fields {
		if msg := checkIntValue(schema, f.Type, obj[f.Name]); msg != "" {
			return f.Name + ": " + msg
		}
	}
	return ""
}

// literalInts returns why an Int literal of the document is refused, or "".
// Validation has set each value's expected type.
func literalInts(doc *ast.QueryDocument) string {
	var bad string
	var value func(v *ast.Value)
	value = func(v *ast.Value) {
		if v == nil || bad != "" {
			return
		}
		if v.Kind == ast.IntValue && v.ExpectedType != nil && v.ExpectedType.Name() == "Int" {
			if n, err := strconv.ParseInt(v.Raw, 10, 64); err != nil || n < math.MinInt32 || n > math.MaxInt32 {
				bad = "Int cannot represent " + v.Raw + ": not a 32-bit integer"
				return
			}
		}
		for _, c := range v.Children {
			value(c.Value)
		}
	}
	args := func(list ast.ArgumentList) {
		for _, a := range list {
			value(a.Value)
		}
	}
	dirs := func(list ast.DirectiveList) {
		for _, d := range list {
			args(d.Arguments)
		}
	}
	var set func(ast.SelectionSet)
	set = func(s ast.SelectionSet) {
		for _, sel := range s {
			switch x := sel.(type) {
			case *ast.Field:
				args(x.Arguments)
				dirs(x.Directives)
				set(x.SelectionSet)
			case *ast.InlineFragment:
				dirs(x.Directives)
				set(x.SelectionSet)
			case *ast.FragmentSpread:
				dirs(x.Directives)
			}
		}
	}
	for _, op := range doc.Operations {
		for _, vd := range op.VariableDefinitions {
			value(vd.DefaultValue)
		}
		dirs(op.Directives)
		set(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		dirs(f.Directives)
		set(f.SelectionSet)
	}
	return bad
}
