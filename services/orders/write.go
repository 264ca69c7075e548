package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/catalog"
)

// Transition is one step of an order's journey, persisted with its timeline event.
type Transition struct {
	OrderID        uuid.UUID
	Key            string // unique per order: running the write twice appends once
	Type           string
	Stage          string
	Status         string
	Message        string
	Data           map[string]any
	ActorID        *uuid.UUID
	DesignDeadline *time.Time
	DesignApproved bool
}

// Record appends the transition's event with the next sequence number and moves
// the order to its stage and status, in one transaction. Recording the same key
// again changes nothing and returns the sequence number it got the first time.
// After the commit the cached order is dropped and the event is published.
func (s *Service) Record(ctx context.Context, t Transition) (int64, error) {
	return s.write(ctx, t, true, nil)
}

// write runs writeTx in a transaction of its own, then drops the cached order
// and publishes the event.
func (s *Service) write(ctx context.Context, t Transition, move bool, derive deriveFunc) (int64, error) {
	var ev *Event
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var err error
		ev, err = s.writeTx(ctx, tx, t, move, derive)
		return err
	})
	if err != nil {
		return 0, err
	}
	s.afterWrite(ctx, t.OrderID, ev)
	return ev.Seq, nil
}

// Append adds an event of another workflow's (a Sourcing child's) to the
// order's timeline with the next sequence number, leaving the order's stage
// and status as they are: only the order's own workflow moves those (Record).
// The event carries the stage and status the order has when it is appended;
// t.Stage and t.Status are ignored. Appending the same key again changes
// nothing and returns the sequence number it got the first time.
func (s *Service) Append(ctx context.Context, t Transition) (int64, error) {
	return s.write(ctx, t, false, nil)
}

// RecordDerived records t with the stage and status that derive computes
// from the order's current ones, read under the order row's lock in the same
// transaction, so no other write of the order falls in between (the legacy
// hold protocol of Sourcing runs that began before their order recorded
// holds itself). derive may read other tables through tx.
func (s *Service) RecordDerived(ctx context.Context, t Transition, derive deriveFunc) (int64, error) {
	return s.write(ctx, t, true, derive)
}

// deriveFunc computes the stage and status an order moves to from its
// current ones, read under the order row's lock; it may read other tables
// through tx.
type deriveFunc = func(ctx context.Context, tx pgx.Tx, stage, status string) (string, string, error)

// recordTx writes the transition inside tx; it returns the event (fresh or the
// one already recorded under the key).
func (s *Service) recordTx(ctx context.Context, tx pgx.Tx, t Transition) (*Event, error) {
	return s.writeTx(ctx, tx, t, true, nil)
}

// writeTx appends t's event inside tx and, when move is set, moves the order
// to t's stage and status. Locking the order row (the UPDATE) orders the
// events of one order and makes the stage and status read with the sequence
// number the ones the event carries.
func (s *Service) writeTx(ctx context.Context, tx pgx.Tx, t Transition, move bool, derive deriveFunc) (*Event, error) {
	// The order row's lock first: two attempts of one write (an activity
	// retried while its first attempt still runs) then find the key one
	// after the other, instead of both missing it and one tripping the
	// unique index; and the stage and status read here are the ones the
	// event carries.
	var stage, status string
	err := tx.QueryRow(ctx, `SELECT stage, status FROM orders WHERE id = $1 FOR UPDATE`, t.OrderID).Scan(&stage, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("record %s: order %s does not exist", t.Key, t.OrderID)
	}
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", t.Key, err)
	}
	var existing Event
	err = tx.QueryRow(ctx, `SELECT seq, type, stage, status, message, data, actor_id, at FROM order_events WHERE order_id = $1 AND event_key = $2`,
		t.OrderID, t.Key).Scan(&existing.Seq, &existing.Type, &existing.Stage, &existing.Status, &existing.Message, &existing.Data, &existing.ActorID, &existing.At)
	if err == nil {
		existing.OrderID, existing.Key = t.OrderID, t.Key
		return &existing, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("record %s: %w", t.Key, err)
	}
	switch {
	case derive != nil:
		if t.Stage, t.Status, err = derive(ctx, tx, stage, status); err != nil {
			return nil, err
		}
	case !move:
		t.Stage, t.Status = stage, status
	}
	// The sequence number is the order's, not global.
	var seq int64
	if move {
		err = tx.QueryRow(ctx, `
			UPDATE orders SET last_seq = last_seq + 1, stage = $2, status = $3, updated_at = now(),
			       design_deadline = coalesce($4, design_deadline),
			       design_approved_at = CASE WHEN $5 THEN now() ELSE design_approved_at END
			WHERE id = $1 RETURNING last_seq`,
			t.OrderID, t.Stage, t.Status, t.DesignDeadline, t.DesignApproved).Scan(&seq)
	} else {
		err = tx.QueryRow(ctx, `UPDATE orders SET last_seq = last_seq + 1, updated_at = now() WHERE id = $1 RETURNING last_seq`,
			t.OrderID).Scan(&seq)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("record %s: order %s does not exist", t.Key, t.OrderID)
	}
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", t.Key, err)
	}
	data := t.Data
	if data == nil {
		data = map[string]any{}
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	ev := &Event{OrderID: t.OrderID, Seq: seq, Key: t.Key, Type: t.Type, Stage: t.Stage, Status: t.Status, Message: t.Message, Data: raw, ActorID: t.ActorID}
	err = tx.QueryRow(ctx, `INSERT INTO order_events (order_id, seq, event_key, type, stage, status, message, data, actor_id)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) RETURNING at`,
		t.OrderID, seq, t.Key, t.Type, t.Stage, t.Status, t.Message, raw, t.ActorID).Scan(&ev.At)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", t.Key, err)
	}
	return ev, nil
}

// afterWrite drops the cached order and publishes the event. Both are best
// effort: Postgres has the truth, and subscribers replay from it.
func (s *Service) afterWrite(ctx context.Context, id uuid.UUID, ev *Event) {
	if err := s.cache.Invalidate(ctx, orderKey(id)); err != nil {
		slog.WarnContext(ctx, "order cache invalidation failed", "order_id", id, "err", err)
	}
	if ev != nil {
		s.cache.Publish(ctx, EventsChannel(id), ev)
	}
}

// DesignSummary is what PrepareDesign derived.
type DesignSummary struct {
	ConfigVersion int
	Materials     int
	Stages        int
}

// PrepareDesign derives the BOM and routing of the order's current
// configuration from the rules of the template version it was configured
// against, and stores them. Deriving again gives the same design.
func (s *Service) PrepareDesign(ctx context.Context, id uuid.UUID) (DesignSummary, error) {
	o, err := s.load(ctx, id)
	if err != nil {
		return DesignSummary{}, err
	}
	t, err := s.catalog.Get(ctx, o.TemplateID)
	if err != nil {
		return DesignSummary{}, err
	}
	res := catalog.Configure(t.Template, o.Selections, o.Quantity)
	if !res.Valid {
		// The configuration was valid when stored and templates are immutable.
		return DesignSummary{}, fmt.Errorf("order %s: stored configuration no longer valid: %s", id, res.Violations[0].Message)
	}
	raw, err := json.Marshal(res)
	if err != nil {
		return DesignSummary{}, err
	}
	if _, err := s.db.Exec(ctx, `UPDATE orders SET result = $2, total = $3, updated_at = now() WHERE id = $1`, id, raw, res.Price.Total); err != nil {
		return DesignSummary{}, fmt.Errorf("store design: %w", err)
	}
	s.afterWrite(ctx, id, nil)
	return DesignSummary{ConfigVersion: o.ConfigVersion, Materials: len(res.BOM), Stages: len(res.Routing)}, nil
}

// ErrInvalidConfiguration carries the violations of a refused configuration.
type ErrInvalidConfiguration struct{ Violations []catalog.Violation }

func (e *ErrInvalidConfiguration) Error() string {
	if len(e.Violations) == 0 {
		return "invalid configuration"
	}
	return fmt.Sprintf("invalid configuration: %s (%d violations)", e.Violations[0].Message, len(e.Violations))
}

// Change is a new configuration for an order whose design awaits approval.
type Change struct {
	OrderID    uuid.UUID
	Key        string
	ActorID    *uuid.UUID
	Selections []catalog.Selection
	Quantity   int
	Reason     string
}

// ApplyChange validates the new configuration against the order's template
// version and, when valid, stores it as the next configuration version with its
// timeline event, back in the interaction stage. Idempotent on Key.
func (s *Service) ApplyChange(ctx context.Context, c Change) (configVersion int, seq int64, err error) {
	o, err := s.load(ctx, c.OrderID)
	if err != nil {
		return 0, 0, err
	}
	qty := o.Quantity
	if c.Quantity > 0 {
		qty = c.Quantity
	}
	t, err := s.catalog.Get(ctx, o.TemplateID)
	if err != nil {
		return 0, 0, err
	}
	res := catalog.Configure(t.Template, c.Selections, qty)
	if !res.Valid {
		return 0, 0, &ErrInvalidConfiguration{Violations: res.Violations}
	}
	sel, _ := json.Marshal(res.Resolved)
	raw, _ := json.Marshal(res)
	var ev *Event
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var done bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM order_events WHERE order_id = $1 AND event_key = $2)`, c.OrderID, c.Key).Scan(&done); err != nil {
			return err
		}
		if !done {
			if _, err := tx.Exec(ctx, `UPDATE orders SET config_version = config_version + 1, selections = $2, quantity = $3, result = $4, total = $5, design_deadline = NULL WHERE id = $1`,
				c.OrderID, sel, qty, raw, res.Price.Total); err != nil {
				return err
			}
		}
		msg := "design change requested; configuration updated"
		if c.Reason != "" {
			msg += ": " + c.Reason
		}
		ev, err = s.recordTx(ctx, tx, Transition{
			OrderID: c.OrderID, Key: c.Key, Type: EventDesignChange, Stage: "INTERACTION", Status: "ACTIVE", Message: msg, ActorID: c.ActorID,
			Data: map[string]any{"quantity": qty, "total": res.Price.Total, "reason": c.Reason},
		})
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT config_version FROM orders WHERE id = $1`, c.OrderID).Scan(&configVersion)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("apply change: %w", err)
	}
	s.afterWrite(ctx, c.OrderID, ev)
	return configVersion, ev.Seq, nil
}

// Compensate undoes what a cancelled order holds before production: its quote
// is released so it cannot be placed again, and the amount to refund is
// recorded on the timeline (payments are captured at production start, so
// before it the refund is the full total with nothing captured). Idempotent.
func (s *Service) Compensate(ctx context.Context, id uuid.UUID, key string, actor *uuid.UUID, reason string) (int64, error) {
	o, err := s.load(ctx, id)
	if err != nil {
		return 0, err
	}
	var ev *Event
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if o.QuoteID != nil {
			if _, err := tx.Exec(ctx, `UPDATE quotes SET valid_until = least(valid_until, now()) WHERE id = $1`, *o.QuoteID); err != nil {
				return err
			}
		}
		ev, err = s.recordTx(ctx, tx, Transition{
			OrderID: id, Key: key, Type: EventCompensated, Stage: o.Stage, Status: "CANCELLED", ActorID: actor,
			Message: "compensation done: design approval withdrawn, quote released, nothing captured to refund",
			Data:    map[string]any{"refund": decimal.Zero, "currency": o.Currency, "reason": reason, "quoteReleased": o.QuoteID != nil},
		})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("compensate: %w", err)
	}
	s.afterWrite(ctx, id, ev)
	return ev.Seq, nil
}
