package server

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/masscustom/orchestrator/graph"
	"github.com/masscustom/orchestrator/graph/generated"
)

// A schema-only test: it reads the executable schema gqlgen generated and the
// complexity functions the gateway installs, and needs no stack.

// pricedSchema is the executable schema as the gateway builds it.
func pricedSchema() *generated.ComplexityRoot {
	cfg := generated.Config{Resolvers: &graph.Resolver{}}
	connectionComplexity(&cfg.Complexity)
	return &cfg.Complexity
}

// listFields are the fields whose cost must grow with their size: every field
// of a connection type, and every list of objects. The edges of a connection
// are priced by the field that returns the connection (which knows the page
// size); lists of scalars or enums cost like a scalar, having no children.
func listFields(s *ast.Schema) []*struct {
	typ   string
	field *ast.FieldDefinition
} {
	var out []*struct {
		typ   string
		field *ast.FieldDefinition
	}
	names := make([]string, 0, len(s.Types))
	for n := range s.Types {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		def := s.Types[n]
		if strings.HasPrefix(n, "__") || (def.Kind != ast.Object && def.Kind != ast.Interface) {
			continue
		}
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			target := s.Types[f.Type.Name()]
			composite := target != nil && (target.Kind == ast.Object || target.Kind == ast.Interface || target.Kind == ast.Union)
			connection := target != nil && target.Kind == ast.Object && strings.HasSuffix(target.Name, "Connection")
			list := f.Type.Elem != nil && composite
			if strings.HasSuffix(n, "Connection") && f.Name == "edges" {
				continue
			}
			if connection || list {
				out = append(out, &struct {
					typ   string
					field *ast.FieldDefinition
				}{n, f})
			}
		}
	}
	return out
}

func defaultArgs(f *ast.FieldDefinition) map[string]any {
	args := map[string]any{}
	for _, a := range f.Arguments {
		if a.DefaultValue != nil {
			v, err := a.DefaultValue.Value(nil)
			if err == nil {
				args[a.Name] = v
			}
		}
	}
	return args
}

func TestEveryListAndConnectionFieldCostsItsPageSizeTimesItsChildren(t *testing.T) {
	root := pricedSchema()
	es := generated.NewExecutableSchema(generated.Config{Resolvers: &graph.Resolver{}, Complexity: *root})
	fields := listFields(es.Schema())
	if len(fields) < 20 {
		t.Fatalf("found only %d list and connection fields; the walk is broken", len(fields))
	}
	const child = 7
	ctx := context.Background()
	for _, lf := range fields {
		name := lf.typ + "." + lf.field.Name
		t.Run(name, func(t *testing.T) {
			args := defaultArgs(lf.field)
			got, ok := es.Complexity(ctx, lf.typ, lf.field.Name, child, args)
			if !ok {
				t.Fatalf("%s has no complexity function: it costs 1 + its children however many items it returns", name)
			}
			want := unpagedListSize
			if lf.field.Arguments.ForName("first") != nil {
				want = 1
				if d, ok := args["first"].(int64); ok {
					want = min(int(d), 100)
				} else {
					want = 20 // a connection's default page
				}
			}
			if got < want*child {
				t.Fatalf("%s costs %d with its default arguments and children of %d; want at least %d x %d", name, got, child, want, child)
			}
			if lf.field.Arguments.ForName("first") == nil {
				return
			}
			args["first"] = int64(100)
			big, _ := es.Complexity(ctx, lf.typ, lf.field.Name, child, args)
			args["first"] = int64(1)
			small, _ := es.Complexity(ctx, lf.typ, lf.field.Name, child, args)
			if big < 100*child || small >= big {
				t.Fatalf("%s costs %d for first: 100 and %d for first: 1; want at least %d, and less for a smaller page", name, big, small, 100*child)
			}
		})
	}
}
