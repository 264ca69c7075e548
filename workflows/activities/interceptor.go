package activities

import (
	"context"
	"log/slog"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"

	"github.com/masscustom/orchestrator/workflows/refusal"
)

// Interceptor classifies what every activity (local or not) returns, so that
// no input can make an activity retry: a coded service error or a database
// error that says the input is bad (SQLSTATE classes 22 and 23) becomes a
// refusal, which is not retried. It logs refusals at INFO, since any party can
// cause them, and faults at ERROR.
func Interceptor() interceptor.WorkerInterceptor { return &workerInterceptor{} }

type workerInterceptor struct {
	interceptor.WorkerInterceptorBase
}

func (*workerInterceptor) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	i := &activityInbound{}
	i.Next = next
	return i
}

type activityInbound struct {
	interceptor.ActivityInboundInterceptorBase
}

func (a *activityInbound) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	res, err := a.Next.ExecuteActivity(ctx, in)
	if err == nil {
		return res, nil
	}
	err = refusal.From(err)
	info := activity.GetInfo(ctx)
	attrs := []any{"activity", info.ActivityType.Name, "workflow_id", info.WorkflowExecution.ID, "attempt", info.Attempt}
	if list, ok := refusal.Decode(err); ok {
		slog.InfoContext(ctx, "activity refused", append(attrs, "refusal", refusal.Message(list))...)
	} else if ctx.Err() == nil {
		slog.ErrorContext(ctx, "activity failed", append(attrs, "err", err)...)
	}
	return res, err
}
