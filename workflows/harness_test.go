package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/masscustom/orchestrator/workflows"
	"github.com/masscustom/orchestrator/workflows/activities"
)

// The harness runs the order workflow in the SDK's test environment with every
// activity mocked. Mocks keep what they were given, so a test asserts the exact
// timeline the workflow asked Postgres to record. Time is the environment's
// mock clock (it skips ahead whenever no activity runs); nothing here depends on
// the wall clock except the safety limit of waitDecided.

const testOrderID = "5b0e7a52-3c1d-4b8e-9f4a-2d6c8e1f0a37"

// start is the mock clock at the workflow's start, so deadlines are exact.
var start = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// outcome is what became of one update.
type outcome struct {
	accepted  bool
	rejected  error
	completed bool
	result    workflows.OrderState
	err       error // the handler's error, when accepted
	before    workflows.OrderState
	after     workflows.OrderState // queried right after a rejection
	settled   chan struct{}        // closed once accepted, or rejected and after is known
}

type harness struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment
	in  workflows.OrderInput

	mu       sync.Mutex
	seq      int64
	records  []activities.Transition
	prepared []string
	changes  []activities.Change
	comps    []activities.Compensation
	calls    map[string]int
	hooks    map[string][]func() // "PrepareDesign#2": run inside that call, in order
	updates  map[string]*outcome
	// applyChange answers ApplyDesignChange; by default it moves to the next
	// configuration version.
	applyChange func(activities.Change) (activities.ChangeResult, error)
}

func newHarness(t *testing.T, timeout time.Duration) *harness {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(testLogger(t))
	h := &harness{
		t:       t,
		env:     suite.NewTestWorkflowEnvironment(),
		in:      workflows.OrderInput{OrderID: testOrderID, DesignApprovalTimeout: timeout},
		calls:   map[string]int{},
		hooks:   map[string][]func(){},
		updates: map[string]*outcome{},
	}
	h.env.SetStartTime(start)
	version := 1
	h.applyChange = func(activities.Change) (activities.ChangeResult, error) {
		version++
		return activities.ChangeResult{ConfigVersion: version, Seq: h.nextSeq()}, nil
	}

	// Register as the worker does, then mock each method of that instance.
	a := &activities.Activities{}
	workflows.Register(h.env, a)
	h.env.OnActivity(a.Record, mock.Anything, mock.Anything).Return(
		func(_ context.Context, tr activities.Transition) (int64, error) {
			h.enter("Record")
			h.mu.Lock()
			h.records = append(h.records, tr)
			h.mu.Unlock()
			return h.nextSeq(), nil
		})
	h.env.OnActivity(a.PrepareDesign, mock.Anything, mock.Anything).Return(
		func(_ context.Context, orderID string) (activities.Design, error) {
			h.enter("PrepareDesign")
			h.mu.Lock()
			h.prepared = append(h.prepared, orderID)
			h.mu.Unlock()
			return activities.Design{ConfigVersion: 1, Materials: 4, Stages: 3}, nil
		})
	h.env.OnActivity(a.ApplyDesignChange, mock.Anything, mock.Anything).Return(
		func(_ context.Context, c activities.Change) (activities.ChangeResult, error) {
			h.enter("ApplyDesignChange")
			h.mu.Lock()
			h.changes = append(h.changes, c)
			apply := h.applyChange
			h.mu.Unlock()
			return apply(c)
		})
	h.env.OnActivity(a.Compensate, mock.Anything, mock.Anything).Return(
		func(_ context.Context, c activities.Compensation) (int64, error) {
			h.enter("Compensate")
			h.mu.Lock()
			h.comps = append(h.comps, c)
			h.mu.Unlock()
			return h.nextSeq(), nil
		})
	return h
}

// testLogger logs warnings and errors through t, so they show only with -v or
// beside a failure.
func testLogger(t *testing.T) log.Logger {
	return log.NewStructuredLogger(slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (h *harness) nextSeq() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	return h.seq
}

// enter counts a call of activity name and runs its hook, if any.
func (h *harness) enter(name string) {
	h.mu.Lock()
	h.calls[name]++
	hooks := h.hooks[fmt.Sprintf("%s#%d", name, h.calls[name])]
	h.mu.Unlock()
	for _, hook := range hooks {
		hook()
	}
}

// during runs fn inside the n-th call of activity name (from 1), before the
// mock answers: the workflow is then blocked on that activity.
func (h *harness) during(name string, n int, fn func()) {
	key := fmt.Sprintf("%s#%d", name, n)
	h.hooks[key] = append(h.hooks[key], fn)
}

// at runs fn on the environment's loop d after the start (mock time).
func (h *harness) at(d time.Duration, fn func()) { h.env.RegisterDelayedCallback(fn, d) }

// sendAt sends update name d after the start; its outcome is kept under id.
func (h *harness) sendAt(d time.Duration, id, name string, arg any) {
	h.at(d, func() { h.send(id, name, arg) })
}

// sendDuring sends update name while the n-th call of activity runs, and lets
// that activity finish only once the update was accepted or rejected.
func (h *harness) sendDuring(activity string, n int, id, name string, arg any) {
	h.during(activity, n, func() { h.sendFromActivity(id, name, arg) })
}

// sendFromActivity hands update name to the environment's loop and waits
// until it is accepted or rejected; call it from an activity's mock.
func (h *harness) sendFromActivity(id, name string, arg any) {
	o := h.outcome(id)
	h.env.RegisterDelayedCallback(func() { h.send(id, name, arg) }, 0)
	h.waitDecided(id, o)
}

func (h *harness) outcome(id string) *outcome {
	h.mu.Lock()
	defer h.mu.Unlock()
	o, ok := h.updates[id]
	if !ok {
		o = &outcome{settled: make(chan struct{})}
		h.updates[id] = o
	}
	return o
}

// send runs on the environment's loop.
func (h *harness) send(id, name string, arg any) {
	o := h.outcome(id)
	before := h.state()
	h.mu.Lock()
	o.before = before
	h.mu.Unlock()
	h.env.UpdateWorkflow(name, id, &testsuite.TestUpdateCallback{
		OnAccept: func() {
			h.mu.Lock()
			o.accepted = true
			h.mu.Unlock()
			close(o.settled)
		},
		OnReject: func(err error) {
			h.mu.Lock()
			o.rejected = err
			h.mu.Unlock()
			// Query from the loop, once the rejecting workflow task is over.
			h.env.RegisterDelayedCallback(func() {
				after := h.state()
				h.mu.Lock()
				o.after = after
				h.mu.Unlock()
				close(o.settled)
			}, 0)
		},
		OnComplete: func(res any, err error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			o.completed, o.err = true, err
			if s, ok := res.(workflows.OrderState); ok {
				o.result = s
			}
		},
	}, arg)
}

func (h *harness) waitDecided(id string, o *outcome) {
	select {
	case <-o.settled:
	case <-time.After(10 * time.Second): // a safety limit, not a measured duration
		h.t.Errorf("update %s was neither accepted nor rejected", id)
	}
}

// state queries the workflow; call it on the environment's loop.
func (h *harness) state() workflows.OrderState {
	h.t.Helper()
	var s workflows.OrderState
	v, err := h.env.QueryWorkflow(workflows.QueryState)
	if err != nil {
		h.t.Errorf("query %s: %v", workflows.QueryState, err)
		return s
	}
	if err := v.Get(&s); err != nil {
		h.t.Errorf("decode %s: %v", workflows.QueryState, err)
	}
	return s
}

// stateAt keeps the workflow's state d after the start under *into.
func (h *harness) stateAt(d time.Duration, into *workflows.OrderState) {
	h.at(d, func() { *into = h.state() })
}

// run executes the workflow to its end and requires that it completed without error.
func (h *harness) run() {
	h.t.Helper()
	h.env.ExecuteWorkflow(workflows.OrderWorkflow, h.in)
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("workflow did not complete")
	}
	if err := h.env.GetWorkflowError(); err != nil {
		h.t.Fatalf("workflow failed: %v", err)
	}
}

// timeline is the recorded transitions as "key TYPE STAGE/STATUS".
func (h *harness) timeline() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, len(h.records))
	for i, r := range h.records {
		out[i] = fmt.Sprintf("%s %s %s/%s", r.Key, r.Type, r.Stage, r.Status)
	}
	return out
}

func (h *harness) record(key string) activities.Transition {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.records {
		if r.Key == key {
			return r
		}
	}
	h.t.Fatalf("no transition with key %q recorded", key)
	return activities.Transition{}
}

func (h *harness) requireTimeline(want ...string) {
	h.t.Helper()
	got := h.timeline()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		h.t.Fatalf("recorded timeline:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, r := range h.records {
		if r.OrderID != testOrderID {
			h.t.Errorf("transition %d (%s) recorded for order %q, want %q", i, r.Key, r.OrderID, testOrderID)
		}
	}
}

// compensations requires exactly one Compensate call and returns it.
func (h *harness) compensatedOnce() activities.Compensation {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.comps) != 1 {
		h.t.Fatalf("Compensate called %d times, want once: %+v", len(h.comps), h.comps)
	}
	return h.comps[0]
}

func (h *harness) callCount(activity string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[activity]
}

// got returns the outcome of update id.
func (h *harness) got(id string) outcome {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	o, ok := h.updates[id]
	if !ok {
		h.t.Fatalf("update %s was never sent", id)
	}
	return *o
}

// succeeded requires that update id was accepted and completed without error,
// and returns the state it answered.
func (h *harness) succeeded(id string) workflows.OrderState {
	h.t.Helper()
	o := h.got(id)
	switch {
	case o.rejected != nil:
		h.t.Fatalf("update %s rejected: %v", id, o.rejected)
	case !o.accepted || !o.completed:
		h.t.Fatalf("update %s: accepted %v, completed %v", id, o.accepted, o.completed)
	case o.err != nil:
		h.t.Fatalf("update %s failed: %v", id, o.err)
	}
	return o.result
}

// rejected requires that the validator refused update id with an
// ApplicationError of type typ, and that the workflow state did not change.
func (h *harness) rejected(id, typ string) {
	h.t.Helper()
	o := h.got(id)
	if o.accepted {
		h.t.Fatalf("update %s accepted (completed %v, err %v), want rejected with %s", id, o.completed, o.err, typ)
	}
	if got := errType(o.rejected); got != typ {
		h.t.Fatalf("update %s rejected with %v (type %q), want type %s", id, o.rejected, got, typ)
	}
	if !sameState(o.before, o.after) {
		h.t.Fatalf("rejected update %s changed the state:\n before %+v\n after  %+v", id, o.before, o.after)
	}
}

// failed requires that update id was accepted but completed with an
// ApplicationError of type typ.
func (h *harness) failed(id, typ string) {
	h.t.Helper()
	o := h.got(id)
	if !o.accepted || !o.completed {
		h.t.Fatalf("update %s: accepted %v, completed %v (rejected: %v), want it to fail with %s", id, o.accepted, o.completed, o.rejected, typ)
	}
	if got := errType(o.err); got != typ {
		h.t.Fatalf("update %s completed with %v (type %q), want type %s", id, o.err, got, typ)
	}
}

func sameState(a, b workflows.OrderState) bool {
	if !a.DesignDeadline.Equal(b.DesignDeadline) {
		return false
	}
	a.DesignDeadline, b.DesignDeadline = time.Time{}, time.Time{}
	return a == b
}

func errType(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Type()
	}
	return ""
}
