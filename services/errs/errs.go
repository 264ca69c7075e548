// Package errs carries the coded errors that services return and the gateway maps:
// domain refusals become payload errors, the rest top-level errors with a code.
package errs

import (
	"errors"
	"fmt"
)

// Code classifies a refusal. The values match the GraphQL ErrorCode enum, plus
// UNAUTHENTICATED, which is only ever a top-level error.
type Code string

// The codes a service may return.
const (
	InvalidInput    Code = "INVALID_INPUT"
	NotFound        Code = "NOT_FOUND"
	Forbidden       Code = "FORBIDDEN"
	AlreadyExists   Code = "ALREADY_EXISTS"
	IllegalState    Code = "ILLEGAL_STATE"
	Unauthenticated Code = "UNAUTHENTICATED"
)

// Error is a refusal with a code, the input path at fault, and a message for people.
type Error struct {
	Code    Code
	Field   []string
	Message string
}

func (e *Error) Error() string {
	if len(e.Field) > 0 {
		return fmt.Sprintf("%s: %s (%v)", e.Code, e.Message, e.Field)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Is makes errors.Is(err, errs.ErrForbidden) match any error of the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Sentinels for errors.Is; compare by code.
var (
	ErrUnauthenticated = &Error{Code: Unauthenticated}
	ErrForbidden       = &Error{Code: Forbidden}
	ErrNotFound        = &Error{Code: NotFound}
	ErrInvalidInput    = &Error{Code: InvalidInput}
	ErrAlreadyExists   = &Error{Code: AlreadyExists}
	ErrIllegalState    = &Error{Code: IllegalState}
)

// New returns a coded error about the input field at path (may be nil).
func New(code Code, path []string, format string, args ...any) *Error {
	return &Error{Code: code, Field: path, Message: fmt.Sprintf(format, args...)}
}

// Invalid is New(InvalidInput, ...).
func Invalid(path []string, format string, args ...any) *Error {
	return New(InvalidInput, path, format, args...)
}

// As returns the coded error inside err, if any.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// List is several refusals at once, for inputs with more than one fault.
type List []*Error

func (l List) Error() string {
	if len(l) == 0 {
		return "no errors"
	}
	return fmt.Sprintf("%s (and %d more)", l[0].Error(), len(l)-1)
}
