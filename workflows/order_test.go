package workflows_test

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"go.temporal.io/sdk/temporal"

	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/workflows"
	"github.com/masscustom/orchestrator/workflows/activities"
	"github.com/masscustom/orchestrator/workflows/refusal"
)

// Lines of the recorded timeline: "key TYPE STAGE/STATUS".
const (
	placed   = "placed ORDER_PLACED INTERACTION/ACTIVE"
	design1  = "design:1 DESIGN_READY DESIGN/ACTIVE"
	design2  = "design:2 DESIGN_READY DESIGN/ACTIVE"
	design3  = "design:3 DESIGN_READY DESIGN/ACTIVE"
	approved = "approved DESIGN_APPROVED PROCUREMENT/ACTIVE"
	// Approval assigns the factory before the materials are sourced.
	productionAssigned = "production-assigned PRODUCTION_ASSIGNED PROCUREMENT/ACTIVE"
	lapsed1            = "lapsed:1 DESIGN_DEADLINE_LAPSED DESIGN/ON_HOLD"
	lapsed2            = "lapsed:2 DESIGN_DEADLINE_LAPSED DESIGN/ON_HOLD"
	resumed1           = "resumed:1 ORDER_RESUMED DESIGN/ACTIVE"

	cancelledInDesign      = "cancelled ORDER_CANCELLED DESIGN/CANCELLED"
	cancelledInProcurement = "cancelled ORDER_CANCELLED PROCUREMENT/CANCELLED"
)

const (
	waitingForApproval  = "customer approval of the design"
	waitingForOperator  = "operator to resume or cancel"
	waitingForSuppliers = "suppliers: offers, shipments and receipts"
)

// Both BOM lines sourced until the order cancelled them.
var sourcingCancelled = []string{"1 steel-sheet-1.2mm 4 cancelled", "2 powder-coat-red 0.5 cancelled"}

var (
	customer = "7f3e9c1a-0d2b-4c5e-8a6f-1b2c3d4e5f60"
	operator = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	redDoor  = []catalog.Selection{{Option: "color", Choice: "red"}}
)

func approve(version int) workflows.ApproveDesign {
	return workflows.ApproveDesign{ActorID: customer, ConfigVersion: version}
}

func change(sel []catalog.Selection) workflows.DesignChange {
	return workflows.DesignChange{ActorID: customer, Selections: sel, Quantity: 5, Reason: "another color"}
}

var (
	cancelByCustomer = workflows.Cancel{ActorID: customer, Reason: "budget cut"}
	resumeByOperator = workflows.Resume{ActorID: operator, Reason: "customer called back"}
)

func requireState(t *testing.T, what string, got, want workflows.OrderState) {
	t.Helper()
	if !sameState(got, want) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

// compensated requires one compensation, preceded by what the order's
// progress calls for: once a factory was assigned, both sourcing children are
// cancelled and production is stopped before the compensation; before that,
// neither is touched.
func (h *harness) compensated() activities.Compensation {
	h.t.Helper()
	if h.callCount("AssignProduction") == 0 {
		if n := h.callCount("CancelProduction"); n != 0 {
			h.t.Fatalf("CancelProduction called %d times before any production was assigned", n)
		}
		h.requireSourcing()
		return h.compensatedOnce()
	}
	h.requireSourcing(sourcingCancelled...)
	return h.cancelledWithProductionStopped()
}

func TestOrder_ApprovedDesignMovesToProcurementUntilCancelled(t *testing.T) {
	t.Parallel()
	h := newHarness(t, time.Hour)
	var awaiting, procurement workflows.OrderState
	h.stateAt(time.Minute, &awaiting)
	h.sendAt(2*time.Minute, "approve", workflows.UpdateApproveDesign,
		workflows.ApproveDesign{ActorID: customer, ConfigVersion: 1, Comment: "looks right"})
	h.stateAt(3*time.Minute, &procurement)
	h.sendAt(4*time.Minute, "cancel", workflows.UpdateCancel, cancelByCustomer)
	h.run()

	h.requireTimeline(placed, design1, approved, productionAssigned, cancelledInProcurement)

	deadline := start.Add(time.Hour)
	requireState(t, "state while the design awaits approval", awaiting, workflows.OrderState{
		OrderID: testOrderID, Stage: workflows.StageDesign, Status: workflows.StatusActive, ConfigVersion: 1,
		DesignRound: 1, DesignDeadline: deadline, WaitingFor: waitingForApproval, Seq: 2,
	})
	if d := h.record("design:1").DesignDeadline; d == nil || !d.Equal(deadline) {
		t.Errorf("design:1 recorded deadline %v, want %v (start + DesignApprovalTimeout)", d, deadline)
	}

	res := h.succeeded("approve")
	if res.Stage != workflows.StageProcurement || res.Status != workflows.StatusActive || res.ConfigVersion != 1 {
		t.Errorf("approveDesign answered %+v, want PROCUREMENT/ACTIVE at config version 1", res)
	}
	a := h.record("approved")
	if a.ActorID != customer || !a.DesignApproved || a.Message != "design approved; procurement starts: looks right" ||
		fmt.Sprint(a.Data["configVersion"]) != "1" {
		t.Errorf("approval recorded as %+v", a)
	}
	requireState(t, "state after approval", procurement, workflows.OrderState{
		OrderID: testOrderID, Stage: workflows.StageProcurement, Status: workflows.StatusActive, ConfigVersion: 1,
		DesignRound: 1, DesignDeadline: deadline, WaitingFor: waitingForSuppliers, Seq: 4,
		FactoryID: assignedFactory, ProductionID: productionOrder,
	})
	if p := h.record("production-assigned"); p.Message != "factory assigned (3 routing stages); sourcing 2 materials" ||
		fmt.Sprint(p.Data) != fmt.Sprintf("map[factoryId:%s materials:2 productionOrderId:%s]", assignedFactory, productionOrder) {
		t.Errorf("assignment recorded as %+v", p)
	}
	h.mu.Lock()
	var inputs []workflows.SourcingInput
	for _, r := range h.sourcing {
		inputs = append(inputs, r.in)
	}
	h.mu.Unlock()
	// Each child runs in its own goroutine in the test environment, so they append
	// themselves in no particular order: compare them by line.
	slices.SortFunc(inputs, func(a, b workflows.SourcingInput) int { return cmp.Compare(a.Line, b.Line) })
	wantInputs := []workflows.SourcingInput{
		{OrderID: testOrderID, Line: 1, Material: steelLine.Material, Quantity: steelLine.Quantity, OfferTimeout: workflows.DefaultOfferTimeout, FactoryID: assignedFactory, ReportsToOrder: true},
		{OrderID: testOrderID, Line: 2, Material: coatLine.Material, Quantity: coatLine.Quantity, OfferTimeout: workflows.DefaultOfferTimeout, FactoryID: assignedFactory, ReportsToOrder: true},
	}
	if !reflect.DeepEqual(inputs, wantInputs) {
		t.Errorf("sourcing children started with\n %+v\nwant\n %+v", inputs, wantInputs)
	}

	if res := h.succeeded("cancel"); res.Status != workflows.StatusCancelled || res.Stage != workflows.StageProcurement {
		t.Errorf("cancel answered %+v, want CANCELLED in PROCUREMENT", res)
	}
	if c := h.record("cancelled"); c.ActorID != customer || c.Message != "order cancelled: budget cut" {
		t.Errorf("cancellation recorded as %+v", c)
	}
	if got, want := h.compensated(), (activities.Compensation{OrderID: testOrderID, Key: "compensated", ActorID: customer, Reason: "budget cut"}); got != want {
		t.Errorf("Compensate got %+v, want %+v", got, want)
	}
	if n := h.callCount("PrepareDesign"); n != 1 {
		t.Errorf("PrepareDesign called %d times, want once", n)
	}
	if n := h.callCount("ApplyDesignChange"); n != 0 {
		t.Errorf("ApplyDesignChange called %d times, want never", n)
	}
}

func TestOrder_DesignChangeRaisesConfigVersionAndPreparesTheDesignAgain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		changes int
		want    []string
	}{
		{"one change", 1, []string{placed, design1, design2, approved, productionAssigned, cancelledInProcurement}},
		{"two changes", 2, []string{placed, design1, design2, design3, approved, productionAssigned, cancelledInProcurement}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, time.Hour)
			// Change i at i minutes, then the state half a minute later.
			states := make([]workflows.OrderState, tt.changes)
			for i := range tt.changes {
				at := time.Duration(i+1) * time.Minute
				h.sendAt(at, fmt.Sprintf("change %d", i+1), workflows.UpdateRequestDesignChange, change(redDoor))
				h.stateAt(at+30*time.Second, &states[i])
			}
			final := tt.changes + 1 // the configuration version after the last change
			next := time.Duration(tt.changes+1) * time.Minute
			h.sendAt(next, "approve stale", workflows.UpdateApproveDesign, approve(final-1))
			h.sendAt(next+time.Minute, "approve", workflows.UpdateApproveDesign, approve(final))
			h.sendAt(next+2*time.Minute, "cancel", workflows.UpdateCancel, cancelByCustomer)
			h.run()

			h.requireTimeline(tt.want...)
			for i := range tt.changes {
				res := h.succeeded(fmt.Sprintf("change %d", i+1))
				if res.ConfigVersion != i+2 || res.Stage != workflows.StageInteraction || res.Status != workflows.StatusActive {
					t.Errorf("change %d answered %+v, want config version %d back in INTERACTION/ACTIVE", i+1, res, i+2)
				}
				at := time.Duration(i+1) * time.Minute
				requireState(t, fmt.Sprintf("state after change %d", i+1), states[i], workflows.OrderState{
					OrderID: testOrderID, Stage: workflows.StageDesign, Status: workflows.StatusActive, ConfigVersion: i + 2,
					DesignRound: i + 2, DesignDeadline: start.Add(at + time.Hour), WaitingFor: waitingForApproval,
					Seq: int64(2*i + 4), // placed, design:1, then per change its event and a design
				})
			}
			h.mu.Lock()
			changes := h.changes
			h.mu.Unlock()
			if len(changes) != tt.changes {
				t.Fatalf("ApplyDesignChange called %d times, want %d", len(changes), tt.changes)
			}
			for i, c := range changes {
				want := activities.Change{
					OrderID: testOrderID, Key: fmt.Sprintf("change:%d", i+1), ActorID: customer,
					Selections: redDoor, Quantity: 5, Reason: "another color",
				}
				if !reflect.DeepEqual(c, want) {
					t.Errorf("ApplyDesignChange call %d got %+v, want %+v", i+1, c, want)
				}
			}

			h.rejected("approve stale", workflows.ErrIllegalState)
			if res := h.succeeded("approve"); res.ConfigVersion != final || res.Stage != workflows.StageProcurement {
				t.Errorf("approve answered %+v, want PROCUREMENT at config version %d", res, final)
			}
			if v := fmt.Sprint(h.record("approved").Data["configVersion"]); v != fmt.Sprint(final) {
				t.Errorf("approval recorded config version %s, want %d", v, final)
			}
			if n := h.callCount("PrepareDesign"); n != tt.changes+1 {
				t.Errorf("PrepareDesign called %d times, want %d", n, tt.changes+1)
			}
			h.compensated()
		})
	}
}

func TestOrder_RefusedDesignChangeRecordsNothingAndKeepsTheDesignAwaitingApproval(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// then arranges what follows the refusal (at 1m) and the state check
		// (at 2m); check, if any, runs once the workflow is over.
		then func(h *harness) (check func(t *testing.T))
		want []string
	}{
		{
			name: "then approved",
			then: func(h *harness) func(*testing.T) {
				h.sendAt(3*time.Minute, "approve", workflows.UpdateApproveDesign, approve(1))
				h.sendAt(4*time.Minute, "cancel", workflows.UpdateCancel, cancelByCustomer)
				return func(t *testing.T) {
					h.succeeded("approve")
					h.compensated()
				}
			},
			want: []string{placed, design1, approved, productionAssigned, cancelledInProcurement},
		},
		{
			name: "then lapses at the original deadline",
			then: func(h *harness) func(*testing.T) {
				var before, after workflows.OrderState
				h.stateAt(59*time.Minute, &before)
				h.stateAt(61*time.Minute, &after)
				h.sendAt(2*time.Hour, "cancel", workflows.UpdateCancel, cancelByCustomer)
				return func(t *testing.T) {
					if before.Status != workflows.StatusActive || after.Status != workflows.StatusOnHold {
						t.Errorf("status a minute before the deadline %s and after %s, want ACTIVE then ON_HOLD", before.Status, after.Status)
					}
				}
			},
			want: []string{placed, design1, lapsed1, cancelledInDesign},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, time.Hour)
			h.applyChange = func(activities.Change) (activities.ChangeResult, error) {
				return activities.ChangeResult{}, refusal.Violations([]catalog.Violation{{Code: "UNKNOWN_CHOICE", Path: []string{"selections", "0"}, Message: "color plaid is not offered"}})
			}
			plaid := []catalog.Selection{{Option: "color", Choice: "plaid"}}
			h.sendAt(time.Minute, "change", workflows.UpdateRequestDesignChange, change(plaid))
			var afterRefusal workflows.OrderState
			var timelineAfterRefusal []string
			h.at(2*time.Minute, func() {
				afterRefusal = h.state()
				timelineAfterRefusal = h.timeline()
			})
			check := tt.then(h)
			h.run()

			h.failed("change", workflows.ErrInvalidInput)
			if msg := h.got("change").err.Error(); !strings.Contains(msg, "plaid") {
				t.Errorf("refusal %q does not carry the activity's message", msg)
			}
			if n := h.callCount("ApplyDesignChange"); n != 1 {
				t.Errorf("ApplyDesignChange called %d times, want once (a refusal is not retried)", n)
			}
			if got := strings.Join(timelineAfterRefusal, "\n"); got != placed+"\n"+design1 {
				t.Errorf("timeline after the refusal:\n  %s\nwant only what preceded it", strings.ReplaceAll(got, "\n", "\n  "))
			}
			requireState(t, "state after the refusal", afterRefusal, workflows.OrderState{
				OrderID: testOrderID, Stage: workflows.StageDesign, Status: workflows.StatusActive, ConfigVersion: 1,
				DesignRound: 1, DesignDeadline: start.Add(time.Hour), WaitingFor: waitingForApproval, Seq: 2,
			})
			h.requireTimeline(tt.want...)
			if n := h.callCount("PrepareDesign"); n != 1 {
				t.Errorf("PrepareDesign called %d times, want once", n)
			}
			check(t)
		})
	}
}

func TestOrder_LapsedDeadlineHoldsTheOrderUntilTheOperatorResumes(t *testing.T) {
	t.Parallel()
	t.Run("resumed then approved", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, time.Hour)
		var beforeDeadline, onHold workflows.OrderState
		h.stateAt(59*time.Minute, &beforeDeadline)
		h.stateAt(61*time.Minute, &onHold)
		h.sendAt(2*time.Hour, "approve on hold", workflows.UpdateApproveDesign, approve(1))
		h.sendAt(2*time.Hour+time.Minute, "resume", workflows.UpdateResume, resumeByOperator)
		h.sendAt(2*time.Hour+2*time.Minute, "approve", workflows.UpdateApproveDesign, approve(1))
		h.sendAt(2*time.Hour+3*time.Minute, "cancel", workflows.UpdateCancel, cancelByCustomer)
		h.run()

		h.requireTimeline(placed, design1, lapsed1, resumed1, design2, approved, productionAssigned, cancelledInProcurement)
		if beforeDeadline.Status != workflows.StatusActive {
			t.Errorf("a minute before the deadline the order is %s, want ACTIVE", beforeDeadline.Status)
		}
		requireState(t, "state after the deadline", onHold, workflows.OrderState{
			OrderID: testOrderID, Stage: workflows.StageDesign, Status: workflows.StatusOnHold, ConfigVersion: 1,
			DesignRound: 1, DesignDeadline: start.Add(time.Hour), WaitingFor: waitingForOperator, Seq: 3,
		})
		h.rejected("approve on hold", workflows.ErrIllegalState)
		if res := h.succeeded("resume"); res.Status != workflows.StatusActive || res.Stage != workflows.StageDesign {
			t.Errorf("resume answered %+v, want DESIGN/ACTIVE", res)
		}
		if r := h.record("resumed:1"); r.ActorID != operator || r.Message != "order resumed by the operator: customer called back" {
			t.Errorf("resumption recorded as %+v", r)
		}
		want := start.Add(2*time.Hour + time.Minute + time.Hour) // a full period from the resumption
		if d := h.record("design:2").DesignDeadline; d == nil || !d.Equal(want) {
			t.Errorf("design:2 deadline %v, want %v", d, want)
		}
		if res := h.succeeded("approve"); res.Stage != workflows.StageProcurement {
			t.Errorf("approve after resumption answered %+v, want PROCUREMENT", res)
		}
		h.compensated()
	})

	t.Run("resumed then lapses again", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, time.Hour)
		h.sendAt(2*time.Hour, "resume", workflows.UpdateResume, resumeByOperator)
		var onHoldAgain workflows.OrderState
		h.stateAt(4*time.Hour, &onHoldAgain)
		h.sendAt(4*time.Hour+time.Minute, "cancel", workflows.UpdateCancel, cancelByCustomer)
		h.run()

		h.requireTimeline(placed, design1, lapsed1, resumed1, design2, lapsed2, cancelledInDesign)
		h.succeeded("resume")
		requireState(t, "state after the second deadline", onHoldAgain, workflows.OrderState{
			OrderID: testOrderID, Stage: workflows.StageDesign, Status: workflows.StatusOnHold, ConfigVersion: 1,
			DesignRound: 2, DesignDeadline: start.Add(3 * time.Hour), WaitingFor: waitingForOperator, Seq: 6,
		})
		h.succeeded("cancel")
		h.compensated()
	})
}

func TestOrder_CancelCompensatesOnceAndRefusesEveryLaterUpdate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cancel func(h *harness) // arranges the cancellation
		want   []string
	}{
		{
			name:   "while the first design is prepared",
			cancel: func(h *harness) { h.sendDuring("PrepareDesign", 1, "cancel", workflows.UpdateCancel, cancelByCustomer) },
			want:   []string{placed, design1, cancelledInDesign},
		},
		{
			name:   "while the design awaits approval",
			cancel: func(h *harness) { h.sendAt(time.Minute, "cancel", workflows.UpdateCancel, cancelByCustomer) },
			want:   []string{placed, design1, cancelledInDesign},
		},
		{
			name:   "while on hold",
			cancel: func(h *harness) { h.sendAt(2*time.Hour, "cancel", workflows.UpdateCancel, cancelByCustomer) },
			want:   []string{placed, design1, lapsed1, cancelledInDesign},
		},
		{
			name: "in procurement",
			cancel: func(h *harness) {
				h.sendAt(time.Minute, "approve", workflows.UpdateApproveDesign, approve(1))
				h.sendAt(2*time.Minute, "cancel", workflows.UpdateCancel, cancelByCustomer)
			},
			want: []string{placed, design1, approved, productionAssigned, cancelledInProcurement},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, time.Hour)
			tt.cancel(h)
			// While the compensation runs, the order is cancelled for good.
			h.sendDuring("Compensate", 1, "cancel again", workflows.UpdateCancel, workflows.Cancel{ActorID: operator, Reason: "twice"})
			h.sendDuring("Compensate", 1, "approve after cancel", workflows.UpdateApproveDesign, approve(1))
			h.sendDuring("Compensate", 1, "resume after cancel", workflows.UpdateResume, resumeByOperator)
			h.run()

			h.requireTimeline(tt.want...)
			if res := h.succeeded("cancel"); res.Status != workflows.StatusCancelled {
				t.Errorf("cancel answered %+v, want CANCELLED", res)
			}
			h.rejected("cancel again", workflows.ErrIllegalState)
			h.rejected("approve after cancel", workflows.ErrIllegalState)
			h.rejected("resume after cancel", workflows.ErrIllegalState)
			want := activities.Compensation{OrderID: testOrderID, Key: "compensated", ActorID: customer, Reason: "budget cut"}
			if got := h.compensated(); got != want {
				t.Errorf("Compensate got %+v, want %+v", got, want)
			}
		})
	}
}

// Updates accepted together are checked again when they get their turn: the
// one that comes second finds the order changed and fails without effect.
func TestOrder_UpdateAcceptedTogetherWithAConflictingOneFailsWithoutEffect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		first    func(h *harness)
		second   func(h *harness)
		then     func(h *harness)
		want     []string
		wantCall string // activity the second update must not have called
	}{
		{
			name:  "second cancel",
			first: func(h *harness) { h.send("first", workflows.UpdateCancel, cancelByCustomer) },
			second: func(h *harness) {
				h.send("second", workflows.UpdateCancel, workflows.Cancel{ActorID: operator, Reason: "twice"})
			},
			then: func(*harness) {},
			want: []string{placed, design1, cancelledInDesign},
		},
		{
			name:   "design change after an approval",
			first:  func(h *harness) { h.send("first", workflows.UpdateApproveDesign, approve(1)) },
			second: func(h *harness) { h.send("second", workflows.UpdateRequestDesignChange, change(redDoor)) },
			then: func(h *harness) {
				h.sendAt(2*time.Minute, "cancel", workflows.UpdateCancel, cancelByCustomer)
			},
			want:     []string{placed, design1, approved, productionAssigned, cancelledInProcurement},
			wantCall: "ApplyDesignChange",
		},
		{
			name:   "approval after a cancellation",
			first:  func(h *harness) { h.send("first", workflows.UpdateCancel, cancelByCustomer) },
			second: func(h *harness) { h.send("second", workflows.UpdateApproveDesign, approve(1)) },
			then:   func(*harness) {},
			want:   []string{placed, design1, cancelledInDesign},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, time.Hour)
			h.at(time.Minute, func() {
				tt.first(h)
				tt.second(h)
			})
			tt.then(h)
			h.run()

			h.requireTimeline(tt.want...)
			h.succeeded("first")
			h.failed("second", workflows.ErrIllegalState)
			if tt.wantCall != "" {
				if n := h.callCount(tt.wantCall); n != 0 {
					t.Errorf("%s called %d times, want never", tt.wantCall, n)
				}
			}
			h.compensated()
		})
	}
}

// sender sends an update and keeps its outcome under id.
type sender func(id, name string, arg any)

// Every update sent in a state where it is illegal is refused by its validator
// with nothing recorded and the state unchanged.
func TestOrder_ValidatorsRefuseIllegalUpdatesWithoutEffect(t *testing.T) {
	t.Parallel()
	type probe struct {
		name    string
		update  string
		arg     any
		errType string
	}
	var (
		approveAny    = probe{"approve", workflows.UpdateApproveDesign, approve(0), workflows.ErrIllegalState}
		approveStale  = probe{"approve a version never shown", workflows.UpdateApproveDesign, approve(7), workflows.ErrIllegalState}
		changeAny     = probe{"change", workflows.UpdateRequestDesignChange, change(redDoor), workflows.ErrIllegalState}
		changeEmpty   = probe{"change without a configuration", workflows.UpdateRequestDesignChange, change(nil), workflows.ErrInvalidInput}
		resumeAny     = probe{"resume", workflows.UpdateResume, resumeByOperator, workflows.ErrIllegalState}
		cancelAgain   = probe{"cancel", workflows.UpdateCancel, cancelByCustomer, workflows.ErrIllegalState}
		cancelInitial = workflows.Cancel{ActorID: customer, Reason: "budget cut"}
	)
	states := []struct {
		name string
		// story arranges the order's journey, calls probe once in the state
		// under test with the way to send from there, and ends the workflow.
		story  func(h *harness, probe func(send sender))
		want   []string
		probes []probe
	}{
		{
			name: "preparing the first design",
			story: func(h *harness, probe func(send sender)) {
				h.during("PrepareDesign", 1, func() { probe(h.sendFromActivity) })
				h.sendAt(time.Minute, "end", workflows.UpdateCancel, cancelInitial)
			},
			want:   []string{placed, design1, cancelledInDesign},
			probes: []probe{approveAny, changeAny, resumeAny},
		},
		{
			name: "awaiting approval",
			story: func(h *harness, probe func(send sender)) {
				h.at(time.Minute, func() { probe(h.send) })
				h.sendAt(2*time.Minute, "end", workflows.UpdateCancel, cancelInitial)
			},
			want:   []string{placed, design1, cancelledInDesign},
			probes: []probe{approveStale, changeEmpty, resumeAny},
		},
		{
			name: "preparing the design again after a change",
			story: func(h *harness, probe func(send sender)) {
				h.sendAt(time.Minute, "change", workflows.UpdateRequestDesignChange, change(redDoor))
				h.during("PrepareDesign", 2, func() { probe(h.sendFromActivity) })
				h.sendAt(2*time.Minute, "end", workflows.UpdateCancel, cancelInitial)
			},
			want:   []string{placed, design1, design2, cancelledInDesign},
			probes: []probe{approveAny, changeAny, resumeAny},
		},
		{
			// Resumption records DESIGN/ACTIVE before the new design is
			// ready; the design does not await approval until it is.
			name: "preparing the design again after resumption",
			story: func(h *harness, probe func(send sender)) {
				h.sendAt(2*time.Hour, "resume", workflows.UpdateResume, resumeByOperator)
				h.during("PrepareDesign", 2, func() { probe(h.sendFromActivity) })
				h.sendAt(2*time.Hour+time.Minute, "end", workflows.UpdateCancel, cancelInitial)
			},
			want:   []string{placed, design1, lapsed1, resumed1, design2, cancelledInDesign},
			probes: []probe{approveAny, changeAny, resumeAny},
		},
		{
			name: "on hold",
			story: func(h *harness, probe func(send sender)) {
				h.at(2*time.Hour, func() { probe(h.send) })
				h.sendAt(3*time.Hour, "end", workflows.UpdateCancel, cancelInitial)
			},
			want:   []string{placed, design1, lapsed1, cancelledInDesign},
			probes: []probe{approveAny, changeAny},
		},
		{
			name: "in procurement",
			story: func(h *harness, probe func(send sender)) {
				h.sendAt(time.Minute, "approve", workflows.UpdateApproveDesign, approve(1))
				h.at(2*time.Minute, func() { probe(h.send) })
				h.sendAt(3*time.Minute, "end", workflows.UpdateCancel, cancelInitial)
			},
			want:   []string{placed, design1, approved, productionAssigned, cancelledInProcurement},
			probes: []probe{approveAny, changeAny, resumeAny},
		},
		{
			name: "cancelled and compensating",
			story: func(h *harness, probe func(send sender)) {
				h.sendAt(time.Minute, "end", workflows.UpdateCancel, cancelInitial)
				h.during("Compensate", 1, func() { probe(h.sendFromActivity) })
			},
			want:   []string{placed, design1, cancelledInDesign},
			probes: []probe{approveAny, changeAny, resumeAny, cancelAgain},
		},
	}
	for _, st := range states {
		for _, p := range st.probes {
			t.Run(st.name+"/"+p.name, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, time.Hour)
				var sent atomic.Bool
				st.story(h, func(send sender) {
					sent.Store(true)
					send("probe", p.update, p.arg)
				})
				h.run()

				if !sent.Load() {
					t.Fatal("the story never reached the state under test")
				}
				h.rejected("probe", p.errType)
				h.requireTimeline(st.want...)
				h.succeeded("end")
				h.compensated()
			})
		}
	}
}

// An accepted update's handler persists its transition through an activity.
// It must wait for that activity on the update's own context: waiting on the
// workflow's root context panics the workflow task ("trying to block on
// coroutine which is already blocked"), so no update could ever be applied.
func TestOrder_AcceptedUpdateRunsItsActivityWithoutFailingTheWorkflow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		at     time.Duration
		update string
		arg    any
		want   []string
	}{
		{"approveDesign", time.Minute, workflows.UpdateApproveDesign, approve(1), []string{placed, design1, approved, productionAssigned, cancelledInProcurement}},
		{"requestDesignChange", time.Minute, workflows.UpdateRequestDesignChange, change(redDoor), []string{placed, design1, design2, cancelledInDesign}},
		{"resume", 2 * time.Hour, workflows.UpdateResume, resumeByOperator, []string{placed, design1, lapsed1, resumed1, design2, cancelledInDesign}},
		{"cancel", time.Minute, workflows.UpdateCancel, cancelByCustomer, []string{placed, design1, cancelledInDesign}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, time.Hour)
			h.sendAt(tt.at, "update", tt.update, tt.arg)
			if tt.update != workflows.UpdateCancel {
				h.sendAt(tt.at+time.Minute, "end", workflows.UpdateCancel, cancelByCustomer)
			}
			h.run()

			h.succeeded("update")
			h.requireTimeline(tt.want...)
			h.compensated()
		})
	}
}

// A cancellation request (client.CancelWorkflow, `temporal workflow cancel`)
// must not leave the order ACTIVE in Postgres with its quote held: the
// workflow still records the cancellation and compensates, in a context the
// cancellation does not reach.
func TestOrder_CancellationRequestRecordsTheCancellationAndCompensates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		story func(h *harness)
		want  []string
	}{
		{
			name:  "while the design awaits approval",
			story: func(h *harness) { h.at(time.Minute, h.env.CancelWorkflow) },
			want:  []string{placed, design1, cancelledInDesign},
		},
		{
			name:  "while on hold",
			story: func(h *harness) { h.at(2*time.Hour, h.env.CancelWorkflow) },
			want:  []string{placed, design1, lapsed1, cancelledInDesign},
		},
		{
			name: "in procurement",
			story: func(h *harness) {
				h.sendAt(time.Minute, "approve", workflows.UpdateApproveDesign, approve(1))
				h.at(2*time.Minute, h.env.CancelWorkflow)
			},
			want: []string{placed, design1, approved, productionAssigned, cancelledInProcurement},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, time.Hour)
			tt.story(h)
			h.env.ExecuteWorkflow(workflows.OrderWorkflow, h.in)

			if !h.env.IsWorkflowCompleted() {
				t.Fatal("workflow did not complete")
			}
			if err := h.env.GetWorkflowError(); err != nil && !temporal.IsCanceledError(err) {
				t.Fatalf("workflow failed: %v", err)
			}
			h.requireTimeline(tt.want...)
			if c := h.compensated(); c.Key != "compensated" || c.OrderID != testOrderID {
				t.Errorf("Compensate got %+v, want key compensated for order %s", c, testOrderID)
			}
		})
	}
}

// The order's workflow alone writes its status: a Sourcing child reports that
// its line is held, and the order records SOURCING_ESCALATED and ON_HOLD (in
// its own stage); the operator resumes the line, not the order (a resumeOrder
// is refused); the child reports the resumption and the order is ACTIVE again
// once no line is held.
func TestOrder_SourcingHoldsReportedByTheChildrenAreRecordedByTheOrder(t *testing.T) {
	t.Parallel()
	h := newHarness(t, time.Hour)
	h.sendAt(time.Minute, "approve", workflows.UpdateApproveDesign, workflows.ApproveDesign{ActorID: customer, ConfigVersion: 1})
	// What a Sourcing child reports, as the server delivers it to the order.
	forward := func(_ int, r workflows.SourcingReport) { h.env.SignalWorkflow(workflows.SignalSourcingReport, r) }
	held := func(line int) workflows.SourcingReport {
		return workflows.SourcingReport{Held: &activities.SourcingEscalation{OrderID: testOrderID, Line: line, Round: 1, Material: "m", Remaining: decimal.RequireFromString("4")}}
	}
	resumed := func(line int) workflows.SourcingReport {
		return workflows.SourcingReport{Resumed: &activities.SourcingResumption{OrderID: testOrderID, Line: line, Round: 1, Material: "m", ActorID: operator, Reason: "supplier added"}}
	}
	var onHold, stillHeld, active workflows.OrderState
	h.at(2*time.Minute, func() { forward(1, held(1)) })
	h.at(3*time.Minute, func() { forward(2, held(2)) })
	h.stateAt(4*time.Minute, &onHold)
	h.sendAt(5*time.Minute, "resume order", workflows.UpdateResume, workflows.Resume{ActorID: operator})
	h.at(6*time.Minute, func() { forward(1, resumed(1)) })
	h.stateAt(7*time.Minute, &stillHeld)
	h.at(8*time.Minute, func() { forward(2, resumed(2)) })
	h.stateAt(9*time.Minute, &active)
	h.at(10*time.Minute, func() { h.release(1, 2) })
	h.sendAt(11*time.Minute, "cancel", workflows.UpdateCancel, cancelByCustomer)
	h.run()

	h.requireTimeline(placed, design1, approved, productionAssigned,
		"escalated:1:1 SOURCING_ESCALATED PROCUREMENT/ON_HOLD", "escalated:2:1 SOURCING_ESCALATED PROCUREMENT/ON_HOLD",
		"sourcing-resumed:1:1 SOURCING_RESUMED PROCUREMENT/ON_HOLD", "sourcing-resumed:2:1 SOURCING_RESUMED PROCUREMENT/ACTIVE",
		"procured PROCUREMENT_DONE PRODUCTION/ACTIVE", "cancelled ORDER_CANCELLED PRODUCTION/CANCELLED")
	if onHold.Status != workflows.StatusOnHold || !strings.Contains(onHold.WaitingFor, "[1 2]") {
		t.Errorf("with two lines held the order is %s waiting for %q, want ON_HOLD for lines [1 2]", onHold.Status, onHold.WaitingFor)
	}
	h.rejected("resume order", workflows.ErrIllegalState)
	if stillHeld.Status != workflows.StatusOnHold || !strings.Contains(stillHeld.WaitingFor, "[2]") {
		t.Errorf("with line 2 still held the order is %s waiting for %q", stillHeld.Status, stillHeld.WaitingFor)
	}
	if active.Status != workflows.StatusActive || active.WaitingFor != waitingForSuppliers {
		t.Errorf("with no line held the order is %s waiting for %q, want ACTIVE waiting for %q", active.Status, active.WaitingFor, waitingForSuppliers)
	}
	if r := h.record("escalated:1:1"); r.Message != "m: no supplier left for 4; procurement on hold until the operator adds a supplier and resumes" {
		t.Errorf("escalation recorded as %+v", r)
	}
	if r := h.record("sourcing-resumed:2:1"); r.ActorID != operator || r.Message != "m: sourcing resumed by the operator: supplier added" {
		t.Errorf("resumption recorded as %+v", r)
	}
}
