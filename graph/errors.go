package graph

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/masscustom/orchestrator/graph/model"
	"github.com/masscustom/orchestrator/services/errs"
)

// userErrors turns a service error into payload errors when it is a domain
// refusal. Anything else (a fault) is returned as the second value, to become a
// top-level INTERNAL error. UNAUTHENTICATED stays top-level as the design says.
func userErrors(err error) ([]*model.UserError, error) {
	if err == nil {
		return []*model.UserError{}, nil
	}
	var list errs.List
	if errors.As(err, &list) {
		out := make([]*model.UserError, 0, len(list))
		for _, e := range list {
			out = append(out, toUserError(e))
		}
		return out, nil
	}
	if e, ok := errs.As(err); ok {
		if e.Code == errs.Unauthenticated {
			return nil, err
		}
		return []*model.UserError{toUserError(e)}, nil
	}
	return nil, err
}

func toUserError(e *errs.Error) *model.UserError {
	field := e.Field
	if field == nil {
		field = []string{}
	}
	return &model.UserError{Code: model.ErrorCode(e.Code), Field: field, Message: messageOf(e)}
}

// defaultMessages word a coded error that came without a message (a sentinel
// such as errs.ErrNotFound returned as it is): every error reaches the client
// with a message.
var defaultMessages = map[errs.Code]string{
	errs.InvalidInput:    "the input is invalid",
	errs.NotFound:        "no such object, or it is not visible to you",
	errs.Forbidden:       "you may not do this",
	errs.AlreadyExists:   "it exists already",
	errs.IllegalState:    "this is not possible in the object's current state",
	errs.Unauthenticated: "a valid bearer token is required",
}

func messageOf(e *errs.Error) string {
	if e.Message != "" {
		return e.Message
	}
	if m, ok := defaultMessages[e.Code]; ok {
		return m
	}
	if e.Code != "" {
		return strings.ToLower(strings.ReplaceAll(string(e.Code), "_", " "))
	}
	return "the request failed"
}

// ErrorPresenter gives every top-level error an extensions.code: the service's
// code for coded errors, INTERNAL (with the cause only in the log) for faults;
// and always a message.
func ErrorPresenter(ctx context.Context, err error) *gqlerror.Error {
	gerr := present(ctx, err)
	if gerr.Message == "" {
		code, _ := gerr.Extensions["code"].(string)
		gerr.Message = messageOf(&errs.Error{Code: errs.Code(code)})
	}
	return gerr
}

func present(ctx context.Context, err error) *gqlerror.Error {
	gerr := graphql.DefaultErrorPresenter(ctx, err)
	if gerr.Extensions != nil && gerr.Extensions["code"] != nil {
		return gerr
	}
	if e, ok := errs.As(err); ok {
		if gerr.Extensions == nil {
			gerr.Extensions = map[string]any{}
		}
		gerr.Message = messageOf(e)
		gerr.Extensions["code"] = string(e.Code)
		if len(e.Field) > 0 {
			gerr.Extensions["field"] = e.Field
		}
		return gerr
	}
	if coded, ok := argumentError(ctx, err); ok {
		return coded
	}
	var ge *gqlerror.Error
	if errors.As(err, &ge) && ge.Err == nil {
		// Errors raised by gqlgen itself (argument coercion and the like) are the caller's.
		if gerr.Extensions == nil {
			gerr.Extensions = map[string]any{}
		}
		gerr.Extensions["code"] = "BAD_USER_INPUT"
		return gerr
	}
	if strings.HasSuffix(err.Error(), "introspection disabled") {
		// gqlgen reports this as a plain error ("__schema introspection
		// disabled" and the like, with a position); it is the caller's, not ours.
		gerr.Extensions = map[string]any{"code": "INTROSPECTION_DISABLED"}
		return gerr
	}
	if busy(err) {
		slog.WarnContext(ctx, "platform did not answer in time", "err", err, "path", graphql.GetPath(ctx).String())
		return &gqlerror.Error{
			Message:    "the platform did not answer in time; send the same request again (with its idempotency key, a retry is never carried out twice)",
			Path:       graphql.GetPath(ctx),
			Extensions: map[string]any{"code": "UNAVAILABLE"},
		}
	}
	slog.ErrorContext(ctx, "internal error", "err", err, "path", graphql.GetPath(ctx).String())
	return &gqlerror.Error{
		Message:    "internal error",
		Path:       graphql.GetPath(ctx),
		Extensions: map[string]any{"code": "INTERNAL"},
	}
}

// RecoverFunc turns a resolver panic into an INTERNAL error instead of crashing the request.
func RecoverFunc(ctx context.Context, p any) error {
	slog.ErrorContext(ctx, "resolver panic", "panic", p)
	return &gqlerror.Error{Message: "internal error", Extensions: map[string]any{"code": "INTERNAL"}}
}

// busy reports an error that says only that something did not answer in
// time (a deadline, an update the server stopped waiting for, Temporal
// unavailable): the request may be sent again, not a fault of ours to hide.
func busy(err error) bool {
	var update *client.WorkflowUpdateServiceTimeoutOrCanceledError
	var deadline *serviceerror.DeadlineExceeded
	var unavailable *serviceerror.Unavailable
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &update) || errors.As(err, &deadline) || errors.As(err, &unavailable)
}
