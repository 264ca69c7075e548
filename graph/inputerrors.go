package graph

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// argumentError recognises an argument that gqlgen could not coerce (an
// object where a String is due, a Time that is not RFC 3339, a Decimal that
// does not parse) and codes it BAD_USER_INPUT with the argument's path. gqlgen
// reports these while it builds the field's arguments, before the resolver
// runs, as an error wrapping the scalar's error on the input path (the field's
// response path, then the argument, then any input fields): nothing ran, and
// the cause is the caller's, so it must not read as INTERNAL.
func argumentError(ctx context.Context, err error) (*gqlerror.Error, bool) {
	var ge *gqlerror.Error
	if !errors.As(err, &ge) || ge.Err == nil || !graphql.HasOperationContext(ctx) {
		return nil, false
	}
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil || fc.Field.Definition == nil {
		return nil, false
	}
	at := graphql.GetPath(ctx)
	if len(ge.Path) <= len(at) {
		return nil, false
	}
	for i := range at {
		if ge.Path[i] != at[i] {
			return nil, false
		}
	}
	arg, ok := ge.Path[len(at)].(ast.PathName)
	if !ok || fc.Field.Definition.Arguments.ForName(string(arg)) == nil {
		return nil, false
	}
	field := make([]string, 0, len(ge.Path)-len(at))
	var where strings.Builder
	for i, el := range ge.Path[len(at):] {
		switch p := el.(type) {
		case ast.PathName:
			field = append(field, string(p))
			if i > 0 {
				where.WriteByte('.')
			}
			where.WriteString(string(p))
		case ast.PathIndex:
			field = append(field, strconv.Itoa(int(p)))
			where.WriteString("[" + strconv.Itoa(int(p)) + "]")
		}
	}
	return &gqlerror.Error{
		Message:    "invalid value for " + where.String() + ": " + ge.Err.Error(),
		Path:       at,
		Locations:  ge.Locations,
		Extensions: map[string]any{"code": "BAD_USER_INPUT", "field": field},
	}, true
}
