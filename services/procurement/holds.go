package procurement

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// A line that runs out of suppliers is held (sourcing_holds) until the
// operator resumes it; the order is ON_HOLD while any of its lines is. The
// order's workflow records that status from what its Sourcing children report
// (workflows/sourcing.go); runs of the legacy protocol derive it from these
// rows under the order row's lock (orders.RecordDerived).

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
	return HeldLinesIn(ctx, s.db, orderID)
}

// HeldLinesIn is HeldLines read through q (a pool or a transaction).
func HeldLinesIn(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}, orderID uuid.UUID) ([]int, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT line FROM sourcing_holds WHERE order_id = $1 AND released_at IS NULL ORDER BY line`, orderID)
	if err != nil {
		return nil, fmt.Errorf("held lines: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[int])
}
