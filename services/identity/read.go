package identity

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/store"
)

func (s *Service) enterprise(ctx context.Context, id uuid.UUID) (*Enterprise, error) {
	rows, _ := s.db.Query(ctx, `SELECT id, kind, name, created_at FROM enterprises WHERE id = $1`, id)
	e, err := pgx.CollectExactlyOneRow(rows, pgx.RowToAddrOfStructByPos[Enterprise])
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("enterprise: %w", err)
	}
	return e, nil
}

func (s *Service) user(ctx context.Context, id uuid.UUID) (*User, error) {
	rows, _ := s.db.Query(ctx, `SELECT id, enterprise_id, email, name, role, created_at FROM users WHERE id = $1`, id)
	u, err := pgx.CollectExactlyOneRow(rows, pgx.RowToAddrOfStructByPos[User])
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("user: %w", err)
	}
	return u, nil
}

func (s *Service) tokenWithOwner(ctx context.Context, id uuid.UUID) (*Token, *User, []byte, error) {
	var t Token
	var u User
	var hash []byte
	err := s.db.QueryRow(ctx, `
		SELECT t.id, t.user_id, t.name, t.prefix, t.created_at, t.expires_at, t.revoked_at, t.token_hash,
		       u.id, u.enterprise_id, u.email, u.name, u.role, u.created_at
		FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1`, id).Scan(
		&t.ID, &t.UserID, &t.Name, &t.Prefix, &t.CreatedAt, &t.ExpiresAt, &t.RevokedAt, &hash,
		&u.ID, &u.EnterpriseID, &u.Email, &u.Name, &u.Role, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, nil, errs.ErrNotFound
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("token: %w", err)
	}
	return &t, &u, hash, nil
}

// notVisible turns a refusal to read into NOT_FOUND, so that a caller cannot
// probe which ids exist in other enterprises.
func notVisible(err error) error {
	if e, ok := errs.As(err); ok && e.Code == errs.Forbidden {
		return errs.ErrNotFound
	}
	return err
}

// Enterprise returns an enterprise the principal may see.
func (s *Service) Enterprise(ctx context.Context, p *Principal, id uuid.UUID) (*Enterprise, error) {
	if err := Authorize(p, ActEnterpriseRead, Scope{EnterpriseID: id}); err != nil {
		return nil, notVisible(err)
	}
	return s.enterprise(ctx, id)
}

// User returns a user the principal may see.
func (s *Service) User(ctx context.Context, p *Principal, id uuid.UUID) (*User, error) {
	if p == nil {
		return nil, Authorize(p, ActUserRead, Scope{})
	}
	u, err := s.user(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := Authorize(p, ActUserRead, Scope{EnterpriseID: u.EnterpriseID, UserID: u.ID}); err != nil {
		return nil, notVisible(err)
	}
	return u, nil
}

// Token returns a token (never its secret) the principal may see.
func (s *Service) Token(ctx context.Context, p *Principal, id uuid.UUID) (*Token, error) {
	if p == nil {
		return nil, Authorize(p, ActTokenRead, Scope{})
	}
	t, owner, _, err := s.tokenWithOwner(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := Authorize(p, ActTokenRead, Scope{EnterpriseID: owner.EnterpriseID, UserID: owner.ID}); err != nil {
		return nil, notVisible(err)
	}
	return t, nil
}

// Enterprises lists the enterprises the principal may see, oldest first.
func (s *Service) Enterprises(ctx context.Context, p *Principal, kind *Kind, first int, after string) (store.Page[Enterprise], error) {
	if err := Authorize(p, ActEnterpriseList, Scope{}); err != nil {
		return store.Page[Enterprise]{}, err
	}
	key, err := store.ParseCursor(after)
	if err != nil {
		return store.Page[Enterprise]{}, errs.Invalid([]string{"after"}, "invalid cursor")
	}
	limit := store.PageSize(first)
	var only *uuid.UUID
	if p.Kind != KindPlatform {
		only = &p.EnterpriseID
	}
	var kindArg *string
	if kind != nil {
		k := string(*kind)
		kindArg = &k
	}
	var at, id any
	if key != nil {
		at, id = key.At, key.ID
	}
	rows, _ := s.db.Query(ctx, `
		SELECT id, kind, name, created_at FROM enterprises
		WHERE ($1::uuid IS NULL OR id = $1) AND ($2::text IS NULL OR kind = $2)
		  AND ($3::timestamptz IS NULL OR (created_at, id) > ($3, $4::uuid))
		ORDER BY created_at, id LIMIT $5`, only, kindArg, at, id, limit+1)
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Enterprise])
	if err != nil {
		return store.Page[Enterprise]{}, fmt.Errorf("list enterprises: %w", err)
	}
	return store.NewPage(list, limit, func(e Enterprise) store.Key { return store.Key{At: e.CreatedAt, ID: e.ID} }), nil
}

// Users lists an enterprise's users, for those who may read them.
func (s *Service) Users(ctx context.Context, p *Principal, enterpriseID uuid.UUID, first int, after string) (store.Page[User], error) {
	if err := Authorize(p, ActUserRead, Scope{EnterpriseID: enterpriseID}); err != nil {
		return store.Page[User]{}, err
	}
	key, err := store.ParseCursor(after)
	if err != nil {
		return store.Page[User]{}, errs.Invalid([]string{"after"}, "invalid cursor")
	}
	limit := store.PageSize(first)
	var at, id any
	if key != nil {
		at, id = key.At, key.ID
	}
	rows, _ := s.db.Query(ctx, `
		SELECT id, enterprise_id, email, name, role, created_at FROM users
		WHERE enterprise_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3::uuid))
		ORDER BY created_at, id LIMIT $4`, enterpriseID, at, id, limit+1)
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[User])
	if err != nil {
		return store.Page[User]{}, fmt.Errorf("list users: %w", err)
	}
	return store.NewPage(list, limit, func(u User) store.Key { return store.Key{At: u.CreatedAt, ID: u.ID} }), nil
}

// Tokens lists a user's tokens, for those who may read them.
func (s *Service) Tokens(ctx context.Context, p *Principal, userID uuid.UUID, first int, after string) (store.Page[Token], error) {
	if p == nil {
		return store.Page[Token]{}, Authorize(p, ActTokenRead, Scope{})
	}
	u, err := s.user(ctx, userID)
	if err != nil {
		return store.Page[Token]{}, err
	}
	if err := Authorize(p, ActTokenRead, Scope{EnterpriseID: u.EnterpriseID, UserID: u.ID}); err != nil {
		return store.Page[Token]{}, err
	}
	key, err := store.ParseCursor(after)
	if err != nil {
		return store.Page[Token]{}, errs.Invalid([]string{"after"}, "invalid cursor")
	}
	limit := store.PageSize(first)
	var at, id any
	if key != nil {
		at, id = key.At, key.ID
	}
	rows, _ := s.db.Query(ctx, `
		SELECT id, user_id, name, prefix, created_at, expires_at, revoked_at FROM api_tokens
		WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3::uuid))
		ORDER BY created_at, id LIMIT $4`, userID, at, id, limit+1)
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Token])
	if err != nil {
		return store.Page[Token]{}, fmt.Errorf("list tokens: %w", err)
	}
	return store.NewPage(list, limit, func(t Token) store.Key { return store.Key{At: t.CreatedAt, ID: t.ID} }), nil
}

// Ping reports whether Postgres answers, for readiness.
func (s *Service) Ping(ctx context.Context) error { return s.db.Ping(ctx) }
