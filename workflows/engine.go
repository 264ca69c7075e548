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
	// ChangeSettleAfterQA: from version 1 on, the leased-usage settlement of
	// a finished job (an activity, which may be long) runs on the main line
	// after the QA update has answered, not inside it.
	ChangeSettleAfterQA = "settle-after-qa"
	// ChangeHandlersAndSuggestedContinue: from version 1 on, a run waits for
	// all its update handlers to finish before it completes, and the long
	// waits (the warranty, a lease) continue as new also when the server
	// suggests it.
	ChangeHandlersAndSuggestedContinue = "handlers-finish-and-suggested-continue"
)

// effects runs a workflow's effects on the shape its run started with.
type effects struct {
	local bool // ChangeLocalWrites >= 1
}

// newEffects reads (or records, for a new run) the run's versions. It is
// called once, before any handler is registered.
func newEffects(ctx workflow.Context) effects {
	return effects{local: version(ctx, ChangeLocalWrites, 1) >= 1}
}

// version is workflow.GetVersion, or DefaultVersion for a run started as the
// release before these changes ran it (asBefore).
func version(ctx workflow.Context, change string, max workflow.Version) workflow.Version {
	if asBefore(ctx) {
		return workflow.DefaultVersion
	}
	return workflow.GetVersion(ctx, change, workflow.DefaultVersion, max)
}

// beforeKey marks a run that takes every versioned branch's DefaultVersion
// without recording a marker: the commands the release before the changes
// issued. Only the compatibility test sets it (export_test.go), to start an
// order on the previous release's shape and finish it on this code.
type beforeKey struct{}

func asBefore(ctx workflow.Context) bool { return ctx.Value(beforeKey{}) != nil }

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

// turn serializes a workflow's changes of state: each main-line step and each
// update handler's effect holds the turn (a workflow.Mutex) while it runs its
// writes, so a handler never interleaves with a step or another handler, and
// the main line waits on conditions only with the turn free. Order and
// Sourcing share it.
type turn struct{ mu workflow.Mutex }

func newTurn(ctx workflow.Context) *turn { return &turn{mu: workflow.NewMutex(ctx)} }

// free reports whether nobody holds the turn.
func (t *turn) free() bool { return !t.mu.IsLocked() }

// step runs fn holding the turn.
func (t *turn) step(ctx workflow.Context, fn func() error) error {
	if err := t.mu.Lock(ctx); err != nil {
		return err
	}
	defer t.mu.Unlock()
	return fn()
}

// await waits until cond holds with the turn free, or until timeout (0: no
// timeout). It reports whether cond held; an update holding the turn right
// at the deadline finishes first, and counts.
func (t *turn) await(ctx workflow.Context, timeout time.Duration, cond func() bool) (bool, error) {
	ready := func() bool { return t.free() && cond() }
	if timeout <= 0 {
		return true, workflow.Await(ctx, ready)
	}
	ok, err := workflow.AwaitWithTimeout(ctx, timeout, ready)
	if err != nil || ok {
		return ok, err
	}
	if err := workflow.Await(ctx, t.free); err != nil {
		return false, err
	}
	return cond(), nil
}

// awaitUntil is await with a deadline; one that has passed checks cond once
// the turn is free.
func (t *turn) awaitUntil(ctx workflow.Context, deadline time.Time, cond func() bool) (bool, error) {
	if wait := deadline.Sub(workflow.Now(ctx)); wait > 0 {
		return t.await(ctx, wait, cond)
	}
	if err := workflow.Await(ctx, t.free); err != nil {
		return false, err
	}
	return cond(), nil
}

// exclusive runs an update's effect holding the turn, after checking again,
// once it has the turn, that the update is still legal (its validator ran
// before, when another step may have been under way). It answers state()
// as it is afterwards.
func exclusive[S any](ctx workflow.Context, t *turn, check, effect func() error, state func() S) (S, error) {
	if err := t.mu.Lock(ctx); err != nil {
		return state(), err
	}
	defer t.mu.Unlock()
	if err := check(); err != nil {
		return state(), err
	}
	err := effect()
	return state(), err
}
