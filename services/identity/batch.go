package identity

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// EnterprisesByID loads enterprises in one query for per-request dataloaders;
// callers authorize each result (Can with ActEnterpriseRead) before showing it.
func (s *Service) EnterprisesByID(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*Enterprise, error) {
	rows, _ := s.db.Query(ctx, `SELECT id, kind, name, created_at FROM enterprises WHERE id = ANY($1)`, ids)
	list, err := pgx.CollectRows(rows, pgx.RowToAddrOfStructByPos[Enterprise])
	if err != nil {
		return nil, fmt.Errorf("enterprises by id: %w", err)
	}
	out := make(map[uuid.UUID]*Enterprise, len(list))
	for _, e := range list {
		out[e.ID] = e
	}
	return out, nil
}

// UsersByID loads users in one query for per-request dataloaders; callers
// authorize each result (Can with ActUserRead) before showing it.
func (s *Service) UsersByID(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*User, error) {
	rows, _ := s.db.Query(ctx, `SELECT id, enterprise_id, email, name, role, created_at FROM users WHERE id = ANY($1)`, ids)
	list, err := pgx.CollectRows(rows, pgx.RowToAddrOfStructByPos[User])
	if err != nil {
		return nil, fmt.Errorf("users by id: %w", err)
	}
	out := make(map[uuid.UUID]*User, len(list))
	for _, u := range list {
		out[u.ID] = u
	}
	return out, nil
}
