package refusal_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/sdk/temporal"

	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/workflows/refusal"
)

// Everything that says "the input is wrong" becomes one refusal that is never
// retried and decodes to its faults; faults of the platform stay as they are.
func TestFromClassifiesRefusalsAndLeavesFaultsToBeRetried(t *testing.T) {
	t.Parallel()
	fault := errors.New("connection reset by peer")
	tests := []struct {
		name string
		err  error
		want errs.List // nil: not a refusal
	}{
		{"coded error", errs.New(errs.IllegalState, []string{"input", "seq"}, "stage 20 starts after stage 10"),
			errs.List{{Code: errs.IllegalState, Field: []string{"input", "seq"}, Message: "stage 20 starts after stage 10"}}},
		{"list", fmt.Errorf("wrapped: %w", errs.List{errs.Invalid([]string{"input", "quantity"}, "too large"), errs.Invalid([]string{"input", "price"}, "negative")}),
			errs.List{{Code: errs.InvalidInput, Field: []string{"input", "quantity"}, Message: "too large"}, {Code: errs.InvalidInput, Field: []string{"input", "price"}, Message: "negative"}}},
		{"NUL in text (SQLSTATE 22021)", fmt.Errorf("record: %w", &pgconn.PgError{Code: "22021", Message: `invalid byte sequence for encoding "UTF8": 0x00`}),
			errs.List{{Code: errs.InvalidInput, Field: []string{}, Message: `the input was refused: invalid byte sequence for encoding "UTF8": 0x00 (SQLSTATE 22021)`}}},
		{"check violation (SQLSTATE 23514)", &pgconn.PgError{Code: "23514", Message: "new row violates check constraint"},
			errs.List{{Code: errs.InvalidInput, Field: []string{}, Message: "the input was refused: new row violates check constraint (SQLSTATE 23514)"}}},
		{"serialization failure is a fault (SQLSTATE 40001)", &pgconn.PgError{Code: "40001", Message: "could not serialize"}, nil},
		{"unique violation of a racing retry is retried (SQLSTATE 23505)", &pgconn.PgError{Code: "23505", Message: "duplicate key"}, nil},
		{"network fault", fault, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := refusal.From(tt.err)
			list, ok := refusal.Decode(got)
			if tt.want == nil {
				if ok || got != tt.err {
					t.Fatalf("a fault became %v (refusal %v)", got, ok)
				}
				return
			}
			var app *temporal.ApplicationError
			if !errors.As(got, &app) || !app.NonRetryable() || app.Type() != refusal.Type || app.Category() != temporal.ApplicationErrorCategoryBenign {
				t.Fatalf("refusal %v is not a non-retryable benign %s", got, refusal.Type)
			}
			if !ok || !reflect.DeepEqual(list, tt.want) {
				t.Fatalf("decoded %+v, want %+v", list, tt.want)
			}
			if refusal.From(got) != got {
				t.Error("From of a refusal changed it")
			}
		})
	}
	if refusal.From(nil) != nil {
		t.Error("From(nil) is not nil")
	}
}

// Histories recorded before the one vocabulary carry refusals typed by their
// code, or typed REFUSED with {Code, Field, Message} details, or catalog
// violations: they decode to the same faults.
func TestDecodeReadsTheRefusalsOfEarlierCode(t *testing.T) {
	t.Parallel()
	type legacyRefusal struct {
		Code    string
		Field   []string
		Message string
	}
	tests := []struct {
		name string
		err  error
		want errs.List
	}{
		{"typed by code", temporal.NewApplicationError("only the assigned factory reports", "FORBIDDEN"),
			errs.List{{Code: errs.Forbidden, Field: []string{}, Message: "only the assigned factory reports"}}},
		{"REFUSED with details", temporal.NewNonRetryableApplicationError("no capacity", "REFUSED", nil, []legacyRefusal{{Code: "ILLEGAL_STATE", Field: []string{"input"}, Message: "no capacity"}}),
			errs.List{{Code: errs.IllegalState, Field: []string{"input"}, Message: "no capacity"}}},
		{"configuration violations", temporal.NewNonRetryableApplicationError("invalid", "INVALID_CONFIGURATION", nil, []catalog.Violation{{Code: "UNKNOWN_CHOICE", Path: []string{"selections", "0"}, Message: "plaid is not offered"}}),
			errs.List{{Code: errs.InvalidInput, Field: []string{"input", "selections", "0"}, Message: "UNKNOWN_CHOICE: plaid is not offered"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if list, ok := refusal.Decode(fmt.Errorf("update failed: %w", tt.err)); !ok || !reflect.DeepEqual(list, tt.want) {
				t.Fatalf("decoded %+v (%v), want %+v", list, ok, tt.want)
			}
		})
	}
	if _, ok := refusal.Decode(temporal.NewApplicationError("timeout", "TIMEOUT")); ok {
		t.Error("an ApplicationError of another type decoded as a refusal")
	}
}
