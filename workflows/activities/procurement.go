package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/orders"
	"github.com/masscustom/orchestrator/services/procurement"
	"github.com/masscustom/orchestrator/workflows/refusal"
)

// ProcurementActivities are the sourcing workflow's effects. Each persists one
// decision through the procurement service (idempotent on the task's business
// key) and appends its event to the order's timeline (idempotent on the
// event's key), so running one twice changes nothing the second time.
//
// Their names are distinct from Activities' so that both structs can be
// registered on one worker, or merged into one.
type ProcurementActivities struct {
	Procurement *procurement.Service
	Orders      *orders.Service
}

// Stage of every procurement event.
const stageProcurement = "PROCUREMENT"

// ProcurementTask is the workflow's view of a procurement task, with the
// sequence number of the timeline event the activity recorded.
type ProcurementTask struct {
	ID               string
	SupplierID       string
	Attempt          int
	Status           string
	Quantity         decimal.Decimal
	Currency         string
	Deadline         time.Time
	UnitPrice        decimal.Decimal
	AcceptedQuantity decimal.Decimal
	PromisedDate     time.Time
	ShippedQuantity  decimal.Decimal
	ReceivedQuantity decimal.Decimal
	Seq              int64
}

func taskView(t *procurement.Task, seq int64) ProcurementTask {
	v := ProcurementTask{
		ID: t.ID.String(), SupplierID: t.SupplierID.String(), Attempt: t.Attempt, Status: string(t.Status),
		Quantity: t.Quantity, Currency: t.Currency, Deadline: t.Deadline,
		ShippedQuantity: t.ShippedQuantity, ReceivedQuantity: t.ReceivedQuantity, Seq: seq,
	}
	if t.UnitPrice != nil {
		v.UnitPrice = *t.UnitPrice
	}
	if t.AcceptedQuantity != nil {
		v.AcceptedQuantity = *t.AcceptedQuantity
	}
	if t.PromisedDate != nil {
		v.PromisedDate = *t.PromisedDate
	}
	return v
}

// record appends a procurement event to the order's timeline, after before
// (if any) ran. It leaves the order's stage and status alone: the order's
// own workflow writes those (orders.Append).
func (a *ProcurementActivities) record(ctx context.Context, orderID uuid.UUID, t orders.Transition, before func(context.Context) error) (int64, error) {
	if before != nil {
		if err := before(ctx); err != nil {
			return 0, err
		}
	}
	t.OrderID = orderID
	return a.Orders.Append(ctx, t)
}

// recordHold is the legacy hold protocol, kept for Sourcing runs started
// without SourcingInput.ReportsToOrder: after before (Hold or Release) it
// records t with the status the holds give the order (ON_HOLD while any
// line is held, else ACTIVE; a cancelled or completed order keeps its own),
// read under the order row's lock so that no write of the order's own
// workflow falls in between.
func (a *ProcurementActivities) recordHold(ctx context.Context, orderID uuid.UUID, t orders.Transition, before func(context.Context) error) (int64, error) {
	if err := before(ctx); err != nil {
		return 0, err
	}
	t.OrderID = orderID
	return a.Orders.RecordDerived(ctx, t, func(ctx context.Context, tx pgx.Tx, stage, status string) (string, string, error) {
		if status == "CANCELLED" || status == "COMPLETED" {
			return stage, status, nil
		}
		held, err := procurement.HeldLinesIn(ctx, tx, orderID)
		if err != nil {
			return "", "", err
		}
		if len(held) > 0 {
			return stageProcurement, "ON_HOLD", nil
		}
		return stageProcurement, "ACTIVE", nil
	})
}

// SupplierCandidate is a ranked supplier for a material.
type SupplierCandidate struct {
	SupplierID  string
	UnitPrice   decimal.Decimal
	Currency    string
	LeadDays    int
	MaxQuantity decimal.Decimal
	Score       decimal.Decimal
}

// RankRequest asks for the suppliers of a quantity of a material, leaving out
// those in Exclude (supplier ids).
type RankRequest struct {
	Material string
	Quantity decimal.Decimal
	Exclude  []string
}

// RankSuppliers returns the candidates for a material, best first.
func (a *ProcurementActivities) RankSuppliers(ctx context.Context, r RankRequest) ([]SupplierCandidate, error) {
	exclude := make([]uuid.UUID, 0, len(r.Exclude))
	for _, s := range r.Exclude {
		id, err := parse(s)
		if err != nil {
			return nil, err
		}
		exclude = append(exclude, id)
	}
	cands, err := a.Procurement.Rank(ctx, r.Material, r.Quantity, exclude)
	if err != nil {
		return nil, err
	}
	out := make([]SupplierCandidate, len(cands))
	for i, c := range cands {
		out[i] = SupplierCandidate{SupplierID: c.SupplierID.String(), UnitPrice: c.UnitPrice, Currency: c.Currency,
			LeadDays: c.LeadDays, MaxQuantity: c.MaxQuantity, Score: c.Score}
	}
	return out, nil
}

// TaskOffer is an offer to make: (OrderID, Line, Attempt) is its key.
type TaskOffer struct {
	OrderID       string
	Line          int
	Attempt       int
	Material      string
	Quantity      decimal.Decimal
	SupplierID    string
	Currency      string
	ListUnitPrice decimal.Decimal
	Deadline      time.Time
	At            time.Time
}

func (o TaskOffer) input() (procurement.OfferInput, error) {
	order, err := parse(o.OrderID)
	if err != nil {
		return procurement.OfferInput{}, err
	}
	supplier, err := parse(o.SupplierID)
	if err != nil {
		return procurement.OfferInput{}, err
	}
	return procurement.OfferInput{OrderID: order, Line: o.Line, Attempt: o.Attempt, Material: o.Material, Quantity: o.Quantity,
		SupplierID: supplier, Currency: o.Currency, ListUnitPrice: o.ListUnitPrice, Deadline: o.Deadline, At: o.At}, nil
}

// OfferProcurementTask offers a task to a supplier and records
// "offer:<line>:<attempt>".
func (a *ProcurementActivities) OfferProcurementTask(ctx context.Context, o TaskOffer) (ProcurementTask, error) {
	in, err := o.input()
	if err != nil {
		return ProcurementTask{}, err
	}
	t, err := a.Procurement.Offer(ctx, in)
	if err != nil {
		return ProcurementTask{}, refusal.From(err)
	}
	seq, err := a.record(ctx, in.OrderID, orders.Transition{
		Key: fmt.Sprintf("offer:%d:%d", o.Line, o.Attempt), Type: procurement.EventOffered,
		Message: fmt.Sprintf("%s: %s offered to a supplier; answer due %s", o.Material, o.Quantity, o.Deadline.UTC().Format(time.RFC3339)),
		Data:    taskData(t, map[string]any{"deadline": o.Deadline.UTC()}),
	}, nil)
	return taskView(t, seq), err
}

func taskData(t *procurement.Task, more map[string]any) map[string]any {
	d := map[string]any{"taskId": t.ID, "line": t.Line, "attempt": t.Attempt, "material": t.Material, "supplierId": t.SupplierID, "quantity": t.Quantity}
	for k, v := range more {
		d[k] = v
	}
	return d
}

// TaskAcceptance is a supplier's acceptance of the offer of task TaskID.
type TaskAcceptance struct {
	OrderID      string
	Line         int
	Attempt      int
	TaskID       string
	ActorID      string
	UnitPrice    decimal.Decimal
	Quantity     decimal.Decimal
	PromisedDate time.Time
	At           time.Time
}

// AcceptProcurementTask records an acceptance and "accepted:<line>:<attempt>".
// The timeline says what was taken and by when, not at what price: the
// customer reads it.
func (a *ProcurementActivities) AcceptProcurementTask(ctx context.Context, in TaskAcceptance) (ProcurementTask, error) {
	order, id, err := parseTask(in.OrderID, in.TaskID)
	if err != nil {
		return ProcurementTask{}, err
	}
	t, err := a.Procurement.Accept(ctx, procurement.AcceptInput{TaskID: id, At: in.At,
		Acceptance: procurement.Acceptance{UnitPrice: in.UnitPrice, Quantity: in.Quantity, PromisedDate: in.PromisedDate}})
	if err != nil {
		return ProcurementTask{}, refusal.From(err)
	}
	promised := ""
	if t.PromisedDate != nil {
		promised = t.PromisedDate.Format(time.DateOnly)
	}
	seq, err := a.record(ctx, order, orders.Transition{
		Key: fmt.Sprintf("accepted:%d:%d", in.Line, in.Attempt), Type: procurement.EventAccepted, ActorID: actor(in.ActorID),
		Message: fmt.Sprintf("%s: a supplier accepted %s, delivery promised for %s", t.Material, in.Quantity, promised),
		Data:    taskData(t, map[string]any{"acceptedQuantity": in.Quantity, "promisedDate": promised}),
	}, nil)
	return taskView(t, seq), err
}

// TaskDecision closes task TaskID (a rejection with its reason, a lapse, a
// cancellation).
type TaskDecision struct {
	OrderID string
	Line    int
	Attempt int
	TaskID  string
	ActorID string
	Reason  string
	At      time.Time
}

// RejectProcurementTask records a rejection and "rejected:<line>:<attempt>".
func (a *ProcurementActivities) RejectProcurementTask(ctx context.Context, d TaskDecision) (ProcurementTask, error) {
	order, id, err := parseTask(d.OrderID, d.TaskID)
	if err != nil {
		return ProcurementTask{}, err
	}
	t, err := a.Procurement.Reject(ctx, procurement.Decision{TaskID: id, Reason: d.Reason, At: d.At})
	if err != nil {
		return ProcurementTask{}, refusal.From(err)
	}
	seq, err := a.record(ctx, order, orders.Transition{
		Key: fmt.Sprintf("rejected:%d:%d", d.Line, d.Attempt), Type: procurement.EventRejected, ActorID: actor(d.ActorID),
		Message: fmt.Sprintf("%s: a supplier rejected the offer (%s); sourcing moves on", t.Material, d.Reason),
		Data:    taskData(t, map[string]any{"reason": d.Reason}),
	}, nil)
	return taskView(t, seq), err
}

// TimeOutProcurementTask records an unanswered offer's lapse and
// "timed-out:<line>:<attempt>".
func (a *ProcurementActivities) TimeOutProcurementTask(ctx context.Context, d TaskDecision) (ProcurementTask, error) {
	order, id, err := parseTask(d.OrderID, d.TaskID)
	if err != nil {
		return ProcurementTask{}, err
	}
	t, err := a.Procurement.Timeout(ctx, procurement.Decision{TaskID: id, At: d.At})
	if err != nil {
		return ProcurementTask{}, refusal.From(err)
	}
	seq, err := a.record(ctx, order, orders.Transition{
		Key: fmt.Sprintf("timed-out:%d:%d", d.Line, d.Attempt), Type: procurement.EventTimedOut,
		Message: fmt.Sprintf("%s: the offer lapsed unanswered; sourcing moves on", t.Material),
		Data:    taskData(t, nil),
	}, nil)
	return taskView(t, seq), err
}

// CancelProcurementTask cancels an accepted task of a cancelled sourcing (the
// supplier sees it) and records "cancelled:<line>:<attempt>".
func (a *ProcurementActivities) CancelProcurementTask(ctx context.Context, d TaskDecision) (ProcurementTask, error) {
	order, id, err := parseTask(d.OrderID, d.TaskID)
	if err != nil {
		return ProcurementTask{}, err
	}
	t, err := a.Procurement.Cancel(ctx, procurement.Decision{TaskID: id, Reason: d.Reason, At: d.At})
	if err != nil {
		return ProcurementTask{}, refusal.From(err)
	}
	seq, err := a.recordTakenBack(ctx, order, d.Line, d.Attempt, d.ActorID, d.Reason, t)
	return taskView(t, seq), err
}

// TaskWithdrawal takes back an offer that may not have been written yet.
type TaskWithdrawal struct {
	Offer   TaskOffer
	ActorID string
	Reason  string
	At      time.Time
}

// WithdrawProcurementTask withdraws an open offer and records
// "withdrawn:<line>:<attempt>"; an offer accepted meanwhile is cancelled and
// recorded as "cancelled:<line>:<attempt>".
func (a *ProcurementActivities) WithdrawProcurementTask(ctx context.Context, w TaskWithdrawal) (ProcurementTask, error) {
	in, err := w.Offer.input()
	if err != nil {
		return ProcurementTask{}, err
	}
	t, err := a.Procurement.Withdraw(ctx, procurement.Withdrawal{Offer: in, Reason: w.Reason, At: w.At})
	if err != nil {
		return ProcurementTask{}, refusal.From(err)
	}
	seq, err := a.recordTakenBack(ctx, in.OrderID, w.Offer.Line, w.Offer.Attempt, w.ActorID, w.Reason, t)
	return taskView(t, seq), err
}

// recordTakenBack records what Cancel or Withdraw did to a task (nothing, for
// a task that was closed or fully received already).
func (a *ProcurementActivities) recordTakenBack(ctx context.Context, order uuid.UUID, line, attempt int, actorID, reason string, t *procurement.Task) (int64, error) {
	var key, typ, msg string
	switch t.Status {
	case procurement.StatusWithdrawn:
		key, typ, msg = "withdrawn", procurement.EventWithdrawn, fmt.Sprintf("%s: the open offer was withdrawn", t.Material)
	case procurement.StatusCancelled:
		key, typ, msg = "cancelled", procurement.EventCancelled, fmt.Sprintf("%s: the purchase of %s was cancelled", t.Material, t.AcceptedQuantity)
	default:
		return 0, nil
	}
	if reason != "" {
		msg += ": " + reason
	}
	return a.record(ctx, order, orders.Transition{
		Key: fmt.Sprintf("%s:%d:%d", key, line, attempt), Type: typ, ActorID: actor(actorID), Message: msg,
		Data: taskData(t, map[string]any{"reason": reason, "receivedQuantity": t.ReceivedQuantity}),
	}, nil)
}

// TaskMovement is the Seq-th shipment (or receipt) of a task.
type TaskMovement struct {
	OrderID  string
	Line     int
	Attempt  int
	TaskID   string
	ActorID  string
	Seq      int
	Quantity decimal.Decimal
	At       time.Time
}

func (m TaskMovement) movement() (uuid.UUID, procurement.Movement, error) {
	order, id, err := parseTask(m.OrderID, m.TaskID)
	if err != nil {
		return uuid.Nil, procurement.Movement{}, err
	}
	return order, procurement.Movement{TaskID: id, Seq: m.Seq, Quantity: m.Quantity, ActorID: actor(m.ActorID), At: m.At}, nil
}

// ShipProcurementTask records a shipment and "shipped:<line>:<attempt>:<seq>".
func (a *ProcurementActivities) ShipProcurementTask(ctx context.Context, m TaskMovement) (ProcurementTask, error) {
	order, mv, err := m.movement()
	if err != nil {
		return ProcurementTask{}, err
	}
	t, err := a.Procurement.Ship(ctx, mv)
	if err != nil {
		return ProcurementTask{}, refusal.From(err)
	}
	seq, err := a.record(ctx, order, orders.Transition{
		Key: fmt.Sprintf("shipped:%d:%d:%d", m.Line, m.Attempt, m.Seq), Type: procurement.EventShipped, ActorID: actor(m.ActorID),
		Message: fmt.Sprintf("%s: a supplier shipped %s (%s of %s shipped)", t.Material, m.Quantity, t.ShippedQuantity, deref(t.AcceptedQuantity)),
		Data:    taskData(t, map[string]any{"shipped": m.Quantity, "shippedQuantity": t.ShippedQuantity}),
	}, nil)
	return taskView(t, seq), err
}

// ReceiveProcurementTask records a receipt and "received:<line>:<attempt>:<seq>".
func (a *ProcurementActivities) ReceiveProcurementTask(ctx context.Context, m TaskMovement) (ProcurementTask, error) {
	order, mv, err := m.movement()
	if err != nil {
		return ProcurementTask{}, err
	}
	t, err := a.Procurement.Receive(ctx, mv)
	if err != nil {
		return ProcurementTask{}, refusal.From(err)
	}
	seq, err := a.record(ctx, order, orders.Transition{
		Key: fmt.Sprintf("received:%d:%d:%d", m.Line, m.Attempt, m.Seq), Type: procurement.EventReceived, ActorID: actor(m.ActorID),
		Message: fmt.Sprintf("%s: received %s (%s of %s received)", t.Material, m.Quantity, t.ReceivedQuantity, deref(t.AcceptedQuantity)),
		Data:    taskData(t, map[string]any{"received": m.Quantity, "receivedQuantity": t.ReceivedQuantity}),
	}, nil)
	return taskView(t, seq), err
}

func deref(d *decimal.Decimal) decimal.Decimal {
	if d == nil {
		return decimal.Zero
	}
	return *d
}

func parseTask(orderID, taskID string) (uuid.UUID, uuid.UUID, error) {
	order, err := parse(orderID)
	if err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	id, err := parse(taskID)
	return order, id, err
}

// SourcingEscalation holds a line for want of a supplier (round Round).
type SourcingEscalation struct {
	OrderID   string
	Line      int
	Round     int
	Material  string
	Remaining decimal.Decimal
}

// Escalation is the timeline transition "escalated:<line>:<round>" of a held
// line (stage and status are the recorder's): the order's workflow records it
// when its Sourcing child reports the hold.
func Escalation(e SourcingEscalation) Transition {
	return Transition{
		OrderID: e.OrderID, Key: fmt.Sprintf("escalated:%d:%d", e.Line, e.Round), Type: procurement.EventEscalated,
		Message: fmt.Sprintf("%s: no supplier left for %s; procurement on hold until the operator adds a supplier and resumes", e.Material, e.Remaining),
		Data:    map[string]any{"line": e.Line, "round": e.Round, "material": e.Material, "remaining": e.Remaining},
	}
}

// HoldSourcing holds the line (round Round) for want of a supplier; the
// Sourcing child then reports the hold to its order, which records it.
func (a *ProcurementActivities) HoldSourcing(ctx context.Context, e SourcingEscalation) error {
	order, err := parse(e.OrderID)
	if err != nil {
		return err
	}
	return a.Procurement.Hold(ctx, order, e.Line, e.Round, e.Material, e.Remaining)
}

// EscalateSourcing holds the line, which puts the order ON_HOLD, and records
// "escalated:<line>:<round>" for the operator to act on (the legacy hold
// protocol; see recordHold).
func (a *ProcurementActivities) EscalateSourcing(ctx context.Context, e SourcingEscalation) (int64, error) {
	order, err := parse(e.OrderID)
	if err != nil {
		return 0, err
	}
	return a.recordHold(ctx, order, transition(Escalation(e)), func(ctx context.Context) error {
		return a.Procurement.Hold(ctx, order, e.Line, e.Round, e.Material, e.Remaining)
	})
}

// SourcingResumption is the operator's resumption of a held line.
type SourcingResumption struct {
	OrderID  string
	Line     int
	Round    int
	Material string
	ActorID  string
	Reason   string
}

// Resumption is the timeline transition "sourcing-resumed:<line>:<round>"
// (stage and status are the recorder's).
func Resumption(r SourcingResumption) Transition {
	msg := fmt.Sprintf("%s: sourcing resumed by the operator", r.Material)
	if r.Reason != "" {
		msg += ": " + r.Reason
	}
	return Transition{
		OrderID: r.OrderID, Key: fmt.Sprintf("sourcing-resumed:%d:%d", r.Line, r.Round), Type: procurement.EventResumed, ActorID: r.ActorID,
		Message: msg, Data: map[string]any{"line": r.Line, "round": r.Round, "material": r.Material, "reason": r.Reason},
	}
}

// ReleaseSourcing releases the line's hold; the Sourcing child then reports
// the resumption to its order, which records it.
func (a *ProcurementActivities) ReleaseSourcing(ctx context.Context, r SourcingResumption) error {
	order, err := parse(r.OrderID)
	if err != nil {
		return err
	}
	return a.Procurement.Release(ctx, order, r.Line)
}

// ResumeSourcing releases the line's hold and records
// "sourcing-resumed:<line>:<round>" (the order is ACTIVE again unless another
// line is held; the legacy hold protocol, see recordHold).
func (a *ProcurementActivities) ResumeSourcing(ctx context.Context, r SourcingResumption) (int64, error) {
	order, err := parse(r.OrderID)
	if err != nil {
		return 0, err
	}
	return a.recordHold(ctx, order, transition(Resumption(r)), func(ctx context.Context) error { return a.Procurement.Release(ctx, order, r.Line) })
}

// SourcingClosing ends a line's sourcing: done (everything received) or
// cancelled.
type SourcingClosing struct {
	OrderID   string
	Line      int
	Material  string
	Quantity  decimal.Decimal
	Suppliers int
	Cancelled bool
	Reason    string
}

// CloseSourcing releases any hold of the line and records "sourced:<line>"
// (SOURCING_DONE) or "sourcing-cancelled:<line>" (SOURCING_CANCELLED).
func (a *ProcurementActivities) CloseSourcing(ctx context.Context, c SourcingClosing) (int64, error) {
	order, err := parse(c.OrderID)
	if err != nil {
		return 0, err
	}
	t := orders.Transition{
		Key: fmt.Sprintf("sourced:%d", c.Line), Type: procurement.EventSourcingDone,
		Message: fmt.Sprintf("%s: all %s received from %d supplier(s)", c.Material, c.Quantity, c.Suppliers),
		Data:    map[string]any{"line": c.Line, "material": c.Material, "quantity": c.Quantity, "suppliers": c.Suppliers},
	}
	if c.Cancelled {
		t.Key, t.Type = fmt.Sprintf("sourcing-cancelled:%d", c.Line), procurement.EventSourcingCancelled
		t.Message = fmt.Sprintf("%s: sourcing cancelled", c.Material)
		if c.Reason != "" {
			t.Message += ": " + c.Reason
		}
		t.Data["reason"] = c.Reason
	}
	return a.record(ctx, order, t, func(ctx context.Context) error { return a.Procurement.Release(ctx, order, c.Line) })
}
