// Package refusal is the one vocabulary of domain refusals between the
// services, the workflows and the gateway. A refusal is an errs.List (a code,
// the input field at fault and a message, per fault) carried across Temporal
// as a non-retryable, benign ApplicationError of type Type with the list as
// its details: non-retryable because retrying a refusal cannot succeed, benign
// because a party's bad command is not a fault of the platform (the SDK logs
// it at debug, not error). Update validators, update handlers and activities
// build refusals with New or From; the gateway decodes them with Decode into
// payload errors.
package refusal

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/sdk/temporal"

	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/errs"
)

// Type is the ApplicationError type of every refusal.
const Type = "REFUSED"

// Types of refusals recorded by earlier code, still decoded: the code was the
// type, or (INVALID_CONFIGURATION) catalog violations were the details.
const (
	legacyInvalidConfiguration = "INVALID_CONFIGURATION"
)

// New returns the refusal of faults (at least one).
func New(faults ...*errs.Error) error {
	if len(faults) == 0 {
		faults = []*errs.Error{errs.New(errs.InvalidInput, nil, "refused")}
	}
	return temporal.NewApplicationErrorWithOptions(faults[0].Message, Type, temporal.ApplicationErrorOptions{
		NonRetryable: true,
		Details:      []any{errs.List(faults)},
		Category:     temporal.ApplicationErrorCategoryBenign,
	})
}

// Newf returns a refusal with one fault of code and no field.
func Newf(code errs.Code, format string, args ...any) error {
	return New(errs.New(code, nil, format, args...))
}

// From turns err into a refusal when it is one: a coded service error
// (errs.List, *errs.Error), catalog violations, or a database error that
// says the input is bad (SQLSTATE classes 22, data exception, and 23,
// integrity constraint violation), which no retry can fix. A unique
// violation (23505) is the exception: it is what two attempts of one
// idempotent write racing each other get, and the retry finds the row.
// Other errors, the faults, are returned as they are, to be retried.
// From(nil) is nil.
func From(err error) error {
	if err == nil {
		return nil
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == Type {
		return err
	}
	var list errs.List
	if errors.As(err, &list) && len(list) > 0 {
		return New(list...)
	}
	if e, ok := errs.As(err); ok {
		return New(e)
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code != "23505" && (strings.HasPrefix(pg.Code, "22") || strings.HasPrefix(pg.Code, "23")) {
		return New(errs.New(errs.InvalidInput, nil, "the input was refused: %s (SQLSTATE %s)", pg.Message, pg.Code))
	}
	return err
}

// Violations returns the refusal of a configuration's rule violations, each
// on its input path under "input".
func Violations(v []catalog.Violation) error {
	faults := make([]*errs.Error, 0, len(v))
	for _, x := range v {
		faults = append(faults, &errs.Error{Code: errs.InvalidInput, Field: append([]string{"input"}, x.Path...), Message: x.Code + ": " + x.Message})
	}
	if len(faults) == 0 {
		faults = append(faults, errs.New(errs.InvalidInput, []string{"input", "selections"}, "invalid configuration"))
	}
	return New(faults...)
}

// Decode returns the faults of a refusal found in err's chain (an update's or
// an activity's failure), and false when err is no refusal (a fault). It
// reads refusals recorded by earlier code too.
func Decode(err error) (errs.List, bool) {
	var app *temporal.ApplicationError
	if !errors.As(err, &app) {
		return nil, false
	}
	single := func(code errs.Code) (errs.List, bool) {
		return errs.List{{Code: code, Field: []string{}, Message: app.Message()}}, true
	}
	switch app.Type() {
	case Type, string(errs.InvalidInput):
		var list errs.List
		if detailsInto(app, &list) && len(list) > 0 {
			for _, e := range list {
				if e.Field == nil {
					e.Field = []string{}
				}
				if e.Code == "" {
					e.Code = errs.InvalidInput
				}
			}
			return list, true
		}
		return single(errs.InvalidInput)
	case legacyInvalidConfiguration:
		var v []catalog.Violation
		if detailsInto(app, &v) && len(v) > 0 {
			list, _ := Decode(Violations(v))
			return list, true
		}
		return errs.List{{Code: errs.InvalidInput, Field: []string{"input", "selections"}, Message: app.Message()}}, true
	case string(errs.IllegalState), string(errs.Forbidden), string(errs.NotFound), string(errs.AlreadyExists):
		return single(errs.Code(app.Type()))
	}
	return nil, false
}

// detailsInto reads app's first detail into dst. Details that crossed
// Temporal are encoded and decode into any shape; details of an error made in
// this process are the values themselves, of whatever type their maker used,
// so they are converted through JSON.
func detailsInto(app *temporal.ApplicationError, dst any) bool {
	if !app.HasDetails() {
		return false
	}
	if tryDetails(app, dst) {
		return true
	}
	var raw any
	if !tryDetails(app, &raw) {
		return false
	}
	b, err := json.Marshal(raw)
	return err == nil && json.Unmarshal(b, dst) == nil
}

// tryDetails is app.Details(dst), which panics when a value made in this
// process cannot be assigned to dst.
func tryDetails(app *temporal.ApplicationError, dst any) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return app.Details(dst) == nil
}

// Code is the code of err's first fault, or "" when err is no refusal.
func Code(err error) errs.Code {
	if list, ok := Decode(err); ok {
		return list[0].Code
	}
	return ""
}

// Message describes a refusal for logs.
func Message(list errs.List) string {
	parts := make([]string, 0, len(list))
	for _, e := range list {
		parts = append(parts, fmt.Sprintf("%s %v: %s", e.Code, e.Field, e.Message))
	}
	return strings.Join(parts, "; ")
}
