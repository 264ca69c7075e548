package identity

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Account is an enterprise with one user and one token, for seeding demo data
// and tests with known ids and a known secret.
type Account struct {
	Enterprise Enterprise
	User       User
	TokenID    uuid.UUID
	TokenName  string
	Secret     string
}

// EnsureAccount writes the account if it is not there yet, in one transaction;
// running it again changes nothing, so seeding is idempotent.
func (s *Service) EnsureAccount(ctx context.Context, a Account) error {
	if len(a.Secret) < len(tokenPrefix)+8 || a.Secret[:len(tokenPrefix)] != tokenPrefix {
		return fmt.Errorf("ensure account: secret must start with %q", tokenPrefix)
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO enterprises (id, kind, name) VALUES ($1,$2,$3) ON CONFLICT (id) DO NOTHING`,
			a.Enterprise.ID, a.Enterprise.Kind, a.Enterprise.Name); err != nil {
			return fmt.Errorf("ensure enterprise %s: %w", a.Enterprise.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO users (id, enterprise_id, email, name, role) VALUES ($1,$2,$3,$4,$5) ON CONFLICT (id) DO NOTHING`,
			a.User.ID, a.Enterprise.ID, a.User.Email, a.User.Name, a.User.Role); err != nil {
			return fmt.Errorf("ensure user %s: %w", a.User.Email, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO api_tokens (id, user_id, name, token_hash, prefix) VALUES ($1,$2,$3,$4,$5) ON CONFLICT (id) DO NOTHING`,
			a.TokenID, a.User.ID, a.TokenName, hashSecret(a.Secret), a.Secret[:len(tokenPrefix)+6]); err != nil {
			return fmt.Errorf("ensure token %s: %w", a.TokenName, err)
		}
		return nil
	})
}
