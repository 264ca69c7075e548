package leasing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/masscustom/orchestrator/services/cache"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/genealogy"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/store"
	input "github.com/masscustom/orchestrator/services/validate"
)

// Store keeps the leasing records in Postgres: the equipment registry, lease
// contracts, usage, invoices, the ledger and payments.
type Store struct {
	db    *pgxpool.Pool
	cache *cache.Cache
	// Genealogy, when set, mints each registered machine's identifier under
	// its lessor's prefix in the same transaction.
	Genealogy *genealogy.Service
}

// NewStore returns the leasing store. cache may be nil.
func NewStore(db *pgxpool.Pool, c *cache.Cache) *Store { return &Store{db: db, cache: c} }

// Equipment is a lessor-owned networked machine with its meters.
type Equipment struct {
	ID        uuid.UUID
	LessorID  uuid.UUID
	Serial    string
	Kind      string
	Meters    []Meter
	LockedAt  *time.Time
	CreatedAt time.Time
}

// StoredContract is a lease contract as registered.
type StoredContract struct {
	ID        uuid.UUID
	Number    int64
	LessorID  uuid.UUID
	LesseeID  uuid.UUID
	Status    string
	CreatedAt time.Time
	Terms     Contract
	// HasUnits is set once prepaid units were ever topped up on the contract
	// (lease_contracts.units_alerted has a meter): only then do ratings look
	// for them, which spares every close of most contracts a query.
	HasUnits bool
}

func enterpriseKind(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, id uuid.UUID) (identity.Kind, error) {
	var k identity.Kind
	err := q.QueryRow(ctx, `SELECT kind FROM enterprises WHERE id = $1`, id).Scan(&k)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", errs.ErrNotFound
	}
	return k, err
}

// RegisterEquipment adds a machine to a lessor's registry. A lessor's admin or
// member registers its own machines; the operator any lessor's.
func (s *Store) RegisterEquipment(ctx context.Context, p *identity.Principal, lessorID uuid.UUID, serial, kind string, meters []Meter) (*Equipment, error) {
	if err := identity.Authorize(p, identity.ActLeasingManage, identity.Scope{EnterpriseID: lessorID}); err != nil {
		return nil, err
	}
	var problems errs.List
	if k, err := enterpriseKind(ctx, s.db, lessorID); errors.Is(err, errs.ErrNotFound) || (err == nil && k != identity.KindLessor) {
		problems = append(problems, errs.Invalid([]string{"input", "lessorId"}, "not a lessor enterprise"))
	} else if err != nil {
		return nil, err
	}
	serial, kind = strings.TrimSpace(serial), strings.TrimSpace(kind)
	if e := input.Text([]string{"input", "serial"}, serial, input.Key); e != nil {
		problems = append(problems, e)
	} else if n := utf8.RuneCountInString(serial); n < 1 || n > 100 {
		problems = append(problems, errs.Invalid([]string{"input", "serial"}, "serial must be 1 to 100 characters"))
	}
	if e := input.Text([]string{"input", "kind"}, kind, input.Name); e != nil {
		problems = append(problems, e)
	} else if n := utf8.RuneCountInString(kind); n < 1 || n > 100 {
		problems = append(problems, errs.Invalid([]string{"input", "kind"}, "kind must be 1 to 100 characters"))
	}
	if len(meters) == 0 {
		problems = append(problems, errs.Invalid([]string{"input", "meters"}, "a machine reports at least one meter"))
	}
	seen := map[Meter]bool{}
	names := make([]string, 0, len(meters))
	for i, m := range meters {
		if _, ok := m.Aggregation(); !ok {
			problems = append(problems, errs.Invalid([]string{"input", "meters", fmt.Sprint(i)}, "unknown meter %q", m))
		} else if seen[m] {
			problems = append(problems, errs.Invalid([]string{"input", "meters", fmt.Sprint(i)}, "meter %q listed twice", m))
		}
		seen[m] = true
		names = append(names, string(m))
	}
	if len(problems) > 0 {
		return nil, problems
	}
	e := &Equipment{ID: uuid.New(), LessorID: lessorID, Serial: serial, Kind: kind, Meters: meters}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO equipment (id, lessor_id, serial, kind, meters) VALUES ($1,$2,$3,$4,$5) RETURNING created_at`,
			e.ID, lessorID, serial, kind, names).Scan(&e.CreatedAt); err != nil || s.Genealogy == nil {
			return err
		}
		_, err := s.Genealogy.Equipment(ctx, tx, e.ID, lessorID, serial, kind)
		return err
	})
	if _, dup := store.IsUniqueViolation(err); dup {
		return nil, errs.New(errs.AlreadyExists, []string{"input", "serial"}, "a machine with serial %q is registered", serial)
	}
	if err != nil {
		return nil, fmt.Errorf("register equipment: %w", err)
	}
	return e, nil
}

func scanEquipment(row pgx.Row) (*Equipment, error) {
	var e Equipment
	var meters []string
	if err := row.Scan(&e.ID, &e.LessorID, &e.Serial, &e.Kind, &meters, &e.LockedAt, &e.CreatedAt); err != nil {
		return nil, err
	}
	for _, m := range meters {
		e.Meters = append(e.Meters, Meter(m))
	}
	return &e, nil
}

const equipmentColumns = `id, lessor_id, serial, kind, meters, locked_at, created_at`

// EquipmentByID returns a machine without authorization (for ingestion and workflows).
func (s *Store) EquipmentByID(ctx context.Context, id uuid.UUID) (*Equipment, error) {
	e, err := scanEquipment(s.db.QueryRow(ctx, `SELECT `+equipmentColumns+` FROM equipment WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("equipment: %w", err)
	}
	return e, nil
}

// CreateContract registers a lease between a lessor and a lessee factory for
// some of the lessor's machines. Terms are validated in full first; nothing is
// written on refusal. The returned contract carries its id in Terms.ID.
func (s *Store) CreateContract(ctx context.Context, p *identity.Principal, c Contract) (*StoredContract, error) {
	lessor, lerr := uuid.Parse(c.LessorID)
	lessee, eerr := uuid.Parse(c.LesseeID)
	if lerr != nil || eerr != nil {
		return nil, errs.Invalid([]string{"input", "lessorId"}, "lessor and lessee must be enterprise ids")
	}
	if err := identity.Authorize(p, identity.ActLeasingManage, identity.Scope{EnterpriseID: lessor}); err != nil {
		return nil, err
	}
	id := uuid.New()
	c.ID = id.String()
	c.Start, c.End = c.Start.UTC(), c.End.UTC()
	var problems errs.List
	for _, pr := range ValidateContract(c) {
		problems = append(problems, errs.Invalid(append([]string{"input"}, strings.Split(pr.Field, ".")...), "%s: %s", pr.Code, pr.Message))
	}
	if k, err := enterpriseKind(ctx, s.db, lessor); err != nil || k != identity.KindLessor {
		problems = append(problems, errs.Invalid([]string{"input", "lessorId"}, "not a lessor enterprise"))
	}
	if k, err := enterpriseKind(ctx, s.db, lessee); err != nil || k != identity.KindFactory {
		problems = append(problems, errs.Invalid([]string{"input", "lesseeId"}, "the lessee must be a factory"))
	}
	equipment := make([]uuid.UUID, 0, len(c.EquipmentIDs))
	for i, raw := range c.EquipmentIDs {
		eid, err := uuid.Parse(raw)
		if err != nil {
			problems = append(problems, errs.Invalid([]string{"input", "equipmentIds", fmt.Sprint(i)}, "not an equipment id"))
			continue
		}
		e, err := s.EquipmentByID(ctx, eid)
		if err != nil || e.LessorID != lessor {
			problems = append(problems, errs.Invalid([]string{"input", "equipmentIds", fmt.Sprint(i)}, "no such machine of this lessor"))
			continue
		}
		equipment = append(equipment, eid)
	}
	if len(problems) > 0 {
		return nil, problems
	}
	terms, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	out := &StoredContract{ID: id, LessorID: lessor, LesseeID: lessee, Status: "ACTIVE", Terms: c}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		for i, eid := range equipment {
			// A machine is leased to one contract at a time: refuse overlapping terms.
			var clash bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM contract_equipment ce JOIN lease_contracts lc ON lc.id = ce.contract_id
				WHERE ce.equipment_id = $1 AND lc.status = 'ACTIVE' AND lc.starts_at < $3 AND lc.ends_at > $2)`, eid, c.Start, c.End).Scan(&clash); err != nil {
				return err
			}
			if clash {
				return errs.Invalid([]string{"input", "equipmentIds", fmt.Sprint(i)}, "the machine is leased under another contract in that time")
			}
		}
		if err := tx.QueryRow(ctx, `INSERT INTO lease_contracts (id, lessor_id, lessee_id, currency, terms, starts_at, ends_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7) RETURNING number, created_at`, id, lessor, lessee, c.Currency, terms, c.Start, c.End).Scan(&out.Number, &out.CreatedAt); err != nil {
			return err
		}
		for _, eid := range equipment {
			if _, err := tx.Exec(ctx, `INSERT INTO contract_equipment (contract_id, equipment_id) VALUES ($1,$2)`, id, eid); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if _, ok := errs.As(err); ok {
			return nil, err
		}
		return nil, fmt.Errorf("create contract: %w", err)
	}
	return out, nil
}

// ContractByID returns a contract without authorization (for ingestion and workflows).
func (s *Store) ContractByID(ctx context.Context, id uuid.UUID) (*StoredContract, error) {
	var c StoredContract
	var terms []byte
	err := s.db.QueryRow(ctx, `SELECT id, number, lessor_id, lessee_id, status, created_at, terms, units_alerted <> '{}' FROM lease_contracts WHERE id = $1`, id).
		Scan(&c.ID, &c.Number, &c.LessorID, &c.LesseeID, &c.Status, &c.CreatedAt, &terms, &c.HasUnits)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	if err := json.Unmarshal(terms, &c.Terms); err != nil {
		return nil, fmt.Errorf("contract %s terms: %w", id, err)
	}
	return &c, nil
}

// Contract returns a contract its lessor, its lessee or the operator may read;
// others get NOT_FOUND.
func (s *Store) Contract(ctx context.Context, p *identity.Principal, id uuid.UUID) (*StoredContract, error) {
	if p == nil {
		return nil, identity.Authorize(p, identity.ActLeasingRead, identity.Scope{})
	}
	c, err := s.ContractByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if !identity.Can(p, identity.ActLeasingRead, identity.Scope{EnterpriseID: c.LessorID}) &&
		!identity.Can(p, identity.ActLeasingRead, identity.Scope{EnterpriseID: c.LesseeID}) {
		return nil, errs.ErrNotFound
	}
	return c, nil
}
