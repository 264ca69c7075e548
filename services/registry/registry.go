// Package registry is the platform's identifier registry as a secondary node
// of the Handle-based resolution system: the enterprise prefixes the operator
// assigns under the platform's node prefix, the identifiers minted under them
// (by the journey itself and on request in batches), their records of typed
// values with read permissions, and local resolution, cached in Redis by the
// values' time to live. The grammar and limits are services/identifiers';
// resolution of other nodes' identifiers is services/identifiers/remote's.
package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/masscustom/orchestrator/services/cache"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identifiers"
	"github.com/masscustom/orchestrator/services/identity"
)

// The kinds of identifier the platform mints.
const (
	KindUnit      = "UNIT"      // a produced unit of an order, by serial
	KindLot       = "LOT"       // a lot a supplier shipped
	KindEquipment = "EQUIPMENT" // a machine: leased equipment or a factory's work centre
	KindPackage   = "PACKAGE"   // a shipment package
	KindLocation  = "LOCATION"  // a site
	KindOther     = "OTHER"     // minted on request
)

// Kinds lists the kinds an enterprise may mint on request.
var Kinds = []string{KindUnit, KindLot, KindEquipment, KindPackage, KindLocation, KindOther}

// Who may read a value.
const (
	ReadPublic   = "PUBLIC"   // everyone, without a token too
	ReadOwner    = "OWNER"    // the owning enterprise (and the operator)
	ReadPartners = "PARTNERS" // the owner and the named partner enterprises
)

// The value types the platform writes itself. MC.* are the platform's own;
// GS1.* are validated GS1 keys attached as aliases.
const (
	TypeKind         = "MC.KIND"
	TypeProduct      = "MC.PRODUCT"
	TypeSerial       = "MC.SERIAL"
	TypeManufacturer = "MC.MANUFACTURER"
	TypeOrder        = "MC.ORDER"
	TypeQuantity     = "MC.QUANTITY"
	TypeRecall       = "MC.RECALL_STATUS"
	TypeGS1SGTIN     = "GS1.SGTIN"
	TypeGS1SSCC      = "GS1.SSCC"
	TypeGS1GIAI      = "GS1.GIAI"
)

// DefaultTTL is a value's time to live, in seconds, when none is given.
const DefaultTTL = 86400

// MaxBatch is the most identifiers one batch request mints.
const MaxBatch = 2000

// Service is the registry.
type Service struct {
	db    *pgxpool.Pool
	cache *cache.Cache
	node  string
	memo  *cache.Memo[Record]
}

// New returns the registry of the node prefix node (e.g. 88.500), which must
// be valid.
func New(db *pgxpool.Pool, c *cache.Cache, node string) (*Service, error) {
	if err := identifiers.ValidatePrefix(node); err != nil {
		return nil, fmt.Errorf("the node prefix %q: %w", node, err)
	}
	return &Service{db: db, cache: c, node: node, memo: cache.NewMemo[Record](4096, time.Minute)}, nil
}

// Node is the platform's node prefix.
func (s *Service) Node() string { return s.node }

// Local reports whether h is under the platform's node prefix, so resolved here.
func (s *Service) Local(h identifiers.Handle) bool { return h.Under(s.node) }

// Prefix is an enterprise's prefix.
type Prefix struct {
	EnterpriseID uuid.UUID
	Prefix       string
	AssignedAt   time.Time
}

// AssignPrefix gives an enterprise the prefix <node>.<code> (the operator's
// admins only). An enterprise keeps its prefix for good: a second assignment
// is ALREADY_EXISTS unless it names the same prefix (answered as it is), and
// so is a prefix another enterprise has.
func (s *Service) AssignPrefix(ctx context.Context, p *identity.Principal, enterpriseID uuid.UUID, code string) (*Prefix, error) {
	if p == nil {
		return nil, errs.New(errs.Unauthenticated, nil, "a bearer token is required")
	}
	if p.Kind != identity.KindPlatform || p.Role != identity.RoleAdmin {
		return nil, errs.New(errs.Forbidden, nil, "only the platform's admins assign enterprise prefixes")
	}
	prefix, err := identifiers.EnterprisePrefix(s.node, code)
	if err != nil {
		return nil, identifiers.At(err, []string{"input", "code"})
	}
	var out *Prefix
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM enterprises WHERE id = $1)`, enterpriseID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return errs.New(errs.NotFound, []string{"input", "enterpriseId"}, "no enterprise %s", enterpriseID)
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('enterprise_prefixes'))`); err != nil {
			return err
		}
		if cur, err := prefixIn(ctx, tx, enterpriseID); err != nil {
			return err
		} else if cur != nil {
			if strings.EqualFold(cur.Prefix, prefix) {
				out = cur
				return nil
			}
			return errs.New(errs.AlreadyExists, []string{"input", "enterpriseId"}, "the enterprise already has the prefix %s, which its identifiers keep", cur.Prefix)
		}
		var holder uuid.UUID
		err := tx.QueryRow(ctx, `SELECT enterprise_id FROM enterprise_prefixes WHERE lower(prefix) = lower($1)`, prefix).Scan(&holder)
		if err == nil {
			return errs.New(errs.AlreadyExists, []string{"input", "code"}, "the prefix %s belongs to another enterprise", prefix)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		out = &Prefix{EnterpriseID: enterpriseID, Prefix: prefix}
		return tx.QueryRow(ctx, `INSERT INTO enterprise_prefixes (enterprise_id, prefix, assigned_by) VALUES ($1, $2, $3) RETURNING assigned_at`,
			enterpriseID, prefix, identity.ActorID(p)).Scan(&out.AssignedAt)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PrefixOf reads an enterprise's prefix; nil when it has none yet.
func (s *Service) PrefixOf(ctx context.Context, enterpriseID uuid.UUID) (*Prefix, error) {
	return prefixIn(ctx, s.db, enterpriseID)
}

type querier interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}

func prefixIn(ctx context.Context, q querier, enterpriseID uuid.UUID) (*Prefix, error) {
	out := &Prefix{EnterpriseID: enterpriseID}
	err := q.QueryRow(ctx, `SELECT prefix, assigned_at FROM enterprise_prefixes WHERE enterprise_id = $1`, enterpriseID).Scan(&out.Prefix, &out.AssignedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ensurePrefix returns the enterprise's prefix, giving it the next free code
// under the node (from 1001) when the operator has not assigned one, so the
// journey can always mint.
func (s *Service) ensurePrefix(ctx context.Context, tx pgx.Tx, enterpriseID uuid.UUID) (string, error) {
	if cur, err := prefixIn(ctx, tx, enterpriseID); err != nil || cur != nil {
		if cur != nil {
			return cur.Prefix, nil
		}
		return "", err
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('enterprise_prefixes'))`); err != nil {
		return "", err
	}
	if cur, err := prefixIn(ctx, tx, enterpriseID); err != nil || cur != nil {
		if cur != nil {
			return cur.Prefix, nil
		}
		return "", err
	}
	var next int64
	err := tx.QueryRow(ctx, `SELECT coalesce(max(substr(prefix, length($1) + 2)::bigint), 1000) + 1 FROM enterprise_prefixes
		WHERE prefix LIKE $1 || '.%' AND substr(prefix, length($1) + 2) ~ '^[1-9][0-9]{0,17}$'`, s.node).Scan(&next)
	if err != nil {
		return "", err
	}
	prefix, err := identifiers.EnterprisePrefix(s.node, fmt.Sprint(next))
	if err != nil {
		return "", err
	}
	_, err = tx.Exec(ctx, `INSERT INTO enterprise_prefixes (enterprise_id, prefix) VALUES ($1, $2)`, enterpriseID, prefix)
	return prefix, err
}
