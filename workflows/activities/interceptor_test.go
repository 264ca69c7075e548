package activities_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/workflows/activities"
	"github.com/masscustom/orchestrator/workflows/refusal"
)

// Through the activities' interceptor a refusal (a coded service error, or a
// database error that says the input is bad) is never retried and is logged
// at INFO, since any party can cause one; a fault stays retryable and is
// logged at ERROR.
func TestInterceptorRefusesBadInputAtInfoAndLeavesFaultsToRetryAtError(t *testing.T) {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(prev) })

	tests := []struct {
		name    string
		err     error
		refused bool
		level   string
	}{
		{"coded refusal", errs.New(errs.IllegalState, []string{"input", "seq"}, "stage 20 starts after stage 10"), true, "INFO"},
		{"NUL reaching Postgres", &pgconn.PgError{Code: "22021", Message: "invalid byte sequence for encoding \"UTF8\": 0x00"}, true, "INFO"},
		{"fault", errors.New("connection refused"), false, "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf.Reset()
			var s testsuite.WorkflowTestSuite
			env := s.NewTestActivityEnvironment()
			env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{activities.Interceptor()}})
			env.RegisterActivityWithOptions(func(context.Context) error { return tt.err }, activity.RegisterOptions{Name: "Probe"})
			_, err := env.ExecuteActivity("Probe")
			if err == nil {
				t.Fatal("the activity's error was lost")
			}
			var app *temporal.ApplicationError
			nonRetryable := errors.As(err, &app) && app.NonRetryable()
			if _, ok := refusal.Decode(err); ok != tt.refused || nonRetryable != tt.refused {
				t.Errorf("refusal %v, non-retryable %v; want both %v (err %v)", ok, nonRetryable, tt.refused, err)
			}
			if log := buf.String(); !strings.Contains(log, `"level":"`+tt.level+`"`) || strings.Contains(log, `"level":"ERROR"`) != (tt.level == "ERROR") {
				t.Errorf("logged %q, want one line at %s", log, tt.level)
			}
		})
	}
}
