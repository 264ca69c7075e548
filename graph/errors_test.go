package graph

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

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

// What only says that the platform did not answer in time is UNAVAILABLE,
// to be sent again, not an INTERNAL error.
func TestTimeoutsAreUnavailableNotInternal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, err := range map[string]error{
		"a deadline":            fmt.Errorf("placeOrder: %w", context.DeadlineExceeded),
		"an update not awaited": client.NewWorkflowUpdateServiceTimeoutOrCanceledError(context.Canceled),
		"temporal's deadline":   serviceerror.NewDeadlineExceeded("deadline"),
		"temporal unavailable":  fmt.Errorf("start: %w", serviceerror.NewUnavailable("down")),
	} {
		got := ErrorPresenter(ctx, err)
		if got.Extensions["code"] != "UNAVAILABLE" || got.Message == "" {
			t.Errorf("%s: %+v, want UNAVAILABLE with a message", name, got)
		}
	}
	if got := ErrorPresenter(ctx, errors.New("boom")); got.Extensions["code"] != "INTERNAL" {
		t.Errorf("a plain fault: %+v, want INTERNAL", got)
	}
}
