// Package identity owns enterprises, their users and API tokens, authenticates
// bearer tokens and decides authorization (authz.go).
package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/masscustom/orchestrator/services/cache"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/store"
	input "github.com/masscustom/orchestrator/services/validate"
)

// Kind is an enterprise kind.
type Kind string

// The enterprise kinds.
const (
	KindCustomer Kind = "CUSTOMER"
	KindSupplier Kind = "SUPPLIER"
	KindFactory  Kind = "FACTORY"
	KindCarrier  Kind = "CARRIER"
	KindLessor   Kind = "LESSOR"
	KindPlatform Kind = "PLATFORM"
)

// Kinds lists every enterprise kind.
var Kinds = []Kind{KindCustomer, KindSupplier, KindFactory, KindCarrier, KindLessor, KindPlatform}

// Role is what a user may do inside its enterprise.
type Role string

// The roles.
const (
	RoleAdmin   Role = "ADMIN"
	RoleMember  Role = "MEMBER"
	RoleFinance Role = "FINANCE"
	RoleViewer  Role = "VIEWER"
)

// Enterprise is an organisation on the platform.
type Enterprise struct {
	ID        uuid.UUID
	Kind      Kind
	Name      string
	CreatedAt time.Time
}

// User acts for one enterprise.
type User struct {
	ID           uuid.UUID
	EnterpriseID uuid.UUID
	Email        string
	Name         string
	Role         Role
	CreatedAt    time.Time
}

// Token is an API token without its secret.
type Token struct {
	ID        uuid.UUID
	UserID    uuid.UUID
	Name      string
	Prefix    string
	CreatedAt time.Time
	ExpiresAt *time.Time
	RevokedAt *time.Time
}

// Principal is the authenticated caller.
type Principal struct {
	UserID       uuid.UUID `json:"userId"`
	EnterpriseID uuid.UUID `json:"enterpriseId"`
	Kind         Kind      `json:"kind"`
	Role         Role      `json:"role"`
	TokenID      uuid.UUID `json:"tokenId"`
}

func (p *Principal) describe() string {
	return fmt.Sprintf("a %s %s", strings.ToLower(string(p.Kind)), strings.ToLower(string(p.Role)))
}

// ActorID is the user behind p, for the records that say who acted; nil
// for no principal and for the platform itself (identity.System).
func ActorID(p *Principal) *uuid.UUID {
	if p == nil || p.UserID == uuid.Nil {
		return nil
	}
	id := p.UserID
	return &id
}

// System is the principal of the platform itself (seeding, workflows): a platform admin with no user.
var System = &Principal{Kind: KindPlatform, Role: RoleAdmin}

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal in ctx, or nil.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}

// Service is the identity context.
type Service struct {
	db       *pgxpool.Pool
	cache    *cache.Cache
	cacheTTL time.Duration
	// local answers a repeated token without a Redis round trip; see
	// cache.Local for how long a revocation may take to reach it elsewhere.
	local *cache.Local[cachedToken]
}

// cachedToken is what a token resolves to, as cached.
type cachedToken struct {
	Principal
	ExpiresAt *time.Time `json:"expiresAt"`
}

func (t cachedToken) live(now time.Time) bool { return t.ExpiresAt == nil || t.ExpiresAt.After(now) }

// localTTL is how long the token may stay in memory: LocalTokenLife, or less
// when it expires sooner.
func (t cachedToken) localTTL(now time.Time) time.Duration {
	if t.ExpiresAt != nil && t.ExpiresAt.Sub(now) < LocalTokenLife {
		return t.ExpiresAt.Sub(now)
	}
	return LocalTokenLife
}

// LocalTokenLife is the longest a gateway answers a token from memory: the
// bound on how long a token revoked through another gateway can still be used
// here when the revocation's message is lost (it normally arrives in
// milliseconds, and the gateway that revoked it refuses it at once).
const LocalTokenLife = time.Second

const tokenInvalidations = "auth:token-invalidations"

// New returns the identity service. cache may be nil (every lookup then reads Postgres).
func New(db *pgxpool.Pool, c *cache.Cache, tokenCacheTTL time.Duration) *Service {
	if tokenCacheTTL <= 0 {
		tokenCacheTTL = 5 * time.Minute
	}
	s := &Service{db: db, cache: c, cacheTTL: tokenCacheTTL}
	if c != nil {
		s.local = cache.NewLocal[cachedToken](c, tokenInvalidations, 10000, LocalTokenLife)
	}
	return s
}

// AnswersFromMemory reports whether secret would be answered without asking
// Redis (for tests and diagnostics).
func (s *Service) AnswersFromMemory(secret string) bool {
	t, ok := s.local.Get(tokenCacheKey(hashSecret(secret)))
	return ok && t.live(time.Now())
}

// Run keeps the in-process token cache subscribed to revocations until ctx
// ends; without it every lookup asks Redis.
func (s *Service) Run(ctx context.Context) { s.local.Run(ctx) }

// tokenPrefix marks the platform's secrets so that scanners can find leaked ones.
const tokenPrefix = "mco_"

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func tokenCacheKey(hash []byte) string { return "auth:token:" + hex.EncodeToString(hash) }

// Authenticate resolves a bearer secret to its principal: this process's
// memory first (cache.Local), then Redis, then Postgres. An unknown, revoked or expired token gets UNAUTHENTICATED.
func (s *Service) Authenticate(ctx context.Context, secret string) (*Principal, error) {
	if !strings.HasPrefix(secret, tokenPrefix) || len(secret) > 200 {
		return nil, errs.New(errs.Unauthenticated, nil, "unknown bearer token")
	}
	hash := hashSecret(secret)
	key := tokenCacheKey(hash)
	now := time.Now()
	if t, ok := s.local.Get(key); ok && t.live(now) {
		p := t.Principal
		return &p, nil
	}
	epoch := s.local.Epoch()
	var cached cachedToken
	if s.cache.GetJSON(ctx, key, &cached) && cached.live(now) {
		s.local.Put(key, cached, cached.localTTL(now), epoch)
		p := cached.Principal
		return &p, nil
	}
	// Read before the lookup: a revocation committed meanwhile bumps it, and
	// the principal read before it is then not cached.
	gen, cacheable := s.cache.Generation(ctx, key)
	var p Principal
	var expires *time.Time
	err := s.db.QueryRow(ctx, `
		SELECT t.id, u.id, e.id, e.kind, u.role, t.expires_at
		FROM api_tokens t JOIN users u ON u.id = t.user_id JOIN enterprises e ON e.id = u.enterprise_id
		WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())`,
		hash).Scan(&p.TokenID, &p.UserID, &p.EnterpriseID, &p.Kind, &p.Role, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.New(errs.Unauthenticated, nil, "unknown, revoked or expired bearer token")
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	cached.Principal, cached.ExpiresAt = p, expires
	ttl := s.cacheTTL
	if expires != nil && time.Until(*expires) < ttl {
		ttl = time.Until(*expires)
	}
	if ttl > 0 && cacheable {
		s.cache.SetJSONIfCurrent(ctx, key, gen, cached, ttl)
		s.local.Put(key, cached, cached.localTTL(time.Now()), epoch)
	}
	return &p, nil
}

// CreateEnterprise registers an enterprise.
func (s *Service) CreateEnterprise(ctx context.Context, p *Principal, kind Kind, name string) (*Enterprise, error) {
	if err := Authorize(p, ActEnterpriseCreate, Scope{}); err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	var problems errs.List
	if !validKind(kind) {
		problems = append(problems, errs.Invalid([]string{"input", "kind"}, "unknown enterprise kind %q", kind))
	}
	problems = append(problems, checkName([]string{"input", "name"}, name, input.Name.Max)...)
	if len(problems) > 0 {
		return nil, problems
	}
	e := &Enterprise{ID: uuid.New(), Kind: kind, Name: name}
	err := s.db.QueryRow(ctx, `INSERT INTO enterprises (id, kind, name) VALUES ($1, $2, $3) RETURNING created_at`,
		e.ID, e.Kind, e.Name).Scan(&e.CreatedAt)
	if _, dup := store.IsUniqueViolation(err); dup {
		return nil, errs.New(errs.AlreadyExists, []string{"input", "name"}, "an enterprise named %q exists", name)
	}
	if err != nil {
		return nil, fmt.Errorf("create enterprise: %w", err)
	}
	slog.InfoContext(ctx, "enterprise created", "enterprise_id", e.ID, "kind", e.Kind)
	return e, nil
}

// emailText is the text rule of an email address: one line, at most 320
// characters (RFC 5321's limit), the address syntax checked after it.
var emailText = input.TextKind{Max: 320}

// checkName checks a name or label (already trimmed): printable text on one
// line, 1 to max characters.
func checkName(path []string, name string, max int) errs.List {
	if e := input.Text(path, name, input.Name); e != nil {
		return errs.List{e}
	}
	if n := utf8.RuneCountInString(name); n < 1 || n > max {
		return errs.List{errs.Invalid(path, "name must be 1 to %d characters", max)}
	}
	return nil
}

func validKind(k Kind) bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

func validRole(r Role) bool {
	return r == RoleAdmin || r == RoleMember || r == RoleFinance || r == RoleViewer
}

// CreateUser adds a user to an enterprise.
func (s *Service) CreateUser(ctx context.Context, p *Principal, enterpriseID uuid.UUID, email, name string, role Role) (*User, error) {
	if p == nil {
		return nil, Authorize(p, ActUserCreate, Scope{})
	}
	// An enterprise the caller may not see reads as missing, as everywhere.
	_, err := s.enterprise(ctx, enterpriseID)
	if errors.Is(err, errs.ErrNotFound) || (err == nil && !Can(p, ActEnterpriseRead, Scope{EnterpriseID: enterpriseID})) {
		return nil, errs.New(errs.NotFound, []string{"input", "enterpriseId"}, "no such enterprise")
	}
	if err != nil {
		return nil, err
	}
	if err := Authorize(p, ActUserCreate, Scope{EnterpriseID: enterpriseID}); err != nil {
		return nil, err
	}
	email = strings.TrimSpace(email)
	name = strings.TrimSpace(name)
	var problems errs.List
	if e := input.Text([]string{"input", "email"}, email, emailText); e != nil {
		problems = append(problems, e)
	} else if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > 320 {
		problems = append(problems, errs.Invalid([]string{"input", "email"}, "%q is not an email address", email))
	}
	problems = append(problems, checkName([]string{"input", "name"}, name, input.Name.Max)...)
	if !validRole(role) {
		problems = append(problems, errs.Invalid([]string{"input", "role"}, "unknown role %q", role))
	}
	if len(problems) > 0 {
		return nil, problems
	}
	u := &User{ID: uuid.New(), EnterpriseID: enterpriseID, Email: email, Name: name, Role: role}
	err = s.db.QueryRow(ctx, `INSERT INTO users (id, enterprise_id, email, name, role) VALUES ($1,$2,$3,$4,$5) RETURNING created_at`,
		u.ID, u.EnterpriseID, u.Email, u.Name, u.Role).Scan(&u.CreatedAt)
	if _, dup := store.IsUniqueViolation(err); dup {
		return nil, errs.New(errs.AlreadyExists, []string{"input", "email"}, "a user with email %q exists", email)
	}
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	slog.InfoContext(ctx, "user created", "user_id", u.ID, "enterprise_id", enterpriseID, "role", role)
	return u, nil
}

// CreateToken issues a token for a user and returns it with its secret, which is
// never stored and never shown again.
func (s *Service) CreateToken(ctx context.Context, p *Principal, userID uuid.UUID, name string, expiresAt *time.Time) (*Token, string, error) {
	if p == nil {
		return nil, "", Authorize(p, ActTokenManage, Scope{})
	}
	// A user the caller may not see reads as missing, as everywhere.
	u, err := s.user(ctx, userID)
	if errors.Is(err, errs.ErrNotFound) || (err == nil && !Can(p, ActUserRead, Scope{EnterpriseID: u.EnterpriseID, UserID: u.ID})) {
		return nil, "", errs.New(errs.NotFound, []string{"input", "userId"}, "no such user")
	}
	if err != nil {
		return nil, "", err
	}
	if err := Authorize(p, ActTokenManage, Scope{EnterpriseID: u.EnterpriseID, UserID: u.ID}); err != nil {
		return nil, "", err
	}
	name = strings.TrimSpace(name)
	var problems errs.List
	problems = append(problems, checkName([]string{"input", "name"}, name, 100)...)
	if expiresAt != nil && !expiresAt.After(time.Now()) {
		problems = append(problems, errs.Invalid([]string{"input", "expiresAt"}, "expiry must lie in the future"))
	}
	if len(problems) > 0 {
		return nil, "", problems
	}
	secret, err := newSecret()
	if err != nil {
		return nil, "", err
	}
	t := &Token{ID: uuid.New(), UserID: u.ID, Name: name, Prefix: secret[:len(tokenPrefix)+6], ExpiresAt: expiresAt}
	var createdBy *uuid.UUID
	if p.UserID != uuid.Nil {
		createdBy = &p.UserID
	}
	err = s.db.QueryRow(ctx, `INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, created_by, expires_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7) RETURNING created_at`,
		t.ID, t.UserID, t.Name, hashSecret(secret), t.Prefix, createdBy, t.ExpiresAt).Scan(&t.CreatedAt)
	if err != nil {
		return nil, "", fmt.Errorf("create token: %w", err)
	}
	slog.InfoContext(ctx, "token created", "token_id", t.ID, "user_id", u.ID)
	return t, secret, nil
}

func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("token secret: %w", err)
	}
	return tokenPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}

// RevokeToken revokes a token at once and drops its cached lookup.
func (s *Service) RevokeToken(ctx context.Context, p *Principal, tokenID uuid.UUID) (*Token, error) {
	if p == nil {
		return nil, Authorize(p, ActTokenManage, Scope{})
	}
	// A token the caller may not see reads as missing, as everywhere.
	t, owner, hash, err := s.tokenWithOwner(ctx, tokenID)
	if errors.Is(err, errs.ErrNotFound) || (err == nil && !Can(p, ActTokenRead, Scope{EnterpriseID: owner.EnterpriseID, UserID: owner.ID})) {
		return nil, errs.New(errs.NotFound, []string{"input", "tokenId"}, "no such token")
	}
	if err != nil {
		return nil, err
	}
	if err := Authorize(p, ActTokenManage, Scope{EnterpriseID: owner.EnterpriseID, UserID: owner.ID}); err != nil {
		return nil, err
	}
	if t.RevokedAt != nil {
		return nil, errs.New(errs.IllegalState, []string{"input", "tokenId"}, "the token was revoked at %s", t.RevokedAt.Format(time.RFC3339))
	}
	err = s.db.QueryRow(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING revoked_at`,
		tokenID).Scan(&t.RevokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.New(errs.IllegalState, []string{"input", "tokenId"}, "the token was revoked concurrently")
	}
	if err != nil {
		return nil, fmt.Errorf("revoke token: %w", err)
	}
	if err := s.cache.Invalidate(ctx, tokenCacheKey(hash)); err != nil {
		// The revocation holds in Postgres; a cached lookup may live until its TTL.
		slog.ErrorContext(ctx, "revoked token still cached", "token_id", tokenID, "err", err)
	}
	if err := s.local.Invalidate(ctx, tokenCacheKey(hash)); err != nil {
		slog.ErrorContext(ctx, "revocation not announced to other gateways; they refuse the token within their local cache's life",
			"token_id", tokenID, "life", LocalTokenLife, "err", err)
	}
	slog.InfoContext(ctx, "token revoked", "token_id", tokenID)
	return t, nil
}

// EnterpriseIDOrNil returns the principal's enterprise, or the nil uuid without a principal.
func (p *Principal) EnterpriseIDOrNil() uuid.UUID {
	if p == nil {
		return uuid.Nil
	}
	return p.EnterpriseID
}
