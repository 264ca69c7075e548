package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/logistics"
	"github.com/masscustom/orchestrator/services/orders"
	"github.com/masscustom/orchestrator/services/production"
	"github.com/masscustom/orchestrator/workflows/activities"
	"github.com/masscustom/orchestrator/workflows/refusal"
)

// fulfilment is the part of an order's state after its design is approved.
type fulfilment struct {
	production     activities.Production
	shipment       activities.Shipment
	reprocure      []int // units lost beyond tolerance at the first stage, to buy again
	reprocuring    int   // reprocurement rounds running
	rounds         int   // reprocurement rounds started so far
	producing      bool  // PROCUREMENT_DONE is being recorded, or was: stage reports may come
	qaDone         bool
	qaPassed       bool
	held           bool // production escalated: waits for the operator
	unassigned     bool // no factory could take the order: waits for the operator
	deliveredAt    time.Time
	confirmed      bool
	warrantyEnds   time.Time
	ticketsChanged int // bumped by every ticket update, to recount open tickets
	counter        int // numbers the transitions recorded by updates

	trackKeys  map[string]string // tracking event keys the carrier gave, with their kind
	reports    []SourcingReport  // reported by the Sourcing children, to record
	heldLines  []int             // lines whose sourcing is held, in order
	waitingFor string            // what the order waited for before a line was held
}

func (o *order) next() int { o.f.counter++; return o.f.counter }

func forbidden(format string, args ...any) error {
	return refusal.Newf(errs.Forbidden, format, args...)
}

// procure assigns the factory, then buys every BOM material through one
// sourcing child workflow per line and waits until all is received.
func (o *order) procure(ctx workflow.Context) error {
	var lines []activities.MaterialLine
	for attempt := 1; ; attempt++ {
		o.state.WaitingFor = "factory assignment"
		assigned := false
		if err := o.step(ctx, func() error {
			if o.cancelled {
				return nil
			}
			err := o.fx.write(ctx, acts.AssignProduction, o.in.OrderID).Get(ctx, &o.f.production)
			// Decoding the refusal's details reads JSON through reflection, which
			// the determinism check cannot prove harmless; it depends only on
			// the error recorded in the history.
			//workflowcheck:ignore
			if msg, ok := refused(err, errs.IllegalState); ok {
				// No factory can take it now: hold the order for the operator.
				o.f.unassigned = true
				return o.record(ctx, fmt.Sprintf("unassigned:%d", attempt), orders.EventProductionHeld, StageProcurement, StatusOnHold,
					"no factory can produce this order now ("+msg+"); the operator adds capacity and resumes", nil)
			}
			if err != nil {
				return err
			}
			o.state.FactoryID, o.state.ProductionID = o.f.production.FactoryID, o.f.production.ID
			if err := o.fx.write(ctx, acts.PlanProcurement, o.in.OrderID).Get(ctx, &lines); err != nil {
				return err
			}
			assigned = true
			return o.record(ctx, "production-assigned", orders.EventProductionAssigned, StageProcurement, StatusActive,
				fmt.Sprintf("factory assigned (%d routing stages); sourcing %d materials", o.f.production.Stages, len(lines)),
				map[string]any{"factoryId": o.f.production.FactoryID, "productionOrderId": o.f.production.ID, "materials": len(lines)})
		}); err != nil {
			return err
		}
		if assigned || o.cancelled {
			break
		}
		o.state.WaitingFor = "operator: no factory can produce this order"
		if _, err := o.awaitIdle(ctx, 0, func() bool { return !o.f.unassigned || o.cancelled }); err != nil {
			return err
		}
	}
	if o.cancelled {
		return nil
	}
	o.state.WaitingFor = "suppliers: offers, shipments and receipts"
	if err := o.source(ctx, lines, 0); err != nil || o.cancelled {
		return err
	}
	return o.step(ctx, func() error {
		if o.cancelled {
			return nil
		}
		// PROCUREMENT_DONE is visible before the workflow learns that it was
		// recorded: a report sent on seeing it waits for its turn (exclusive).
		o.f.producing = true
		return o.record(ctx, "procured", orders.EventProcured, StageProduction, StatusActive,
			"all materials received; production starts", nil)
	})
}

// source runs one sourcing child per line (line numbers offset by round*1000
// for reprocurement rounds) and waits for all of them. A cancelled order
// cancels the children, which withdraw their offers and cancel their tasks.
func (o *order) source(ctx workflow.Context, lines []activities.MaterialLine, round int) error {
	cctx, cancel := workflow.WithCancel(ctx)
	futures := make([]workflow.ChildWorkflowFuture, 0, len(lines))
	for _, l := range lines {
		line := round*1000 + l.Line
		opts := workflow.ChildWorkflowOptions{WorkflowID: SourcingWorkflowID(o.in.OrderID, line), WaitForCancellation: true}
		futures = append(futures, workflow.ExecuteChildWorkflow(workflow.WithChildOptions(cctx, opts), SourcingWorkflow, SourcingInput{
			OrderID: o.in.OrderID, Line: line, Material: l.Material, Quantity: l.Quantity,
			OfferTimeout: o.in.OfferTimeout, FactoryID: o.f.production.FactoryID, ReportsToOrder: o.reportsToOrder,
		}))
	}
	allDone := func() bool {
		for _, f := range futures {
			if !f.IsReady() {
				return false
			}
		}
		return true
	}
	// The main line cancels the children itself when the order is cancelled,
	// so the cancellation requests go out from the coroutine that owns them.
	// Until then it records what they report, one step at a time.
	for {
		// A report that came with its child's completion may still be in the
		// channel: leave only once the receiving coroutine has taken it.
		if err := workflow.Await(ctx, func() bool {
			return o.cancelled || allDone() && o.reportsCh.Len() == 0 || len(o.f.reports) > 0
		}); err != nil {
			return err
		}
		if o.cancelled || len(o.f.reports) == 0 {
			break
		}
		if err := o.step(ctx, func() error { return o.recordReports(ctx) }); err != nil {
			return err
		}
	}
	if o.cancelled {
		cancel()
	}
	for _, f := range futures {
		var res SourcingResult
		if err := f.Get(ctx, &res); err != nil {
			if o.cancelled && temporal.IsCanceledError(err) {
				continue
			}
			return err
		}
	}
	return nil
}

// settleUsage charges the factory at once, now that the job is over, for the
// leased-equipment usage it took (on the lease's own timeline, not the
// customer's). It rates usage, which may be long: an activity.
func (o *order) settleUsage(ctx workflow.Context) error {
	return workflow.ExecuteActivity(ctx, acts.SettleProductionUsage, o.in.OrderID).Get(ctx, nil)
}

// holdStatus is the order's status while it runs: ON_HOLD while anything
// holds it (a sourcing line without supplier, production escalated to the
// operator, no factory), else ACTIVE.
func (o *order) holdStatus() string {
	if len(o.f.heldLines) > 0 || o.f.held || o.f.unassigned {
		return StatusOnHold
	}
	return StatusActive
}

// recordReports records the holds and resumptions the Sourcing children
// reported: the order is ON_HOLD while any line is held, in its current stage
// (PROCUREMENT, or PRODUCTION while lost material is bought again).
func (o *order) recordReports(ctx workflow.Context) error {
	for len(o.f.reports) > 0 && !o.cancelled {
		r := o.f.reports[0]
		var t activities.Transition
		switch {
		case r.Held != nil:
			if len(o.f.heldLines) == 0 {
				o.f.waitingFor = o.state.WaitingFor
			}
			if !slices.Contains(o.f.heldLines, r.Held.Line) {
				o.f.heldLines = append(o.f.heldLines, r.Held.Line)
				slices.Sort(o.f.heldLines)
			}
			t = activities.Escalation(*r.Held)
		case r.Resumed != nil:
			o.f.heldLines = slices.DeleteFunc(o.f.heldLines, func(l int) bool { return l == r.Resumed.Line })
			t = activities.Resumption(*r.Resumed)
		}
		if t.Key != "" {
			t.Stage, t.Status = o.state.Stage, o.holdStatus()
			if err := o.recordWith(ctx, t); err != nil {
				return err
			}
		}
		o.f.reports = o.f.reports[1:]
		if len(o.f.heldLines) > 0 {
			o.state.WaitingFor = fmt.Sprintf("operator: no supplier left for line(s) %v; add a supplier and resume their sourcing", o.f.heldLines)
		} else if o.f.waitingFor != "" {
			o.state.WaitingFor, o.f.waitingFor = o.f.waitingFor, ""
		}
	}
	return nil
}

// produce waits for the factory's stage reports and QA, buying lost material
// again when the first stage scraps beyond tolerance.
func (o *order) produce(ctx workflow.Context) error {
	o.state.WaitingFor = "the factory's stage reports and QA"
	for !o.f.qaDone && !o.cancelled {
		if _, err := o.awaitIdle(ctx, 0, func() bool { return o.f.qaDone || o.cancelled || len(o.f.reprocure) > 0 }); err != nil {
			return err
		}
		if len(o.f.reprocure) > 0 && !o.cancelled {
			missing := o.f.reprocure[0]
			o.f.reprocure = o.f.reprocure[1:]
			o.f.reprocuring++
			o.f.rounds++
			round := o.f.rounds
			var lines []activities.MaterialLine
			if err := o.step(ctx, func() error {
				if err := o.fx.write(ctx, acts.PlanProcurement, o.in.OrderID).Get(ctx, &lines); err != nil {
					return err
				}
				for i := range lines { // the BOM is for the whole order: scale to the lost units
					lines[i].Quantity = lines[i].Quantity.Mul(decimal.NewFromInt(int64(missing))).Div(decimal.NewFromInt(int64(o.f.production.Quantity))).Round(6)
				}
				return o.record(ctx, fmt.Sprintf("reprocure:%d", round), orders.EventReprocurement, StageProduction, StatusActive,
					fmt.Sprintf("%d units lost beyond tolerance: buying their material again", missing), map[string]any{"units": missing})
			}); err != nil {
				return err
			}
			err := o.source(ctx, lines, round)
			o.f.reprocuring--
			if err != nil {
				return err
			}
		}
	}
	if o.settleAfterQA && o.f.qaDone {
		if err := o.step(ctx, func() error { return o.settleUsage(ctx) }); err != nil {
			// Faults are retried until they pass; a refusal (the lease refuses
			// the charge) leaves the usage to the period's invoice, as an
			// instant charge that failed did before, and the order goes on.
			// The refusal's details are decoded from the recorded failure
			// (JSON through reflection, which the check cannot prove harmless).
			//workflowcheck:ignore
			list, refused := refusal.Decode(err)
			if !refused {
				return err
			}
			workflow.GetLogger(ctx).Warn("instant settlement of the job's leased usage refused; the period invoice bills it", "refusal", refusal.Message(list))
		}
	}
	if o.cancelled {
		return nil
	}
	if !o.f.qaPassed {
		// A failed QA closes production: the operator decides (cancel and refund).
		o.state.WaitingFor = "operator: QA failed"
		_, err := o.awaitIdle(ctx, 0, func() bool { return o.cancelled })
		return err
	}
	return nil
}

// ship books the shipment and waits for delivery and the receipt, confirmed
// by the customer or automatically after AutoConfirmAfter.
func (o *order) ship(ctx workflow.Context) error {
	if err := o.step(ctx, func() error {
		if err := o.fx.write(ctx, acts.BookShipment, o.in.OrderID).Get(ctx, &o.f.shipment); err != nil {
			return err
		}
		o.state.CarrierID, o.state.ShipmentID = o.f.shipment.CarrierID, o.f.shipment.ID
		return o.record(ctx, "shipment-booked", orders.EventShipmentBooked, StageLogistics, StatusActive,
			"shipment booked, tracking number "+o.f.shipment.TrackingNumber,
			map[string]any{"carrierId": o.f.shipment.CarrierID, "shipmentId": o.f.shipment.ID, "trackingNumber": o.f.shipment.TrackingNumber})
	}); err != nil {
		return err
	}
	o.state.WaitingFor = "the carrier's tracking and delivery"
	if _, err := o.awaitIdle(ctx, 0, func() bool { return !o.f.deliveredAt.IsZero() }); err != nil {
		return err
	}
	o.state.WaitingFor = "the customer's receipt confirmation"
	confirmed, err := o.awaitIdle(ctx, o.in.AutoConfirmAfter, func() bool { return o.f.confirmed })
	if err != nil || confirmed {
		return err
	}
	return o.step(ctx, func() error {
		if o.f.confirmed {
			return nil
		}
		if err := o.fx.write(ctx, acts.ConfirmReceipt, o.in.OrderID, identity.Principal{}, true).Get(ctx, nil); err != nil {
			return err
		}
		o.f.confirmed = true
		return o.record(ctx, "receipt-confirmed", orders.EventReceiptConfirmed, StageService, StatusActive,
			"receipt confirmed automatically", map[string]any{"auto": true})
	})
}

// serve runs the warranty on a durable timer, continuing as new when the
// history grows long, and completes the order once it has ended and no
// ticket is open.
func (o *order) serve(ctx workflow.Context) error {
	if o.f.warrantyEnds.IsZero() {
		if err := o.step(ctx, func() error {
			if err := o.fx.write(ctx, acts.StartWarranty, o.in.OrderID, o.f.production.FactoryID, o.f.deliveredAt, o.in.Warranty).Get(ctx, &o.f.warrantyEnds); err != nil {
				return err
			}
			o.state.WarrantyEnds = o.f.warrantyEnds
			return o.record(ctx, "warranty-started", orders.EventWarrantyStarted, StageService, StatusActive,
				"warranty runs until "+o.f.warrantyEnds.Format(time.RFC3339), map[string]any{"endsAt": o.f.warrantyEnds})
		}); err != nil {
			return err
		}
	}
	limit := o.in.HistoryLimit
	if limit <= 0 {
		limit = 10_000
	}
	o.state.WaitingFor = "warranty end"
	long := func() bool {
		info := workflow.GetInfo(ctx)
		return info.GetCurrentHistoryLength() > limit || o.sdkWay && info.GetContinueAsNewSuggested()
	}
	for {
		wait := o.f.warrantyEnds.Sub(workflow.Now(ctx))
		if wait <= 0 {
			break
		}
		if _, err := o.awaitIdle(ctx, wait, long); err != nil {
			return err
		}
		if long() {
			if err := workflow.Await(ctx, func() bool { return o.turn.free() && workflow.AllHandlersFinished(ctx) }); err != nil {
				return err
			}
			in := o.in
			in.Resume = &Resumption{State: o.state, FactoryID: o.f.production.FactoryID, ProductionID: o.f.production.ID,
				ShipmentID: o.f.shipment.ID, CarrierID: o.f.shipment.CarrierID, DeliveredAt: o.f.deliveredAt,
				WarrantyEnds: o.f.warrantyEnds, Counter: o.f.counter}
			return workflow.NewContinueAsNewError(ctx, OrderWorkflow, in)
		}
	}
	o.state.WaitingFor = "open service tickets to be resolved"
	for {
		// Count and complete in one step, so no ticket opens in between.
		seen := o.f.ticketsChanged
		completed := false
		if err := o.step(ctx, func() error {
			var open int
			if err := o.fx.write(ctx, acts.OpenTicketCount, o.in.OrderID).Get(ctx, &open); err != nil || open > 0 {
				return err
			}
			completed = true
			o.state.WaitingFor = ""
			return o.record(ctx, "completed", orders.EventCompleted, StageService, StatusCompleted, "warranty ended; order completed", nil)
		}); err != nil || completed {
			return err
		}
		if _, err := o.awaitIdle(ctx, 0, func() bool { return o.f.ticketsChanged != seen }); err != nil {
			return err
		}
	}
}

// resumeFrom restores an order continued as new during its warranty.
func (o *order) resumeFrom(r *Resumption) {
	o.state = r.State
	o.approved = true
	o.f.production = activities.Production{ID: r.ProductionID, FactoryID: r.FactoryID}
	o.f.shipment = activities.Shipment{ID: r.ShipmentID, CarrierID: r.CarrierID}
	o.f.qaDone, o.f.qaPassed, o.f.confirmed = true, true, true
	o.f.deliveredAt, o.f.warrantyEnds, o.f.counter = r.DeliveredAt, r.WarrantyEnds, r.Counter
}

// --- validators and handlers of the fulfilment updates ---

// inProduction: the order is in production, or its PROCUREMENT_DONE is being
// recorded (and may be visible already).
func (o *order) inProduction() bool {
	return o.state.Stage == StageProduction || o.f.producing && o.state.Stage == StageProcurement
}

func (o *order) validateStage(_ workflow.Context, r StageReport) error {
	if !o.inProduction() || o.cancelled || o.f.qaDone {
		return illegal("stages are reported only during production (order is %s in %s)", o.state.Status, o.state.Stage)
	}
	if r.Principal.Kind != identity.KindPlatform && r.Principal.EnterpriseID.String() != o.f.production.FactoryID {
		return forbidden("only the assigned factory reports this order's stages")
	}
	seqs := o.f.production.Seqs
	if len(seqs) == 0 { // recorded before stage numbers were kept: 1..Stages
		for i := 1; i <= o.f.production.Stages; i++ {
			seqs = append(seqs, i)
		}
	}
	if !slices.Contains(seqs, r.Seq) {
		return illegal("stage %d is not in the routing %v", r.Seq, seqs)
	}
	if !r.Finished && r.Seq == seqs[0] && (o.f.reprocuring > 0 || len(o.f.reprocure) > 0) {
		return illegal("the first stage restarts once the lost material is received again")
	}
	if o.f.held {
		return illegal("production is on hold for the operator")
	}
	// The production order's own rules, on the copy the reports keep, so that
	// a report it would refuse never reaches an activity or the history.
	if plan := o.f.production.Plan; plan != nil {
		if !production.CanReport(&r.Principal, plan.FactoryID) {
			return forbidden("only the assigned factory's admins and members (or the operator) report stages")
		}
		var err error
		if r.Finished {
			_, err = plan.CheckFinish(r.Seq, r.Good, r.Scrap)
		} else {
			err = plan.CheckStart(r.Seq)
		}
		if err != nil {
			return refusal.From(err)
		}
	}
	return nil
}

func (o *order) reportStage(uctx workflow.Context, r StageReport) (OrderState, error) {
	return o.exclusive(uctx, func() error { return o.validateStage(uctx, r) }, func(ctx workflow.Context) error {
		var out activities.StageOutcome
		if err := o.fx.write(ctx, acts.ReportStage, activities.StageCommand{
			Principal: r.Principal, ProductionID: o.f.production.ID, Seq: r.Seq, Finished: r.Finished, Good: r.Good, Scrap: r.Scrap,
		}).Get(ctx, &out); err != nil {
			return err
		}
		n := o.next()
		status := StatusActive
		if len(o.f.heldLines) > 0 {
			status = StatusOnHold // a line bought again is held for want of a supplier
		}
		typ, msg := orders.EventStageStarted, fmt.Sprintf("stage %d started", r.Seq)
		if r.Finished {
			typ, msg = orders.EventStageFinished, fmt.Sprintf("stage %d finished: %d good, %d scrap; %s%% done", r.Seq, r.Good, r.Scrap, out.Percent)
			switch out.Action {
			case "REWORK":
				msg += fmt.Sprintf("; scrap beyond tolerance: %d units reworked", out.Quantity)
			case "REPROCURE":
				msg += fmt.Sprintf("; scrap beyond tolerance: material for %d units bought again", out.Quantity)
				o.f.reprocure = append(o.f.reprocure, out.Quantity)
			case "ESCALATE":
				msg += "; scrap beyond tolerance after the last rework: production on hold for the operator"
				typ, status, o.f.held = orders.EventProductionHeld, StatusOnHold, true
			}
		}
		o.state.Progress = out.Percent
		if out.Plan != nil {
			o.f.production.Plan = out.Plan
		}
		return o.recordWith(ctx, activities.Transition{
			Key: fmt.Sprintf("report:%d", n), Type: typ, Stage: StageProduction, Status: status, Message: msg, ActorID: r.Principal.UserID.String(),
			Data: map[string]any{"seq": r.Seq, "finished": r.Finished, "good": r.Good, "scrap": r.Scrap, "action": out.Action, "percent": out.Percent},
		})
	})
}

func (o *order) validateQA(_ workflow.Context, v QAVerdict) error {
	if !o.inProduction() || o.cancelled || o.f.qaDone {
		return illegal("QA is recorded once, at the end of production (order is %s in %s)", o.state.Status, o.state.Stage)
	}
	if v.Principal.Kind != identity.KindPlatform && v.Principal.EnterpriseID.String() != o.f.production.FactoryID {
		return forbidden("only the assigned factory records this order's QA")
	}
	if o.f.held {
		return illegal("production is on hold for the operator")
	}
	if plan := o.f.production.Plan; plan != nil {
		if !production.CanReport(&v.Principal, plan.FactoryID) {
			return forbidden("only the assigned factory's admins and members (or the operator) record QA")
		}
		if _, err := production.ValidateQANotes(v.Passed, v.Notes); err != nil {
			return refusal.From(err)
		}
		if _, err := plan.CheckQA(v.Passed); err != nil {
			return refusal.From(err)
		}
	}
	return nil
}

func (o *order) recordQA(uctx workflow.Context, v QAVerdict) (OrderState, error) {
	return o.exclusive(uctx, func() error { return o.validateQA(uctx, v) }, func(ctx workflow.Context) error {
		if err := o.fx.write(ctx, acts.RecordQA, activities.QACommand{
			Principal: v.Principal, ProductionID: o.f.production.ID, Passed: v.Passed, Notes: v.Notes,
		}).Get(ctx, nil); err != nil {
			return err
		}
		t := activities.Transition{Key: "qa", Type: orders.EventQAPassed, Stage: StageLogistics, Status: StatusActive,
			Message: "QA passed; shipping", ActorID: v.Principal.UserID.String(), Data: map[string]any{"passed": v.Passed, "notes": v.Notes}}
		if !v.Passed {
			t.Type, t.Stage, t.Status, t.Message = orders.EventQAFailed, StageProduction, StatusOnHold, "QA failed: "+v.Notes
		}
		if err := o.recordWith(ctx, t); err != nil {
			return err
		}
		o.f.qaDone, o.f.qaPassed = true, v.Passed
		if o.settleAfterQA {
			return nil // produce settles the job's usage once this update has answered
		}
		return o.settleUsage(ctx)
	})
}

func (o *order) validateTrack(_ workflow.Context, r TrackingReport) error {
	if o.state.Stage != StageLogistics || o.cancelled || !o.f.deliveredAt.IsZero() || o.f.shipment.ID == "" {
		return illegal("tracking is reported while the order is shipped (order is %s in %s)", o.state.Status, o.state.Stage)
	}
	if r.Principal.Kind != identity.KindPlatform && r.Principal.EnterpriseID.String() != o.f.shipment.CarrierID {
		return forbidden("only the booked carrier reports this shipment")
	}
	// The shipment's own rules, on the status the reports keep, so that a
	// report the service would refuse never reaches an activity.
	sh := o.f.shipment
	if sh.Status == "" {
		return nil
	}
	if carrier, err := uuid.Parse(sh.CarrierID); err == nil && !logistics.CanTrack(&r.Principal, carrier) {
		return forbidden("only the carrier's admins and members (or the operator) report tracking")
	}
	if r.Kind == logistics.StatusDelivered {
		if _, problems := logistics.ValidatePOD(logistics.POD{ReceivedBy: r.ReceivedBy, SignatureRef: r.SignatureRef, PhotoRef: r.PhotoRef}); len(problems) > 0 {
			return refusal.New(problems...)
		}
	} else {
		key := strings.TrimSpace(r.EventKey)
		if key == "" {
			key = "track:0" // the handler numbers it
		} else if was, seen := o.f.trackKeys[key]; seen {
			if was != trackedAs(r) {
				return refusal.New(errs.New(errs.AlreadyExists, []string{"input", "eventKey"}, "event %q was reported otherwise (%s)", key, was))
			}
			return nil // a repeated report: the service answers it again
		}
		if problems := logistics.ValidateTrack(r.Kind, strings.TrimSpace(r.Location), strings.TrimSpace(r.Note), key); len(problems) > 0 {
			return refusal.New(problems...)
		}
	}
	if _, err := logistics.Next(sh.Status, sh.PickedUp, r.Kind); err != nil {
		return refusal.From(err)
	}
	return nil
}

func (o *order) trackShipment(uctx workflow.Context, r TrackingReport) (OrderState, error) {
	return o.exclusive(uctx, func() error { return o.validateTrack(uctx, r) }, func(ctx workflow.Context) error {
		n := o.next()
		key := strings.TrimSpace(r.EventKey)
		if key == "" {
			key = fmt.Sprintf("track:%d", n)
		}
		var out activities.Tracked
		if err := o.fx.write(ctx, acts.Track, activities.TrackCommand{
			Principal: r.Principal, ShipmentID: o.f.shipment.ID, Kind: r.Kind, Location: r.Location, Note: r.Note, EventKey: key,
			POD: podOf(r),
		}).Get(ctx, &out); err != nil {
			return err
		}
		// The validators' copy follows the shipment as soon as its write
		// committed, whatever happens to the timeline event after.
		if o.f.shipment.Status != "" && out.Status != "" {
			o.f.shipment.Status = out.Status
			o.f.shipment.PickedUp = o.f.shipment.PickedUp || r.Kind == logistics.StatusPickedUp
			if k := strings.TrimSpace(r.EventKey); k != "" {
				if o.f.trackKeys == nil {
					o.f.trackKeys = map[string]string{}
				}
				o.f.trackKeys[k] = trackedAs(r)
			}
		}
		typ, msg := orders.EventShipmentTracked, "shipment "+r.Kind
		if r.Location != "" {
			msg += " at " + r.Location
		}
		if r.Note != "" {
			msg += ": " + r.Note
		}
		if out.DeliveredAt != nil {
			typ, msg = orders.EventDelivered, "delivered, received by "+r.ReceivedBy
		}
		if err := o.recordWith(ctx, activities.Transition{Key: fmt.Sprintf("report:%d", n), Type: typ, Stage: StageLogistics, Status: StatusActive,
			Message: msg, ActorID: r.Principal.UserID.String(), Data: map[string]any{"kind": r.Kind, "location": r.Location, "status": out.Status}}); err != nil {
			return err
		}
		if out.DeliveredAt != nil {
			o.f.deliveredAt = out.DeliveredAt.UTC()
			o.state.Delivered = true
		}
		return nil
	})
}

func (o *order) validateConfirm(_ workflow.Context, _ ConfirmDelivery) error {
	if o.state.Stage != StageLogistics || o.f.deliveredAt.IsZero() || o.f.confirmed {
		return illegal("receipt is confirmed once, after delivery (order is %s in %s)", o.state.Status, o.state.Stage)
	}
	return nil
}

func (o *order) confirmDelivery(uctx workflow.Context, c ConfirmDelivery) (OrderState, error) {
	return o.exclusive(uctx, func() error { return o.validateConfirm(uctx, c) }, func(ctx workflow.Context) error {
		if err := o.fx.write(ctx, acts.ConfirmReceipt, o.in.OrderID, c.Principal, false).Get(ctx, nil); err != nil {
			return err
		}
		if err := o.recordWith(ctx, activities.Transition{Key: "receipt-confirmed", Type: orders.EventReceiptConfirmed, Stage: StageService,
			Status: StatusActive, Message: "receipt confirmed by the customer", ActorID: c.Principal.UserID.String()}); err != nil {
			return err
		}
		o.f.confirmed = true
		return nil
	})
}

func (o *order) validateTicket(_ workflow.Context, t TicketRequest) error {
	if o.state.Stage != StageService || o.state.Status != StatusActive {
		return illegal("service tickets belong to the warranty (order is %s in %s)", o.state.Status, o.state.Stage)
	}
	return nil
}

func (o *order) ticket(update string) func(workflow.Context, TicketRequest) (OrderState, error) {
	return func(uctx workflow.Context, t TicketRequest) (OrderState, error) {
		return o.exclusive(uctx, func() error { return o.validateTicket(uctx, t) }, func(ctx workflow.Context) error {
			n := o.next()
			cmd := activities.TicketCommand{Principal: t.Principal, OrderID: o.in.OrderID, Key: t.Key, TicketID: t.TicketID,
				Category: t.Category, Description: t.Description, Assignee: t.Assignee, Resolution: t.Resolution}
			if cmd.Key == "" {
				cmd.Key = fmt.Sprintf("ticket:%d", n)
			}
			var act any
			typ := orders.EventTicketOpened
			switch update {
			case UpdateOpenTicket:
				act = acts.OpenTicket
			case UpdateDispatchTicket:
				act, typ = acts.DispatchTicket, orders.EventTicketDispatched
			default:
				act, typ = acts.ResolveTicket, orders.EventTicketResolved
			}
			var st activities.TicketState
			if err := o.fx.write(ctx, act, cmd).Get(ctx, &st); err != nil {
				return err
			}
			o.f.ticketsChanged++
			return o.recordWith(ctx, activities.Transition{Key: fmt.Sprintf("report:%d", n), Type: typ, Stage: StageService, Status: StatusActive,
				Message: fmt.Sprintf("service ticket #%d %s", st.Number, st.Status), ActorID: t.Principal.UserID.String(),
				Data: map[string]any{"ticketId": st.ID, "number": st.Number, "status": st.Status, "category": t.Category}})
		})
	}
}

// refused reports the message of an activity's domain refusal of code (which
// a retry cannot fix), and false for a fault or another refusal.
func refused(err error, code errs.Code) (string, bool) {
	list, ok := refusal.Decode(err)
	if !ok || list[0].Code != code {
		return "", false
	}
	return list[0].Message, true
}

// trackedAs is what the service compares to tell a repeated tracking report
// from another one under the same key: its kind, location and note.
func trackedAs(r TrackingReport) string {
	return r.Kind + " at " + strings.TrimSpace(r.Location) + ": " + strings.TrimSpace(r.Note)
}

func podOf(r TrackingReport) activities.POD {
	return activities.POD{ReceivedBy: r.ReceivedBy, SignatureRef: r.SignatureRef, PhotoRef: r.PhotoRef}
}
