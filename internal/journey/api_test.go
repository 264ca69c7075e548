package journey

import (
	"errors"
	"fmt"
	"testing"
)

func TestOperationNameIsTheFirstRootField(t *testing.T) {
	for q, want := range map[string]string{
		`{ viewer { id } }`: "viewer",
		`mutation($in: PlaceOrderInput!) { placeOrder(input: $in) { order { id } errors { code } } }`: "placeOrder",
		`query($id: ID!) { node(id: $id) { ... on Order { id } } }`:                                   "node",
		`query { inbox: procurementInbox(first: 5) { edges { node { id } } } }`:                       "procurementInbox",
		"subscription {\n  orderEvents(orderId: 1) { seq }\n}":                                        "orderEvents",
	} {
		if got := operationName(q); got != want {
			t.Errorf("operationName(%q) = %q, want %q", q, got, want)
		}
	}
}

func TestErrorCodeClassifiesRefusalsGraphQLErrorsAndTransport(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{&refusal{who: "supplier-a", field: "acceptProcurementTask", errs: []userError{{Code: "ILLEGAL_STATE"}}}, "ILLEGAL_STATE"},
		{fmt.Errorf("wrapped: %w", &refusal{errs: []userError{{Code: "NOT_FOUND"}}}), "NOT_FOUND"},
		{errors.New("customer: internal error (INTERNAL)"), "INTERNAL"},
		{errors.New(`carrier: Post "http://x/graphql": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`), "TRANSPORT"},
		{errors.New("connection refused"), "TRANSPORT"},
	} {
		if got := ErrorCode(tc.err); got != tc.want {
			t.Errorf("ErrorCode(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
