package procurement

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/genealogy"
	"github.com/masscustom/orchestrator/services/money"
)

// The writes below are the persistence of the sourcing workflow's decisions.
// Each is idempotent: it locks the task, and when the task is already where
// the write would take it, it changes nothing and returns it; a write that the
// task's state does not allow is refused with ILLEGAL_STATE, bad input with an
// errs.List. Each returns the task as it is after.

const taskColumns = `t.id, t.order_id, o.customer_id, t.line, t.attempt, t.material, t.quantity, t.supplier_id, t.currency,
	t.list_unit_price, t.status, t.offered_at, t.deadline, t.decided_at, t.unit_price, t.accepted_quantity, t.promised_date,
	t.reject_reason, t.cancel_reason, t.shipped_quantity, t.received_quantity, t.created_at, t.updated_at`

const taskFrom = ` FROM procurement_tasks t JOIN orders o ON o.id = t.order_id`

func scanTask(row pgx.Row) (*Task, error) {
	var t Task
	err := row.Scan(&t.ID, &t.OrderID, &t.CustomerID, &t.Line, &t.Attempt, &t.Material, &t.Quantity, &t.SupplierID, &t.Currency,
		&t.ListUnitPrice, &t.Status, &t.OfferedAt, &t.Deadline, &t.DecidedAt, &t.UnitPrice, &t.AcceptedQuantity, &t.PromisedDate,
		&t.RejectReason, &t.CancelReason, &t.ShippedQuantity, &t.ReceivedQuantity, &t.CreatedAt, &t.UpdatedAt)
	if err != nil {
		return nil, err
	}
	if t.PromisedDate != nil {
		d := dateOf(*t.PromisedDate)
		t.PromisedDate = &d
	}
	return &t, nil
}

// OfferInput is an offer of a quantity of a material to a supplier. (OrderID,
// Line, Attempt) is its business key.
type OfferInput struct {
	OrderID    uuid.UUID
	Line       int
	Attempt    int
	Material   string
	Quantity   decimal.Decimal
	SupplierID uuid.UUID
	Currency   string
	// ListUnitPrice is the capability's price when offered (zero: none).
	ListUnitPrice decimal.Decimal
	Deadline      time.Time
	At            time.Time // when it is offered; zero: now
}

func (in OfferInput) validate() errs.List {
	var problems errs.List
	if in.OrderID == uuid.Nil {
		problems = append(problems, errs.Invalid([]string{"orderId"}, "an order is required"))
	}
	if in.Line < 0 {
		problems = append(problems, errs.Invalid([]string{"line"}, "the line must not be negative"))
	}
	if in.Attempt < 1 {
		problems = append(problems, errs.Invalid([]string{"attempt"}, "attempts count from 1"))
	}
	if n := len(strings.TrimSpace(in.Material)); n < 1 || n > 100 {
		problems = append(problems, errs.Invalid([]string{"material"}, "material must be 1 to 100 characters"))
	}
	if !in.Quantity.IsPositive() {
		problems = append(problems, errs.Invalid([]string{"quantity"}, "the quantity must be positive"))
	}
	if in.SupplierID == uuid.Nil {
		problems = append(problems, errs.Invalid([]string{"supplierId"}, "a supplier is required"))
	}
	if !money.ValidCurrency(in.Currency) {
		problems = append(problems, errs.Invalid([]string{"currency"}, "unknown currency %q", in.Currency))
	}
	if in.Deadline.IsZero() {
		problems = append(problems, errs.Invalid([]string{"deadline"}, "an offer needs a deadline"))
	}
	return problems
}

func (in OfferInput) listPrice() *decimal.Decimal {
	if !in.ListUnitPrice.IsPositive() {
		return nil
	}
	return &in.ListUnitPrice
}

// Offer records the offer of a task to a supplier, once per (order, line,
// attempt): offering again returns the task as it is (which may since have
// been decided). An offer under the same key to another supplier is refused.
func (s *Service) Offer(ctx context.Context, in OfferInput) (*Task, error) {
	if problems := in.validate(); len(problems) > 0 {
		return nil, problems
	}
	id := TaskID(in.OrderID, in.Line, in.Attempt)
	_, err := s.db.Exec(ctx, `INSERT INTO procurement_tasks (id, order_id, line, attempt, material, quantity, supplier_id, currency,
			list_unit_price, status, offered_at, deadline)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,'OFFERED',$10,$11) ON CONFLICT (order_id, line, attempt) DO NOTHING`,
		id, in.OrderID, in.Line, in.Attempt, strings.TrimSpace(in.Material), in.Quantity, in.SupplierID, in.Currency,
		in.listPrice(), orNow(in.At), in.Deadline.UTC())
	if err != nil {
		return nil, fmt.Errorf("offer: %w", err)
	}
	s.invalidate(ctx, id)
	t, err := scanTask(s.db.QueryRow(ctx, `SELECT `+taskColumns+taskFrom+` WHERE t.id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("offer: %w", err)
	}
	if t.SupplierID != in.SupplierID {
		return nil, errs.New(errs.IllegalState, nil, "task %s was offered to another supplier", id)
	}
	return t, nil
}

// change runs fn on the task locked in a transaction and returns the task as
// committed (read in the transaction, not through the cache, which a
// concurrent reader may be refilling).
func (s *Service) change(ctx context.Context, id uuid.UUID, fn func(tx pgx.Tx, t *Task) error) (*Task, error) {
	var after *Task
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		t, err := scanTask(tx.QueryRow(ctx, `SELECT `+taskColumns+taskFrom+` WHERE t.id = $1 FOR UPDATE OF t`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return errs.New(errs.NotFound, nil, "no procurement task %s", id)
		}
		if err != nil {
			return err
		}
		if err := fn(tx, t); err != nil {
			return err
		}
		after, err = scanTask(tx.QueryRow(ctx, `SELECT `+taskColumns+taskFrom+` WHERE t.id = $1`, id))
		return err
	})
	s.invalidate(ctx, id)
	if err != nil {
		if _, coded := errs.As(err); coded {
			return nil, err
		}
		var list errs.List
		if errors.As(err, &list) {
			return nil, list
		}
		return nil, fmt.Errorf("procurement task %s: %w", id, err)
	}
	return after, nil
}

func illegal(t *Task, what string) error {
	return errs.New(errs.IllegalState, nil, "task %s is %s; %s", t.ID, t.Status, what)
}

// AcceptInput is a supplier's acceptance of the task it was offered.
type AcceptInput struct {
	TaskID uuid.UUID
	Acceptance
	At time.Time // when it was accepted; zero: now
}

// Accept records the supplier's acceptance of an open offer: its unit price,
// the quantity it takes (at most the offered one) and its promised date, and
// raises its score.
func (s *Service) Accept(ctx context.Context, in AcceptInput) (*Task, error) {
	at := orNow(in.At)
	return s.change(ctx, in.TaskID, func(tx pgx.Tx, t *Task) error {
		if t.Status.Committed() {
			return nil
		}
		if t.Status != StatusOffered {
			return illegal(t, "only an open offer can be accepted")
		}
		if problems := ValidateAcceptance(t.Quantity, t.Currency, in.Acceptance, at); len(problems) > 0 {
			return problems
		}
		if problems, err := s.checkUnit(ctx, tx, t, in.Quantity); err != nil || len(problems) > 0 {
			return orProblems(problems, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE procurement_tasks SET status = 'ACCEPTED', decided_at = $2, unit_price = $3,
			accepted_quantity = $4, promised_date = $5, updated_at = now() WHERE id = $1`,
			t.ID, at, in.UnitPrice, in.Quantity, dateOf(in.PromisedDate)); err != nil {
			return err
		}
		return s.score(ctx, tx, t, ScoreAccepted, at)
	})
}

// Decision closes a task with a reason (for a rejection, a cancellation).
type Decision struct {
	TaskID uuid.UUID
	Reason string
	At     time.Time // zero: now
}

// Reject records the supplier's refusal of an open offer with its reason, and
// lowers its score.
func (s *Service) Reject(ctx context.Context, d Decision) (*Task, error) {
	at := orNow(d.At)
	return s.change(ctx, d.TaskID, func(tx pgx.Tx, t *Task) error {
		if t.Status == StatusRejected {
			return nil
		}
		if t.Status != StatusOffered {
			return illegal(t, "only an open offer can be rejected")
		}
		if problems := ValidateReason(d.Reason); len(problems) > 0 {
			return problems
		}
		if _, err := tx.Exec(ctx, `UPDATE procurement_tasks SET status = 'REJECTED', decided_at = $2, reject_reason = $3, updated_at = now() WHERE id = $1`,
			t.ID, at, strings.TrimSpace(d.Reason)); err != nil {
			return err
		}
		return s.score(ctx, tx, t, ScoreRejected, at)
	})
}

// Timeout records that an open offer lapsed unanswered, and lowers the
// supplier's score more than a rejection would: silence costs everybody the
// whole SLA.
func (s *Service) Timeout(ctx context.Context, d Decision) (*Task, error) {
	at := orNow(d.At)
	return s.change(ctx, d.TaskID, func(tx pgx.Tx, t *Task) error {
		if t.Status == StatusTimedOut {
			return nil
		}
		if t.Status != StatusOffered {
			return illegal(t, "only an open offer can lapse")
		}
		if _, err := tx.Exec(ctx, `UPDATE procurement_tasks SET status = 'TIMED_OUT', decided_at = $2, updated_at = now() WHERE id = $1`, t.ID, at); err != nil {
			return err
		}
		return s.score(ctx, tx, t, ScoreTimedOut, at)
	})
}

// Cancel takes back what a task holds, for a cancelled order: an open offer
// is withdrawn, and a commitment not yet fully received is cancelled (the
// supplier sees it in its inbox; what was received stays received). Closed
// tasks and fully received ones are returned unchanged. Scores do not change:
// the supplier is not at fault.
func (s *Service) Cancel(ctx context.Context, d Decision) (*Task, error) {
	at := orNow(d.At)
	return s.change(ctx, d.TaskID, func(tx pgx.Tx, t *Task) error {
		return cancelTx(ctx, tx, t, strings.TrimSpace(d.Reason), at)
	})
}

func cancelTx(ctx context.Context, tx pgx.Tx, t *Task, reason string, at time.Time) error {
	var to Status
	switch t.Status {
	case StatusOffered:
		to = StatusWithdrawn
	case StatusAccepted, StatusShipped:
		to = StatusCancelled
	default:
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE procurement_tasks SET status = $2, cancel_reason = $3, updated_at = now(),
		decided_at = CASE WHEN $2 = 'WITHDRAWN' THEN $4 ELSE decided_at END WHERE id = $1`, t.ID, to, reason, at)
	return err
}

// Withdrawal takes back an offer that may not have been written yet: the
// workflow can be cancelled while the offer's activity runs.
type Withdrawal struct {
	Offer  OfferInput
	Reason string
	At     time.Time // zero: now
}

// Withdraw takes back the offer of w.Offer's key. An open offer becomes
// WITHDRAWN; one accepted meanwhile is cancelled as by Cancel; one never
// written is written as WITHDRAWN, so that an offer activity still running
// cannot open it afterwards.
func (s *Service) Withdraw(ctx context.Context, w Withdrawal) (*Task, error) {
	if problems := w.Offer.validate(); len(problems) > 0 {
		return nil, problems
	}
	at := orNow(w.At)
	reason := strings.TrimSpace(w.Reason)
	in := w.Offer
	id := TaskID(in.OrderID, in.Line, in.Attempt)
	_, err := s.db.Exec(ctx, `INSERT INTO procurement_tasks (id, order_id, line, attempt, material, quantity, supplier_id, currency,
			list_unit_price, status, offered_at, deadline, decided_at, cancel_reason)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,'WITHDRAWN',$10,$11,$10,$12) ON CONFLICT (order_id, line, attempt) DO NOTHING`,
		id, in.OrderID, in.Line, in.Attempt, strings.TrimSpace(in.Material), in.Quantity, in.SupplierID, in.Currency,
		in.listPrice(), at, in.Deadline.UTC(), reason)
	if err != nil {
		return nil, fmt.Errorf("withdraw: %w", err)
	}
	return s.change(ctx, id, func(tx pgx.Tx, t *Task) error { return cancelTx(ctx, tx, t, reason, at) })
}

// Movement is a shipment or a receipt of a quantity of a task's material,
// numbered per task from 1 so that reporting it twice counts it once.
type Movement struct {
	TaskID   uuid.UUID
	Seq      int
	Quantity decimal.Decimal
	ActorID  *uuid.UUID
	At       time.Time // zero: now
}

// Ship records a shipment reported by the supplier of an accepted task
// (partial shipments add up to the accepted quantity). Shipping after the
// promised date lowers the supplier's score once; shipping everything on or
// before it raises it.
func (s *Service) Ship(ctx context.Context, m Movement) (*Task, error) {
	at := orNow(m.At)
	return s.change(ctx, m.TaskID, func(tx pgx.Tx, t *Task) error {
		fresh, err := s.move(ctx, tx, t, "SHIPPED", m, at)
		if err != nil || !fresh {
			return err
		}
		if t.Status != StatusAccepted && t.Status != StatusShipped {
			return illegal(t, "only an accepted task can ship")
		}
		if problems := ValidateShipment(*t.AcceptedQuantity, t.ShippedQuantity, m.Quantity); len(problems) > 0 {
			return problems
		}
		if problems, err := s.checkUnit(ctx, tx, t, m.Quantity); err != nil || len(problems) > 0 {
			return orProblems(problems, err)
		}
		shipped := t.ShippedQuantity.Add(m.Quantity)
		if _, err := tx.Exec(ctx, `UPDATE procurement_tasks SET status = 'SHIPPED', shipped_quantity = $2, updated_at = now() WHERE id = $1`, t.ID, shipped); err != nil {
			return err
		}
		if s.Genealogy != nil {
			unit, err := materialUnit(ctx, tx, t)
			if err != nil {
				return err
			}
			if err := s.Genealogy.LotShipped(ctx, tx, genealogy.LotShipment{TaskID: t.ID, OrderID: t.OrderID, SupplierID: t.SupplierID,
				Seq: m.Seq, Material: t.Material, Quantity: m.Quantity, Unit: unit, At: at}); err != nil {
				return err
			}
		}
		late := t.PromisedDate != nil && dateOf(at).After(*t.PromisedDate)
		switch {
		case late:
			return s.score(ctx, tx, t, ScoreShippedLate, at)
		case shipped.GreaterThanOrEqual(*t.AcceptedQuantity):
			var wasLate bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM supplier_score_events WHERE task_id = $1 AND kind = 'SHIPPED_LATE')`, t.ID).Scan(&wasLate); err != nil {
				return err
			}
			if !wasLate {
				return s.score(ctx, tx, t, ScoreShippedOnTime, at)
			}
		}
		return nil
	})
}

// Receive records a receipt confirmed by the factory: partial receipts add up,
// never beyond what was shipped. The task is RECEIVED once all of the
// accepted quantity is.
func (s *Service) Receive(ctx context.Context, m Movement) (*Task, error) {
	at := orNow(m.At)
	return s.change(ctx, m.TaskID, func(tx pgx.Tx, t *Task) error {
		fresh, err := s.move(ctx, tx, t, "RECEIVED", m, at)
		if err != nil || !fresh {
			return err
		}
		if t.Status != StatusShipped {
			return illegal(t, "only shipped materials can be received")
		}
		if problems := ValidateReceipt(t.ShippedQuantity, t.ReceivedQuantity, m.Quantity); len(problems) > 0 {
			return problems
		}
		if problems, err := s.checkUnit(ctx, tx, t, m.Quantity); err != nil || len(problems) > 0 {
			return orProblems(problems, err)
		}
		received := t.ReceivedQuantity.Add(m.Quantity)
		status := StatusShipped
		if received.GreaterThanOrEqual(*t.AcceptedQuantity) {
			status = StatusReceived
		}
		if _, err = tx.Exec(ctx, `UPDATE procurement_tasks SET status = $2, received_quantity = $3, updated_at = now() WHERE id = $1`, t.ID, status, received); err != nil {
			return err
		}
		if s.Genealogy == nil {
			return nil
		}
		unit, err := materialUnit(ctx, tx, t)
		if err != nil {
			return err
		}
		return s.Genealogy.LotsReceived(ctx, tx, genealogy.LotReceipt{TaskID: t.ID, OrderID: t.OrderID, Seq: m.Seq, Quantity: m.Quantity, Unit: unit, At: at})
	})
}

// move writes movement m of kind once; it reports whether it is new.
func (s *Service) move(ctx context.Context, tx pgx.Tx, t *Task, kind string, m Movement, at time.Time) (bool, error) {
	if m.Seq < 1 {
		return false, errs.Invalid([]string{"seq"}, "movements are numbered from 1")
	}
	if !m.Quantity.IsPositive() {
		return false, errs.List{errs.Invalid([]string{"input", "quantity"}, "the quantity must be positive")}
	}
	tag, err := tx.Exec(ctx, `INSERT INTO procurement_movements (task_id, kind, seq, quantity, actor_id, at) VALUES ($1,$2,$3,$4,$5,$6)
		ON CONFLICT (task_id, kind, seq) DO NOTHING`, t.ID, kind, m.Seq, m.Quantity, m.ActorID, at)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// MovementRecord is a recorded shipment or receipt.
type MovementRecord struct {
	TaskID   uuid.UUID       `json:"taskId"`
	Kind     string          `json:"kind"`
	Seq      int             `json:"seq"`
	Quantity decimal.Decimal `json:"quantity"`
	ActorID  *uuid.UUID      `json:"actorId,omitempty"`
	At       time.Time       `json:"at"`
}

// Movements lists a task's shipments and receipts in the order they happened.
// The caller has already authorized reading the task.
func (s *Service) Movements(ctx context.Context, taskID uuid.UUID) ([]MovementRecord, error) {
	rows, err := s.db.Query(ctx, `SELECT task_id, kind, seq, quantity, actor_id, at FROM procurement_movements WHERE task_id = $1 ORDER BY at, kind DESC, seq`, taskID)
	if err != nil {
		return nil, fmt.Errorf("movements: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[MovementRecord])
}

// querier is what MaterialUnit reads through: the pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// materialUnit is the unit of measure of the task's material on its order's
// bill of materials ("" when the order has no such line, e.g. a task written
// by hand in a test).
func materialUnit(ctx context.Context, q querier, t *Task) (string, error) {
	var unit string
	err := q.QueryRow(ctx, `SELECT coalesce((SELECT b->>'unit' FROM orders o, jsonb_array_elements(o.result->'bom') b
		WHERE o.id = $1 AND b->>'material' = $2 LIMIT 1), '')`, t.OrderID, t.Material).Scan(&unit)
	if err != nil {
		return "", fmt.Errorf("unit of %s: %w", t.Material, err)
	}
	return unit, nil
}

// MaterialUnit returns the unit of measure the task's material is ordered in.
func (s *Service) MaterialUnit(ctx context.Context, t *Task) (string, error) {
	return materialUnit(ctx, s.db, t)
}

// CheckQuantity checks a quantity a party answers on a task (accepted,
// shipped, received) against the unit of its material: a whole number of
// pieces, no finer than a gram. The gateway calls it before it sends the
// answer to the sourcing workflow; Accept, Ship and Receive check it again.
func (s *Service) CheckQuantity(ctx context.Context, t *Task, path []string, q decimal.Decimal) (errs.List, error) {
	unit, err := s.MaterialUnit(ctx, t)
	if err != nil {
		return nil, err
	}
	return ValidateQuantityIn(path, q, unit), nil
}

func (s *Service) checkUnit(ctx context.Context, tx pgx.Tx, t *Task, q decimal.Decimal) (errs.List, error) {
	unit, err := materialUnit(ctx, tx, t)
	if err != nil {
		return nil, err
	}
	return ValidateQuantityIn([]string{"input", "quantity"}, q, unit), nil
}

func orProblems(problems errs.List, err error) error {
	if err != nil {
		return err
	}
	return problems
}
