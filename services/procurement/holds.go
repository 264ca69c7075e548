package procurement

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// An order has one sourcing workflow per line, running side by side, and each
// writes the order's status with its timeline events. A line that runs out of
// suppliers puts the order ON_HOLD; another line's next event must not put it
// back to ACTIVE. So the status of a procurement event is derived from the
// lines held (sourcing_holds), and the events of one order are recorded one at
// a time under WithOrderLock.

// Hold marks round n of a line's sourcing as held for want of a supplier
// (idempotent).
func (s *Service) Hold(ctx context.Context, orderID uuid.UUID, line, round int, material string, remaining decimal.Decimal) error {
	_, err := s.db.Exec(ctx, `INSERT INTO sourcing_holds (order_id, line, round, material, remaining) VALUES ($1,$2,$3,$4,$5)
		ON CONFLICT (order_id, line, round) DO NOTHING`, orderID, line, round, material, remaining)
	if err != nil {
		return fmt.Errorf("hold line %d: %w", line, err)
	}
	return nil
}

// Release ends the holds of a line (idempotent).
func (s *Service) Release(ctx context.Context, orderID uuid.UUID, line int) error {
	_, err := s.db.Exec(ctx, `UPDATE sourcing_holds SET released_at = now() WHERE order_id = $1 AND line = $2 AND released_at IS NULL`, orderID, line)
	if err != nil {
		return fmt.Errorf("release line %d: %w", line, err)
	}
	return nil
}

// HeldLines lists the lines of an order whose sourcing is held.
func (s *Service) HeldLines(ctx context.Context, orderID uuid.UUID) ([]int, error) {
	rows, err := s.db.Query(ctx, `SELECT DISTINCT line FROM sourcing_holds WHERE order_id = $1 AND released_at IS NULL ORDER BY line`, orderID)
	if err != nil {
		return nil, fmt.Errorf("held lines: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[int])
}

// OrderStage is the order's current stage and status. Procurement events
// read it so that they never move a cancelled or completed order back to
// ACTIVE; it reads Postgres, not the orders cache, because a stale cached
// status there would do exactly that.
func (s *Service) OrderStage(ctx context.Context, orderID uuid.UUID) (stage, status string, err error) {
	if err := s.db.QueryRow(ctx, `SELECT stage, status FROM orders WHERE id = $1`, orderID).Scan(&stage, &status); err != nil {
		return "", "", fmt.Errorf("order status: %w", err)
	}
	return stage, status, nil
}

// lockNS keeps these advisory locks apart from others (migrations use one key).
const lockNS = "procurement-order:"

// WithOrderLock runs fn while holding a per-order advisory lock, so that the
// procurement writes of one order's lines happen one at a time. It waits for
// the lock without holding a pooled connection (try, back off, try again), so
// waiters cannot starve the holder of connections.
func (s *Service) WithOrderLock(ctx context.Context, orderID uuid.UUID, fn func(ctx context.Context) error) error {
	h := fnv.New64a()
	_, _ = h.Write([]byte(lockNS + orderID.String()))
	key := int64(h.Sum64())
	wait := 5 * time.Millisecond
	for {
		var got bool
		err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, key).Scan(&got); err != nil {
				return err
			}
			if !got {
				return nil
			}
			return fn(ctx)
		})
		if err != nil {
			return err
		}
		if got {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}
