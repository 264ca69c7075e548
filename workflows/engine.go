package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Versioning. Orders run through their warranty and leases for years, so at
// any time some workflow runs on code older than the worker's. A change that
// would make the code issue other commands for a recorded history takes a
// versioned branch: workflow.GetVersion(ctx, <change id>, DefaultVersion, N),
// called once where the run starts, keeps the old commands for runs that
// began before it and the new ones for runs that begin after. The golden
// histories in testdata/golden (one set per code version, never rewritten)
// replay in CI against the current code.
const (
	// ChangeLocalWrites: from version 1 on, every short write of a workflow
	// (one Postgres transaction) runs as a local activity inside the workflow
	// task instead of as an activity dispatched through the server.
	ChangeLocalWrites = "local-writes"
	// ChangeSourcingReports: from version 1 on, an order starts its Sourcing
	// children with ReportsToOrder, so that they report holds and
	// resumptions to it and the order's workflow alone writes its status.
	ChangeSourcingReports = "sourcing-reports-to-order"
)

// effects runs a workflow's effects on the shape its run started with.
type effects struct {
	local bool // ChangeLocalWrites >= 1
}

// newEffects reads (or records, for a new run) the run's versions. It is
// called once, before any handler is registered.
func newEffects(ctx workflow.Context) effects {
	return effects{local: workflow.GetVersion(ctx, ChangeLocalWrites, workflow.DefaultVersion, 1) >= 1}
}

// write runs one short, idempotent Postgres transaction: a local activity
// (no server round trip), or an activity for runs started before
// ChangeLocalWrites. Its options come from writeOptions.
func (e effects) write(ctx workflow.Context, fn any, args ...any) workflow.Future {
	if e.local {
		return workflow.ExecuteLocalActivity(ctx, fn, args...)
	}
	return workflow.ExecuteActivity(ctx, fn, args...)
}

// writeOptions sets the timeout and retries of short writes, for both ways
// of running them, and of the few activities that stay activities (work that
// may be long). attempts 0 retries until the workflow ends.
func writeOptions(ctx workflow.Context, timeout, maxInterval time.Duration, attempts int32) workflow.Context {
	retry := &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: maxInterval, MaximumAttempts: attempts}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: timeout, RetryPolicy: retry})
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: timeout, RetryPolicy: retry})
}
