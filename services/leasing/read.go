package leasing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/store"
)

// Contracts lists the contracts the principal may read: a lessor's or a
// lessee's own, all for the operator; oldest first.
func (s *Store) Contracts(ctx context.Context, p *identity.Principal, first int, after string) (store.Page[StoredContract], error) {
	if err := identity.Authorize(p, identity.ActLeasingRead, identity.Scope{EnterpriseID: p.EnterpriseIDOrNil()}); err != nil {
		return store.Page[StoredContract]{}, err
	}
	key, err := store.ParseCursor(after)
	if err != nil {
		return store.Page[StoredContract]{}, errs.Invalid([]string{"after"}, "invalid cursor")
	}
	var only *uuid.UUID
	if p.Kind != identity.KindPlatform {
		only = &p.EnterpriseID
	}
	limit := store.PageSize(first)
	var at, kid any
	if key != nil {
		at, kid = key.At, key.ID
	}
	rows, err := s.db.Query(ctx, `SELECT id, number, lessor_id, lessee_id, status, created_at, terms, units_alerted <> '{}' FROM lease_contracts
		WHERE ($1::uuid IS NULL OR lessor_id = $1 OR lessee_id = $1) AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3::uuid))
		ORDER BY created_at, id LIMIT $4`, only, at, kid, limit+1)
	if err != nil {
		return store.Page[StoredContract]{}, fmt.Errorf("list contracts: %w", err)
	}
	defer rows.Close()
	var list []StoredContract
	for rows.Next() {
		var c StoredContract
		var terms []byte
		if err := rows.Scan(&c.ID, &c.Number, &c.LessorID, &c.LesseeID, &c.Status, &c.CreatedAt, &terms, &c.HasUnits); err != nil {
			return store.Page[StoredContract]{}, err
		}
		if err := json.Unmarshal(terms, &c.Terms); err != nil {
			return store.Page[StoredContract]{}, err
		}
		list = append(list, c)
	}
	if err := rows.Err(); err != nil {
		return store.Page[StoredContract]{}, err
	}
	return store.NewPage(list, limit, func(c StoredContract) store.Key { return store.Key{At: c.CreatedAt, ID: c.ID} }), nil
}

// Equipment lists machines: a lessor its own, the operator all, a lessee the
// machines leased to it.
func (s *Store) Equipment(ctx context.Context, p *identity.Principal, first int, after string) (store.Page[Equipment], error) {
	if err := identity.Authorize(p, identity.ActLeasingRead, identity.Scope{EnterpriseID: p.EnterpriseIDOrNil()}); err != nil {
		return store.Page[Equipment]{}, err
	}
	key, err := store.ParseCursor(after)
	if err != nil {
		return store.Page[Equipment]{}, errs.Invalid([]string{"after"}, "invalid cursor")
	}
	var only *uuid.UUID
	if p.Kind != identity.KindPlatform {
		only = &p.EnterpriseID
	}
	limit := store.PageSize(first)
	var at, kid any
	if key != nil {
		at, kid = key.At, key.ID
	}
	rows, err := s.db.Query(ctx, `SELECT `+equipmentColumns+` FROM equipment e
		WHERE ($1::uuid IS NULL OR e.lessor_id = $1 OR EXISTS (SELECT 1 FROM contract_equipment ce JOIN lease_contracts lc ON lc.id = ce.contract_id
			WHERE ce.equipment_id = e.id AND lc.lessee_id = $1))
		  AND ($2::timestamptz IS NULL OR (e.created_at, e.id) > ($2, $3::uuid))
		ORDER BY e.created_at, e.id LIMIT $4`, only, at, kid, limit+1)
	if err != nil {
		return store.Page[Equipment]{}, fmt.Errorf("list equipment: %w", err)
	}
	defer rows.Close()
	var list []Equipment
	for rows.Next() {
		e, err := scanEquipment(rows)
		if err != nil {
			return store.Page[Equipment]{}, err
		}
		list = append(list, *e)
	}
	if err := rows.Err(); err != nil {
		return store.Page[Equipment]{}, err
	}
	return store.NewPage(list, limit, func(e Equipment) store.Key { return store.Key{At: e.CreatedAt, ID: e.ID} }), nil
}

// ContractEquipment lists the machines of a contract the caller has read.
func (s *Store) ContractEquipment(ctx context.Context, contractID uuid.UUID) ([]Equipment, error) {
	rows, err := s.db.Query(ctx, `SELECT `+equipmentColumns+` FROM equipment WHERE id IN (SELECT equipment_id FROM contract_equipment WHERE contract_id = $1) ORDER BY serial`, contractID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Equipment
	for rows.Next() {
		e, err := scanEquipment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	return out, rows.Err()
}

// Invoices lists a contract's invoices, newest number last.
func (s *Store) Invoices(ctx context.Context, contractID uuid.UUID, first int, after string) (store.Page[StoredInvoice], error) {
	key, err := store.ParseCursor(after)
	if err != nil {
		return store.Page[StoredInvoice]{}, errs.Invalid([]string{"after"}, "invalid cursor")
	}
	limit := store.PageSize(first)
	var at, kid any
	if key != nil {
		at, kid = key.At, key.ID
	}
	rows, err := s.db.Query(ctx, `SELECT `+invoiceColumns+` FROM invoices WHERE contract_id = $1
		AND ($2::timestamptz IS NULL OR (issued_at, id) > ($2, $3::uuid)) ORDER BY issued_at, id LIMIT $4`, contractID, at, kid, limit+1)
	if err != nil {
		return store.Page[StoredInvoice]{}, err
	}
	defer rows.Close()
	var list []StoredInvoice
	for rows.Next() {
		inv, err := scanInvoice(rows)
		if err != nil {
			return store.Page[StoredInvoice]{}, err
		}
		list = append(list, *inv)
	}
	if err := rows.Err(); err != nil {
		return store.Page[StoredInvoice]{}, err
	}
	return store.NewPage(list, limit, func(i StoredInvoice) store.Key { return store.Key{At: i.IssuedAt, ID: i.ID} }), nil
}

// Invoice returns an invoice the principal may read (through its contract).
func (s *Store) Invoice(ctx context.Context, p *identity.Principal, id uuid.UUID) (*StoredInvoice, error) {
	inv, err := scanInvoice(s.db.QueryRow(ctx, `SELECT `+invoiceColumns+` FROM invoices WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.Contract(ctx, p, inv.ContractID); err != nil {
		return nil, err
	}
	return inv, nil
}

// LedgerLine is one stored ledger entry.
type LedgerLine struct {
	PostingKey string
	Account    string
	Amount     decimal.Decimal
	Currency   string
	At         time.Time
}

// Ledger lists a contract's ledger entries, oldest first (at most limit).
func (s *Store) Ledger(ctx context.Context, contractID uuid.UUID, limit int) ([]LedgerLine, error) {
	rows, err := s.db.Query(ctx, `SELECT posting_key, account, amount, currency, at FROM ledger_entries WHERE contract_id = $1 ORDER BY id LIMIT $2`, contractID, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[LedgerLine])
}

// UsageSummary is the usage of one meter in one period.
type UsageSummary struct {
	PeriodKey string
	Meter     string
	Events    int
	Quantity  decimal.Decimal
	Unbilled  int
}

// Usage summarizes a contract's usage per period and meter (SUM and COUNT
// meters sum, MAX meters take the maximum), optionally for one period.
func (s *Store) Usage(ctx context.Context, contractID uuid.UUID, periodKey *string) ([]UsageSummary, error) {
	rows, err := s.db.Query(ctx, `SELECT period_key, meter, count(*)::int,
			CASE WHEN meter = 'max_load' THEN max(value) ELSE sum(value) END,
			count(*) FILTER (WHERE invoice_id IS NULL)::int
		FROM usage_events WHERE contract_id = $1 AND ($2::text IS NULL OR period_key = $2) AND voided_at IS NULL
		GROUP BY period_key, meter ORDER BY period_key, meter`, contractID, periodKey)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[UsageSummary])
}

// LeaseEvent is an entry of a lease's timeline.
type LeaseEvent struct {
	Seq     int64
	Type    string
	Message string
	Data    json.RawMessage
	At      time.Time
}

// Timeline lists a lease's events after seq.
func (s *Store) Timeline(ctx context.Context, contractID uuid.UUID, after int64, limit int) ([]LeaseEvent, error) {
	rows, err := s.db.Query(ctx, `SELECT seq, type, message, data, at FROM lease_events WHERE contract_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, contractID, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[LeaseEvent])
}

// EquipmentFor returns a machine its lessor, a lessee it is leased to, or the
// operator may see; others get NOT_FOUND.
func (s *Store) EquipmentFor(ctx context.Context, p *identity.Principal, id uuid.UUID) (*Equipment, error) {
	if p == nil {
		return nil, identity.Authorize(p, identity.ActLeasingRead, identity.Scope{})
	}
	e, err := s.EquipmentByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if identity.Can(p, identity.ActLeasingRead, identity.Scope{EnterpriseID: e.LessorID}) {
		return e, nil
	}
	var leased bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM contract_equipment ce JOIN lease_contracts lc ON lc.id = ce.contract_id
		WHERE ce.equipment_id = $1 AND lc.lessee_id = $2)`, id, p.EnterpriseID).Scan(&leased); err != nil {
		return nil, err
	}
	if leased && identity.Can(p, identity.ActLeasingRead, identity.Scope{EnterpriseID: p.EnterpriseID}) {
		return e, nil
	}
	return nil, errs.ErrNotFound
}

// ActiveContractsOf lists the active leases of a lessee overlapping [from, to).
func (s *Store) ActiveContractsOf(ctx context.Context, lesseeID uuid.UUID, from, to time.Time) ([]StoredContract, error) {
	rows, err := s.db.Query(ctx, `SELECT id FROM lease_contracts WHERE lessee_id = $1 AND status = 'ACTIVE' AND starts_at < $3 AND ends_at > $2 ORDER BY number`,
		lesseeID, from, to)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, err
	}
	out := make([]StoredContract, 0, len(ids))
	for _, id := range ids {
		c, err := s.ContractByID(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, nil
}
