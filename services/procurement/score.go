package procurement

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// ScoreKind is a behaviour that moves a supplier's score.
type ScoreKind string

// The behaviours that move a score, and by how much (see ScoreDelta).
const (
	ScoreAccepted      ScoreKind = "ACCEPTED"        // took an offer within its SLA
	ScoreRejected      ScoreKind = "REJECTED"        // refused an offer
	ScoreTimedOut      ScoreKind = "TIMED_OUT"       // let an offer lapse unanswered
	ScoreShippedOnTime ScoreKind = "SHIPPED_ON_TIME" // shipped all it took by its promised date
	ScoreShippedLate   ScoreKind = "SHIPPED_LATE"    // reported a shipment after its promised date
)

// ScoreDelta is how far a behaviour moves a score on the 0..100 scale. A
// silent supplier costs the order a whole SLA, so a lapse weighs twice a
// refusal; a late shipment weighs more than an on-time one earns, because the
// factory plans on promises.
func ScoreDelta(k ScoreKind) decimal.Decimal {
	switch k {
	case ScoreAccepted:
		return decimal.NewFromInt(2)
	case ScoreRejected:
		return decimal.NewFromInt(-3)
	case ScoreTimedOut:
		return decimal.NewFromInt(-6)
	case ScoreShippedOnTime:
		return decimal.NewFromInt(3)
	case ScoreShippedLate:
		return decimal.NewFromInt(-4)
	}
	return decimal.Zero
}

// ApplyScore returns score moved by behaviour k, clamped to 0..100.
func ApplyScore(score decimal.Decimal, k ScoreKind) decimal.Decimal {
	return clampScore(score.Add(ScoreDelta(k)))
}

// score moves the score of the task's supplier for its material, once per
// task and behaviour, and keeps the change in supplier_score_events.
func (s *Service) score(ctx context.Context, tx pgx.Tx, t *Task, k ScoreKind, at time.Time) error {
	delta := ScoreDelta(k)
	tag, err := tx.Exec(ctx, `INSERT INTO supplier_score_events (task_id, kind, supplier_id, material, delta, at) VALUES ($1,$2,$3,$4,$5,$6)
		ON CONFLICT (task_id, kind) DO NOTHING`, t.ID, k, t.SupplierID, t.Material, delta, at)
	if err != nil {
		return fmt.Errorf("score %s: %w", k, err)
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	var after decimal.Decimal
	err = tx.QueryRow(ctx, `UPDATE supplier_capabilities SET score = greatest(0, least(100, score + $3)), updated_at = now()
		WHERE supplier_id = $1 AND material = $2 RETURNING score`, t.SupplierID, t.Material, delta).Scan(&after)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // the capability is gone; the event stays as the record of the behaviour
	}
	if err != nil {
		return fmt.Errorf("score %s: %w", k, err)
	}
	_, err = tx.Exec(ctx, `UPDATE supplier_score_events SET score_after = $3 WHERE task_id = $1 AND kind = $2`, t.ID, k, after)
	return err
}

// ScoreEvent is one recorded change of a supplier's score.
type ScoreEvent struct {
	TaskID     uuid.UUID        `json:"taskId"`
	Kind       ScoreKind        `json:"kind"`
	SupplierID uuid.UUID        `json:"supplierId"`
	Material   string           `json:"material"`
	Delta      decimal.Decimal  `json:"delta"`
	ScoreAfter *decimal.Decimal `json:"scoreAfter,omitempty"`
	At         time.Time        `json:"at"`
}

// ScoreEvents lists the score changes of a supplier, oldest first (for the
// operator and the supplier; the caller authorizes).
func (s *Service) ScoreEvents(ctx context.Context, supplierID uuid.UUID) ([]ScoreEvent, error) {
	rows, err := s.db.Query(ctx, `SELECT task_id, kind, supplier_id, material, delta, score_after, at FROM supplier_score_events
		WHERE supplier_id = $1 ORDER BY at, task_id, kind`, supplierID)
	if err != nil {
		return nil, fmt.Errorf("score events: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[ScoreEvent])
}
