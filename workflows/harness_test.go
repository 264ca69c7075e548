package workflows_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/production"
	"github.com/masscustom/orchestrator/workflows"
	"github.com/masscustom/orchestrator/workflows/activities"
	"github.com/masscustom/orchestrator/workflows/refusal"
)

// The harness runs the order workflow in the SDK's test environment with every
// activity mocked and the Sourcing children stubbed. Mocks keep what they were
// given, so a test asserts the exact timeline the workflow asked Postgres to
// record. Time is the environment's mock clock (it skips ahead whenever no
// activity runs); nothing here depends on the wall clock except the safety
// limit of waitDecided. A workflow that waits forever ends, in mock time, at
// the environment's 10-year run timeout: run reports that it never ended.

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
	// callsBefore counts the activity calls made before the update completed.
	callsBefore map[string]int
}

type harness struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment
	in  workflows.OrderInput

	mu         sync.Mutex
	seq        int64
	records    []activities.Transition
	recordedAt []time.Time // mock time of each record
	prepared   []string
	changes    []activities.Change
	comps      []activities.Compensation
	calls      map[string]int
	log        []string            // activity calls in order
	hooks      map[string][]func() // "PrepareDesign#2": run inside that call, in order
	refusals   map[string]error    // "ReportStage#2": that call fails with the error
	updates    map[string]*outcome
	// applyChange answers ApplyDesignChange; by default it moves to the next
	// configuration version.
	applyChange func(activities.Change) (activities.ChangeResult, error)

	// After the design.
	production activities.Production     // what AssignProduction answers
	lines      []activities.MaterialLine // what PlanProcurement answers
	sourcing   []*sourcingRun
	// decide is the production service's scrap decision on a finished stage
	// (REWORK, REPROCURE with the units to buy again, ESCALATE); by default NONE.
	decide     func(activities.StageCommand) (action string, units int)
	stages     []activities.StageCommand
	stagesDone map[int]bool
	qa         []activities.QACommand
	shipment   activities.Shipment
	tracks     []activities.TrackCommand
	receipts   []receiptCall
	warranties []warrantyCall
	tickets    []*activities.TicketState
	ticketCmds []activities.TicketCommand
	counts     []int // what each OpenTicketCount answered
}

// sourcingRun is one Sourcing child the order started, and how it ended:
// "" while it runs, "done" once released, "cancelled".
type sourcingRun struct {
	in  workflows.SourcingInput
	end string
}

type receiptCall struct {
	orderID   string
	principal identity.Principal
	auto      bool
	at        time.Time
}

type warrantyCall struct {
	orderID, factoryID string
	startsAt           time.Time
	duration           time.Duration
}

// What the production, logistics and after-sales mocks answer.
var (
	assignedFactory = "fac70000-0000-4000-8000-000000000001"
	productionOrder = "b0d00000-0000-4000-8000-000000000001"
	bookedCarrier   = "ca770000-0000-4000-8000-000000000001"
	bookedShipment  = "5e1d0000-0000-4000-8000-000000000001"
	trackingNumber  = "MC-2030-0001"
	steelLine       = activities.MaterialLine{Line: 1, Material: "steel-sheet-1.2mm", Unit: "kg", Quantity: decimal.RequireFromString("4")}
	coatLine        = activities.MaterialLine{Line: 2, Material: "powder-coat-red", Unit: "kg", Quantity: decimal.RequireFromString("0.5")}
)

// releaseSourcing is the signal that completes a stubbed Sourcing child: its
// materials are received.
const releaseSourcing = "test-release"

func newHarness(t *testing.T, timeout time.Duration) *harness {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(testLogger(t))
	h := &harness{
		t:          t,
		env:        suite.NewTestWorkflowEnvironment(),
		in:         workflows.OrderInput{OrderID: testOrderID, DesignApprovalTimeout: timeout},
		calls:      map[string]int{},
		hooks:      map[string][]func(){},
		refusals:   map[string]error{},
		updates:    map[string]*outcome{},
		production: activities.Production{ID: productionOrder, FactoryID: assignedFactory, Stages: 3, Quantity: 2},
		lines:      []activities.MaterialLine{steelLine, coatLine},
		shipment:   activities.Shipment{ID: bookedShipment, CarrierID: bookedCarrier, TrackingNumber: trackingNumber},
		decide:     func(activities.StageCommand) (string, int) { return "NONE", 0 },
		stagesDone: map[int]bool{},
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
			h.recordedAt = append(h.recordedAt, h.now())
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
	h.mockFulfilment(a)
	return h
}

// mockFulfilment mocks the activities after the design and stubs the
// Sourcing child.
func (h *harness) mockFulfilment(a *activities.Activities) {
	h.env.OnActivity(a.AssignProduction, mock.Anything, mock.Anything).Return(
		func(context.Context, string) (activities.Production, error) {
			if err := h.enter("AssignProduction"); err != nil {
				return activities.Production{}, err
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.production, nil
		})
	h.env.OnActivity(a.PlanProcurement, mock.Anything, mock.Anything).Return(
		func(context.Context, string) ([]activities.MaterialLine, error) {
			if err := h.enter("PlanProcurement"); err != nil {
				return nil, err
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			return append([]activities.MaterialLine(nil), h.lines...), nil
		})
	// A stub registered in the real one's place, not a mock: the environment
	// tells the parent that a mocked child started only once the mock returns,
	// so a blocking mock could never be cancelled.
	h.env.RegisterWorkflowWithOptions(h.sourcingStub, workflow.RegisterOptions{Name: workflows.SourcingWorkflow, DisableAlreadyRegisteredCheck: true})
	h.env.OnActivity(a.CancelProduction, mock.Anything, mock.Anything).Return(
		func(context.Context, string) error { return h.enter("CancelProduction") })
	h.env.OnActivity(a.ReportStage, mock.Anything, mock.Anything).Return(
		func(_ context.Context, c activities.StageCommand) (activities.StageOutcome, error) {
			if err := h.enter("ReportStage"); err != nil {
				return activities.StageOutcome{}, err
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			h.stages = append(h.stages, c)
			out := activities.StageOutcome{Status: "IN_PROGRESS"}
			if c.Finished {
				out.Action, out.Quantity = h.decide(c)
				if out.Action != "REWORK" && out.Action != "REPROCURE" {
					h.stagesDone[c.Seq] = true
				}
				if len(h.stagesDone) == h.production.Stages {
					out.Status = "QA"
				}
			}
			out.Percent = decimal.NewFromInt(int64(100 * len(h.stagesDone))).Div(decimal.NewFromInt(int64(h.production.Stages))).Round(1).String()
			out.Plan = h.advancePlan(c)
			return out, nil
		})
	h.env.OnActivity(a.RecordQA, mock.Anything, mock.Anything).Return(
		func(_ context.Context, c activities.QACommand) (string, error) {
			if err := h.enter("RecordQA"); err != nil {
				return "", err
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			h.qa = append(h.qa, c)
			if c.Passed {
				return "PASSED", nil
			}
			return "FAILED", nil
		})
	h.env.OnActivity(a.BookShipment, mock.Anything, mock.Anything).Return(
		func(context.Context, string) (activities.Shipment, error) {
			if err := h.enter("BookShipment"); err != nil {
				return activities.Shipment{}, err
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.shipment, nil
		})
	h.env.OnActivity(a.Track, mock.Anything, mock.Anything).Return(
		func(_ context.Context, c activities.TrackCommand) (activities.Tracked, error) {
			if err := h.enter("Track"); err != nil {
				return activities.Tracked{}, err
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			h.tracks = append(h.tracks, c)
			out := activities.Tracked{Status: c.Kind}
			if c.Kind == "DELIVERED" {
				at := h.now()
				out.DeliveredAt = &at
			}
			return out, nil
		})
	h.env.OnActivity(a.ConfirmReceipt, mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(
		func(_ context.Context, orderID string, p identity.Principal, auto bool) error {
			if err := h.enter("ConfirmReceipt"); err != nil {
				return err
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			h.receipts = append(h.receipts, receiptCall{orderID: orderID, principal: p, auto: auto, at: h.now()})
			return nil
		})
	h.env.OnActivity(a.StartWarranty, mock.Anything, mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(
		func(_ context.Context, orderID, factoryID string, startsAt time.Time, d time.Duration) (time.Time, error) {
			if err := h.enter("StartWarranty"); err != nil {
				return time.Time{}, err
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			h.warranties = append(h.warranties, warrantyCall{orderID: orderID, factoryID: factoryID, startsAt: startsAt, duration: d})
			return startsAt.Add(d), nil
		})
	ticket := func(name, status string) func(context.Context, activities.TicketCommand) (activities.TicketState, error) {
		return func(_ context.Context, c activities.TicketCommand) (activities.TicketState, error) {
			if err := h.enter(name); err != nil {
				return activities.TicketState{}, err
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			h.ticketCmds = append(h.ticketCmds, c)
			if name == "OpenTicket" {
				n := len(h.tickets) + 1
				t := &activities.TicketState{ID: ticketID(n), Number: n, Status: status}
				h.tickets = append(h.tickets, t)
				return *t, nil
			}
			for _, t := range h.tickets {
				if t.ID == c.TicketID {
					t.Status = status
					return *t, nil
				}
			}
			return activities.TicketState{}, refusal.Newf(errs.NotFound, "no ticket %s", c.TicketID)
		}
	}
	h.env.OnActivity(a.SettleProductionUsage, mock.Anything, mock.Anything).Return(
		func(context.Context, string) (activities.LeasedUsage, error) {
			return activities.LeasedUsage{Total: "0"}, h.enter("SettleProductionUsage")
		})
	h.env.OnActivity(a.OpenTicket, mock.Anything, mock.Anything).Return(ticket("OpenTicket", "OPEN"))
	h.env.OnActivity(a.DispatchTicket, mock.Anything, mock.Anything).Return(ticket("DispatchTicket", "DISPATCHED"))
	h.env.OnActivity(a.ResolveTicket, mock.Anything, mock.Anything).Return(ticket("ResolveTicket", "RESOLVED"))
	h.env.OnActivity(a.OpenTicketCount, mock.Anything, mock.Anything).Return(
		func(context.Context, string) (int, error) {
			if err := h.enter("OpenTicketCount"); err != nil {
				return 0, err
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			open := 0
			for _, t := range h.tickets {
				if t.Status != "RESOLVED" {
					open++
				}
			}
			h.counts = append(h.counts, open)
			return open, nil
		})
}

// sourcingStub stands in for the Sourcing child: it runs until the test
// releases it (its materials are received) or the order cancels it.
func (h *harness) sourcingStub(ctx workflow.Context, in workflows.SourcingInput) (workflows.SourcingResult, error) {
	run := &sourcingRun{in: in}
	h.mu.Lock()
	h.sourcing = append(h.sourcing, run)
	h.mu.Unlock()
	released := false
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(workflow.GetSignalChannel(ctx, releaseSourcing), func(c workflow.ReceiveChannel, _ bool) {
		c.Receive(ctx, nil)
		released = true
	})
	sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
	sel.Select(ctx)
	h.mu.Lock()
	defer h.mu.Unlock()
	if !released {
		run.end = "cancelled"
		return workflows.SourcingResult{}, ctx.Err()
	}
	run.end = "done"
	return workflows.SourcingResult{OrderID: in.OrderID, Line: in.Line, Material: in.Material, Quantity: in.Quantity}, nil
}

// advancePlan applies a stage report to the harness's production order, as
// the production service would, and returns the copy the workflow keeps
// (nil when the test gives the order none). The caller holds h.mu.
func (h *harness) advancePlan(c activities.StageCommand) *production.Order {
	p := h.production.Plan
	if p == nil {
		return nil
	}
	next := *p
	next.Stages = slices.Clone(p.Stages)
	for i := len(next.Stages) - 1; i >= 0; i-- {
		st := &next.Stages[i]
		if st.Seq != c.Seq {
			continue
		}
		if c.Finished {
			good, scrap := c.Good, c.Scrap
			st.Status, st.GoodQuantity, st.ScrapQuantity = production.StageDone, &good, &scrap
		} else if st.Status == production.StagePending {
			in := next.Quantity
			st.Status, st.InputQuantity = production.StageStarted, &in
		}
		break
	}
	next.Status = production.StatusInProgress
	if next.AllDone() {
		next.Status = production.StatusQA
	}
	h.production.Plan = &next
	return &next
}

// ticketID is the id of the n-th ticket the OpenTicket mock opens.
func ticketID(n int) string { return fmt.Sprintf("71c40000-0000-4000-8000-%012d", n) }

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

// now is the mock clock's time, in UTC as the workflow records it.
func (h *harness) now() time.Time { return h.env.Now().UTC() }

func (h *harness) nextSeq() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	return h.seq
}

// enter counts a call of activity name, runs its hooks, if any, and returns
// the error the call must fail with, if one was arranged (refuse).
func (h *harness) enter(name string) error {
	h.mu.Lock()
	h.calls[name]++
	h.log = append(h.log, name)
	key := fmt.Sprintf("%s#%d", name, h.calls[name])
	hooks, err := h.hooks[key], h.refusals[key]
	h.mu.Unlock()
	for _, hook := range hooks {
		hook()
	}
	return err
}

// refuse makes the n-th call of activity name (from 1) fail with err.
func (h *harness) refuse(name string, n int, err error) {
	h.refusals[fmt.Sprintf("%s#%d", name, n)] = err
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
			o.callsBefore = maps.Clone(h.calls)
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
	h.execute()
	err := h.env.GetWorkflowError()
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		// The environment ends a workflow that still runs when its mock clock
		// reaches the run timeout (10 years): one that waits forever.
		h.t.Fatalf("the workflow never ended (%v)\nrecorded:\n  %s\nsourcing children:\n  %s",
			err, strings.Join(h.timeline(), "\n  "), strings.Join(h.sourcingRuns(), "\n  "))
	}
	if err != nil {
		h.t.Fatalf("workflow failed: %v", err)
	}
}

// execute runs the workflow until it ends, one way or another.
func (h *harness) execute() {
	h.t.Helper()
	h.env.ExecuteWorkflow(workflows.OrderWorkflow, h.in)
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("workflow did not complete")
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

// calls returns the activity calls made so far, in order.
func (h *harness) callLog() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.log...)
}

// sourcingRuns describes the Sourcing children started so far, by line (the
// children of one round start in no particular order), as "line material
// quantity end".
func (h *harness) sourcingRuns() []string {
	h.mu.Lock()
	runs := slices.Clone(h.sourcing)
	h.mu.Unlock()
	slices.SortStableFunc(runs, func(a, b *sourcingRun) int { return cmp.Compare(a.in.Line, b.in.Line) })
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, len(runs))
	for i, r := range runs {
		end := r.end
		if end == "" {
			end = "running"
		}
		out[i] = fmt.Sprintf("%d %s %s %s", r.in.Line, r.in.Material, r.in.Quantity, end)
	}
	return out
}

func (h *harness) requireSourcing(want ...string) {
	h.t.Helper()
	if got := h.sourcingRuns(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		h.t.Fatalf("sourcing children:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// release completes the running Sourcing children of the given lines; call it
// on the environment's loop.
func (h *harness) release(lines ...int) {
	for _, l := range lines {
		if err := h.env.SignalWorkflowByID(workflows.SourcingWorkflowID(testOrderID, l), releaseSourcing, nil); err != nil {
			h.t.Errorf("release sourcing line %d: %v", l, err)
		}
	}
}

// cancelledWithProductionStopped requires that the order stopped its
// production and then compensated, once, as the last activities it ran.
func (h *harness) cancelledWithProductionStopped() activities.Compensation {
	h.t.Helper()
	c := h.compensatedOnce()
	log := h.callLog()
	if n := h.callCount("CancelProduction"); n != 1 || len(log) < 2 || log[len(log)-2] != "CancelProduction" || log[len(log)-1] != "Compensate" {
		h.t.Fatalf("activities called: %v; want CancelProduction once, then Compensate, last", log)
	}
	return c
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

// errType is the code of a refusal (package refusal), or the type of another
// ApplicationError.
func errType(err error) string {
	if code := refusal.Code(err); code != "" {
		return string(code)
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Type()
	}
	return ""
}
