package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/orders"
	"github.com/masscustom/orchestrator/workflows/activities"
	"github.com/masscustom/orchestrator/workflows/refusal"
)

// acts lets the workflow name activities by method without holding services.
var acts *activities.Activities

// order is the state of one order's workflow: setup registers the handlers,
// run tells the journey top to bottom.
type order struct {
	fx effects
	// reportsToOrder: ChangeSourcingReports >= 1; the order records its
	// Sourcing children's holds and resumptions.
	reportsToOrder bool
	// settleAfterQA: ChangeSettleAfterQA >= 1.
	settleAfterQA bool
	// sdkWay: ChangeHandlersAndSuggestedContinue >= 1.
	sdkWay bool
	// reportsCh receives the Sourcing children's reports (SignalSourcingReport).
	reportsCh workflow.ReceiveChannel
	in        OrderInput
	state     OrderState

	turn      *turn
	design    designPhase
	approved  bool
	changed   bool // a design change was applied; the design is prepared again
	cancelled bool
	resumed   bool
	cancel    Cancel

	f fulfilment
}

// designPhase is where the design stands between its preparation and the
// customer's decision.
type designPhase int

const (
	designIdle designPhase = iota
	// designPublishing: the design is derived and DESIGN_READY is being
	// recorded. The event is visible (and the read model says DESIGN) before
	// the workflow learns that the write finished, so a decision may arrive
	// in between: its handler waits for the turn and checks again.
	designPublishing
	// designAwaiting: the design waits for the customer's decision.
	designAwaiting
)

// Order is the parent workflow of one order, id "order/<orderID>".
func Order(ctx workflow.Context, in OrderInput) error {
	if in.DesignApprovalTimeout <= 0 {
		in.DesignApprovalTimeout = 72 * time.Hour
	}
	if in.OfferTimeout <= 0 {
		in.OfferTimeout = DefaultOfferTimeout
	}
	if in.AutoConfirmAfter <= 0 {
		in.AutoConfirmAfter = 7 * 24 * time.Hour
	}
	if in.Warranty <= 0 {
		in.Warranty = 365 * 24 * time.Hour
	}
	fx := newEffects(ctx)
	reports := version(ctx, ChangeSourcingReports, 1) >= 1
	settleAfterQA := version(ctx, ChangeSettleAfterQA, 1) >= 1
	sdkWay := version(ctx, ChangeHandlersAndSuggestedContinue, 1) >= 1
	o := &order{fx: fx, reportsToOrder: reports, settleAfterQA: settleAfterQA, sdkWay: sdkWay, turn: newTurn(ctx), in: in, state: OrderState{OrderID: in.OrderID, Stage: StageInteraction, Status: StatusActive, ConfigVersion: 1}}
	if in.Resume != nil {
		o.resumeFrom(in.Resume)
	}
	if err := o.setup(ctx); err != nil {
		return err
	}
	err := o.run(ctx)
	if err == nil && o.sdkWay {
		// An update that came as the order ended answers before the run does.
		if werr := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); werr != nil {
			return werr
		}
	}
	if temporal.IsCanceledError(err) && !o.cancelled {
		// Cancelled from Temporal itself (UI, CLI): the order is cancelled and
		// compensated all the same, in a context the cancellation does not reach.
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		dctx = writeOptions(dctx, 10*time.Second, 30*time.Second, 0)
		o.cancelled, o.cancel = true, Cancel{Reason: "workflow cancellation requested"}
		if rerr := o.recordWith(dctx, activities.Transition{
			Key: "cancelled", Type: orders.EventCancelled, Stage: o.state.Stage, Status: StatusCancelled,
			Message: "order cancelled: workflow cancellation requested", Data: map[string]any{"reason": o.cancel.Reason},
		}); rerr != nil {
			return rerr
		}
		if cerr := o.compensate(dctx); cerr != nil {
			return cerr
		}
	}
	return err
}

func (o *order) run(ctx workflow.Context) error {
	// One short transaction each; a dead worker's attempt is retried soon.
	ctx = writeOptions(ctx, 10*time.Second, 30*time.Second, 0)
	if o.in.Resume != nil {
		return o.serve(ctx) // continued as new during the warranty
	}
	if err := o.step(ctx, func() error {
		return o.record(ctx, "placed", orders.EventPlaced, StageInteraction, StatusActive, "order placed", nil)
	}); err != nil {
		return err
	}

	// Design: prepare, then wait for approval, a change, a cancellation or the deadline.
	for !o.approved && !o.cancelled {
		if err := o.step(ctx, func() error {
			if o.cancelled {
				return nil
			}
			return o.prepareDesign(ctx)
		}); err != nil {
			return err
		}
		if o.cancelled {
			break
		}
		o.changed = false
		o.state.WaitingFor = "customer approval of the design"
		o.design = designAwaiting
		decided, err := o.awaitIdle(ctx, o.in.DesignApprovalTimeout, func() bool { return o.approved || o.changed || o.cancelled })
		o.design = designIdle
		if err != nil {
			return err
		}
		if decided {
			continue
		}
		// The deadline lapsed: hold the order until the operator resumes or cancels it.
		if err := o.step(ctx, func() error {
			return o.record(ctx, fmt.Sprintf("lapsed:%d", o.state.DesignRound), orders.EventDesignLapsed, StageDesign, StatusOnHold,
				"design approval deadline lapsed; order on hold", nil)
		}); err != nil {
			return err
		}
		o.state.WaitingFor = "operator to resume or cancel"
		o.resumed = false
		if _, err := o.awaitIdle(ctx, 0, func() bool { return o.resumed || o.cancelled }); err != nil {
			return err
		}
	}
	if o.cancelled {
		return o.compensate(ctx)
	}

	// Approved: procurement, production, logistics, service.
	if err := o.procure(ctx); err != nil {
		return err
	}
	if o.cancelled {
		return o.compensate(ctx)
	}
	if err := o.produce(ctx); err != nil {
		return err
	}
	if o.cancelled {
		return o.compensate(ctx)
	}
	if err := o.ship(ctx); err != nil {
		return err
	}
	return o.serve(ctx)
}

// step runs one of the main line's transitions with no update in flight, so a
// handler never interleaves with it (and sees its result once it has the turn).
func (o *order) step(ctx workflow.Context, fn func() error) error { return o.turn.step(ctx, fn) }

// awaitIdle waits until cond holds with no update in flight, or until timeout
// (0: none). It reports whether cond held.
func (o *order) awaitIdle(ctx workflow.Context, timeout time.Duration, cond func() bool) (bool, error) {
	return o.turn.await(ctx, timeout, cond)
}

func (o *order) prepareDesign(ctx workflow.Context) error {
	o.state.DesignRound++
	var d activities.Design
	if err := o.fx.write(ctx, acts.PrepareDesign, o.in.OrderID).Get(ctx, &d); err != nil {
		return err
	}
	deadline := workflow.Now(ctx).Add(o.in.DesignApprovalTimeout).UTC().Truncate(time.Millisecond)
	o.state.DesignDeadline = deadline
	o.design = designPublishing
	return o.recordWith(ctx, activities.Transition{
		Key: fmt.Sprintf("design:%d", o.state.DesignRound), Type: orders.EventDesignReady,
		Stage: StageDesign, Status: StatusActive, DesignDeadline: &deadline,
		Message: fmt.Sprintf("design ready: %d materials, %d routing stages; approve by %s", d.Materials, d.Stages, deadline.Format(time.RFC3339)),
		Data:    map[string]any{"materials": d.Materials, "stages": d.Stages, "configVersion": d.ConfigVersion, "deadline": deadline},
	})
}

func (o *order) compensate(ctx workflow.Context) error {
	// Compensation must run even if the workflow is being cancelled.
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if o.f.production.ID != "" {
		if err := o.fx.write(dctx, acts.CancelProduction, o.in.OrderID).Get(dctx, nil); err != nil {
			return err
		}
	}
	var seq int64
	err := o.fx.write(dctx, acts.Compensate, activities.Compensation{
		OrderID: o.in.OrderID, Key: "compensated", ActorID: o.cancel.ActorID, Reason: o.cancel.Reason,
	}).Get(dctx, &seq)
	if err != nil {
		return err
	}
	o.state.Seq = seq
	o.state.WaitingFor = ""
	return nil
}

func (o *order) record(ctx workflow.Context, key, typ, stage, status, msg string, data map[string]any) error {
	return o.recordWith(ctx, activities.Transition{Key: key, Type: typ, Stage: stage, Status: status, Message: msg, Data: data})
}

// recordWith persists a transition (idempotent on its key) and then applies it.
func (o *order) recordWith(ctx workflow.Context, t activities.Transition) error {
	t.OrderID = o.in.OrderID
	var seq int64
	if err := o.fx.write(ctx, acts.Record, t).Get(ctx, &seq); err != nil {
		return err
	}
	o.state.Stage, o.state.Status, o.state.Seq = t.Stage, t.Status, seq
	return nil
}

func (o *order) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (OrderState, error) { return o.state, nil }); err != nil {
		return err
	}
	// Reports of the Sourcing children queue up for the main line, which
	// records them between updates (procure, source).
	o.reportsCh = workflow.GetSignalChannel(ctx, SignalSourcingReport)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var r SourcingReport
			if !o.reportsCh.Receive(ctx, &r) {
				return
			}
			o.f.reports = append(o.f.reports, r)
		}
	})
	handlers := []struct {
		name     string
		fn       any
		validate any
	}{
		{UpdateApproveDesign, o.approveDesign, o.validateApprove},
		{UpdateRequestDesignChange, o.requestDesignChange, o.validateChange},
		{UpdateCancel, o.cancelOrder, o.validateCancel},
		{UpdateResume, o.resume, o.validateResume},
		{UpdateReportStage, o.reportStage, o.validateStage},
		{UpdateRecordQA, o.recordQA, o.validateQA},
		{UpdateTrackShipment, o.trackShipment, o.validateTrack},
		{UpdateConfirmDelivery, o.confirmDelivery, o.validateConfirm},
		{UpdateOpenTicket, o.ticket(UpdateOpenTicket), o.validateTicket},
		{UpdateDispatchTicket, o.ticket(UpdateDispatchTicket), o.validateTicket},
		{UpdateResolveTicket, o.ticket(UpdateResolveTicket), o.validateTicket},
	}
	for _, h := range handlers {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, h.name, h.fn, workflow.UpdateHandlerOptions{Validator: h.validate}); err != nil {
			return err
		}
	}
	return nil
}

// awaitingDecision: the design waits for the customer, or is being published;
// in the latter case the handler waits (exclusive) until it waits and checks again.
func (o *order) awaitingDecision() bool {
	return o.design == designPublishing || o.design == designAwaiting && o.state.Stage == StageDesign && o.state.Status == StatusActive
}

func (o *order) validateApprove(_ workflow.Context, a ApproveDesign) error {
	if !o.awaitingDecision() || o.approved || o.cancelled {
		return illegal("the design can be approved only while it awaits approval (order is %s in %s)", o.state.Status, o.state.Stage)
	}
	if a.ConfigVersion > 0 && a.ConfigVersion != o.state.ConfigVersion {
		return illegal("configuration version %d was replaced by version %d; review the new design", a.ConfigVersion, o.state.ConfigVersion)
	}
	return nil
}

func (o *order) validateChange(_ workflow.Context, c DesignChange) error {
	if !o.awaitingDecision() || o.approved || o.cancelled {
		return illegal("a design change can be requested only while the design awaits approval (order is %s in %s)", o.state.Status, o.state.Stage)
	}
	if len(c.Selections) == 0 {
		return refusal.New(errs.Invalid([]string{"input", "selections"}, "a design change needs the new configuration"))
	}
	return nil
}

func (o *order) validateCancel(_ workflow.Context, _ Cancel) error {
	if o.cancelled || o.state.Status == StatusCancelled || o.state.Status == StatusCompleted {
		return illegal("the order is already %s", o.state.Status)
	}
	switch o.state.Stage {
	case StageInteraction, StageDesign, StageProcurement:
		return nil
	case StageProduction:
		if !o.f.qaPassed {
			return nil // production stops; nothing has shipped
		}
	}
	return illegal("the order is in %s; it can no longer be cancelled", o.state.Stage)
}

func (o *order) validateResume(_ workflow.Context, _ Resume) error {
	if len(o.f.heldLines) > 0 {
		return illegal("the sourcing of line(s) %v is on hold: the operator resumes it (resumeSourcing), not the order", o.f.heldLines)
	}
	if o.state.Status != StatusOnHold || o.cancelled {
		return illegal("only an order on hold can be resumed (order is %s)", o.state.Status)
	}
	if o.f.qaDone && !o.f.qaPassed {
		return illegal("QA failed: production is closed; the order can only be cancelled")
	}
	return nil
}

// exclusive runs an update's effect with no other update in flight, checking
// again that it is still legal once it has the turn.
func (o *order) exclusive(ctx workflow.Context, check func() error, effect func(actx workflow.Context) error) (OrderState, error) {
	// Activities of an update run in the update's own coroutine and context.
	actx := writeOptions(ctx, 10*time.Second, 10*time.Second, 10)
	return exclusive(ctx, o.turn, check, func() error { return effect(actx) }, func() OrderState { return o.state })
}

func (o *order) approveDesign(uctx workflow.Context, a ApproveDesign) (OrderState, error) {
	return o.exclusive(uctx, func() error { return o.validateApprove(uctx, a) }, func(ctx workflow.Context) error {
		msg := "design approved; procurement starts"
		if a.Comment != "" {
			msg += ": " + a.Comment
		}
		err := o.recordWith(ctx, activities.Transition{
			Key: "approved", Type: orders.EventDesignApproved, Stage: StageProcurement, Status: StatusActive,
			Message: msg, ActorID: a.ActorID, DesignApproved: true,
			Data: map[string]any{"configVersion": o.state.ConfigVersion},
		})
		if err == nil {
			o.approved = true
		}
		return err
	})
}

func (o *order) requestDesignChange(uctx workflow.Context, c DesignChange) (OrderState, error) {
	return o.exclusive(uctx, func() error { return o.validateChange(uctx, c) }, func(ctx workflow.Context) error {
		var res activities.ChangeResult
		err := o.fx.write(ctx, acts.ApplyDesignChange, activities.Change{
			OrderID: o.in.OrderID, Key: fmt.Sprintf("change:%d", o.state.DesignRound),
			ActorID: c.ActorID, Selections: c.Selections, Quantity: c.Quantity, Reason: c.Reason,
		}).Get(ctx, &res)
		if err != nil {
			return err // a refusal (the configuration's violations) or a fault
		}
		o.state.ConfigVersion = res.ConfigVersion
		o.state.Stage, o.state.Status, o.state.Seq = StageInteraction, StatusActive, res.Seq
		o.changed = true
		return nil
	})
}

func (o *order) cancelOrder(uctx workflow.Context, c Cancel) (OrderState, error) {
	return o.exclusive(uctx, func() error { return o.validateCancel(uctx, c) }, func(ctx workflow.Context) error {
		msg := "order cancelled"
		if c.Reason != "" {
			msg += ": " + c.Reason
		}
		err := o.recordWith(ctx, activities.Transition{
			Key: "cancelled", Type: orders.EventCancelled, Stage: o.state.Stage, Status: StatusCancelled,
			Message: msg, ActorID: c.ActorID, Data: map[string]any{"reason": c.Reason},
		})
		if err == nil {
			o.cancelled, o.cancel = true, c
		}
		return err
	})
}

func (o *order) resume(uctx workflow.Context, r Resume) (OrderState, error) {
	return o.exclusive(uctx, func() error { return o.validateResume(uctx, r) }, func(ctx workflow.Context) error {
		msg := "order resumed by the operator"
		if r.Reason != "" {
			msg += ": " + r.Reason
		}
		if o.f.unassigned {
			err := o.recordWith(ctx, activities.Transition{
				Key: fmt.Sprintf("resumed:a%d", o.next()), Type: orders.EventResumed, Stage: StageProcurement, Status: StatusActive,
				Message: msg + "; assigning a factory again", ActorID: r.ActorID,
			})
			if err == nil {
				o.f.unassigned = false
			}
			return err
		}
		if o.f.held {
			// Production escalated: the operator accepts the shortfall and production goes on.
			err := o.recordWith(ctx, activities.Transition{
				Key: fmt.Sprintf("resumed:p%d", o.next()), Type: orders.EventResumed, Stage: StageProduction, Status: StatusActive,
				Message: msg, ActorID: r.ActorID,
			})
			if err == nil {
				o.f.held = false
			}
			return err
		}
		err := o.recordWith(ctx, activities.Transition{
			Key: fmt.Sprintf("resumed:%d", o.state.DesignRound), Type: orders.EventResumed, Stage: StageDesign, Status: StatusActive,
			Message: msg, ActorID: r.ActorID,
		})
		if err == nil {
			o.resumed = true
		}
		return err
	})
}
