package server

import "testing"

// Only reads of an order's own scalars have cacheable answers.
func TestOnlyReadsOfAnOrdersOwnFieldsAreCached(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		ok   bool
		id   string
		name string
	}{
		{`query($id: ID!) { order(id: $id) { id stage status quantity total currency } }`, true, "id", "scalars by variable"},
		{`query Q($o: ID!) { mine: order(id: $o) { __typename id updatedAt } }`, true, "o", "an alias and a variable of another name"},
		{`{ order(id: "T3JkZXI6eA") { id } }`, true, "", "a literal id"},
		{`query($id: ID!) { order(id: $id) { id timeline { seq } } }`, false, "", "the timeline (other records)"},
		{`query($id: ID!) { order(id: $id) { id customer { name } } }`, false, "", "a nested object"},
		{`query($id: ID!) { order(id: $id) { ...F } } fragment F on Order { id }`, false, "", "a fragment"},
		{`query($id: ID!) { order(id: $id) { ... on Order { id } } }`, false, "", "an inline fragment"},
		{`query($id: ID!, $s: Boolean!) { order(id: $id) { id stage @include(if: $s) } }`, false, "", "a directive"},
		{`query($id: ID!) { order(id: $id) { id } viewer { id } }`, false, "", "a second root field"},
		{`mutation($id: ID!) { order(id: $id) { id } }`, false, "", "a mutation"},
		{`query A($id: ID!) { order(id: $id) { id } } query B($id: ID!) { order(id: $id) { stage } }`, false, "", "two operations"},
		{`query($id: ID!) { orders { edges { node { id } } } }`, false, "", "another root field"},
		{`{ order(id: `, false, "", "a syntax error"},
	} {
		got := shape(tc.doc)
		if got.ok != tc.ok || (tc.ok && tc.id != "" && got.idVar != tc.id) {
			t.Errorf("%s: shape %+v, want ok %t (variable %q)", tc.name, got, tc.ok, tc.id)
		}
	}
}
