package workflows_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/production"
	"github.com/masscustom/orchestrator/workflows"
	"github.com/masscustom/orchestrator/workflows/activities"
	"github.com/masscustom/orchestrator/workflows/refusal"
)

// The order after its design: procurement through Sourcing children,
// production reported by the assigned factory, shipping tracked by the booked
// carrier, the customer's receipt, and the warranty with its tickets. The
// harness mocks every activity; a journey sends the other enterprises'
// updates on the mock clock.

// Timeline lines after the design ("key TYPE STAGE/STATUS"); report:n are the
// transitions recorded by updates, numbered in the order they were applied.
const (
	procured              = "procured PROCUREMENT_DONE PRODUCTION/ACTIVE"
	qaPassedLine          = "qa QA_PASSED LOGISTICS/ACTIVE"
	qaFailedLine          = "qa QA_FAILED PRODUCTION/ON_HOLD"
	shipmentBooked        = "shipment-booked SHIPMENT_BOOKED LOGISTICS/ACTIVE"
	receiptConfirmed      = "receipt-confirmed RECEIPT_CONFIRMED SERVICE/ACTIVE"
	warrantyStarted       = "warranty-started WARRANTY_STARTED SERVICE/ACTIVE"
	orderCompleted        = "completed ORDER_COMPLETED SERVICE/COMPLETED"
	cancelledInProduction = "cancelled ORDER_CANCELLED PRODUCTION/CANCELLED"

	stageStartedAs     = "STAGE_STARTED PRODUCTION/ACTIVE"
	stageFinishedAs    = "STAGE_FINISHED PRODUCTION/ACTIVE"
	escalatedAs        = "PRODUCTION_ESCALATED PRODUCTION/ON_HOLD"
	trackedAs          = "SHIPMENT_TRACKED LOGISTICS/ACTIVE"
	deliveredAs        = "SHIPMENT_DELIVERED LOGISTICS/ACTIVE"
	ticketOpenedAs     = "TICKET_OPENED SERVICE/ACTIVE"
	ticketDispatchedAs = "TICKET_DISPATCHED SERVICE/ACTIVE"
	ticketResolvedAs   = "TICKET_RESOLVED SERVICE/ACTIVE"
)

func reported(n int, as string) string { return fmt.Sprintf("report:%d %s", n, as) }

// fulfilled is the timeline of an order that goes the whole way: report:1-6
// the three stages, report:7-10 the tracking, report:11-13 one ticket.
func fulfilled() []string {
	return []string{
		placed, design1, approved, productionAssigned, procured,
		reported(1, stageStartedAs), reported(2, stageFinishedAs),
		reported(3, stageStartedAs), reported(4, stageFinishedAs),
		reported(5, stageStartedAs), reported(6, stageFinishedAs),
		qaPassedLine, shipmentBooked,
		reported(7, trackedAs), reported(8, trackedAs), reported(9, trackedAs), reported(10, deliveredAs),
		receiptConfirmed, warrantyStarted,
		reported(11, ticketOpenedAs), reported(12, ticketDispatchedAs), reported(13, ticketResolvedAs),
		orderCompleted,
	}
}

const (
	warranty    = 30 * 24 * time.Hour
	autoConfirm = 48 * time.Hour

	waitingForFactory   = "the factory's stage reports and QA"
	waitingForCarrier   = "the carrier's tracking and delivery"
	waitingForReceipt   = "the customer's receipt confirmation"
	waitingForWarranty  = "warranty end"
	waitingForQADecided = "operator: QA failed"
)

// The enterprises' users, as the gateway authenticates them.
var (
	factoryWorker      = member("f0e00000-0000-4000-8000-000000000001", assignedFactory, identity.KindFactory)
	otherFactoryWorker = member("f0e00000-0000-4000-8000-000000000002", "fac70000-0000-4000-8000-000000000002", identity.KindFactory)
	driver             = member("d0e00000-0000-4000-8000-000000000001", bookedCarrier, identity.KindCarrier)
	otherDriver        = member("d0e00000-0000-4000-8000-000000000002", "ca770000-0000-4000-8000-000000000002", identity.KindCarrier)
	buyer              = member(customer, "c0e00000-0000-4000-8000-000000000001", identity.KindCustomer)
	platformOperator   = identity.Principal{UserID: uuid.MustParse(operator), Kind: identity.KindPlatform, Role: identity.RoleAdmin}
)

func member(user, enterprise string, kind identity.Kind) identity.Principal {
	return identity.Principal{UserID: uuid.MustParse(user), EnterpriseID: uuid.MustParse(enterprise), Kind: kind, Role: identity.RoleMember}
}

func stageStarted(seq int) workflows.StageReport {
	return workflows.StageReport{Principal: factoryWorker, Seq: seq}
}

func stageFinished(seq, good, scrap int) workflows.StageReport {
	return workflows.StageReport{Principal: factoryWorker, Seq: seq, Finished: true, Good: good, Scrap: scrap}
}

var (
	qaPass    = workflows.QAVerdict{Principal: factoryWorker, Passed: true, Notes: "all within tolerance"}
	qaFail    = workflows.QAVerdict{Principal: factoryWorker, Passed: false, Notes: "paint blistered"}
	delivered = workflows.TrackingReport{Principal: driver, Kind: "DELIVERED", ReceivedBy: "J. Doe", SignatureRef: "sig-1", PhotoRef: "photo-1"}
	confirm   = workflows.ConfirmDelivery{Principal: buyer}
	// The ticket: the customer opens it, the operator dispatches it to the
	// factory, which resolves it.
	openTicket     = workflows.TicketRequest{Principal: buyer, Category: "DEFECT", Description: "hinge squeaks"}
	dispatchTicket = workflows.TicketRequest{Principal: platformOperator, TicketID: ticketID(1), Assignee: assignedFactory}
	resolveTicket  = workflows.TicketRequest{Principal: factoryWorker, TicketID: ticketID(1), Resolution: "hinge replaced"}
	cancelByOp     = workflows.Cancel{ActorID: operator, Reason: "factory cannot deliver"}
)

func tracking(kind, location string) workflows.TrackingReport {
	return workflows.TrackingReport{Principal: driver, Kind: kind, Location: location}
}

// decideOnFinish makes the n-th finish of stage seq (from 1) end with action
// for units; every other finished stage is within tolerance.
func decideOnFinish(seq, n int, action string, units int) func(activities.StageCommand) (string, int) {
	finishes := 0
	return func(c activities.StageCommand) (string, int) {
		if c.Seq != seq {
			return "NONE", 0
		}
		finishes++
		if finishes == n {
			return action, units
		}
		return "NONE", 0
	}
}

// journey sends an order's updates on the mock clock, one step an hour after
// the previous, so that every step finds the order where the previous one
// left it. At a checkpoint, half an hour after the step before it, it runs
// what the test arranged there.
type journey struct {
	h           *harness
	at          time.Duration
	checkpoints map[string]func()
	// retry is the id of a step sent twice, an hour apart (the first attempt is
	// refused); before and after hold the timeline and state half an hour
	// before and after the first attempt.
	retry         string
	sent          map[string]int // steps sent under each id; a repeated id gets " (n)"
	before, after []string
	stateBefore   workflows.OrderState
	stateAfter    workflows.OrderState
	deliveredAt   time.Time
}

func newJourney(h *harness) *journey {
	h.in.DesignApprovalTimeout = 72 * time.Hour
	h.in.AutoConfirmAfter = autoConfirm
	h.in.Warranty = warranty
	return &journey{h: h, checkpoints: map[string]func(){}, sent: map[string]int{}}
}

func (j *journey) next() time.Duration {
	j.at += time.Hour
	return j.at
}

// send sends update name as the next step; its outcome is kept under id (the
// n-th step sent under the same id under "id (n)").
func (j *journey) send(id, name string, arg any) {
	j.sent[id]++
	if n := j.sent[id]; n > 1 {
		id = fmt.Sprintf("%s (%d)", id, n)
	}
	at := j.next()
	j.h.sendAt(at, id, name, arg)
	if id == j.retry {
		j.h.at(at-30*time.Minute, func() { j.before, j.stateBefore = j.h.timeline(), j.h.state() })
		j.h.at(at+30*time.Minute, func() { j.after, j.stateAfter = j.h.timeline(), j.h.state() })
		j.h.sendAt(j.next(), id+" again", name, arg)
	}
}

// do runs fn on the environment's loop as the next step.
func (j *journey) do(fn func()) { j.h.at(j.next(), fn) }

// checkpoint runs what the test arranged under name, half an hour after the last step.
func (j *journey) checkpoint(name string) {
	if fn, ok := j.checkpoints[name]; ok {
		j.h.at(j.at+30*time.Minute, fn)
	}
}

// meanwhile runs fn half an hour after the last step.
func (j *journey) meanwhile(fn func()) { j.h.at(j.at+30*time.Minute, fn) }

func (j *journey) approve() { j.send("approve", workflows.UpdateApproveDesign, approve(1)) }

// source receives the materials of both BOM lines, one after the other.
func (j *journey) source() {
	j.do(func() { j.h.release(1) })
	j.do(func() { j.h.release(2) })
}

// stage reports stage seq started, then finished with good and scrap units.
func (j *journey) stage(seq, good, scrap int) {
	j.send(fmt.Sprintf("start %d", seq), workflows.UpdateReportStage, stageStarted(seq))
	j.send(fmt.Sprintf("finish %d", seq), workflows.UpdateReportStage, stageFinished(seq, good, scrap))
}

// produce runs the three stages without scrap, then passes QA.
func (j *journey) produce() {
	for seq := 1; seq <= 3; seq++ {
		j.stage(seq, 2, 0)
	}
	j.send("qa", workflows.UpdateRecordQA, qaPass)
}

// deliver sends the carrier's reports, up to the delivery.
func (j *journey) deliver() {
	j.send("picked up", workflows.UpdateTrackShipment, tracking("PICKED_UP", ""))
	j.send("in transit", workflows.UpdateTrackShipment, tracking("IN_TRANSIT", "Rotterdam"))
	j.send("out for delivery", workflows.UpdateTrackShipment, tracking("OUT_FOR_DELIVERY", ""))
	j.send("delivered", workflows.UpdateTrackShipment, delivered)
	j.deliveredAt = start.Add(j.at)
}

// ticket opens a ticket, dispatches it and resolves it, during the warranty.
func (j *journey) ticket() {
	j.send("open ticket", workflows.UpdateOpenTicket, openTicket)
	j.send("dispatch ticket", workflows.UpdateDispatchTicket, dispatchTicket)
	j.send("resolve ticket", workflows.UpdateResolveTicket, resolveTicket)
}

// whole is the journey of an order that goes the whole way, with checkpoints
// "sourcing", "producing", "shipping", "delivered" and "serving".
func (j *journey) whole() {
	j.approve()
	j.checkpoint("sourcing")
	j.source()
	j.checkpoint("producing")
	j.produce()
	j.checkpoint("shipping")
	j.deliver()
	j.checkpoint("delivered")
	j.send("confirm", workflows.UpdateConfirmDelivery, confirm)
	j.checkpoint("serving")
	j.ticket()
}

func (h *harness) recordedAtKey(key string) time.Time {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, r := range h.records {
		if r.Key == key {
			return h.recordedAt[i]
		}
	}
	h.t.Fatalf("no transition with key %q recorded", key)
	return time.Time{}
}

func TestFulfilment_ApprovedOrderGoesThroughProductionShippingAndWarrantyToCompletion(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 72*time.Hour)
	j := newJourney(h)
	states := map[string]*workflows.OrderState{}
	for _, name := range []string{"sourcing", "producing", "shipping", "delivered", "serving"} {
		s := new(workflows.OrderState)
		states[name] = s
		j.checkpoints[name] = func() { *s = h.state() }
	}
	j.whole()
	h.run()

	h.requireTimeline(fulfilled()...)
	h.requireSourcing("1 steel-sheet-1.2mm 4 done", "2 powder-coat-red 0.5 done")
	for _, id := range []string{"approve", "start 1", "finish 1", "start 2", "finish 2", "start 3", "finish 3", "qa",
		"picked up", "in transit", "out for delivery", "delivered", "confirm", "open ticket", "dispatch ticket", "resolve ticket"} {
		h.succeeded(id)
	}

	deliveredAt := j.deliveredAt
	ends := deliveredAt.Add(warranty)
	base := workflows.OrderState{
		OrderID: testOrderID, ConfigVersion: 1, DesignRound: 1, DesignDeadline: start.Add(72 * time.Hour),
		FactoryID: assignedFactory, ProductionID: productionOrder,
	}
	at := func(stage, status, waiting string, seq int64, f func(*workflows.OrderState)) workflows.OrderState {
		s := base
		s.Stage, s.Status, s.WaitingFor, s.Seq = stage, status, waiting, seq
		if f != nil {
			f(&s)
		}
		return s
	}
	shipping := func(s *workflows.OrderState) {
		s.Progress, s.CarrierID, s.ShipmentID = "100", bookedCarrier, bookedShipment
	}
	requireState(t, "while sourcing", *states["sourcing"], at(workflows.StageProcurement, workflows.StatusActive, waitingForSuppliers, 4, nil))
	requireState(t, "producing", *states["producing"], at(workflows.StageProduction, workflows.StatusActive, waitingForFactory, 5, nil))
	requireState(t, "shipping", *states["shipping"], at(workflows.StageLogistics, workflows.StatusActive, waitingForCarrier, 13, shipping))
	requireState(t, "delivered", *states["delivered"], at(workflows.StageLogistics, workflows.StatusActive, waitingForReceipt, 17, func(s *workflows.OrderState) {
		shipping(s)
		s.Delivered = true
	}))
	requireState(t, "in service", *states["serving"], at(workflows.StageService, workflows.StatusActive, waitingForWarranty, 19, func(s *workflows.OrderState) {
		shipping(s)
		s.Delivered, s.WarrantyEnds = true, ends
	}))

	// What the workflow told the services.
	var wantStages []activities.StageCommand
	for seq := 1; seq <= 3; seq++ {
		wantStages = append(wantStages,
			activities.StageCommand{Principal: factoryWorker, ProductionID: productionOrder, Seq: seq},
			activities.StageCommand{Principal: factoryWorker, ProductionID: productionOrder, Seq: seq, Finished: true, Good: 2})
	}
	wantTracks := []activities.TrackCommand{
		{Principal: driver, ShipmentID: bookedShipment, Kind: "PICKED_UP", EventKey: "track:7"},
		{Principal: driver, ShipmentID: bookedShipment, Kind: "IN_TRANSIT", Location: "Rotterdam", EventKey: "track:8"},
		{Principal: driver, ShipmentID: bookedShipment, Kind: "OUT_FOR_DELIVERY", EventKey: "track:9"},
		{Principal: driver, ShipmentID: bookedShipment, Kind: "DELIVERED", EventKey: "track:10",
			POD: activities.POD{ReceivedBy: "J. Doe", SignatureRef: "sig-1", PhotoRef: "photo-1"}},
	}
	wantTickets := []activities.TicketCommand{
		{Principal: buyer, OrderID: testOrderID, Key: "ticket:11", Category: "DEFECT", Description: "hinge squeaks"},
		{Principal: platformOperator, OrderID: testOrderID, Key: "ticket:12", TicketID: ticketID(1), Assignee: assignedFactory},
		{Principal: factoryWorker, OrderID: testOrderID, Key: "ticket:13", TicketID: ticketID(1), Resolution: "hinge replaced"},
	}
	h.mu.Lock()
	got := map[string]any{"stages": h.stages, "qa": h.qa, "tracks": h.tracks, "receipts": h.receipts,
		"warranties": h.warranties, "tickets": h.ticketCmds, "counts": h.counts}
	h.mu.Unlock()
	want := map[string]any{
		"stages":     wantStages,
		"qa":         []activities.QACommand{{Principal: factoryWorker, ProductionID: productionOrder, Passed: true, Notes: "all within tolerance"}},
		"tracks":     wantTracks,
		"receipts":   []receiptCall{{orderID: testOrderID, principal: buyer, at: deliveredAt.Add(time.Hour)}},
		"warranties": []warrantyCall{{orderID: testOrderID, factoryID: assignedFactory, startsAt: deliveredAt, duration: warranty}},
		"tickets":    wantTickets,
		"counts":     []int{0}, // counted once, at the warranty's end
	}
	for k := range want {
		if !reflect.DeepEqual(got[k], want[k]) {
			t.Errorf("%s:\n got  %+v\n want %+v", k, got[k], want[k])
		}
	}

	messages := map[string]string{
		"production-assigned": "factory assigned (3 routing stages); sourcing 2 materials",
		"procured":            "all materials received; production starts",
		"report:1":            "stage 1 started",
		"report:6":            "stage 3 finished: 2 good, 0 scrap; 100% done",
		"qa":                  "QA passed; shipping",
		"shipment-booked":     "shipment booked, tracking number " + trackingNumber,
		"report:8":            "shipment IN_TRANSIT at Rotterdam",
		"report:10":           "delivered, received by J. Doe",
		"receipt-confirmed":   "receipt confirmed by the customer",
		"warranty-started":    "warranty runs until " + ends.Format(time.RFC3339),
		"report:11":           "service ticket #1 OPEN",
		"report:13":           "service ticket #1 RESOLVED",
		"completed":           "warranty ended; order completed",
	}
	for key, msg := range messages {
		if got := h.record(key).Message; got != msg {
			t.Errorf("%s recorded %q, want %q", key, got, msg)
		}
	}
	actors := map[string]string{"report:1": factoryWorker.UserID.String(), "qa": factoryWorker.UserID.String(),
		"report:7": driver.UserID.String(), "receipt-confirmed": customer, "report:11": customer, "report:12": operator}
	for key, actor := range actors {
		if got := h.record(key).ActorID; got != actor {
			t.Errorf("%s recorded actor %q, want %q", key, got, actor)
		}
	}
	if got := h.recordedAtKey("completed"); !got.Equal(ends) {
		t.Errorf("completed at %v, want at the warranty's end %v", got, ends)
	}
	if n := h.callCount("CancelProduction") + h.callCount("Compensate"); n != 0 {
		t.Errorf("a completed order was compensated (%d calls)", n)
	}
}

// A ticket still open when the warranty ends keeps the order open until it is
// resolved.
func TestFulfilment_OrderCompletesOnlyOnceNoTicketIsOpen(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 72*time.Hour)
	j := newJourney(h)
	j.approve()
	j.source()
	j.produce()
	j.deliver()
	j.send("confirm", workflows.UpdateConfirmDelivery, confirm)
	j.send("open ticket", workflows.UpdateOpenTicket, openTicket)
	j.send("dispatch ticket", workflows.UpdateDispatchTicket, dispatchTicket)
	ends := j.deliveredAt.Add(warranty)
	var atTheEnd workflows.OrderState
	h.stateAt(ends.Sub(start)+time.Hour, &atTheEnd)
	h.sendAt(ends.Sub(start)+48*time.Hour, "resolve ticket", workflows.UpdateResolveTicket, resolveTicket)
	h.run()

	h.requireTimeline(fulfilled()...)
	h.succeeded("resolve ticket")
	if atTheEnd.Status != workflows.StatusActive || atTheEnd.WaitingFor != "open service tickets to be resolved" {
		t.Errorf("an hour after the warranty's end with a ticket open the order is %s waiting for %q", atTheEnd.Status, atTheEnd.WaitingFor)
	}
	if got, want := h.recordedAtKey("completed"), ends.Add(48*time.Hour); !got.Equal(want) {
		t.Errorf("completed at %v, want when the last ticket was resolved, %v", got, want)
	}
	h.mu.Lock()
	counts := h.counts
	h.mu.Unlock()
	if !reflect.DeepEqual(counts, []int{1, 0}) {
		t.Errorf("open tickets counted %v, want [1 0]: at the warranty's end, then after the resolution", counts)
	}
}

func TestFulfilment_ReceiptIsConfirmedAutomaticallyWhenTheCustomerDoesNot(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 72*time.Hour)
	j := newJourney(h)
	j.approve()
	j.source()
	j.produce()
	j.deliver()
	deliveredAt := j.deliveredAt
	var waiting workflows.OrderState
	h.stateAt(deliveredAt.Sub(start)+autoConfirm-time.Minute, &waiting)
	h.sendAt(deliveredAt.Sub(start)+autoConfirm+time.Hour, "late confirm", workflows.UpdateConfirmDelivery, confirm)
	h.run()

	h.requireTimeline(placed, design1, approved, productionAssigned, procured,
		reported(1, stageStartedAs), reported(2, stageFinishedAs),
		reported(3, stageStartedAs), reported(4, stageFinishedAs),
		reported(5, stageStartedAs), reported(6, stageFinishedAs),
		qaPassedLine, shipmentBooked,
		reported(7, trackedAs), reported(8, trackedAs), reported(9, trackedAs), reported(10, deliveredAs),
		receiptConfirmed, warrantyStarted, orderCompleted)
	if waiting.Stage != workflows.StageLogistics || waiting.WaitingFor != waitingForReceipt {
		t.Errorf("a minute before the automatic confirmation the order is in %s waiting for %q", waiting.Stage, waiting.WaitingFor)
	}
	h.mu.Lock()
	receipts, warranties := h.receipts, h.warranties
	h.mu.Unlock()
	if want := []receiptCall{{orderID: testOrderID, auto: true, at: deliveredAt.Add(autoConfirm)}}; !reflect.DeepEqual(receipts, want) {
		t.Errorf("ConfirmReceipt calls %+v, want %+v", receipts, want)
	}
	if r := h.record("receipt-confirmed"); r.Message != "receipt confirmed automatically" || r.ActorID != "" || fmt.Sprint(r.Data) != "map[auto:true]" {
		t.Errorf("automatic confirmation recorded as %+v", r)
	}
	h.rejected("late confirm", workflows.ErrIllegalState)
	if want := []warrantyCall{{orderID: testOrderID, factoryID: assignedFactory, startsAt: deliveredAt, duration: warranty}}; !reflect.DeepEqual(warranties, want) {
		t.Errorf("StartWarranty calls %+v, want the warranty from the delivery %+v", warranties, want)
	}
	if got := h.recordedAtKey("completed"); !got.Equal(deliveredAt.Add(warranty)) {
		t.Errorf("completed at %v, want %v", got, deliveredAt.Add(warranty))
	}
}

// Stage 1 scraps beyond tolerance: the material of the lost units is bought
// again through new Sourcing children, and stage 1 restarts only once it is
// received.
func TestFulfilment_ReprocurementSourcesTheLostUnitsAndHoldsStageOneUntilReceived(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 72*time.Hour)
	h.decide = decideOnFinish(1, 1, "REPROCURE", 1)
	j := newJourney(h)
	j.approve()
	j.source()
	j.stage(1, 1, 1)
	var buying workflows.OrderState
	var sourcingWhileBuying []string
	j.meanwhile(func() {
		buying, sourcingWhileBuying = h.state(), h.sourcingRuns()
		h.send("restart while buying", workflows.UpdateReportStage, stageStarted(1))
	})
	j.do(func() { h.release(1001) })
	j.meanwhile(func() { h.send("restart with one line received", workflows.UpdateReportStage, stageStarted(1)) })
	j.do(func() { h.release(1002) })
	j.send("restart", workflows.UpdateReportStage, stageStarted(1))
	j.send("cancel", workflows.UpdateCancel, cancelByOp)
	h.run()

	h.requireTimeline(placed, design1, approved, productionAssigned, procured,
		reported(1, stageStartedAs), reported(2, stageFinishedAs),
		"reprocure:1 MATERIAL_REPROCUREMENT PRODUCTION/ACTIVE",
		reported(3, stageStartedAs), cancelledInProduction)
	if got, want := strings.Join(sourcingWhileBuying, "; "),
		"1 steel-sheet-1.2mm 4 done; 2 powder-coat-red 0.5 done; 1001 steel-sheet-1.2mm 2 running; 1002 powder-coat-red 0.25 running"; got != want {
		t.Errorf("sourcing while the lost material is bought:\n got  %s\n want %s", got, want)
	}
	h.requireSourcing("1 steel-sheet-1.2mm 4 done", "2 powder-coat-red 0.5 done",
		"1001 steel-sheet-1.2mm 2 done", "1002 powder-coat-red 0.25 done")
	var again workflows.SourcingInput
	h.mu.Lock()
	for _, r := range h.sourcing {
		if r.in.Line == 1001 {
			again = r.in
		}
	}
	h.mu.Unlock()
	if want := (workflows.SourcingInput{OrderID: testOrderID, Line: 1001, Material: steelLine.Material, Quantity: again.Quantity,
		OfferTimeout: workflows.DefaultOfferTimeout, FactoryID: assignedFactory, ReportsToOrder: true}); !reflect.DeepEqual(again, want) || again.Quantity.String() != "2" {
		t.Errorf("reprocurement child started with %+v, want %+v for 2 kg", again, want)
	}
	if r := h.record("report:2"); r.Message != "stage 1 finished: 1 good, 1 scrap; 0% done; scrap beyond tolerance: material for 1 units bought again" {
		t.Errorf("the scrap decision recorded as %q", r.Message)
	}
	if r := h.record("reprocure:1"); r.Message != "1 units lost beyond tolerance: buying their material again" || fmt.Sprint(r.Data) != "map[units:1]" {
		t.Errorf("reprocurement recorded as %+v", r)
	}
	if buying.Stage != workflows.StageProduction || buying.Status != workflows.StatusActive {
		t.Errorf("while the material is bought again the order is %s in %s, want ACTIVE in PRODUCTION", buying.Status, buying.Stage)
	}
	h.rejected("restart while buying", workflows.ErrIllegalState)
	h.rejected("restart with one line received", workflows.ErrIllegalState)
	h.succeeded("restart")
	h.cancelledWithProductionStopped()
}

// MaxReworkRounds allows two reprocurements of stage 1; each buys under its
// own lines (and its own key), or the second would find the first's tasks.
func TestFulfilment_SecondReprocurementRoundSourcesUnderItsOwnLines(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 72*time.Hour)
	finishes := 0
	h.decide = func(c activities.StageCommand) (string, int) {
		if c.Seq == 1 {
			finishes++
			if finishes <= 2 {
				return "REPROCURE", 1
			}
		}
		return "NONE", 0
	}
	j := newJourney(h)
	j.approve()
	j.source()
	j.stage(1, 1, 1)
	j.do(func() { h.release(1001, 1002) })
	j.stage(1, 0, 1)
	j.do(func() { h.release(2001, 2002) })
	j.send("restart", workflows.UpdateReportStage, stageStarted(1))
	j.send("cancel", workflows.UpdateCancel, cancelByOp)
	h.run()

	h.requireSourcing("1 steel-sheet-1.2mm 4 done", "2 powder-coat-red 0.5 done",
		"1001 steel-sheet-1.2mm 2 done", "1002 powder-coat-red 0.25 done",
		"2001 steel-sheet-1.2mm 2 done", "2002 powder-coat-red 0.25 done")
	h.requireTimeline(placed, design1, approved, productionAssigned, procured,
		reported(1, stageStartedAs), reported(2, stageFinishedAs), "reprocure:1 MATERIAL_REPROCUREMENT PRODUCTION/ACTIVE",
		reported(3, stageStartedAs), reported(4, stageFinishedAs), "reprocure:2 MATERIAL_REPROCUREMENT PRODUCTION/ACTIVE",
		reported(5, stageStartedAs), cancelledInProduction)
}

// An escalation (scrap beyond tolerance after the last rework) holds the order
// for the operator: no stage goes on until the operator resumes it.
func TestFulfilment_EscalationHoldsProductionUntilTheOperatorResumes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 72*time.Hour)
	h.decide = decideOnFinish(2, 1, "ESCALATE", 0)
	j := newJourney(h)
	j.approve()
	j.source()
	j.stage(1, 2, 0)
	j.stage(2, 1, 1)
	var held workflows.OrderState
	j.meanwhile(func() {
		held = h.state()
		h.send("stage 3 while held", workflows.UpdateReportStage, stageStarted(3))
	})
	j.send("resume", workflows.UpdateResume, resumeByOperator)
	j.send("start 3", workflows.UpdateReportStage, stageStarted(3))
	j.send("cancel", workflows.UpdateCancel, cancelByOp)
	h.run()

	h.requireTimeline(placed, design1, approved, productionAssigned, procured,
		reported(1, stageStartedAs), reported(2, stageFinishedAs), reported(3, stageStartedAs), reported(4, escalatedAs),
		"resumed:p5 ORDER_RESUMED PRODUCTION/ACTIVE", reported(6, stageStartedAs), cancelledInProduction)
	requireState(t, "held for the operator", held, workflows.OrderState{
		OrderID: testOrderID, Stage: workflows.StageProduction, Status: workflows.StatusOnHold, ConfigVersion: 1, DesignRound: 1,
		DesignDeadline: start.Add(72 * time.Hour), WaitingFor: waitingForFactory, Seq: 9,
		FactoryID: assignedFactory, ProductionID: productionOrder, Progress: "66.7",
	})
	if r := h.record("report:4"); r.Message != "stage 2 finished: 1 good, 1 scrap; 66.7% done; scrap beyond tolerance after the last rework: production on hold for the operator" {
		t.Errorf("escalation recorded as %q", r.Message)
	}
	h.rejected("stage 3 while held", workflows.ErrIllegalState)
	if res := h.succeeded("resume"); res.Status != workflows.StatusActive || res.Stage != workflows.StageProduction {
		t.Errorf("resume answered %+v, want PRODUCTION/ACTIVE", res)
	}
	if r := h.record("resumed:p5"); r.ActorID != operator || r.Message != "order resumed by the operator: customer called back" {
		t.Errorf("resumption recorded as %+v", r)
	}
	h.succeeded("start 3")
	h.cancelledWithProductionStopped()
}

// An escalation at the last stage leaves every stage finished, so the
// production service would accept QA; the order still waits for the operator.
func TestFulfilment_QAIsRefusedWhileProductionIsHeldForTheOperator(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 72*time.Hour)
	h.decide = decideOnFinish(3, 1, "ESCALATE", 0)
	j := newJourney(h)
	j.approve()
	j.source()
	j.stage(1, 2, 0)
	j.stage(2, 2, 0)
	j.stage(3, 1, 1)
	j.meanwhile(func() { h.send("qa while held", workflows.UpdateRecordQA, qaPass) })
	j.send("resume", workflows.UpdateResume, resumeByOperator)
	j.send("qa", workflows.UpdateRecordQA, qaPass)
	j.deliver()
	j.send("confirm", workflows.UpdateConfirmDelivery, confirm)
	h.run()

	h.rejected("qa while held", workflows.ErrIllegalState)
	h.succeeded("resume")
	h.succeeded("qa")
	h.requireTimeline(placed, design1, approved, productionAssigned, procured,
		reported(1, stageStartedAs), reported(2, stageFinishedAs), reported(3, stageStartedAs), reported(4, stageFinishedAs),
		reported(5, stageStartedAs), reported(6, escalatedAs), "resumed:p7 ORDER_RESUMED PRODUCTION/ACTIVE",
		qaPassedLine, shipmentBooked,
		reported(8, trackedAs), reported(9, trackedAs), reported(10, trackedAs), reported(11, deliveredAs),
		receiptConfirmed, warrantyStarted, orderCompleted)
}

// A failed QA closes production: the order is held, nothing but a
// cancellation moves it, and the cancellation stops production and compensates.
func TestFulfilment_FailedQAHoldsTheOrderUntilItIsCancelled(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 72*time.Hour)
	j := newJourney(h)
	j.approve()
	j.source()
	for seq := 1; seq <= 3; seq++ {
		j.stage(seq, 2, 0)
	}
	j.send("qa", workflows.UpdateRecordQA, qaFail)
	var held workflows.OrderState
	j.meanwhile(func() {
		held = h.state()
		h.send("resume", workflows.UpdateResume, resumeByOperator)
		h.send("qa again", workflows.UpdateRecordQA, qaPass)
		h.send("stage", workflows.UpdateReportStage, stageFinished(3, 2, 0))
		h.send("track", workflows.UpdateTrackShipment, tracking("PICKED_UP", ""))
	})
	j.send("cancel", workflows.UpdateCancel, cancelByOp)
	h.run()

	h.requireTimeline(placed, design1, approved, productionAssigned, procured,
		reported(1, stageStartedAs), reported(2, stageFinishedAs), reported(3, stageStartedAs), reported(4, stageFinishedAs),
		reported(5, stageStartedAs), reported(6, stageFinishedAs), qaFailedLine, cancelledInProduction)
	requireState(t, "after the failed QA", held, workflows.OrderState{
		OrderID: testOrderID, Stage: workflows.StageProduction, Status: workflows.StatusOnHold, ConfigVersion: 1, DesignRound: 1,
		DesignDeadline: start.Add(72 * time.Hour), WaitingFor: waitingForQADecided, Seq: 12,
		FactoryID: assignedFactory, ProductionID: productionOrder, Progress: "100",
	})
	if r := h.record("qa"); r.Message != "QA failed: paint blistered" {
		t.Errorf("failed QA recorded as %q", r.Message)
	}
	for _, id := range []string{"resume", "qa again", "stage", "track"} {
		h.rejected(id, workflows.ErrIllegalState)
	}
	if res := h.succeeded("cancel"); res.Stage != workflows.StageProduction || res.Status != workflows.StatusCancelled {
		t.Errorf("cancel answered %+v, want PRODUCTION/CANCELLED", res)
	}
	want := activities.Compensation{OrderID: testOrderID, Key: "compensated", ActorID: operator, Reason: "factory cannot deliver"}
	if got := h.cancelledWithProductionStopped(); got != want {
		t.Errorf("Compensate got %+v, want %+v", got, want)
	}
	if n := h.callCount("BookShipment"); n != 0 {
		t.Errorf("BookShipment called %d times after a failed QA", n)
	}
}

// Until QA passes the order may be cancelled: the sourcing children still
// running are cancelled, production is stopped, then the order compensated.
func TestFulfilment_CancelDuringProductionStopsProductionThenCompensates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		decide   func(activities.StageCommand) (string, int)
		story    func(j *journey)
		want     []string
		sourcing []string
	}{
		{
			name:  "while a stage runs",
			story: func(j *journey) { j.send("start 1", workflows.UpdateReportStage, stageStarted(1)) },
			want:  []string{reported(1, stageStartedAs), cancelledInProduction},
		},
		{
			name:     "while lost material is bought again",
			decide:   decideOnFinish(1, 1, "REPROCURE", 1),
			story:    func(j *journey) { j.stage(1, 1, 1) },
			want:     []string{reported(1, stageStartedAs), reported(2, stageFinishedAs), "reprocure:1 MATERIAL_REPROCUREMENT PRODUCTION/ACTIVE", cancelledInProduction},
			sourcing: []string{"1001 steel-sheet-1.2mm 2 cancelled", "1002 powder-coat-red 0.25 cancelled"},
		},
		{
			name:   "while held after an escalation",
			decide: decideOnFinish(1, 1, "ESCALATE", 0),
			story:  func(j *journey) { j.stage(1, 1, 1) },
			want:   []string{reported(1, stageStartedAs), reported(2, escalatedAs), cancelledInProduction},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, 72*time.Hour)
			if tt.decide != nil {
				h.decide = tt.decide
			}
			j := newJourney(h)
			j.approve()
			j.source()
			tt.story(j)
			j.send("cancel", workflows.UpdateCancel, cancelByOp)
			h.run()

			h.requireTimeline(append([]string{placed, design1, approved, productionAssigned, procured}, tt.want...)...)
			h.requireSourcing(append([]string{"1 steel-sheet-1.2mm 4 done", "2 powder-coat-red 0.5 done"}, tt.sourcing...)...)
			if res := h.succeeded("cancel"); res.Status != workflows.StatusCancelled {
				t.Errorf("cancel answered %+v, want CANCELLED", res)
			}
			want := activities.Compensation{OrderID: testOrderID, Key: "compensated", ActorID: operator, Reason: "factory cannot deliver"}
			if got := h.cancelledWithProductionStopped(); got != want {
				t.Errorf("Compensate got %+v, want %+v", got, want)
			}
		})
	}
}

// Every fulfilment update sent where it does not belong, or by an enterprise
// that takes no part in that step, is refused by its validator: the state is
// unchanged and the order goes on exactly as it would have.
func TestFulfilment_ValidatorsRefuseMisplacedUpdatesWithoutEffect(t *testing.T) {
	t.Parallel()
	type probe struct {
		name    string
		update  string
		arg     any
		errType string
	}
	var (
		illegal, forbidden = workflows.ErrIllegalState, workflows.ErrForbidden
		startStage         = probe{"stage report", workflows.UpdateReportStage, stageStarted(1), illegal}
		qa                 = probe{"QA", workflows.UpdateRecordQA, qaPass, illegal}
		track              = probe{"tracking", workflows.UpdateTrackShipment, tracking("PICKED_UP", ""), illegal}
		confirmEarly       = probe{"confirm delivery", workflows.UpdateConfirmDelivery, confirm, illegal}
		ticket             = probe{"open ticket", workflows.UpdateOpenTicket, openTicket, illegal}
		dispatch           = probe{"dispatch ticket", workflows.UpdateDispatchTicket, dispatchTicket, illegal}
		resume             = probe{"resume", workflows.UpdateResume, resumeByOperator, illegal}
		cancel             = probe{"cancel", workflows.UpdateCancel, cancelByOp, illegal}
	)
	states := []struct {
		checkpoint string
		probes     []probe
	}{
		{"sourcing", []probe{startStage, qa, track, confirmEarly, ticket, resume}},
		{"producing", []probe{
			{"stage report from another factory", workflows.UpdateReportStage, workflows.StageReport{Principal: otherFactoryWorker, Seq: 1}, forbidden},
			{"QA from another factory", workflows.UpdateRecordQA, workflows.QAVerdict{Principal: otherFactoryWorker, Passed: true}, forbidden},
			{"a stage not in the routing", workflows.UpdateReportStage, stageStarted(4), illegal},
			{"stage 0", workflows.UpdateReportStage, stageStarted(0), illegal},
			track, confirmEarly, ticket, resume,
		}},
		{"shipping", []probe{
			{"tracking from another carrier", workflows.UpdateTrackShipment, workflows.TrackingReport{Principal: otherDriver, Kind: "PICKED_UP"}, forbidden},
			confirmEarly, ticket, dispatch, startStage, qa, cancel, resume,
		}},
		{"delivered", []probe{track, ticket, cancel}},
		{"serving", []probe{confirmEarly, track, startStage, cancel, resume}},
	}
	for _, st := range states {
		for _, p := range st.probes {
			t.Run(st.checkpoint+"/"+p.name, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, 72*time.Hour)
				j := newJourney(h)
				var sent atomic.Bool
				j.checkpoints[st.checkpoint] = func() {
					sent.Store(true)
					h.send("probe", p.update, p.arg)
				}
				j.whole()
				h.run()

				if !sent.Load() {
					t.Fatal("the journey never reached the state under test")
				}
				h.rejected("probe", p.errType)
				h.requireTimeline(fulfilled()...)
			})
		}
	}
}

// A refusal from a service (package refusal: not retried)
// fails the update with that error and records nothing; the same update sent
// again correctly goes through.
func TestFulfilment_RefusalFromAServiceFailsTheUpdateAndRecordsNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		activity string
		call     int    // the refused call of activity
		step     string // the journey's step it serves
		// usedUp is the report number the refused update used up (the key is
		// taken before the activity runs), 0 when none: later ones shift by one.
		usedUp int
	}{
		{"stage report", "ReportStage", 2, "finish 1", 0},
		{"QA", "RecordQA", 1, "qa", 0},
		{"tracking", "Track", 4, "delivered", 10},
		{"receipt", "ConfirmReceipt", 1, "confirm", 0},
		{"ticket", "OpenTicket", 1, "open ticket", 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, 72*time.Hour)
			refusals := errs.List{{Code: errs.IllegalState, Field: []string{"input"}, Message: "the service refuses " + tt.name}}
			h.refuse(tt.activity, tt.call, refusal.New(refusals...))
			j := newJourney(h)
			j.retry = tt.step
			j.whole()
			h.run()

			h.failed(tt.step, workflows.ErrIllegalState)
			err := h.got(tt.step).err
			if !strings.Contains(err.Error(), "the service refuses "+tt.name) {
				t.Errorf("the update failed with %q, which does not carry the refusal", err)
			}
			if details, ok := refusal.Decode(err); !ok || !reflect.DeepEqual(details, refusals) {
				t.Errorf("the update's error carries refusals %+v, want %+v", details, refusals)
			}
			if strings.Join(j.after, "\n") != strings.Join(j.before, "\n") {
				t.Errorf("the refused update recorded:\n  %s\nwant only:\n  %s", strings.Join(j.after, "\n  "), strings.Join(j.before, "\n  "))
			}
			requireState(t, "state after the refusal", j.stateAfter, j.stateBefore)
			h.succeeded(tt.step + " again")
			want := fulfilled()
			if tt.usedUp > 0 {
				for i, line := range want {
					var n int
					if _, err := fmt.Sscanf(line, "report:%d", &n); err == nil && n >= tt.usedUp {
						want[i] = fmt.Sprintf("report:%d", n+1) + strings.TrimPrefix(line, fmt.Sprintf("report:%d", n))
					}
				}
			}
			h.requireTimeline(want...)
		})
	}
}

// A long warranty does not grow one history without bound: past HistoryLimit
// the order continues as new, and the new run completes it at the warranty's end.
func TestFulfilment_LongWarrantyContinuesAsNewAndTheNextRunCompletesIt(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 72*time.Hour)
	j := newJourney(h)
	h.in.HistoryLimit = 500
	j.approve()
	j.source()
	j.produce()
	j.deliver()
	j.send("confirm", workflows.UpdateConfirmDelivery, confirm)
	// The history passes the limit while a ticket is opened.
	j.send("open ticket", workflows.UpdateOpenTicket, openTicket)
	continuedAt := j.at
	h.during("OpenTicket", 1, func() { h.env.SetCurrentHistoryLength(501) })
	h.execute()

	var can *workflow.ContinueAsNewError
	if err := h.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("the workflow ended with %v, want continue-as-new", err)
	}
	h.succeeded("open ticket")
	h.requireTimeline(fulfilled()[:20]...) // up to the ticket opened
	var next workflows.OrderInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	ends := j.deliveredAt.Add(warranty)
	state := workflows.OrderState{
		OrderID: testOrderID, Stage: workflows.StageService, Status: workflows.StatusActive, ConfigVersion: 1, DesignRound: 1,
		DesignDeadline: start.Add(72 * time.Hour), WaitingFor: waitingForWarranty, Seq: 20,
		FactoryID: assignedFactory, ProductionID: productionOrder, Progress: "100", CarrierID: bookedCarrier, ShipmentID: bookedShipment,
		Delivered: true, WarrantyEnds: ends,
	}
	want := workflows.OrderInput{
		OrderID: testOrderID, DesignApprovalTimeout: 72 * time.Hour, OfferTimeout: workflows.DefaultOfferTimeout,
		AutoConfirmAfter: autoConfirm, Warranty: warranty, HistoryLimit: 500,
		Resume: &workflows.Resumption{State: state, FactoryID: assignedFactory, ProductionID: productionOrder,
			ShipmentID: bookedShipment, CarrierID: bookedCarrier, DeliveredAt: j.deliveredAt, WarrantyEnds: ends, Counter: 11},
	}
	if can.WorkflowType == nil || can.WorkflowType.Name != workflows.OrderWorkflow || !reflect.DeepEqual(next, want) {
		got := "<nil>"
		if next.Resume != nil {
			got = fmt.Sprintf("%+v", *next.Resume)
		}
		t.Fatalf("continued as %v with\n %+v\n resume %s\nwant\n %+v\n resume %+v", can.WorkflowType, next, got, want, *want.Resume)
	}

	// The next run: the ticket opened before is still open; it is resolved,
	// numbered after the first run's reports, and the order completes at the
	// warranty's end.
	h2 := newHarness(t, 72*time.Hour)
	h2.in = next
	h2.env.SetStartTime(start.Add(continuedAt))
	h2.tickets = []*activities.TicketState{{ID: ticketID(1), Number: 1, Status: "OPEN"}}
	var resumed workflows.OrderState
	h2.stateAt(time.Minute, &resumed)
	h2.sendAt(24*time.Hour, "resolve ticket", workflows.UpdateResolveTicket, resolveTicket)
	h2.run()

	requireState(t, "state of the next run", resumed, state)
	h2.succeeded("resolve ticket")
	h2.requireTimeline(reported(12, ticketResolvedAs), orderCompleted)
	if got := h2.recordedAtKey("completed"); !got.Equal(ends) {
		t.Errorf("the next run completed at %v, want at the warranty's end %v", got, ends)
	}
	for _, a := range []string{"AssignProduction", "BookShipment", "StartWarranty"} {
		if n := h2.callCount(a); n != 0 {
			t.Errorf("the next run called %s %d times, want never", a, n)
		}
	}
}

// When no factory can take the order, it is held in procurement for the
// operator, who adds capacity and resumes (assignment is tried again) or
// cancels it (nothing was assigned, so only the compensation runs).
func TestFulfilment_NoFactoryHoldsTheOrderUntilTheOperatorResumesOrCancels(t *testing.T) {
	t.Parallel()
	const unassigned = "unassigned:1 PRODUCTION_ESCALATED PROCUREMENT/ON_HOLD"
	tests := []struct {
		name  string
		then  func(j *journey)
		want  []string
		check func(t *testing.T, h *harness)
	}{
		{
			name: "resumed, then assigned",
			then: func(j *journey) {
				j.send("resume", workflows.UpdateResume, resumeByOperator)
				j.send("cancel", workflows.UpdateCancel, cancelByOp)
			},
			want: []string{placed, design1, approved, unassigned, "resumed:a1 ORDER_RESUMED PROCUREMENT/ACTIVE", productionAssigned, cancelledInProcurement},
			check: func(t *testing.T, h *harness) {
				if res := h.succeeded("resume"); res.Stage != workflows.StageProcurement || res.Status != workflows.StatusActive {
					t.Errorf("resume answered %+v, want PROCUREMENT/ACTIVE", res)
				}
				if r := h.record("resumed:a1"); r.ActorID != operator || r.Message != "order resumed by the operator: customer called back; assigning a factory again" {
					t.Errorf("resumption recorded as %+v", r)
				}
				if n := h.callCount("AssignProduction"); n != 2 {
					t.Errorf("AssignProduction called %d times, want twice", n)
				}
				h.requireSourcing(sourcingCancelled...)
				h.cancelledWithProductionStopped()
			},
		},
		{
			name: "cancelled while held",
			then: func(j *journey) { j.send("cancel", workflows.UpdateCancel, cancelByOp) },
			want: []string{placed, design1, approved, unassigned, cancelledInProcurement},
			check: func(t *testing.T, h *harness) {
				if n := h.callCount("CancelProduction"); n != 0 {
					t.Errorf("CancelProduction called %d times, with no production assigned", n)
				}
				h.requireSourcing()
				h.compensatedOnce()
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, 72*time.Hour)
			h.refuse("AssignProduction", 1, refusal.Newf(errs.IllegalState, "no factory has free capacity for 2 units"))
			j := newJourney(h)
			j.approve()
			var held workflows.OrderState
			j.meanwhile(func() {
				held = h.state()
				h.send("approve again", workflows.UpdateApproveDesign, approve(1))
				h.send("stage", workflows.UpdateReportStage, stageStarted(1))
			})
			tt.then(j)
			h.run()

			h.requireTimeline(tt.want...)
			requireState(t, "held without a factory", held, workflows.OrderState{
				OrderID: testOrderID, Stage: workflows.StageProcurement, Status: workflows.StatusOnHold, ConfigVersion: 1, DesignRound: 1,
				DesignDeadline: start.Add(72 * time.Hour), WaitingFor: "operator: no factory can produce this order", Seq: 4,
			})
			if r := h.record("unassigned:1"); r.Message != "no factory can produce this order now (no factory has free capacity for 2 units); the operator adds capacity and resumes" {
				t.Errorf("the hold is recorded as %q: the customer's timeline shows the service's refusal, not the activity's failure", r.Message)
			}
			h.rejected("approve again", workflows.ErrIllegalState)
			h.rejected("stage", workflows.ErrIllegalState)
			want := activities.Compensation{OrderID: testOrderID, Key: "compensated", ActorID: operator, Reason: "factory cannot deliver"}
			tt.check(t, h)
			if got := h.compensatedOnce(); got != want {
				t.Errorf("Compensate got %+v, want %+v", got, want)
			}
		})
	}
}

// With the production order's copy the reports keep, a report the production
// service would refuse (a finish before the start, a stage before the one
// ahead of it is finished, more units than entered, QA before the last stage)
// is refused by the update's validator: no activity runs and nothing enters
// the history. The journey then goes on as usual.
func TestFulfilment_ReportsTheProductionOrderWouldRefuseStopAtTheValidator(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 72*time.Hour)
	plan := &production.Order{FactoryID: uuid.MustParse(assignedFactory), Status: production.StatusAssigned, Quantity: 2}
	for seq := 1; seq <= 3; seq++ {
		plan.Stages = append(plan.Stages, production.Stage{Seq: seq, Code: fmt.Sprintf("S%d", seq), Status: production.StagePending})
	}
	two := 2
	plan.Stages[0].InputQuantity = &two
	h.production.Plan = plan
	j := newJourney(h)
	j.approve()
	j.source()
	j.send("finish 1 before its start", workflows.UpdateReportStage, stageFinished(1, 2, 0))
	j.send("start 2 first", workflows.UpdateReportStage, stageStarted(2))
	j.send("qa first", workflows.UpdateRecordQA, qaPass)
	j.send("start 1", workflows.UpdateReportStage, stageStarted(1))
	j.send("finish 1 with too many", workflows.UpdateReportStage, stageFinished(1, 2, 1))
	j.send("finish 1", workflows.UpdateReportStage, stageFinished(1, 2, 0))
	for seq := 2; seq <= 3; seq++ {
		j.stage(seq, 2, 0)
	}
	j.send("qa", workflows.UpdateRecordQA, qaPass)
	j.deliver()
	j.send("confirm", workflows.UpdateConfirmDelivery, confirm)
	h.run()

	for id, code := range map[string]string{
		"finish 1 before its start": workflows.ErrIllegalState, "start 2 first": workflows.ErrIllegalState,
		"qa first": workflows.ErrIllegalState, "finish 1 with too many": workflows.ErrInvalidInput,
	} {
		h.rejected(id, code)
	}
	if n := h.callCount("ReportStage"); n != 6 {
		t.Errorf("ReportStage ran %d times, want 6 (the refused reports never reach it)", n)
	}
	if n := h.callCount("RecordQA"); n != 1 {
		t.Errorf("RecordQA ran %d times, want once", n)
	}
	want := fulfilled()
	h.requireTimeline(append(want[:len(want)-4:len(want)-4], orderCompleted)...)
}

// With the shipment's status the reports keep, a tracking report the
// logistics service would refuse (out of order, without the location or the
// proof it needs, an event key reused for another kind) is refused by the
// update's validator, before any activity; a repeated report with its key
// goes through as before.
func TestFulfilment_TrackingTheShipmentWouldRefuseStopsAtTheValidator(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 72*time.Hour)
	h.shipment.Status = "BOOKED"
	j := newJourney(h)
	j.approve()
	j.source()
	j.produce()
	pickedUp := tracking("PICKED_UP", "")
	pickedUp.EventKey = "scan-1"
	j.send("out for delivery first", workflows.UpdateTrackShipment, tracking("OUT_FOR_DELIVERY", ""))
	j.send("picked up", workflows.UpdateTrackShipment, pickedUp)
	j.send("picked up again", workflows.UpdateTrackShipment, pickedUp)
	reused := tracking("EXCEPTION", "")
	reused.EventKey, reused.Note = "scan-1", "pallet damaged"
	j.send("key reused", workflows.UpdateTrackShipment, reused)
	j.send("in transit nowhere", workflows.UpdateTrackShipment, tracking("IN_TRANSIT", ""))
	j.send("in transit", workflows.UpdateTrackShipment, tracking("IN_TRANSIT", "Rotterdam"))
	j.send("out for delivery", workflows.UpdateTrackShipment, tracking("OUT_FOR_DELIVERY", ""))
	j.send("delivered without proof", workflows.UpdateTrackShipment, workflows.TrackingReport{Principal: driver, Kind: "DELIVERED", ReceivedBy: "J. Doe"})
	j.send("delivered", workflows.UpdateTrackShipment, delivered)
	j.send("confirm", workflows.UpdateConfirmDelivery, confirm)
	h.run()

	for id, code := range map[string]string{
		"out for delivery first": workflows.ErrIllegalState, "key reused": string(errs.AlreadyExists),
		"in transit nowhere": workflows.ErrInvalidInput, "delivered without proof": workflows.ErrInvalidInput,
	} {
		h.rejected(id, code)
	}
	h.succeeded("picked up again")
	if n := h.callCount("Track"); n != 5 {
		t.Errorf("Track ran %d times, want 5 (picked up twice, in transit, out for delivery, delivered)", n)
	}
	if !h.state().Delivered {
		t.Error("the order was not delivered")
	}
}

// Holds from different sources add up: while lost material is bought again,
// a line held for want of a supplier and production escalated to the
// operator both hold the order. Resuming the line leaves it ON_HOLD for the
// escalation, and the operator's resumption of production, once no line is
// held, makes it ACTIVE again.
func TestFulfilment_ALineHoldAndAProductionHoldKeepTheOrderOnHoldUntilBothAreResumed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 72*time.Hour)
	h.decide = func(c activities.StageCommand) (string, int) {
		switch c.Seq {
		case 1:
			return "REPROCURE", 1
		case 2:
			return "ESCALATE", 0
		}
		return "NONE", 0
	}
	report := func(r workflows.SourcingReport) func() {
		return func() { h.env.SignalWorkflow(workflows.SignalSourcingReport, r) }
	}
	line := 1001
	j := newJourney(h)
	j.approve()
	j.source()
	j.stage(1, 1, 1)
	j.do(report(workflows.SourcingReport{Held: &activities.SourcingEscalation{OrderID: testOrderID, Line: line, Round: 1, Material: steelLine.Material, Remaining: decimal.RequireFromString("2")}}))
	j.stage(2, 1, 1)
	j.send("resume production while a line is held", workflows.UpdateResume, resumeByOperator)
	j.do(report(workflows.SourcingReport{Resumed: &activities.SourcingResumption{OrderID: testOrderID, Line: line, Round: 1, Material: steelLine.Material, ActorID: operator}}))
	var stillHeld workflows.OrderState
	j.meanwhile(func() { stillHeld = h.state() })
	j.send("resume production", workflows.UpdateResume, resumeByOperator)
	j.do(func() { h.release(1001, 1002) })
	j.send("cancel", workflows.UpdateCancel, cancelByOp)
	h.run()

	if r := h.record(fmt.Sprintf("escalated:%d:1", line)); r.Status != workflows.StatusOnHold || r.Stage != workflows.StageProduction {
		t.Errorf("the line's hold recorded %s/%s, want PRODUCTION/ON_HOLD", r.Stage, r.Status)
	}
	h.rejected("resume production while a line is held", workflows.ErrIllegalState)
	if r := h.record(fmt.Sprintf("sourcing-resumed:%d:1", line)); r.Status != workflows.StatusOnHold {
		t.Errorf("the line's resumption recorded %s while production is still escalated, want ON_HOLD", r.Status)
	}
	if stillHeld.Status != workflows.StatusOnHold {
		t.Errorf("after the line's resumption the order is %s, want ON_HOLD (production is escalated)", stillHeld.Status)
	}
	if st := h.succeeded("resume production"); st.Status != workflows.StatusActive {
		t.Errorf("resuming production answered %s, want ACTIVE", st.Status)
	}
}
