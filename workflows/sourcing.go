package workflows

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/procurement"
	"github.com/masscustom/orchestrator/workflows/activities"
	"github.com/masscustom/orchestrator/workflows/refusal"
)

// Names of the sourcing workflow and of its updates, shared with the gateway.
// Its query is QueryState, answering SourcingState.
const (
	SourcingWorkflow     = "Sourcing"
	UpdateAcceptOffer    = "acceptOffer"
	UpdateRejectOffer    = "rejectOffer"
	UpdateReportShipment = "reportShipment"
	UpdateConfirmReceipt = "confirmReceipt"
	UpdateResumeSourcing = "resumeSourcing"
)

// SourcingWorkflowID is the workflow id of the sourcing of an order's line.
func SourcingWorkflowID(orderID string, line int) string {
	return fmt.Sprintf("sourcing/%s/%d", orderID, line)
}

// DefaultOfferTimeout is a supplier's time to answer an offer when the input
// gives none.
const DefaultOfferTimeout = 24 * time.Hour

// Statuses of a sourcing (SourcingState.Status).
const (
	SourcingRanking    = "SOURCING"   // choosing the next supplier, or offering to it
	SourcingOffered    = "OFFERED"    // an offer waits for the supplier's answer
	SourcingOnHold     = "ON_HOLD"    // no supplier left: waits for the operator
	SourcingDelivering = "DELIVERING" // fully covered: waits for shipments and receipts
	SourcingDone       = "DONE"
	SourcingCancelled  = "CANCELLED"
)

// SourcingInput starts the sourcing of one material (one BOM line) of an order.
type SourcingInput struct {
	OrderID  string
	Line     int
	Material string
	Quantity decimal.Decimal
	// OfferTimeout is each supplier's SLA to answer an offer (0: DefaultOfferTimeout).
	OfferTimeout time.Duration
	// FactoryID is the factory that receives the materials and confirms
	// receipts; when empty only the operator confirms them.
	FactoryID string
	// ReportsToOrder: the sourcing reports its holds and resumptions to its
	// order (SignalSourcingReport), whose workflow records them and the
	// order's status. Runs started without it record them themselves.
	ReportsToOrder bool
}

// SignalSourcingReport is the signal by which a Sourcing child reports to its
// order that its line is held for want of a supplier, or resumed.
const SignalSourcingReport = "sourcingReport"

// SourcingReport is the payload of SignalSourcingReport: one of the two is set.
type SourcingReport struct {
	Held    *activities.SourcingEscalation
	Resumed *activities.SourcingResumption
}

// SourcingState is what the workflow knows of its sourcing, answered by
// QueryState and by every update.
type SourcingState struct {
	OrderID  string
	Line     int
	Material string
	Quantity decimal.Decimal
	Status   string
	// Offer is the open offer, if any.
	Offer *SourcingOffer
	// Parts are the accepted tasks: together they cover Quantity - Remaining.
	Parts       []SourcingPart
	Remaining   decimal.Decimal
	Received    decimal.Decimal
	Attempts    int
	Escalations int
	WaitingFor  string
	Seq         int64 // the last timeline event this workflow recorded
}

// SourcingOffer is an offer made to a supplier.
type SourcingOffer struct {
	TaskID        string
	SupplierID    string
	Attempt       int
	Quantity      decimal.Decimal
	Currency      string
	ListUnitPrice decimal.Decimal
	Deadline      time.Time
}

// SourcingPart is an accepted task: the part of the quantity one supplier
// committed to, and how much of it was shipped and received.
type SourcingPart struct {
	TaskID       string
	SupplierID   string
	Attempt      int
	Quantity     decimal.Decimal
	UnitPrice    decimal.Decimal
	Currency     string
	PromisedDate time.Time
	Shipped      decimal.Decimal
	Received     decimal.Decimal
	Shipments    int
	Receipts     int
	Status       string // a procurement task status
}

// SourcingResult is what a completed sourcing returns: who supplies what, at
// what price.
type SourcingResult struct {
	OrderID  string
	Line     int
	Material string
	Quantity decimal.Decimal
	Parts    []SourcingPart
}

// AcceptOffer is the payload of UpdateAcceptOffer: the supplier takes the open
// offer, or part of its quantity (the rest is offered to others).
type AcceptOffer struct {
	TaskID string
	// ActorID is the user (for the timeline); ActorEnterpriseID the
	// enterprise the gateway authenticated, which must be the task's supplier.
	ActorID           string
	ActorEnterpriseID string
	UnitPrice         decimal.Decimal
	Quantity          decimal.Decimal
	PromisedDate      time.Time
}

// RejectOffer is the payload of UpdateRejectOffer.
type RejectOffer struct {
	TaskID            string
	ActorID           string
	ActorEnterpriseID string
	Reason            string
}

// ReportShipment is the payload of UpdateReportShipment: the supplier shipped
// Quantity more of an accepted task.
type ReportShipment struct {
	TaskID            string
	ActorID           string
	ActorEnterpriseID string
	Quantity          decimal.Decimal
}

// ConfirmReceipt is the payload of UpdateConfirmReceipt: Quantity more of an
// accepted task arrived (partial receipts add up). The receiving factory
// (SourcingInput.FactoryID) or the operator confirms; the gateway sets
// ByOperator only for a platform principal it authorized.
type ConfirmReceipt struct {
	TaskID            string
	ActorID           string
	ActorEnterpriseID string
	ByOperator        bool
	Quantity          decimal.Decimal
}

// ResumeSourcing is the payload of UpdateResumeSourcing (operator only: the
// gateway authorizes), typically after adding a supplier's capability.
type ResumeSourcing struct {
	ActorID string
	Reason  string
}

// sourcingCancelReason is what suppliers read on a task taken back: the sourcing is
// cancelled only by its order's cancellation.
const sourcingCancelReason = "the order was cancelled"

// sourcingActs names the sourcing activities by method.
var sourcingActs *activities.ProcurementActivities

// sourcing is the state of one sourcing workflow: setup registers the
// handlers, run tells the story top to bottom.
//
// Whom the ranking leaves out: suppliers that rejected an offer of this line,
// and those that already hold a part of it, for the whole sourcing; suppliers
// whose offer lapsed, until the operator resumes a held line (silence may have
// been a missed message, and the operator may have called them).
type sourcing struct {
	fx     effects
	sdkWay bool // ChangeHandlersAndSuggestedContinue >= 1
	in     SourcingInput
	state  SourcingState

	orderID uuid.UUID
	offers  []SourcingOffer // every offer made, for the validators
	opening *SourcingOffer  // the offer being written, until it is open
	refused []string        // suppliers that rejected
	lapsed  []string        // suppliers whose offer lapsed since the last resumption

	turn      *turn
	resumed   bool
	cancelled bool
}

// Sourcing is the child workflow that buys one material of an order, id
// SourcingWorkflowID(orderID, line): it offers the quantity to the best-ranked
// supplier, re-sources on rejection or lapse, splits what one supplier cannot
// cover, holds the order when nobody is left, then waits until everything is
// received. Cancelled, it withdraws its open offer and cancels its accepted
// tasks before returning the cancellation.
func Sourcing(ctx workflow.Context, in SourcingInput) (SourcingResult, error) {
	if in.OfferTimeout <= 0 {
		in.OfferTimeout = DefaultOfferTimeout
	}
	orderID, err := uuid.Parse(in.OrderID)
	if err != nil || in.Material == "" || in.Quantity.IsNegative() || in.Line < 0 {
		return SourcingResult{}, refusal.Newf(errs.InvalidInput,
			"sourcing needs an order id, a line, a material and a quantity (got %q, %d, %q, %s)", in.OrderID, in.Line, in.Material, in.Quantity)
	}
	if in.Quantity.IsZero() { // nothing to buy (a scaled re-procurement can round to zero)
		return SourcingResult{OrderID: in.OrderID, Line: in.Line, Material: in.Material, Quantity: in.Quantity}, nil
	}
	s := &sourcing{fx: newEffects(ctx), sdkWay: version(ctx, ChangeHandlersAndSuggestedContinue, 1) >= 1, turn: newTurn(ctx), in: in, orderID: orderID, state: SourcingState{
		OrderID: in.OrderID, Line: in.Line, Material: in.Material, Quantity: in.Quantity,
		Status: SourcingRanking, Remaining: in.Quantity, Received: decimal.Zero,
	}}
	if err := s.setup(ctx); err != nil {
		return SourcingResult{}, err
	}
	res, err := s.run(ctx)
	if err != nil && (temporal.IsCanceledError(err) || ctx.Err() != nil) {
		if cerr := s.compensate(ctx); cerr != nil {
			return SourcingResult{}, cerr
		}
	}
	if err == nil && s.sdkWay {
		// An update that came as the sourcing ended answers before it does.
		if werr := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); werr != nil {
			return SourcingResult{}, werr
		}
	}
	return res, err
}

func sourcingActivityOptions(ctx workflow.Context, attempts int32) workflow.Context {
	return writeOptions(ctx, 30*time.Second, 30*time.Second, attempts)
}

func (s *sourcing) run(ctx workflow.Context) (SourcingResult, error) {
	ctx = sourcingActivityOptions(ctx, 0)
	for s.state.Remaining.IsPositive() {
		var best *activities.SupplierCandidate
		if err := s.step(ctx, func() error {
			var err error
			best, err = s.rank(ctx)
			return err
		}); err != nil {
			return SourcingResult{}, err
		}
		if best == nil {
			if err := s.escalate(ctx); err != nil {
				return SourcingResult{}, err
			}
			continue
		}
		var deadline time.Time
		if err := s.step(ctx, func() error {
			err := s.offer(ctx, *best)
			if err == nil {
				deadline = s.state.Offer.Deadline
			}
			return err
		}); err != nil {
			return SourcingResult{}, err
		}
		answered, err := s.awaitDeadline(ctx, deadline, func() bool { return s.state.Offer == nil })
		if err != nil {
			return SourcingResult{}, err
		}
		if !answered {
			if err := s.step(ctx, func() error { return s.timeOut(ctx) }); err != nil {
				return SourcingResult{}, err
			}
		}
	}

	s.state.Status, s.state.WaitingFor = SourcingDelivering, "shipments and receipts"
	if err := s.awaitIdle(ctx, func() bool { return s.state.Received.GreaterThanOrEqual(s.in.Quantity) }); err != nil {
		return SourcingResult{}, err
	}
	if err := s.step(ctx, func() error {
		return s.close(ctx, activities.SourcingClosing{
			OrderID: s.in.OrderID, Line: s.in.Line, Material: s.in.Material, Quantity: s.in.Quantity, Suppliers: len(s.state.Parts),
		})
	}); err != nil {
		return SourcingResult{}, err
	}
	s.state.Status, s.state.WaitingFor = SourcingDone, ""
	return SourcingResult{OrderID: s.in.OrderID, Line: s.in.Line, Material: s.in.Material, Quantity: s.in.Quantity, Parts: s.state.Parts}, nil
}

// rank returns the best supplier left for what remains, or nil.
func (s *sourcing) rank(ctx workflow.Context) (*activities.SupplierCandidate, error) {
	s.state.Status, s.state.WaitingFor = SourcingRanking, ""
	exclude := slices.Concat(s.refused, s.lapsed)
	for _, p := range s.state.Parts {
		exclude = append(exclude, p.SupplierID)
	}
	var cands []activities.SupplierCandidate
	err := s.fx.write(ctx, sourcingActs.RankSuppliers, activities.RankRequest{
		Material: s.in.Material, Quantity: s.state.Remaining, Exclude: exclude,
	}).Get(ctx, &cands)
	if err != nil || len(cands) == 0 {
		return nil, err
	}
	return &cands[0], nil
}

// offer opens the next attempt with the supplier, for as much of what remains
// as it can cover. The task's id is known before it is written, so that an
// answer arriving while it is written waits for it rather than being refused.
func (s *sourcing) offer(ctx workflow.Context, c activities.SupplierCandidate) error {
	qty := s.state.Remaining
	if c.MaxQuantity.IsPositive() && c.MaxQuantity.LessThan(qty) {
		qty = c.MaxQuantity
	}
	now := workflow.Now(ctx).UTC()
	attempt := s.state.Attempts + 1
	offer := SourcingOffer{TaskID: procurement.TaskID(s.orderID, s.in.Line, attempt).String(), SupplierID: c.SupplierID, Attempt: attempt,
		Quantity: qty, Currency: c.Currency, ListUnitPrice: c.UnitPrice, Deadline: now.Add(s.in.OfferTimeout).Truncate(time.Millisecond)}
	s.offers = append(s.offers, offer)
	s.opening = &offer
	var t activities.ProcurementTask
	if err := s.fx.write(ctx, sourcingActs.OfferProcurementTask, s.taskOffer(offer, now)).Get(ctx, &t); err != nil {
		return err
	}
	s.state.Attempts = attempt
	s.state.Offer, s.opening = &offer, nil
	s.state.Status, s.state.Seq = SourcingOffered, t.Seq
	s.state.WaitingFor = fmt.Sprintf("supplier %s to answer by %s", c.SupplierID, offer.Deadline.Format(time.RFC3339))
	return nil
}

func (s *sourcing) taskOffer(o SourcingOffer, at time.Time) activities.TaskOffer {
	return activities.TaskOffer{OrderID: s.in.OrderID, Line: s.in.Line, Attempt: o.Attempt, Material: s.in.Material, Quantity: o.Quantity,
		SupplierID: o.SupplierID, Currency: o.Currency, ListUnitPrice: o.ListUnitPrice, Deadline: o.Deadline, At: at}
}

// timeOut closes the open offer that lapsed; its supplier is left out until
// the operator resumes.
func (s *sourcing) timeOut(ctx workflow.Context) error {
	o := s.state.Offer
	if o == nil {
		return nil // answered while the deadline was being handled
	}
	var t activities.ProcurementTask
	err := s.fx.write(ctx, sourcingActs.TimeOutProcurementTask, activities.TaskDecision{
		OrderID: s.in.OrderID, Line: s.in.Line, Attempt: o.Attempt, TaskID: o.TaskID, At: workflow.Now(ctx).UTC(),
	}).Get(ctx, &t)
	if err != nil {
		return err
	}
	s.lapsed = append(s.lapsed, o.SupplierID)
	s.state.Offer, s.state.Seq = nil, t.Seq
	return nil
}

// escalate holds the line until the operator resumes it.
func (s *sourcing) escalate(ctx workflow.Context) error {
	if err := s.step(ctx, func() error {
		round := s.state.Escalations + 1
		esc := activities.SourcingEscalation{
			OrderID: s.in.OrderID, Line: s.in.Line, Round: round, Material: s.in.Material, Remaining: s.state.Remaining,
		}
		if s.in.ReportsToOrder {
			if err := s.fx.write(ctx, sourcingActs.HoldSourcing, esc).Get(ctx, nil); err != nil {
				return err
			}
			if err := s.report(ctx, SourcingReport{Held: &esc}); err != nil {
				return err
			}
			s.state.Escalations = round
		} else {
			var seq int64
			if err := s.fx.write(ctx, sourcingActs.EscalateSourcing, esc).Get(ctx, &seq); err != nil {
				return err
			}
			s.state.Escalations, s.state.Seq = round, seq
		}
		s.state.Status, s.state.WaitingFor = SourcingOnHold, "operator to add a supplier and resume"
		s.resumed = false
		return nil
	}); err != nil {
		return err
	}
	return s.awaitIdle(ctx, func() bool { return s.resumed })
}

// report tells the order about a hold or a resumption of this line; the
// order's workflow records it (and the order's status).
func (s *sourcing) report(ctx workflow.Context, r SourcingReport) error {
	return workflow.SignalExternalWorkflow(ctx, OrderWorkflowID(s.in.OrderID), "", SignalSourcingReport, r).Get(ctx, nil)
}

func (s *sourcing) close(ctx workflow.Context, c activities.SourcingClosing) error {
	var seq int64
	if err := s.fx.write(ctx, sourcingActs.CloseSourcing, c).Get(ctx, &seq); err != nil {
		return err
	}
	s.state.Seq = seq
	return nil
}

// compensate takes back what the sourcing holds, in a context the
// cancellation does not reach: the open offer (or one being written) is
// withdrawn, accepted tasks not fully received are cancelled.
func (s *sourcing) compensate(ctx workflow.Context) error {
	s.cancelled = true
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	dctx = sourcingActivityOptions(dctx, 0)
	// An update persisting when the cancellation came fails fast (its
	// activity is cancelled with the workflow); wait for it to let go.
	if err := workflow.Await(dctx, s.turn.free); err != nil {
		return err
	}
	now := workflow.Now(dctx).UTC()
	open := s.state.Offer
	if open == nil {
		open = s.opening
	}
	if open != nil {
		var t activities.ProcurementTask
		if err := s.fx.write(dctx, sourcingActs.WithdrawProcurementTask, activities.TaskWithdrawal{
			Offer: s.taskOffer(*open, now), Reason: sourcingCancelReason, At: now,
		}).Get(dctx, &t); err != nil {
			return err
		}
		s.state.Offer, s.opening = nil, nil
		if t.Seq > 0 {
			s.state.Seq = t.Seq
		}
	}
	for i := range s.state.Parts {
		p := &s.state.Parts[i]
		if p.Status == string(procurement.StatusReceived) {
			continue
		}
		var t activities.ProcurementTask
		if err := s.fx.write(dctx, sourcingActs.CancelProcurementTask, activities.TaskDecision{
			OrderID: s.in.OrderID, Line: s.in.Line, Attempt: p.Attempt, TaskID: p.TaskID, Reason: sourcingCancelReason, At: now,
		}).Get(dctx, &t); err != nil {
			return err
		}
		p.Status = t.Status
		if t.Seq > 0 {
			s.state.Seq = t.Seq
		}
	}
	if err := s.close(dctx, activities.SourcingClosing{
		OrderID: s.in.OrderID, Line: s.in.Line, Material: s.in.Material, Quantity: s.in.Quantity,
		Suppliers: len(s.state.Parts), Cancelled: true, Reason: sourcingCancelReason,
	}); err != nil {
		return err
	}
	s.state.Status, s.state.WaitingFor = SourcingCancelled, ""
	return nil
}

// step runs one of the main line's transitions with no update in flight.
func (s *sourcing) step(ctx workflow.Context, fn func() error) error { return s.turn.step(ctx, fn) }

// awaitIdle waits until cond holds with no update in flight.
func (s *sourcing) awaitIdle(ctx workflow.Context, cond func() bool) error {
	_, err := s.turn.await(ctx, 0, cond)
	return err
}

// awaitDeadline waits until cond holds with no update in flight, or until the
// deadline; it reports whether cond held. An update persisting right at the
// deadline finishes and counts.
func (s *sourcing) awaitDeadline(ctx workflow.Context, deadline time.Time, cond func() bool) (bool, error) {
	return s.turn.awaitUntil(ctx, deadline, cond)
}

func (s *sourcing) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (SourcingState, error) { return s.state, nil }); err != nil {
		return err
	}
	handlers := []struct {
		name     string
		fn       any
		validate any
	}{
		{UpdateAcceptOffer, s.acceptOffer, s.validateAccept},
		{UpdateRejectOffer, s.rejectOffer, s.validateReject},
		{UpdateReportShipment, s.reportShipment, s.validateShipment},
		{UpdateConfirmReceipt, s.confirmReceipt, s.validateReceipt},
		{UpdateResumeSourcing, s.resume, s.validateResume},
	}
	for _, h := range handlers {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, h.name, h.fn, workflow.UpdateHandlerOptions{Validator: h.validate}); err != nil {
			return err
		}
	}
	return nil
}

func sourcingForbidden(format string, args ...any) error {
	return refusal.Newf(errs.Forbidden, format, args...)
}

// sourcingInvalid refuses supplier input, with the field paths as details.
func sourcingInvalid(problems errs.List) error {
	return refusal.New(problems...)
}

// offerFor finds an offer of this sourcing that the actor's enterprise may
// answer: an unknown task is ILLEGAL_STATE, another supplier's FORBIDDEN.
func (s *sourcing) offerFor(taskID, enterpriseID string) (*SourcingOffer, error) {
	i := slices.IndexFunc(s.offers, func(o SourcingOffer) bool { return o.TaskID == taskID })
	if i < 0 {
		return nil, illegal("task %s is not part of the sourcing of %s", taskID, s.in.Material)
	}
	if o := &s.offers[i]; o.SupplierID == enterpriseID {
		return o, nil
	}
	return nil, sourcingForbidden("task %s was not offered to enterprise %s", taskID, enterpriseID)
}

// openOffer checks that task is the open offer and that enterpriseID is its supplier.
func (s *sourcing) openOffer(ctx workflow.Context, taskID, enterpriseID string, deadline bool) (*SourcingOffer, error) {
	if _, err := s.offerFor(taskID, enterpriseID); err != nil {
		return nil, err
	}
	if s.cancelled || s.state.Status == SourcingDone {
		return nil, illegal("the sourcing of %s is %s", s.in.Material, s.state.Status)
	}
	o := s.state.Offer
	if o == nil || o.TaskID != taskID {
		if s.opening == nil || s.opening.TaskID != taskID {
			return nil, illegal("task %s is no longer open: it was answered, lapsed or withdrawn", taskID)
		}
		// Still being written (the supplier saw it in its inbox already):
		// the update waits for its turn, when the offer is open.
		o = s.opening
	}
	if deadline && !workflow.Now(ctx).Before(o.Deadline) {
		return nil, illegal("the offer of task %s lapsed at %s", taskID, o.Deadline.Format(time.RFC3339))
	}
	return o, nil
}

// part finds an accepted part of a sourcing still under way (the caller
// checks who acts on it).
func (s *sourcing) part(taskID string) (*SourcingPart, error) {
	if s.cancelled || s.state.Status == SourcingDone {
		return nil, illegal("the sourcing of %s is %s", s.in.Material, s.state.Status)
	}
	i := slices.IndexFunc(s.state.Parts, func(p SourcingPart) bool { return p.TaskID == taskID })
	if i < 0 {
		return nil, illegal("task %s is not an accepted part of the sourcing of %s", taskID, s.in.Material)
	}
	return &s.state.Parts[i], nil
}

func (s *sourcing) validateAccept(ctx workflow.Context, a AcceptOffer) error {
	return s.checkAccept(ctx, a, true)
}

// checkAccept validates an acceptance; deadline says whether the offer's
// deadline counts (in the validator), or not (once the update has its turn:
// accepted before the deadline, it counts).
func (s *sourcing) checkAccept(ctx workflow.Context, a AcceptOffer, deadline bool) error {
	o, err := s.openOffer(ctx, a.TaskID, a.ActorEnterpriseID, deadline)
	if err != nil {
		return err
	}
	if problems := procurement.ValidateAcceptance(o.Quantity, o.Currency, procurement.Acceptance{
		UnitPrice: a.UnitPrice, Quantity: a.Quantity, PromisedDate: a.PromisedDate,
	}, workflow.Now(ctx)); len(problems) > 0 {
		return sourcingInvalid(problems)
	}
	return nil
}

func (s *sourcing) validateReject(ctx workflow.Context, r RejectOffer) error {
	return s.checkReject(ctx, r, true)
}

func (s *sourcing) checkReject(ctx workflow.Context, r RejectOffer, deadline bool) error {
	if _, err := s.openOffer(ctx, r.TaskID, r.ActorEnterpriseID, deadline); err != nil {
		return err
	}
	if problems := procurement.ValidateReason(r.Reason); len(problems) > 0 {
		return sourcingInvalid(problems)
	}
	return nil
}

func (s *sourcing) validateShipment(_ workflow.Context, r ReportShipment) error {
	if _, err := s.offerFor(r.TaskID, r.ActorEnterpriseID); err != nil {
		return err
	}
	p, err := s.part(r.TaskID)
	if err != nil {
		return err
	}
	if p.Status != string(procurement.StatusAccepted) && p.Status != string(procurement.StatusShipped) {
		return illegal("task %s is %s; nothing is left to ship", r.TaskID, p.Status)
	}
	if problems := procurement.ValidateShipment(p.Quantity, p.Shipped, r.Quantity); len(problems) > 0 {
		return sourcingInvalid(problems)
	}
	return nil
}

func (s *sourcing) validateReceipt(_ workflow.Context, r ConfirmReceipt) error {
	if !r.ByOperator && (s.in.FactoryID == "" || r.ActorEnterpriseID != s.in.FactoryID) {
		return sourcingForbidden("only the receiving factory or the operator confirms receipts")
	}
	p, err := s.part(r.TaskID)
	if err != nil {
		return err
	}
	if problems := procurement.ValidateReceipt(p.Shipped, p.Received, r.Quantity); len(problems) > 0 {
		return sourcingInvalid(problems)
	}
	return nil
}

func (s *sourcing) validateResume(_ workflow.Context, _ ResumeSourcing) error {
	if s.cancelled || s.state.Status != SourcingOnHold || s.resumed {
		return illegal("only a sourcing on hold can be resumed (the sourcing of %s is %s)", s.in.Material, s.state.Status)
	}
	return nil
}

// exclusive runs an update's effect with no other update or main-line step in
// flight, checking again that it is still legal once it has the turn.
// Activities of an update run in the update's own context.
func (s *sourcing) exclusive(ctx workflow.Context, check func() error, effect func(actx workflow.Context) error) (SourcingState, error) {
	actx := sourcingActivityOptions(ctx, 10)
	return exclusive(ctx, s.turn, check, func() error { return effect(actx) }, func() SourcingState { return s.state })
}

// sourcingActivityError keeps an activity's coded refusal (the service disagreed with
// the validator) as the update's error type.
func sourcingActivityError(err error) error {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app
	}
	return err
}

func (s *sourcing) acceptOffer(uctx workflow.Context, a AcceptOffer) (SourcingState, error) {
	return s.exclusive(uctx, func() error { return s.checkAccept(uctx, a, false) }, func(ctx workflow.Context) error {
		o := *s.state.Offer
		var t activities.ProcurementTask
		err := s.fx.write(ctx, sourcingActs.AcceptProcurementTask, activities.TaskAcceptance{
			OrderID: s.in.OrderID, Line: s.in.Line, Attempt: o.Attempt, TaskID: o.TaskID, ActorID: a.ActorID,
			UnitPrice: a.UnitPrice, Quantity: a.Quantity, PromisedDate: a.PromisedDate, At: workflow.Now(ctx).UTC(),
		}).Get(ctx, &t)
		if err != nil {
			return sourcingActivityError(err)
		}
		s.state.Parts = append(s.state.Parts, SourcingPart{
			TaskID: o.TaskID, SupplierID: o.SupplierID, Attempt: o.Attempt, Quantity: t.AcceptedQuantity, UnitPrice: t.UnitPrice,
			Currency: o.Currency, PromisedDate: t.PromisedDate, Shipped: decimal.Zero, Received: decimal.Zero, Status: t.Status,
		})
		s.state.Remaining = s.state.Remaining.Sub(t.AcceptedQuantity)
		s.state.Offer, s.state.Seq = nil, t.Seq
		s.state.Status, s.state.WaitingFor = SourcingRanking, ""
		if !s.state.Remaining.IsPositive() {
			s.state.Status, s.state.WaitingFor = SourcingDelivering, "shipments and receipts"
		}
		return nil
	})
}

func (s *sourcing) rejectOffer(uctx workflow.Context, r RejectOffer) (SourcingState, error) {
	return s.exclusive(uctx, func() error { return s.checkReject(uctx, r, false) }, func(ctx workflow.Context) error {
		o := *s.state.Offer
		var t activities.ProcurementTask
		err := s.fx.write(ctx, sourcingActs.RejectProcurementTask, activities.TaskDecision{
			OrderID: s.in.OrderID, Line: s.in.Line, Attempt: o.Attempt, TaskID: o.TaskID, ActorID: r.ActorID,
			Reason: r.Reason, At: workflow.Now(ctx).UTC(),
		}).Get(ctx, &t)
		if err != nil {
			return sourcingActivityError(err)
		}
		s.refused = append(s.refused, o.SupplierID)
		s.state.Offer, s.state.Seq = nil, t.Seq
		s.state.Status, s.state.WaitingFor = SourcingRanking, ""
		return nil
	})
}

func (s *sourcing) reportShipment(uctx workflow.Context, r ReportShipment) (SourcingState, error) {
	return s.exclusive(uctx, func() error { return s.validateShipment(uctx, r) }, func(ctx workflow.Context) error {
		p, _ := s.part(r.TaskID)
		var t activities.ProcurementTask
		err := s.fx.write(ctx, sourcingActs.ShipProcurementTask, activities.TaskMovement{
			OrderID: s.in.OrderID, Line: s.in.Line, Attempt: p.Attempt, TaskID: p.TaskID, ActorID: r.ActorID,
			Seq: p.Shipments + 1, Quantity: r.Quantity, At: workflow.Now(ctx).UTC(),
		}).Get(ctx, &t)
		if err != nil {
			return sourcingActivityError(err)
		}
		p.Shipments++
		p.Shipped, p.Status = t.ShippedQuantity, t.Status
		s.state.Seq = t.Seq
		return nil
	})
}

func (s *sourcing) confirmReceipt(uctx workflow.Context, r ConfirmReceipt) (SourcingState, error) {
	return s.exclusive(uctx, func() error { return s.validateReceipt(uctx, r) }, func(ctx workflow.Context) error {
		p, _ := s.part(r.TaskID)
		var t activities.ProcurementTask
		err := s.fx.write(ctx, sourcingActs.ReceiveProcurementTask, activities.TaskMovement{
			OrderID: s.in.OrderID, Line: s.in.Line, Attempt: p.Attempt, TaskID: p.TaskID, ActorID: r.ActorID,
			Seq: p.Receipts + 1, Quantity: r.Quantity, At: workflow.Now(ctx).UTC(),
		}).Get(ctx, &t)
		if err != nil {
			return sourcingActivityError(err)
		}
		p.Receipts++
		p.Received, p.Status = t.ReceivedQuantity, t.Status
		received := decimal.Zero
		for _, q := range s.state.Parts {
			received = received.Add(q.Received)
		}
		s.state.Received, s.state.Seq = received, t.Seq
		return nil
	})
}

func (s *sourcing) resume(uctx workflow.Context, r ResumeSourcing) (SourcingState, error) {
	return s.exclusive(uctx, func() error { return s.validateResume(uctx, r) }, func(ctx workflow.Context) error {
		res := activities.SourcingResumption{
			OrderID: s.in.OrderID, Line: s.in.Line, Round: s.state.Escalations, Material: s.in.Material,
			ActorID: r.ActorID, Reason: r.Reason,
		}
		if s.in.ReportsToOrder {
			if err := s.fx.write(ctx, sourcingActs.ReleaseSourcing, res).Get(ctx, nil); err != nil {
				return sourcingActivityError(err)
			}
			if err := s.report(ctx, SourcingReport{Resumed: &res}); err != nil {
				return err
			}
		} else {
			var seq int64
			if err := s.fx.write(ctx, sourcingActs.ResumeSourcing, res).Get(ctx, &seq); err != nil {
				return sourcingActivityError(err)
			}
			s.state.Seq = seq
		}
		// Silence may have been a missed message: lapsed suppliers get another chance.
		s.lapsed = nil
		s.resumed = true
		s.state.Status, s.state.WaitingFor = SourcingRanking, ""
		return nil
	})
}
