package graph

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/masscustom/orchestrator/services/errs"
)

// Every error reaches the client with a message, also a bare sentinel that a
// service returned as it is (the NOT_FOUND with an empty message of a
// resolver that re-read what it had just changed).
func TestEveryErrorPathAnswersWithAMessage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sentinels := []*errs.Error{errs.ErrNotFound, errs.ErrForbidden, errs.ErrInvalidInput, errs.ErrAlreadyExists, errs.ErrIllegalState, errs.ErrUnauthenticated, {Code: "SOMETHING_NEW"}}
	for _, s := range sentinels {
		for name, err := range map[string]error{
			"bare":      s,
			"wrapped":   fmt.Errorf("loading: %w", s),
			"on a path": gqlerror.WrapPath(nil, s),
		} {
			got := ErrorPresenter(ctx, err)
			if got.Message == "" || got.Extensions["code"] != string(s.Code) {
				t.Errorf("top-level %s %s: %+v, want code %s with a message", name, s.Code, got, s.Code)
			}
		}
		if s.Code == errs.Unauthenticated {
			continue // stays top-level
		}
		ue, fault := userErrors(s)
		if fault != nil || len(ue) != 1 || ue[0].Message == "" || string(ue[0].Code) != string(s.Code) {
			t.Errorf("payload %s: %+v %v, want one error with a message", s.Code, ue, fault)
		}
		ue, _ = userErrors(errs.List{s})
		if len(ue) != 1 || ue[0].Message == "" {
			t.Errorf("payload list %s: %+v, want one error with a message", s.Code, ue)
		}
	}
	for name, err := range map[string]error{
		"a fault":                           errors.New("connection reset"),
		"a GraphQL error without one":       &gqlerror.Error{},
		"a coded GraphQL error without one": &gqlerror.Error{Extensions: map[string]any{"code": "INVALID_INPUT"}},
	} {
		if got := ErrorPresenter(ctx, err); got.Message == "" || got.Extensions["code"] == nil {
			t.Errorf("%s: %+v, want a code and a message", name, got)
		}
	}
}
