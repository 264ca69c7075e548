package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/mock"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/masscustom/orchestrator/internal/platform"
	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/orders"
	"github.com/masscustom/orchestrator/services/procurement"
	"github.com/masscustom/orchestrator/workflows"
	"github.com/masscustom/orchestrator/workflows/activities"
	"github.com/masscustom/orchestrator/workflows/refusal"
)

// The sourcing harness runs the sourcing workflow in the SDK's test
// environment with every procurement activity mocked by a small in-memory
// procurement desk: tasks keyed as the service keys them, a supplier list the
// test arranges (already in rank order: ranking itself is tested in
// services/procurement), and the timeline the workflow asked to record, as
// "key TYPE". Time is the environment's mock clock, from `start`.

const (
	srcOrderID = "9d2c4b1e-6f3a-4e8b-a5c7-1e2f3a4b5c6d"
	srcLine    = 2
	srcSLA     = time.Hour
	srcSteel   = "steel-sheet-1.2mm"
)

var (
	supplierA   = "a0000000-0000-4000-8000-00000000000a"
	supplierB   = "b0000000-0000-4000-8000-00000000000b"
	supplierC   = "c0000000-0000-4000-8000-00000000000c"
	srcFactory  = "f0000000-0000-4000-8000-00000000000f"
	srcUser     = "e0000000-0000-4000-8000-00000000000e"
	srcOperator = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	promised    = start.AddDate(0, 0, 7)
)

func q(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// task is the id of the task of the harness's line at an attempt.
func task(attempt int) string {
	return procurement.TaskID(uuid.MustParse(srcOrderID), srcLine, attempt).String()
}

func candidate(supplier, maxQty, price string) activities.SupplierCandidate {
	return activities.SupplierCandidate{SupplierID: supplier, UnitPrice: q(price), Currency: "CNY", LeadDays: 5, MaxQuantity: q(maxQty), Score: q("50")}
}

func accept(taskID, supplier, quantity string) workflows.AcceptOffer {
	return workflows.AcceptOffer{TaskID: taskID, ActorID: srcUser, ActorEnterpriseID: supplier, UnitPrice: q("12.50"), Quantity: q(quantity), PromisedDate: promised}
}

func reject(taskID, supplier, reason string) workflows.RejectOffer {
	return workflows.RejectOffer{TaskID: taskID, ActorID: srcUser, ActorEnterpriseID: supplier, Reason: reason}
}

func ship(taskID, supplier, quantity string) workflows.ReportShipment {
	return workflows.ReportShipment{TaskID: taskID, ActorID: srcUser, ActorEnterpriseID: supplier, Quantity: q(quantity)}
}

func receive(taskID, quantity string) workflows.ConfirmReceipt {
	return workflows.ConfirmReceipt{TaskID: taskID, ActorID: srcUser, ActorEnterpriseID: srcFactory, Quantity: q(quantity)}
}

var resumeSourcing = workflows.ResumeSourcing{ActorID: srcOperator, Reason: "supplier C onboarded"}

// Lines of the recorded timeline.
func offered(attempt int) string {
	return fmt.Sprintf("offer:%d:%d PROCUREMENT_OFFERED", srcLine, attempt)
}
func accepted(attempt int) string {
	return fmt.Sprintf("accepted:%d:%d PROCUREMENT_ACCEPTED", srcLine, attempt)
}
func rejected(attempt int) string {
	return fmt.Sprintf("rejected:%d:%d PROCUREMENT_REJECTED", srcLine, attempt)
}
func timedOut(attempt int) string {
	return fmt.Sprintf("timed-out:%d:%d PROCUREMENT_TIMED_OUT", srcLine, attempt)
}
func withdrawn(attempt int) string {
	return fmt.Sprintf("withdrawn:%d:%d PROCUREMENT_WITHDRAWN", srcLine, attempt)
}
func cancelled(attempt int) string {
	return fmt.Sprintf("cancelled:%d:%d PROCUREMENT_CANCELLED", srcLine, attempt)
}
func shipped(attempt, n int) string {
	return fmt.Sprintf("shipped:%d:%d:%d MATERIAL_SHIPPED", srcLine, attempt, n)
}
func received(attempt, n int) string {
	return fmt.Sprintf("received:%d:%d:%d MATERIAL_RECEIVED", srcLine, attempt, n)
}
func escalated(n int) string { return fmt.Sprintf("escalated:%d:%d SOURCING_ESCALATED", srcLine, n) }
func resumedLine(n int) string {
	return fmt.Sprintf("sourcing-resumed:%d:%d SOURCING_RESUMED", srcLine, n)
}

var (
	sourced         = fmt.Sprintf("sourced:%d SOURCING_DONE", srcLine)
	sourcingStopped = fmt.Sprintf("sourcing-cancelled:%d SOURCING_CANCELLED", srcLine)
)

// srcOutcome is what became of one update.
type srcOutcome struct {
	accepted  bool
	rejected  error
	completed bool
	result    workflows.SourcingState
	err       error
	before    string // the state as JSON when the update was sent
	after     string // and right after a rejection
	settled   chan struct{}
}

type srcHarness struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment
	in  workflows.SourcingInput

	mu          sync.Mutex
	seq         int64
	suppliers   []activities.SupplierCandidate
	timeline    []string
	ranks       []activities.RankRequest
	offers      []activities.TaskOffer
	acceptances []activities.TaskAcceptance
	withdrawals []activities.TaskWithdrawal
	closings    []activities.SourcingClosing
	tasks       map[string]*activities.ProcurementTask
	calls       map[string]int
	hooks       map[string][]func(ctx context.Context) error
	updates     map[string]*srcOutcome
}

func newSourcingHarness(t *testing.T, quantity string, suppliers ...activities.SupplierCandidate) *srcHarness {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(testLogger(t))
	h := &srcHarness{
		t:   t,
		env: suite.NewTestWorkflowEnvironment(),
		in: workflows.SourcingInput{OrderID: srcOrderID, Line: srcLine, Material: srcSteel, Quantity: q(quantity),
			OfferTimeout: srcSLA, FactoryID: srcFactory},
		suppliers: suppliers,
		tasks:     map[string]*activities.ProcurementTask{},
		calls:     map[string]int{},
		hooks:     map[string][]func(ctx context.Context) error{},
		updates:   map[string]*srcOutcome{},
	}
	h.env.SetStartTime(start)
	h.env.RegisterWorkflowWithOptions(workflows.Sourcing, workflow.RegisterOptions{Name: workflows.SourcingWorkflow})
	a := &activities.ProcurementActivities{}
	h.env.RegisterActivity(a)

	h.env.OnActivity(a.RankSuppliers, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, r activities.RankRequest) ([]activities.SupplierCandidate, error) {
			if err := h.enter(ctx, "RankSuppliers"); err != nil {
				return nil, err
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			h.ranks = append(h.ranks, r)
			var out []activities.SupplierCandidate
			for _, c := range h.suppliers {
				if !slices.Contains(r.Exclude, c.SupplierID) {
					out = append(out, c)
				}
			}
			return out, nil
		})
	h.env.OnActivity(a.OfferProcurementTask, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, o activities.TaskOffer) (activities.ProcurementTask, error) {
			if err := h.enter(ctx, "OfferProcurementTask"); err != nil {
				return activities.ProcurementTask{}, err
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			h.offers = append(h.offers, o)
			t := h.taskFor(o, string(procurement.StatusOffered))
			t.Seq = h.event(fmt.Sprintf("offer:%d:%d", o.Line, o.Attempt), procurement.EventOffered)
			return *t, nil
		})
	h.env.OnActivity(a.AcceptProcurementTask, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.TaskAcceptance) (activities.ProcurementTask, error) {
			return h.change(ctx, "AcceptProcurementTask", in.TaskID, func(t *activities.ProcurementTask) string {
				h.acceptances = append(h.acceptances, in)
				t.Status, t.UnitPrice, t.AcceptedQuantity, t.PromisedDate = string(procurement.StatusAccepted), in.UnitPrice, in.Quantity, in.PromisedDate
				return fmt.Sprintf("accepted:%d:%d %s", in.Line, in.Attempt, procurement.EventAccepted)
			})
		})
	h.env.OnActivity(a.RejectProcurementTask, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, d activities.TaskDecision) (activities.ProcurementTask, error) {
			return h.change(ctx, "RejectProcurementTask", d.TaskID, func(t *activities.ProcurementTask) string {
				t.Status = string(procurement.StatusRejected)
				return fmt.Sprintf("rejected:%d:%d %s", d.Line, d.Attempt, procurement.EventRejected)
			})
		})
	h.env.OnActivity(a.TimeOutProcurementTask, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, d activities.TaskDecision) (activities.ProcurementTask, error) {
			return h.change(ctx, "TimeOutProcurementTask", d.TaskID, func(t *activities.ProcurementTask) string {
				t.Status = string(procurement.StatusTimedOut)
				return fmt.Sprintf("timed-out:%d:%d %s", d.Line, d.Attempt, procurement.EventTimedOut)
			})
		})
	h.env.OnActivity(a.CancelProcurementTask, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, d activities.TaskDecision) (activities.ProcurementTask, error) {
			return h.change(ctx, "CancelProcurementTask", d.TaskID, func(t *activities.ProcurementTask) string {
				return h.takeBack(t, d.Line, d.Attempt)
			})
		})
	h.env.OnActivity(a.WithdrawProcurementTask, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, w activities.TaskWithdrawal) (activities.ProcurementTask, error) {
			if err := h.enter(ctx, "WithdrawProcurementTask"); err != nil {
				return activities.ProcurementTask{}, err
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			h.withdrawals = append(h.withdrawals, w)
			// An offer never written is written withdrawn, as the service does.
			t := h.taskFor(w.Offer, string(procurement.StatusWithdrawn))
			if line := h.takeBack(t, w.Offer.Line, w.Offer.Attempt); line != "" {
				key, typ, _ := strings.Cut(line, " ")
				t.Seq = h.event(key, typ)
			}
			return *t, nil
		})
	h.env.OnActivity(a.ShipProcurementTask, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, m activities.TaskMovement) (activities.ProcurementTask, error) {
			return h.change(ctx, "ShipProcurementTask", m.TaskID, func(t *activities.ProcurementTask) string {
				t.ShippedQuantity = t.ShippedQuantity.Add(m.Quantity)
				t.Status = string(procurement.StatusShipped)
				return fmt.Sprintf("shipped:%d:%d:%d %s", m.Line, m.Attempt, m.Seq, procurement.EventShipped)
			})
		})
	h.env.OnActivity(a.ReceiveProcurementTask, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, m activities.TaskMovement) (activities.ProcurementTask, error) {
			return h.change(ctx, "ReceiveProcurementTask", m.TaskID, func(t *activities.ProcurementTask) string {
				t.ReceivedQuantity = t.ReceivedQuantity.Add(m.Quantity)
				if t.ReceivedQuantity.GreaterThanOrEqual(t.AcceptedQuantity) {
					t.Status = string(procurement.StatusReceived)
				}
				return fmt.Sprintf("received:%d:%d:%d %s", m.Line, m.Attempt, m.Seq, procurement.EventReceived)
			})
		})
	h.env.OnActivity(a.EscalateSourcing, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, e activities.SourcingEscalation) (int64, error) {
			if err := h.enter(ctx, "EscalateSourcing"); err != nil {
				return 0, err
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.event(fmt.Sprintf("escalated:%d:%d", e.Line, e.Round), procurement.EventEscalated), nil
		})
	h.env.OnActivity(a.ResumeSourcing, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, r activities.SourcingResumption) (int64, error) {
			if err := h.enter(ctx, "ResumeSourcing"); err != nil {
				return 0, err
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.event(fmt.Sprintf("sourcing-resumed:%d:%d", r.Line, r.Round), procurement.EventResumed), nil
		})
	h.env.OnActivity(a.HoldSourcing, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, _ activities.SourcingEscalation) error { return h.enter(ctx, "HoldSourcing") })
	h.env.OnActivity(a.ReleaseSourcing, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, _ activities.SourcingResumption) error {
			return h.enter(ctx, "ReleaseSourcing")
		})
	h.env.OnActivity(a.CloseSourcing, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, c activities.SourcingClosing) (int64, error) {
			if err := h.enter(ctx, "CloseSourcing"); err != nil {
				return 0, err
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			h.closings = append(h.closings, c)
			if c.Cancelled {
				return h.event(fmt.Sprintf("sourcing-cancelled:%d", c.Line), procurement.EventSourcingCancelled), nil
			}
			return h.event(fmt.Sprintf("sourced:%d", c.Line), procurement.EventSourcingDone), nil
		})
	return h
}

// taskFor returns the task of an offer's key, creating it in status; call with mu held.
func (h *srcHarness) taskFor(o activities.TaskOffer, status string) *activities.ProcurementTask {
	id := procurement.TaskID(uuid.MustParse(o.OrderID), o.Line, o.Attempt).String()
	t, ok := h.tasks[id]
	if !ok {
		t = &activities.ProcurementTask{ID: id, SupplierID: o.SupplierID, Attempt: o.Attempt, Status: status,
			Quantity: o.Quantity, Currency: o.Currency, Deadline: o.Deadline}
		h.tasks[id] = t
	}
	return t
}

// takeBack withdraws an open offer or cancels a commitment not fully
// received, as the service does, and returns the timeline line ("" for none);
// call with mu held.
func (h *srcHarness) takeBack(t *activities.ProcurementTask, line, attempt int) string {
	switch procurement.Status(t.Status) {
	case procurement.StatusOffered:
		t.Status = string(procurement.StatusWithdrawn)
		return fmt.Sprintf("withdrawn:%d:%d %s", line, attempt, procurement.EventWithdrawn)
	case procurement.StatusWithdrawn:
		return fmt.Sprintf("withdrawn:%d:%d %s", line, attempt, procurement.EventWithdrawn)
	case procurement.StatusAccepted, procurement.StatusShipped:
		t.Status = string(procurement.StatusCancelled)
		return fmt.Sprintf("cancelled:%d:%d %s", line, attempt, procurement.EventCancelled)
	}
	return ""
}

// change applies fn to an existing task and records the timeline line it returns.
func (h *srcHarness) change(ctx context.Context, name, id string, fn func(t *activities.ProcurementTask) string) (activities.ProcurementTask, error) {
	if err := h.enter(ctx, name); err != nil {
		return activities.ProcurementTask{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.tasks[id]
	if !ok {
		return activities.ProcurementTask{}, refusal.Newf(errs.NotFound, "no task %s", id)
	}
	if line := fn(t); line != "" {
		key, typ, _ := strings.Cut(line, " ")
		t.Seq = h.event(key, typ)
	}
	return *t, nil
}

// event records a timeline line once per key, as orders.Record does; call with mu held.
func (h *srcHarness) event(key, typ string) int64 {
	line := key + " " + typ
	if !slices.Contains(h.timeline, line) {
		h.timeline = append(h.timeline, line)
		h.seq++
	}
	return h.seq
}

// enter counts a call of activity name and runs its hooks.
func (h *srcHarness) enter(ctx context.Context, name string) error {
	h.mu.Lock()
	h.calls[name]++
	hooks := h.hooks[fmt.Sprintf("%s#%d", name, h.calls[name])]
	h.mu.Unlock()
	for _, hook := range hooks {
		if err := hook(ctx); err != nil {
			return err
		}
	}
	return nil
}

// during runs fn inside the n-th call of activity name, before the mock
// answers; an error from fn is the activity's.
func (h *srcHarness) during(name string, n int, fn func(ctx context.Context) error) {
	key := fmt.Sprintf("%s#%d", name, n)
	h.hooks[key] = append(h.hooks[key], fn)
}

func (h *srcHarness) callCount(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[name]
}

// at runs fn on the environment's loop d after the start (mock time).
func (h *srcHarness) at(d time.Duration, fn func()) { h.env.RegisterDelayedCallback(fn, d) }

// addSupplierAt makes a supplier available to the ranking d after the start.
func (h *srcHarness) addSupplierAt(d time.Duration, c activities.SupplierCandidate) {
	h.at(d, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.suppliers = append(h.suppliers, c)
	})
}

func (h *srcHarness) sendAt(d time.Duration, id, name string, arg any) {
	h.at(d, func() { h.send(id, name, arg) })
}

// sendFromActivity hands update name to the loop and waits until it is
// accepted or rejected; call it from an activity's hook.
func (h *srcHarness) sendFromActivity(id, name string, arg any) {
	o := h.outcome(id)
	h.env.RegisterDelayedCallback(func() { h.send(id, name, arg) }, 0)
	select {
	case <-o.settled:
	case <-time.After(10 * time.Second): // a safety limit, not a measured duration
		h.t.Errorf("update %s was neither accepted nor rejected", id)
	}
}

func (h *srcHarness) outcome(id string) *srcOutcome {
	h.mu.Lock()
	defer h.mu.Unlock()
	o, ok := h.updates[id]
	if !ok {
		o = &srcOutcome{settled: make(chan struct{})}
		h.updates[id] = o
	}
	return o
}

// send runs on the environment's loop.
func (h *srcHarness) send(id, name string, arg any) {
	o := h.outcome(id)
	before := h.stateJSON()
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
			h.env.RegisterDelayedCallback(func() {
				after := h.stateJSON()
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
			if s, ok := res.(workflows.SourcingState); ok {
				o.result = s
			}
		},
	}, arg)
}

// state queries the workflow; call it on the environment's loop.
func (h *srcHarness) state() workflows.SourcingState {
	h.t.Helper()
	var s workflows.SourcingState
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

func (h *srcHarness) stateJSON() string {
	b, err := json.Marshal(h.state())
	if err != nil {
		h.t.Errorf("encode state: %v", err)
	}
	return string(b)
}

func (h *srcHarness) stateAt(d time.Duration, into *workflows.SourcingState) {
	h.at(d, func() { *into = h.state() })
}

// run executes the workflow to its end, requires that it completed without
// error, and returns its result.
func (h *srcHarness) run() workflows.SourcingResult {
	h.t.Helper()
	h.env.ExecuteWorkflow(workflows.SourcingWorkflow, h.in)
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("workflow did not complete")
	}
	if err := h.env.GetWorkflowError(); err != nil {
		h.t.Fatalf("workflow failed: %v", err)
	}
	var res workflows.SourcingResult
	if err := h.env.GetWorkflowResult(&res); err != nil {
		h.t.Fatalf("decode the result: %v", err)
	}
	return res
}

// runCancelled executes the workflow and requires that it ended cancelled.
func (h *srcHarness) runCancelled() {
	h.t.Helper()
	h.env.ExecuteWorkflow(workflows.SourcingWorkflow, h.in)
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("workflow did not complete")
	}
	if err := h.env.GetWorkflowError(); !temporal.IsCanceledError(err) {
		h.t.Fatalf("workflow ended with %v, want a cancellation", err)
	}
}

func (h *srcHarness) requireTimeline(want ...string) {
	h.t.Helper()
	h.mu.Lock()
	got := slices.Clone(h.timeline)
	h.mu.Unlock()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		h.t.Fatalf("recorded timeline:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func (h *srcHarness) got(id string) srcOutcome {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	o, ok := h.updates[id]
	if !ok {
		h.t.Fatalf("update %s was never sent", id)
	}
	return *o
}

// succeeded requires that update id completed without error and returns the
// state it answered.
func (h *srcHarness) succeeded(id string) workflows.SourcingState {
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

// refused requires that the validator refused update id with an
// ApplicationError of type typ and that the state did not change; it returns
// the error.
func (h *srcHarness) refused(id, typ string) error {
	h.t.Helper()
	o := h.got(id)
	if o.accepted {
		h.t.Fatalf("update %s accepted (completed %v, err %v), want it refused with %s", id, o.completed, o.err, typ)
	}
	if got := errType(o.rejected); got != typ {
		h.t.Fatalf("update %s refused with %v (type %q), want type %s", id, o.rejected, got, typ)
	}
	if o.before != o.after {
		h.t.Fatalf("refused update %s changed the state:\n before %s\n after  %s", id, o.before, o.after)
	}
	return o.rejected
}

// failed requires that update id was accepted but completed with an
// ApplicationError of type typ.
func (h *srcHarness) failed(id, typ string) {
	h.t.Helper()
	o := h.got(id)
	if !o.accepted || !o.completed {
		h.t.Fatalf("update %s: accepted %v, completed %v (refused: %v), want it to fail with %s", id, o.accepted, o.completed, o.rejected, typ)
	}
	if got := errType(o.err); got != typ {
		h.t.Fatalf("update %s completed with %v (type %q), want type %s", id, o.err, got, typ)
	}
}

type partView struct {
	Supplier, Quantity, UnitPrice, Shipped, Received, Status string
}

func parts(ps []workflows.SourcingPart) []partView {
	out := make([]partView, len(ps))
	for i, p := range ps {
		out[i] = partView{p.SupplierID, p.Quantity.String(), p.UnitPrice.String(), p.Shipped.String(), p.Received.String(), p.Status}
	}
	return out
}

func requireParts(t *testing.T, what string, got []workflows.SourcingPart, want ...partView) {
	t.Helper()
	if g := parts(got); !slices.Equal(g, want) {
		t.Fatalf("%s parts:\n got  %+v\n want %+v", what, g, want)
	}
}

func TestSourcing_BestSupplierAcceptsShipsAndEverythingIsReceived(t *testing.T) {
	t.Parallel()
	h := newSourcingHarness(t, "100", candidate(supplierA, "500", "12.00"), candidate(supplierB, "500", "11.00"))
	var offering, delivering workflows.SourcingState
	h.stateAt(5*time.Minute, &offering)
	h.sendAt(10*time.Minute, "accept", workflows.UpdateAcceptOffer, accept(task(1), supplierA, "100"))
	h.stateAt(15*time.Minute, &delivering)
	h.sendAt(20*time.Minute, "ship", workflows.UpdateReportShipment, ship(task(1), supplierA, "100"))
	h.sendAt(30*time.Minute, "receive", workflows.UpdateConfirmReceipt, receive(task(1), "100"))
	res := h.run()

	h.requireTimeline(offered(1), accepted(1), shipped(1, 1), received(1, 1), sourced)
	if len(h.ranks) != 1 || h.ranks[0].Material != srcSteel || !h.ranks[0].Quantity.Equal(q("100")) || len(h.ranks[0].Exclude) != 0 {
		t.Errorf("ranked %+v, want once for 100 of %s excluding nobody", h.ranks, srcSteel)
	}
	o := h.offers[0]
	if o.SupplierID != supplierA || o.Attempt != 1 || !o.Quantity.Equal(q("100")) || !o.Deadline.Equal(start.Add(srcSLA)) ||
		o.OrderID != srcOrderID || o.Line != srcLine || o.Material != srcSteel || !o.ListUnitPrice.Equal(q("12.00")) {
		t.Errorf("offered %+v, want all 100 to the best-ranked supplier A until start+SLA", o)
	}
	if offering.Status != workflows.SourcingOffered || offering.Offer == nil || offering.Offer.TaskID != task(1) || !offering.Offer.Deadline.Equal(start.Add(srcSLA)) {
		t.Errorf("while offered the state is %+v", offering)
	}
	if st := h.succeeded("accept"); st.Offer != nil || !st.Remaining.IsZero() || len(st.Parts) != 1 || st.Status != workflows.SourcingDelivering {
		t.Errorf("accept answered %+v, want the offer closed and nothing remaining", st)
	}
	if delivering.Status != workflows.SourcingDelivering || delivering.WaitingFor != "shipments and receipts" {
		t.Errorf("once covered the state is %s waiting for %q, want DELIVERING", delivering.Status, delivering.WaitingFor)
	}
	h.succeeded("ship")
	h.succeeded("receive")
	if a := h.acceptances[0]; a.ActorID != srcUser || !a.UnitPrice.Equal(q("12.50")) || !a.PromisedDate.Equal(promised) || !a.At.Equal(start.Add(10*time.Minute)) {
		t.Errorf("acceptance persisted as %+v", a)
	}
	requireParts(t, "result", res.Parts, partView{supplierA, "100", "12.5", "100", "100", "RECEIVED"})
	if res.OrderID != srcOrderID || res.Line != srcLine || res.Material != srcSteel || !res.Quantity.Equal(q("100")) {
		t.Errorf("result %+v", res)
	}
	if c := h.closings[0]; c.Cancelled || c.Suppliers != 1 || !c.Quantity.Equal(q("100")) {
		t.Errorf("closed as %+v", c)
	}
}

func TestSourcing_RejectionReSourcesToTheNextSupplier(t *testing.T) {
	t.Parallel()
	h := newSourcingHarness(t, "100", candidate(supplierA, "500", "12.00"), candidate(supplierB, "500", "13.00"))
	h.sendAt(10*time.Minute, "reject", workflows.UpdateRejectOffer, reject(task(1), supplierA, "no capacity this month"))
	var next workflows.SourcingState
	h.stateAt(15*time.Minute, &next)
	h.sendAt(20*time.Minute, "accept", workflows.UpdateAcceptOffer, accept(task(2), supplierB, "100"))
	h.sendAt(30*time.Minute, "ship", workflows.UpdateReportShipment, ship(task(2), supplierB, "100"))
	h.sendAt(40*time.Minute, "receive", workflows.UpdateConfirmReceipt, receive(task(2), "100"))
	res := h.run()

	h.requireTimeline(offered(1), rejected(1), offered(2), accepted(2), shipped(2, 1), received(2, 1), sourced)
	h.succeeded("reject")
	if len(h.ranks) != 2 || !slices.Equal(h.ranks[1].Exclude, []string{supplierA}) {
		t.Errorf("ranked %+v, want the second ranking to leave out A, who rejected", h.ranks)
	}
	if o := h.offers[1]; o.SupplierID != supplierB || o.Attempt != 2 || !o.Deadline.Equal(start.Add(10*time.Minute+srcSLA)) {
		t.Errorf("second offer %+v, want B, attempt 2, a full SLA from the rejection", o)
	}
	if next.Offer == nil || next.Offer.SupplierID != supplierB || next.Attempts != 2 {
		t.Errorf("after the rejection the state is %+v, want B's offer open", next)
	}
	requireParts(t, "result", res.Parts, partView{supplierB, "100", "12.5", "100", "100", "RECEIVED"})
}

func TestSourcing_SLATimeoutReSourcesAndTheLateAnswerIsRefused(t *testing.T) {
	t.Parallel()
	h := newSourcingHarness(t, "100", candidate(supplierA, "500", "12.00"), candidate(supplierB, "500", "13.00"))
	var beforeDeadline workflows.SourcingState
	h.stateAt(srcSLA-time.Minute, &beforeDeadline)
	h.sendAt(srcSLA+time.Minute, "late accept", workflows.UpdateAcceptOffer, accept(task(1), supplierA, "100"))
	h.sendAt(srcSLA+10*time.Minute, "accept", workflows.UpdateAcceptOffer, accept(task(2), supplierB, "100"))
	h.sendAt(srcSLA+20*time.Minute, "ship", workflows.UpdateReportShipment, ship(task(2), supplierB, "100"))
	h.sendAt(srcSLA+30*time.Minute, "receive", workflows.UpdateConfirmReceipt, receive(task(2), "100"))
	res := h.run()

	h.requireTimeline(offered(1), timedOut(1), offered(2), accepted(2), shipped(2, 1), received(2, 1), sourced)
	if beforeDeadline.Offer == nil || beforeDeadline.Offer.SupplierID != supplierA {
		t.Errorf("a minute before the deadline the state is %+v, want A's offer still open", beforeDeadline)
	}
	h.refused("late accept", workflows.ErrIllegalState)
	if o := h.offers[1]; o.SupplierID != supplierB || !o.At.Equal(start.Add(srcSLA)) || !o.Deadline.Equal(start.Add(2*srcSLA)) {
		t.Errorf("second offer %+v, want B at the first deadline", o)
	}
	if !slices.Equal(h.ranks[1].Exclude, []string{supplierA}) {
		t.Errorf("second ranking excluded %v, want A, whose offer lapsed", h.ranks[1].Exclude)
	}
	requireParts(t, "result", res.Parts, partView{supplierB, "100", "12.5", "100", "100", "RECEIVED"})
}

func TestSourcing_WhatOneSupplierCannotCoverIsSplitToTheNext(t *testing.T) {
	t.Parallel()
	// A can cover 60 and takes only 50 of them; B gets the other 50.
	h := newSourcingHarness(t, "100", candidate(supplierA, "60", "12.00"), candidate(supplierB, "500", "11.00"))
	h.sendAt(10*time.Minute, "accept A", workflows.UpdateAcceptOffer, accept(task(1), supplierA, "50"))
	b := accept(task(2), supplierB, "50")
	b.UnitPrice = q("11.00")
	h.sendAt(20*time.Minute, "accept B", workflows.UpdateAcceptOffer, b)
	h.sendAt(30*time.Minute, "ship A", workflows.UpdateReportShipment, ship(task(1), supplierA, "50"))
	h.sendAt(31*time.Minute, "ship B", workflows.UpdateReportShipment, ship(task(2), supplierB, "50"))
	h.sendAt(40*time.Minute, "receive A", workflows.UpdateConfirmReceipt, receive(task(1), "50"))
	var halfReceived workflows.SourcingState
	h.stateAt(45*time.Minute, &halfReceived)
	h.sendAt(50*time.Minute, "receive B", workflows.UpdateConfirmReceipt, receive(task(2), "50"))
	res := h.run()

	h.requireTimeline(offered(1), accepted(1), offered(2), accepted(2), shipped(1, 1), shipped(2, 1), received(1, 1), received(2, 1), sourced)
	if o := h.offers[0]; !o.Quantity.Equal(q("60")) {
		t.Errorf("first offer for %s, want 60 (what A can cover)", o.Quantity)
	}
	if st := h.succeeded("accept A"); !st.Remaining.Equal(q("50")) {
		t.Errorf("after A took 50 the remaining is %s, want 50", st.Remaining)
	}
	if r := h.ranks[1]; !r.Quantity.Equal(q("50")) || !slices.Equal(r.Exclude, []string{supplierA}) {
		t.Errorf("second ranking %+v, want 50 without A, who holds a part", r)
	}
	if o := h.offers[1]; o.SupplierID != supplierB || !o.Quantity.Equal(q("50")) {
		t.Errorf("second offer %+v, want the remaining 50 to B", o)
	}
	if halfReceived.Status != workflows.SourcingDelivering || !halfReceived.Received.Equal(q("50")) {
		t.Errorf("with A's part received the state is %s with %s received, want DELIVERING with 50", halfReceived.Status, halfReceived.Received)
	}
	requireParts(t, "result", res.Parts,
		partView{supplierA, "50", "12.5", "50", "50", "RECEIVED"},
		partView{supplierB, "50", "11", "50", "50", "RECEIVED"})
	if c := h.closings[0]; c.Suppliers != 2 {
		t.Errorf("closed with %d suppliers, want 2", c.Suppliers)
	}
}

func TestSourcing_NobodyLeftHoldsUntilTheOperatorAddsASupplierAndResumes(t *testing.T) {
	t.Parallel()
	h := newSourcingHarness(t, "100", candidate(supplierA, "500", "12.00"))
	h.sendAt(10*time.Minute, "reject", workflows.UpdateRejectOffer, reject(task(1), supplierA, "discontinued"))
	var onHold workflows.SourcingState
	h.stateAt(30*time.Minute, &onHold)
	h.sendAt(40*time.Minute, "accept while on hold", workflows.UpdateAcceptOffer, accept(task(1), supplierA, "100"))
	h.addSupplierAt(time.Hour, candidate(supplierC, "500", "14.00"))
	h.sendAt(time.Hour, "resume", workflows.UpdateResumeSourcing, resumeSourcing)
	h.sendAt(time.Hour+time.Minute, "resume again", workflows.UpdateResumeSourcing, resumeSourcing)
	h.sendAt(time.Hour+10*time.Minute, "accept", workflows.UpdateAcceptOffer, accept(task(2), supplierC, "100"))
	h.sendAt(time.Hour+20*time.Minute, "ship", workflows.UpdateReportShipment, ship(task(2), supplierC, "100"))
	h.sendAt(time.Hour+30*time.Minute, "receive", workflows.UpdateConfirmReceipt, receive(task(2), "100"))
	res := h.run()

	h.requireTimeline(offered(1), rejected(1), escalated(1), resumedLine(1), offered(2), accepted(2), shipped(2, 1), received(2, 1), sourced)
	if onHold.Status != workflows.SourcingOnHold || onHold.Escalations != 1 || onHold.Offer != nil || !onHold.Remaining.Equal(q("100")) ||
		onHold.WaitingFor != "operator to add a supplier and resume" {
		t.Errorf("with nobody left the state is %+v, want ON_HOLD waiting for the operator", onHold)
	}
	h.refused("accept while on hold", workflows.ErrIllegalState)
	if st := h.succeeded("resume"); st.Status != workflows.SourcingRanking {
		t.Errorf("resume answered %+v, want SOURCING", st)
	}
	h.refused("resume again", workflows.ErrIllegalState)
	if r := h.ranks[2]; !slices.Equal(r.Exclude, []string{supplierA}) {
		t.Errorf("ranking after resumption excluded %v, want A, who rejected", r.Exclude)
	}
	if o := h.offers[1]; o.SupplierID != supplierC || o.Attempt != 2 {
		t.Errorf("offer after resumption %+v, want the added supplier C", o)
	}
	requireParts(t, "result", res.Parts, partView{supplierC, "100", "12.5", "100", "100", "RECEIVED"})
}

// A sourcing started by an order of ChangeSourcingReports writes no status of
// its order: it holds its line and reports the hold to the order, whose
// workflow records it (and ON_HOLD); likewise the resumption. The line's own
// story is the same as before.
func TestSourcing_ReportingToItsOrderTheHoldAndTheResumptionAreTheOrdersToRecord(t *testing.T) {
	t.Parallel()
	h := newSourcingHarness(t, "100", candidate(supplierA, "500", "12.00"))
	h.in.ReportsToOrder = true
	var mu sync.Mutex
	var reports []workflows.SourcingReport
	h.env.OnSignalExternalWorkflow(mock.Anything, workflows.OrderWorkflowID(srcOrderID), "", workflows.SignalSourcingReport, mock.Anything).Return(
		func(_, _, _, _ string, arg any) error {
			mu.Lock()
			defer mu.Unlock()
			reports = append(reports, arg.(workflows.SourcingReport))
			return nil
		})
	h.sendAt(10*time.Minute, "reject", workflows.UpdateRejectOffer, reject(task(1), supplierA, "discontinued"))
	h.addSupplierAt(time.Hour, candidate(supplierC, "500", "14.00"))
	h.sendAt(time.Hour, "resume", workflows.UpdateResumeSourcing, resumeSourcing)
	h.sendAt(time.Hour+10*time.Minute, "accept", workflows.UpdateAcceptOffer, accept(task(2), supplierC, "100"))
	h.sendAt(time.Hour+20*time.Minute, "ship", workflows.UpdateReportShipment, ship(task(2), supplierC, "100"))
	h.sendAt(time.Hour+30*time.Minute, "receive", workflows.UpdateConfirmReceipt, receive(task(2), "100"))
	res := h.run()

	h.requireTimeline(offered(1), rejected(1), offered(2), accepted(2), shipped(2, 1), received(2, 1), sourced)
	if st := h.succeeded("resume"); st.Status != workflows.SourcingRanking {
		t.Errorf("resume answered %+v, want SOURCING", st)
	}
	for name, want := range map[string]int{"HoldSourcing": 1, "ReleaseSourcing": 1, "EscalateSourcing": 0, "ResumeSourcing": 0} {
		if n := h.callCount(name); n != want {
			t.Errorf("%s ran %d times, want %d", name, n, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reports) != 2 || reports[0].Held == nil || reports[1].Resumed == nil {
		t.Fatalf("reports to the order %+v, want the hold, then the resumption", reports)
	}
	held, resumed := *reports[0].Held, *reports[1].Resumed
	if held.OrderID != srcOrderID || held.Line != srcLine || held.Round != 1 || held.Material != srcSteel || !held.Remaining.Equal(q("100")) {
		t.Errorf("hold reported as %+v", held)
	}
	if resumed.Line != srcLine || resumed.Round != 1 || resumed.ActorID != srcOperator || resumed.Reason != resumeSourcing.Reason {
		t.Errorf("resumption reported as %+v", resumed)
	}
	requireParts(t, "result", res.Parts, partView{supplierC, "100", "12.5", "100", "100", "RECEIVED"})
}

// A supplier that let an offer lapse may have missed a message: once the
// operator resumes, it is offered the task again (one that rejected is not).
func TestSourcing_ResumptionGivesSuppliersWhoseOfferLapsedAnotherChance(t *testing.T) {
	t.Parallel()
	h := newSourcingHarness(t, "100", candidate(supplierA, "500", "12.00"), candidate(supplierB, "500", "12.00"))
	h.sendAt(10*time.Minute, "reject B", workflows.UpdateRejectOffer, reject(task(2), supplierB, "wrong gauge")) // refused: B has no offer yet
	h.sendAt(srcSLA+10*time.Minute, "reject", workflows.UpdateRejectOffer, reject(task(2), supplierB, "wrong gauge"))
	h.sendAt(2*srcSLA, "resume", workflows.UpdateResumeSourcing, resumeSourcing)
	h.sendAt(2*srcSLA+10*time.Minute, "accept", workflows.UpdateAcceptOffer, accept(task(3), supplierA, "100"))
	h.sendAt(2*srcSLA+20*time.Minute, "ship", workflows.UpdateReportShipment, ship(task(3), supplierA, "100"))
	h.sendAt(2*srcSLA+30*time.Minute, "receive", workflows.UpdateConfirmReceipt, receive(task(3), "100"))
	res := h.run()

	h.requireTimeline(offered(1), timedOut(1), offered(2), rejected(2), escalated(1), resumedLine(1), offered(3), accepted(3), shipped(3, 1), received(3, 1), sourced)
	h.refused("reject B", workflows.ErrIllegalState)
	if r := h.ranks[2]; !slices.Equal(r.Exclude, []string{supplierB, supplierA}) {
		t.Errorf("ranking before escalation excluded %v, want B (rejected) and A (lapsed)", r.Exclude)
	}
	if r := h.ranks[3]; !slices.Equal(r.Exclude, []string{supplierB}) {
		t.Errorf("ranking after resumption excluded %v, want only B, who rejected", r.Exclude)
	}
	requireParts(t, "result", res.Parts, partView{supplierA, "100", "12.5", "100", "100", "RECEIVED"})
}

func TestSourcing_PartialReceiptsAddUpUntilEverythingIsReceived(t *testing.T) {
	t.Parallel()
	h := newSourcingHarness(t, "100", candidate(supplierA, "500", "12.00"))
	h.sendAt(10*time.Minute, "accept", workflows.UpdateAcceptOffer, accept(task(1), supplierA, "100"))
	h.sendAt(20*time.Minute, "ship 60", workflows.UpdateReportShipment, ship(task(1), supplierA, "60"))
	h.sendAt(30*time.Minute, "receive 30", workflows.UpdateConfirmReceipt, receive(task(1), "30"))
	h.sendAt(35*time.Minute, "receive more than shipped", workflows.UpdateConfirmReceipt, receive(task(1), "40"))
	h.sendAt(40*time.Minute, "receive 30 more", workflows.UpdateConfirmReceipt, receive(task(1), "30"))
	var partly workflows.SourcingState
	h.stateAt(45*time.Minute, &partly)
	h.sendAt(50*time.Minute, "ship 40", workflows.UpdateReportShipment, ship(task(1), supplierA, "40"))
	byOperator := receive(task(1), "40")
	byOperator.ActorEnterpriseID, byOperator.ByOperator = "", true
	h.sendAt(2*time.Hour, "receive the rest", workflows.UpdateConfirmReceipt, byOperator)
	res := h.run()

	h.requireTimeline(offered(1), accepted(1), shipped(1, 1), received(1, 1), received(1, 2), shipped(1, 2), received(1, 3), sourced)
	err := h.refused("receive more than shipped", string(errs.InvalidInput))
	requireFields(t, err, "input.quantity")
	requireParts(t, "after two receipts", partly.Parts, partView{supplierA, "100", "12.5", "60", "60", "SHIPPED"})
	if partly.Status != workflows.SourcingDelivering || !partly.Received.Equal(q("60")) {
		t.Errorf("after two receipts the state is %s with %s received, want DELIVERING with 60", partly.Status, partly.Received)
	}
	if st := h.succeeded("receive the rest"); !st.Received.Equal(q("100")) {
		t.Errorf("the last receipt answered %s received, want 100", st.Received)
	}
	requireParts(t, "result", res.Parts, partView{supplierA, "100", "12.5", "100", "100", "RECEIVED"})
}

// requireFields requires an INVALID_INPUT refusal whose details name exactly these field paths.
func requireFields(t *testing.T, err error, want ...string) {
	t.Helper()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) {
		t.Fatalf("%v is not an ApplicationError", err)
	}
	var list errs.List
	if derr := app.Details(&list); derr != nil {
		t.Fatalf("details of %v: %v", err, derr)
	}
	var got []string
	for _, e := range list {
		if e.Code != errs.InvalidInput {
			t.Errorf("problem %+v has code %s, want INVALID_INPUT", e, e.Code)
		}
		got = append(got, strings.Join(e.Field, "."))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("refused fields %v, want %v (%v)", got, want, err)
	}
}

func TestSourcing_CancellationWithdrawsTheOpenOfferAndCancelsAcceptedTasks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		story func(h *srcHarness)
		want  []string
	}{
		{
			name: "an offer open and a part accepted",
			story: func(h *srcHarness) {
				h.sendAt(10*time.Minute, "accept A", workflows.UpdateAcceptOffer, accept(task(1), supplierA, "60"))
				h.at(20*time.Minute, h.env.CancelWorkflow)
			},
			want: []string{offered(1), accepted(1), offered(2), withdrawn(2), cancelled(1), sourcingStopped},
		},
		{
			name: "a part received is kept, a part shipped is cancelled",
			story: func(h *srcHarness) {
				h.sendAt(10*time.Minute, "accept A", workflows.UpdateAcceptOffer, accept(task(1), supplierA, "60"))
				h.sendAt(20*time.Minute, "accept B", workflows.UpdateAcceptOffer, accept(task(2), supplierB, "40"))
				h.sendAt(30*time.Minute, "ship A", workflows.UpdateReportShipment, ship(task(1), supplierA, "60"))
				h.sendAt(31*time.Minute, "ship B", workflows.UpdateReportShipment, ship(task(2), supplierB, "20"))
				h.sendAt(40*time.Minute, "receive A", workflows.UpdateConfirmReceipt, receive(task(1), "60"))
				h.at(50*time.Minute, h.env.CancelWorkflow)
			},
			want: []string{offered(1), accepted(1), offered(2), accepted(2), shipped(1, 1), shipped(2, 1), received(1, 1), cancelled(2), sourcingStopped},
		},
		{
			name:  "while on hold",
			story: func(h *srcHarness) { h.at(3*srcSLA, h.env.CancelWorkflow) },
			want:  []string{offered(1), timedOut(1), offered(2), timedOut(2), escalated(1), sourcingStopped},
		},
		{
			// The offer's activity is cancelled with the workflow; whether
			// it was written or not, it is withdrawn and can never open.
			name: "while the offer is being written",
			story: func(h *srcHarness) {
				h.during("OfferProcurementTask", 2, func(context.Context) error {
					h.env.RegisterDelayedCallback(h.env.CancelWorkflow, 0)
					h.waitForCall("WithdrawProcurementTask")
					return errors.New("the workflow went away")
				})
				h.sendAt(10*time.Minute, "accept A", workflows.UpdateAcceptOffer, accept(task(1), supplierA, "60"))
			},
			want: []string{offered(1), accepted(1), withdrawn(2), cancelled(1), sourcingStopped},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newSourcingHarness(t, "100", candidate(supplierA, "60", "12.00"), candidate(supplierB, "500", "12.00"))
			tt.story(h)
			// While the compensation runs, the sourcing is over for everybody.
			h.during("CloseSourcing", 1, func(context.Context) error {
				h.sendFromActivity("late accept", workflows.UpdateAcceptOffer, accept(task(2), supplierB, "40"))
				h.sendFromActivity("late shipment", workflows.UpdateReportShipment, ship(task(1), supplierA, "1"))
				return nil
			})
			h.runCancelled()

			h.requireTimeline(tt.want...)
			h.refused("late accept", workflows.ErrIllegalState)
			h.refused("late shipment", workflows.ErrIllegalState)
			for _, w := range h.withdrawals {
				if w.Reason != "the order was cancelled" || w.Offer.SupplierID != supplierB || w.Offer.Attempt != 2 {
					t.Errorf("withdrew %+v, want B's offer (attempt 2) with the cancellation as reason", w)
				}
			}
			if c := h.closings[len(h.closings)-1]; !c.Cancelled {
				t.Errorf("closed as %+v, want cancelled", c)
			}
		})
	}
}

// waitForCall blocks (off the environment's loop) until activity name was called.
func (h *srcHarness) waitForCall(name string) {
	deadline := time.Now().Add(10 * time.Second) // a safety limit, not a measured duration
	for h.callCount(name) == 0 {
		if time.Now().After(deadline) {
			h.t.Errorf("%s was never called", name)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// Every update sent where it is illegal is refused by its validator with a
// coded error, nothing recorded and the state unchanged.
func TestSourcing_ValidatorsRefuseIllegalUpdatesWithoutEffect(t *testing.T) {
	t.Parallel()
	type probe struct {
		name    string
		update  string
		arg     any
		errType string
		fields  []string // for INVALID_INPUT
	}
	illegalState, forbidden, invalid := workflows.ErrIllegalState, string(errs.Forbidden), string(errs.InvalidInput)
	with := func(a workflows.AcceptOffer, f func(*workflows.AcceptOffer)) workflows.AcceptOffer { f(&a); return a }
	states := []struct {
		name   string
		at     time.Duration
		story  func(h *srcHarness)
		want   []string
		probes []probe
	}{
		{
			name: "offer open to A",
			at:   10 * time.Minute,
			want: []string{offered(1), withdrawn(1), sourcingStopped},
			probes: []probe{
				{"accept by another supplier", workflows.UpdateAcceptOffer, accept(task(1), supplierB, "60"), forbidden, nil},
				{"accept of an unknown task", workflows.UpdateAcceptOffer, accept(task(9), supplierA, "60"), illegalState, nil},
				{"accept without a price, of more than offered, promised yesterday", workflows.UpdateAcceptOffer,
					with(accept(task(1), supplierA, "61"), func(a *workflows.AcceptOffer) {
						a.UnitPrice, a.PromisedDate = decimal.Zero, start.AddDate(0, 0, -1)
					}), invalid, []string{"input.unitPrice", "input.quantity", "input.promisedDate"}},
				{"accept at a price below the minor unit", workflows.UpdateAcceptOffer,
					with(accept(task(1), supplierA, "60"), func(a *workflows.AcceptOffer) { a.UnitPrice = q("12.505") }), invalid, []string{"input.unitPrice"}},
				{"accept of nothing", workflows.UpdateAcceptOffer, accept(task(1), supplierA, "0"), invalid, []string{"input.quantity"}},
				{"reject without a reason", workflows.UpdateRejectOffer, reject(task(1), supplierA, "  "), invalid, []string{"input.reason"}},
				{"reject with a reason too long", workflows.UpdateRejectOffer, reject(task(1), supplierA, strings.Repeat("x", 501)), invalid, []string{"input.reason"}},
				{"reject by another supplier", workflows.UpdateRejectOffer, reject(task(1), supplierB, "no"), forbidden, nil},
				{"shipment of an offer not accepted", workflows.UpdateReportShipment, ship(task(1), supplierA, "1"), illegalState, nil},
				{"receipt of an offer not accepted", workflows.UpdateConfirmReceipt, receive(task(1), "1"), illegalState, nil},
				{"resume when not on hold", workflows.UpdateResumeSourcing, resumeSourcing, illegalState, nil},
			},
		},
		{
			name: "A took 60, B's offer open",
			at:   20 * time.Minute,
			story: func(h *srcHarness) {
				h.sendAt(10*time.Minute, "accept A", workflows.UpdateAcceptOffer, accept(task(1), supplierA, "60"))
			},
			want: []string{offered(1), accepted(1), offered(2), withdrawn(2), cancelled(1), sourcingStopped},
			probes: []probe{
				{"accept twice", workflows.UpdateAcceptOffer, accept(task(1), supplierA, "60"), illegalState, nil},
				{"reject after accepting", workflows.UpdateRejectOffer, reject(task(1), supplierA, "changed my mind"), illegalState, nil},
				{"shipment by another supplier", workflows.UpdateReportShipment, ship(task(1), supplierB, "10"), forbidden, nil},
				{"shipment of more than accepted", workflows.UpdateReportShipment, ship(task(1), supplierA, "61"), invalid, []string{"input.quantity"}},
				{"receipt before any shipment", workflows.UpdateConfirmReceipt, receive(task(1), "1"), invalid, []string{"input.quantity"}},
				{"receipt by the supplier", workflows.UpdateConfirmReceipt,
					workflows.ConfirmReceipt{TaskID: task(1), ActorEnterpriseID: supplierA, Quantity: q("1")}, forbidden, nil},
				{"accept of B's offer by A", workflows.UpdateAcceptOffer, accept(task(2), supplierA, "40"), forbidden, nil},
			},
		},
		{
			name: "A rejected, B's offer open",
			at:   20 * time.Minute,
			story: func(h *srcHarness) {
				h.sendAt(10*time.Minute, "reject A", workflows.UpdateRejectOffer, reject(task(1), supplierA, "no capacity"))
			},
			want: []string{offered(1), rejected(1), offered(2), withdrawn(2), sourcingStopped},
			probes: []probe{
				{"accept of a stale task", workflows.UpdateAcceptOffer, accept(task(1), supplierA, "60"), illegalState, nil},
				{"reject twice", workflows.UpdateRejectOffer, reject(task(1), supplierA, "no capacity"), illegalState, nil},
			},
		},
	}
	for _, st := range states {
		for _, p := range st.probes {
			t.Run(st.name+"/"+p.name, func(t *testing.T) {
				t.Parallel()
				h := newSourcingHarness(t, "100", candidate(supplierA, "60", "12.00"), candidate(supplierB, "500", "12.00"))
				if st.story != nil {
					st.story(h)
				}
				var sent atomic.Bool
				h.at(st.at, func() {
					sent.Store(true)
					h.send("probe", p.update, p.arg)
				})
				h.at(st.at+time.Minute, h.env.CancelWorkflow)
				h.runCancelled()

				if !sent.Load() {
					t.Fatal("the story never reached the state under test")
				}
				err := h.refused("probe", p.errType)
				if p.errType == invalid {
					requireFields(t, err, p.fields...)
				}
				h.requireTimeline(st.want...)
			})
		}
	}
}

// Two answers accepted by their validators at once: the second finds the
// offer closed when its turn comes and fails without effect.
func TestSourcing_SecondOfTwoConcurrentAnswersFailsWithoutEffect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		second func(h *srcHarness)
	}{
		{"accept twice", func(h *srcHarness) {
			h.send("second", workflows.UpdateAcceptOffer, accept(task(1), supplierA, "100"))
		}},
		{"reject after accept", func(h *srcHarness) {
			h.send("second", workflows.UpdateRejectOffer, reject(task(1), supplierA, "oops"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newSourcingHarness(t, "100", candidate(supplierA, "500", "12.00"))
			h.at(10*time.Minute, func() {
				h.send("first", workflows.UpdateAcceptOffer, accept(task(1), supplierA, "100"))
				tt.second(h)
			})
			h.sendAt(20*time.Minute, "ship", workflows.UpdateReportShipment, ship(task(1), supplierA, "100"))
			h.sendAt(30*time.Minute, "receive", workflows.UpdateConfirmReceipt, receive(task(1), "100"))
			h.run()

			h.succeeded("first")
			h.failed("second", workflows.ErrIllegalState)
			h.requireTimeline(offered(1), accepted(1), shipped(1, 1), received(1, 1), sourced)
			if n := h.callCount("AcceptProcurementTask") + h.callCount("RejectProcurementTask"); n != 1 {
				t.Errorf("answers persisted %d times, want once", n)
			}
		})
	}
}

// The supplier sees an offer in its inbox as soon as it is written, before
// the workflow knows the write is done: an answer then waits for the offer to
// open, rather than being refused.
func TestSourcing_AnswerToAnOfferStillBeingWrittenWaitsForIt(t *testing.T) {
	t.Parallel()
	h := newSourcingHarness(t, "100", candidate(supplierA, "500", "12.00"))
	h.during("OfferProcurementTask", 1, func(context.Context) error {
		h.sendFromActivity("early accept", workflows.UpdateAcceptOffer, accept(task(1), supplierA, "100"))
		h.sendFromActivity("early accept by another", workflows.UpdateAcceptOffer, accept(task(1), supplierB, "100"))
		return nil
	})
	h.sendAt(20*time.Minute, "ship", workflows.UpdateReportShipment, ship(task(1), supplierA, "100"))
	h.sendAt(30*time.Minute, "receive", workflows.UpdateConfirmReceipt, receive(task(1), "100"))
	res := h.run()

	h.requireTimeline(offered(1), accepted(1), shipped(1, 1), received(1, 1), sourced)
	if st := h.succeeded("early accept"); len(st.Parts) != 1 || st.Parts[0].TaskID != task(1) {
		t.Errorf("the early accept answered %+v", st)
	}
	h.refused("early accept by another", string(errs.Forbidden))
	requireParts(t, "result", res.Parts, partView{supplierA, "100", "12.5", "100", "100", "RECEIVED"})
}

func TestSourcing_WorkflowIDAndInputChecksAndNothingToBuy(t *testing.T) {
	t.Parallel()
	if got := workflows.SourcingWorkflowID(srcOrderID, 3); got != "sourcing/"+srcOrderID+"/3" {
		t.Errorf("SourcingWorkflowID = %q", got)
	}
	h := newSourcingHarness(t, "0", candidate(supplierA, "500", "12.00"))
	if res := h.run(); len(res.Parts) != 0 || h.callCount("RankSuppliers") != 0 {
		t.Errorf("sourcing nothing returned %+v after %d rankings, want nothing at once", res, h.callCount("RankSuppliers"))
	}
	for _, in := range []func(*workflows.SourcingInput){
		func(in *workflows.SourcingInput) { in.Quantity = q("-1") },
		func(in *workflows.SourcingInput) { in.OrderID = "order-1" },
		func(in *workflows.SourcingInput) { in.Material = "" },
		func(in *workflows.SourcingInput) { in.Line = -1 },
	} {
		h := newSourcingHarness(t, "100", candidate(supplierA, "500", "12.00"))
		in(&h.in)
		h.env.ExecuteWorkflow(workflows.SourcingWorkflow, h.in)
		if err := h.env.GetWorkflowError(); errType(err) != string(errs.InvalidInput) {
			t.Fatalf("sourcing %+v ended with %v, want INVALID_INPUT", h.in, err)
		}
		if n := h.callCount("RankSuppliers"); n != 0 {
			t.Errorf("ranked %d times for an invalid input, want never", n)
		}
	}
}

// The sourcing workflow on the real stack: a Temporal dev server, the real
// activities on Postgres and Redis. Two lines of one order are sourced side by
// side: line 1's only supplier refuses, so the line (and the order) is held
// until the operator adds a supplier and resumes, while line 2's first
// supplier lets its 2-second SLA lapse and the next one accepts. Then both
// ship and the factory receives. The history that results replays against the
// code. Skipped without the stack unless ORCH_REQUIRE_STACK=1.
func TestSourcingOnDevServer_TwoLinesWithAHoldAndALapse(t *testing.T) {
	p := testenv.Platform(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	svc := procurement.New(p.DB, p.Cache)
	queue := "sourcing-test-" + testenv.Suffix()
	w := worker.New(p.Temporal, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(workflows.Sourcing, workflow.RegisterOptions{Name: workflows.SourcingWorkflow})
	w.RegisterActivity(&activities.ProcurementActivities{Procurement: svc, Orders: p.Orders})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	operator := srcPrincipal(testenv.Account(t, p, identity.KindPlatform, identity.RoleAdmin))
	customer := testenv.Account(t, p, identity.KindCustomer, identity.RoleMember)
	factory := testenv.Account(t, p, identity.KindFactory, identity.RoleAdmin)
	a := testenv.Account(t, p, identity.KindSupplier, identity.RoleAdmin)
	b1 := testenv.Account(t, p, identity.KindSupplier, identity.RoleAdmin)
	b2 := testenv.Account(t, p, identity.KindSupplier, identity.RoleAdmin)
	c := testenv.Account(t, p, identity.KindSupplier, identity.RoleAdmin)
	orderID := testenv.PlaceOrder(t, p, customer)
	steel, copper := "steel-"+testenv.Suffix(), "copper-"+testenv.Suffix()
	capability := func(s identity.Account, material, price string) {
		t.Helper()
		if _, err := svc.SetCapability(ctx, operator, s.Enterprise.ID, material, q(price), "CNY", 5, q("1000")); err != nil {
			t.Fatal(err)
		}
	}
	capability(a, steel, "12.00")
	capability(b1, copper, "30.00") // cheaper: offered first
	capability(b2, copper, "31.00")

	begin := func(line int, material string, sla time.Duration) client.WorkflowRun {
		t.Helper()
		run, err := p.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.SourcingWorkflowID(orderID.String(), line), TaskQueue: queue},
			workflows.SourcingWorkflow, workflows.SourcingInput{OrderID: orderID.String(), Line: line, Material: material, Quantity: q("40"),
				OfferTimeout: sla, FactoryID: factory.Enterprise.ID.String()})
		if err != nil {
			t.Fatal(err)
		}
		return run
	}
	line1 := begin(1, steel, time.Minute)
	line2 := begin(2, copper, 2*time.Second)

	await := func(run client.WorkflowRun, what string, ok func(workflows.SourcingState) bool) workflows.SourcingState {
		t.Helper()
		for {
			var s workflows.SourcingState
			v, err := p.Temporal.QueryWorkflow(ctx, run.GetID(), run.GetRunID(), workflows.QueryState)
			if err == nil {
				err = v.Get(&s)
			}
			if err == nil && ok(s) {
				return s
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%s: never %s (last state %+v, err %v)", run.GetID(), what, s, err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	update := func(run client.WorkflowRun, name string, arg any) workflows.SourcingState {
		t.Helper()
		h, err := p.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
			WorkflowID: run.GetID(), RunID: run.GetRunID(), UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
		})
		var s workflows.SourcingState
		if err == nil {
			err = h.Get(ctx, &s)
		}
		if err != nil {
			t.Fatalf("%s %s: %v", run.GetID(), name, err)
		}
		return s
	}
	offeredTo := func(s identity.Account) func(workflows.SourcingState) bool {
		return func(st workflows.SourcingState) bool {
			return st.Offer != nil && st.Offer.SupplierID == s.Enterprise.ID.String()
		}
	}
	orderStatus := func(want string) {
		t.Helper()
		for {
			status, err := svcOrderStatus(ctx, p, orderID)
			if err == nil && status == want {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("the order never became %s (last %s, %v)", want, status, err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	acceptBy := func(s identity.Account, st workflows.SourcingState, price string) workflows.AcceptOffer {
		return workflows.AcceptOffer{TaskID: st.Offer.TaskID, ActorID: s.User.ID.String(), ActorEnterpriseID: s.Enterprise.ID.String(),
			UnitPrice: q(price), Quantity: st.Offer.Quantity, PromisedDate: time.Now().AddDate(0, 0, 10)}
	}

	// Line 1: the only supplier refuses; the order is held.
	st := await(line1, "offered to A", offeredTo(a))
	update(line1, workflows.UpdateRejectOffer, workflows.RejectOffer{TaskID: st.Offer.TaskID, ActorID: a.User.ID.String(),
		ActorEnterpriseID: a.Enterprise.ID.String(), Reason: "no steel this month"})
	await(line1, "on hold", func(s workflows.SourcingState) bool { return s.Status == workflows.SourcingOnHold })
	orderStatus(workflows.StatusOnHold)

	// Line 2: B1 lets its SLA lapse; B2 accepts. The order stays on hold for line 1.
	st = await(line2, "offered to B2 after B1's lapse", offeredTo(b2))
	update(line2, workflows.UpdateAcceptOffer, acceptBy(b2, st, "31.00"))
	orderStatus(workflows.StatusOnHold)

	// The operator adds C for steel and resumes line 1; C accepts.
	capability(c, steel, "12.80")
	update(line1, workflows.UpdateResumeSourcing, workflows.ResumeSourcing{ActorID: operator.UserID.String(), Reason: "C onboarded"})
	orderStatus(workflows.StatusActive)
	st = await(line1, "offered to C", offeredTo(c))
	update(line1, workflows.UpdateAcceptOffer, acceptBy(c, st, "12.80"))

	// Shipments and receipts, partial on line 2.
	for _, l := range []struct {
		run      client.WorkflowRun
		supplier identity.Account
		receipts []string
	}{{line1, c, []string{"40"}}, {line2, b2, []string{"15", "25"}}} {
		st := await(l.run, "delivering", func(s workflows.SourcingState) bool { return s.Status == workflows.SourcingDelivering })
		taskID := st.Parts[0].TaskID
		update(l.run, workflows.UpdateReportShipment, workflows.ReportShipment{TaskID: taskID, ActorEnterpriseID: l.supplier.Enterprise.ID.String(), Quantity: q("40")})
		for _, r := range l.receipts {
			update(l.run, workflows.UpdateConfirmReceipt, workflows.ConfirmReceipt{TaskID: taskID, ActorID: factory.User.ID.String(),
				ActorEnterpriseID: factory.Enterprise.ID.String(), Quantity: q(r)})
		}
	}
	var res1, res2 workflows.SourcingResult
	if err := line1.Get(ctx, &res1); err != nil {
		t.Fatalf("line 1: %v", err)
	}
	if err := line2.Get(ctx, &res2); err != nil {
		t.Fatalf("line 2: %v", err)
	}
	requireParts(t, "line 1", res1.Parts, partView{c.Enterprise.ID.String(), "40", "12.8", "40", "40", "RECEIVED"})
	requireParts(t, "line 2", res2.Parts, partView{b2.Enterprise.ID.String(), "40", "31", "40", "40", "RECEIVED"})
	orderStatus(workflows.StatusActive)

	// Postgres holds the truth: tasks, scores and the customer's timeline.
	tasks, err := svc.OrderTasks(ctx, orderID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, task := range tasks {
		got = append(got, fmt.Sprintf("%d:%d %s", task.Line, task.Attempt, task.Status))
	}
	if want := []string{"1:1 REJECTED", "1:2 RECEIVED", "2:1 TIMED_OUT", "2:2 RECEIVED"}; !slices.Equal(got, want) {
		t.Errorf("tasks %v, want %v", got, want)
	}
	for _, s := range []struct {
		who      identity.Account
		material string
		want     string
	}{{a, steel, "47"}, {b1, copper, "44"}, {b2, copper, "55"}, {c, steel, "55"}} {
		if cp, err := svc.Capability(ctx, s.who.Enterprise.ID, s.material); err != nil || cp.Score.String() != s.want {
			t.Errorf("score of %s: %v, %v; want %s", s.who.Enterprise.Name, cp, err, s.want)
		}
	}
	events, err := p.Orders.Events(ctx, orderID, 0, 200)
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, e := range events {
		status[e.Key] = e.Type + " " + e.Status
	}
	for key, want := range map[string]string{
		"offer:1:1": "PROCUREMENT_OFFERED ACTIVE", "rejected:1:1": "PROCUREMENT_REJECTED ACTIVE", "escalated:1:1": "SOURCING_ESCALATED ON_HOLD",
		"accepted:2:2": "PROCUREMENT_ACCEPTED ON_HOLD", "sourcing-resumed:1:1": "SOURCING_RESUMED ACTIVE",
		"received:2:2:2": "MATERIAL_RECEIVED ACTIVE",
		"sourced:1":      "SOURCING_DONE ACTIVE", "sourced:2": "SOURCING_DONE ACTIVE",
	} {
		if status[key] != want {
			t.Errorf("timeline event %s: %q, want %q", key, status[key], want)
		}
	}
	// Whether line 1 was held yet when B1's offer lapsed depends on timing.
	if !strings.HasPrefix(status["timed-out:2:1"], "PROCUREMENT_TIMED_OUT ") {
		t.Errorf("timeline event timed-out:2:1: %q", status["timed-out:2:1"])
	}

	// Both histories replay against the code.
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(workflows.Sourcing, workflow.RegisterOptions{Name: workflows.SourcingWorkflow})
	for _, run := range []client.WorkflowRun{line1, line2} {
		hist := &historypb.History{}
		it := p.Temporal.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, 0)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			hist.Events = append(hist.Events, ev)
		}
		if err := r.ReplayWorkflowHistory(testLogger(t), hist); err != nil {
			t.Errorf("replay %s: %v", run.GetID(), err)
		}
	}
}

// Cancelled with its order, the sourcing takes back what it holds in
// Postgres: the open offer is withdrawn and the accepted task cancelled, each
// supplier sees it in its inbox, and the procurement events keep the order
// CANCELLED rather than moving it back to ACTIVE.
func TestSourcingOnDevServer_CancelledOrderWithdrawsAndCancelsForTheSuppliers(t *testing.T) {
	p := testenv.Platform(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	svc := procurement.New(p.DB, p.Cache)
	queue := "sourcing-test-" + testenv.Suffix()
	w := worker.New(p.Temporal, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(workflows.Sourcing, workflow.RegisterOptions{Name: workflows.SourcingWorkflow})
	w.RegisterActivity(&activities.ProcurementActivities{Procurement: svc, Orders: p.Orders})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	operator := srcPrincipal(testenv.Account(t, p, identity.KindPlatform, identity.RoleAdmin))
	customer := testenv.Account(t, p, identity.KindCustomer, identity.RoleMember)
	a := testenv.Account(t, p, identity.KindSupplier, identity.RoleMember)
	b := testenv.Account(t, p, identity.KindSupplier, identity.RoleMember)
	orderID := testenv.PlaceOrder(t, p, customer)
	steel := "steel-" + testenv.Suffix()
	if _, err := svc.SetCapability(ctx, operator, a.Enterprise.ID, steel, q("11.00"), "CNY", 5, q("1000")); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetCapability(ctx, operator, b.Enterprise.ID, steel, q("12.00"), "CNY", 5, q("1000")); err != nil {
		t.Fatal(err)
	}
	run, err := p.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.SourcingWorkflowID(orderID.String(), 1), TaskQueue: queue},
		workflows.SourcingWorkflow, workflows.SourcingInput{OrderID: orderID.String(), Line: 1, Material: steel, Quantity: q("100"), OfferTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	inbox := func(s identity.Account) []procurement.Task {
		t.Helper()
		page, err := svc.Inbox(ctx, srcPrincipal(s), nil, 10, "")
		if err != nil {
			t.Fatal(err)
		}
		return page.Items
	}
	awaitInbox := func(s identity.Account, status procurement.Status) procurement.Task {
		t.Helper()
		for {
			if items := inbox(s); len(items) == 1 && items[0].Status == status {
				return items[0]
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%s never saw a task %s (inbox %+v)", s.Enterprise.Name, status, inbox(s))
			case <-time.After(50 * time.Millisecond):
			}
		}
	}

	// A, cheaper, is offered all 100 and takes 30; the other 70 are offered to B.
	offer := awaitInbox(a, procurement.StatusOffered)
	h, err := p.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: run.GetID(), RunID: run.GetRunID(),
		UpdateName: workflows.UpdateAcceptOffer, WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{workflows.AcceptOffer{TaskID: offer.ID.String(), ActorEnterpriseID: a.Enterprise.ID.String(), UnitPrice: q("12.00"),
			Quantity: q("30"), PromisedDate: time.Now().AddDate(0, 0, 5)}}})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	awaitInbox(b, procurement.StatusOffered)

	// The order is cancelled (as the order workflow records it), then its children.
	if _, err := p.Orders.Record(ctx, orders.Transition{OrderID: orderID, Key: "cancelled", Type: orders.EventCancelled,
		Stage: workflows.StageProcurement, Status: workflows.StatusCancelled, Message: "order cancelled"}); err != nil {
		t.Fatal(err)
	}
	if err := p.Temporal.CancelWorkflow(ctx, run.GetID(), run.GetRunID()); err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, nil); !temporal.IsCanceledError(err) {
		t.Fatalf("the sourcing ended with %v, want cancelled", err)
	}

	if got := inbox(a)[0]; got.Status != procurement.StatusCancelled || got.CancelReason == nil || *got.CancelReason != "the order was cancelled" {
		t.Errorf("A sees %s (%v), want its accepted task CANCELLED with the reason", got.Status, got.CancelReason)
	}
	if got := inbox(b)[0]; got.Status != procurement.StatusWithdrawn {
		t.Errorf("B sees %s, want its open offer WITHDRAWN", got.Status)
	}
	events, err := p.Orders.Events(ctx, orderID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var tail []string
	for _, e := range events {
		tail = append(tail, e.Key+" "+e.Status)
	}
	want := []string{"offer:1:1 ACTIVE", "accepted:1:1 ACTIVE", "offer:1:2 ACTIVE", "cancelled CANCELLED",
		"withdrawn:1:2 CANCELLED", "cancelled:1:1 CANCELLED", "sourcing-cancelled:1 CANCELLED"}
	if !slices.Equal(tail, want) {
		t.Errorf("timeline %v, want %v", tail, want)
	}
}

func srcPrincipal(a identity.Account) *identity.Principal {
	return &identity.Principal{UserID: a.User.ID, EnterpriseID: a.Enterprise.ID, Kind: a.Enterprise.Kind, Role: a.User.Role, TokenID: a.TokenID}
}

func svcOrderStatus(ctx context.Context, p *platform.Platform, id uuid.UUID) (string, error) {
	events, err := p.Orders.Events(ctx, id, 0, 500)
	if err != nil || len(events) == 0 {
		return "", err
	}
	return events[len(events)-1].Status, nil
}
