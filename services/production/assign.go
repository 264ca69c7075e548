package production

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
)

// MaxMinutesPerDay bounds a declared capacity (a thousand machines around the clock).
const MaxMinutesPerDay = 1_440_000

// Capability is a work-centre kind a factory runs, with its daily capacity.
type Capability struct {
	FactoryID      uuid.UUID              `json:"factoryId"`
	WorkCentreKind catalog.WorkCentreKind `json:"workCentreKind"`
	MinutesPerDay  int                    `json:"minutesPerDay"`
	UpdatedAt      time.Time              `json:"updatedAt"`
}

// canManage: a factory's admins for their own factory, platform admins for any.
func canManage(p *identity.Principal, factoryID uuid.UUID) bool {
	if p.Role != identity.RoleAdmin {
		return false
	}
	return p.Kind == identity.KindPlatform || (p.Kind == identity.KindFactory && p.EnterpriseID == factoryID)
}

// SetCapability declares that a factory runs a work-centre kind with
// minutesPerDay of capacity (0 withdraws the kind, and returns nil). Setting
// the same value again changes nothing. A factory's admins set their own
// factory's, platform admins any factory's.
func (s *Service) SetCapability(ctx context.Context, p *identity.Principal, factoryID uuid.UUID, kind catalog.WorkCentreKind, minutesPerDay int) (*Capability, error) {
	if p == nil {
		return nil, unauthenticated()
	}
	if !canManage(p, factoryID) {
		return nil, errs.New(errs.Forbidden, nil, "only the factory's admins or the operator may declare its capabilities")
	}
	var problems errs.List
	var k identity.Kind
	err := s.db.QueryRow(ctx, `SELECT kind FROM enterprises WHERE id = $1`, factoryID).Scan(&k)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && k != identity.KindFactory) {
		problems = append(problems, errs.Invalid([]string{"input", "factoryId"}, "not a factory"))
	} else if err != nil {
		return nil, fmt.Errorf("set capability: %w", err)
	}
	if !workCentreKinds[kind] {
		problems = append(problems, errs.Invalid([]string{"input", "workCentreKind"}, "unknown work-centre kind %q", kind))
	}
	if minutesPerDay < 0 || minutesPerDay > MaxMinutesPerDay {
		problems = append(problems, errs.Invalid([]string{"input", "minutesPerDay"}, "minutes per day must be 0 to %d", MaxMinutesPerDay))
	}
	if len(problems) > 0 {
		return nil, problems
	}
	if minutesPerDay == 0 {
		if _, err := s.db.Exec(ctx, `DELETE FROM factory_capabilities WHERE factory_id = $1 AND work_centre_kind = $2`, factoryID, kind); err != nil {
			return nil, fmt.Errorf("set capability: %w", err)
		}
		return nil, nil
	}
	c := &Capability{FactoryID: factoryID, WorkCentreKind: kind, MinutesPerDay: minutesPerDay}
	err = s.db.QueryRow(ctx, `INSERT INTO factory_capabilities (factory_id, work_centre_kind, minutes_per_day) VALUES ($1,$2,$3)
		ON CONFLICT (factory_id, work_centre_kind) DO UPDATE SET minutes_per_day = EXCLUDED.minutes_per_day,
		    updated_at = CASE WHEN factory_capabilities.minutes_per_day = EXCLUDED.minutes_per_day THEN factory_capabilities.updated_at ELSE now() END
		RETURNING updated_at`, factoryID, kind, minutesPerDay).Scan(&c.UpdatedAt)
	if err != nil {
		return nil, fmt.Errorf("set capability: %w", err)
	}
	return c, nil
}

// Capabilities lists a factory's capabilities by kind: for the factory itself
// and platform users (others: FORBIDDEN).
func (s *Service) Capabilities(ctx context.Context, p *identity.Principal, factoryID uuid.UUID) ([]Capability, error) {
	if p == nil {
		return nil, unauthenticated()
	}
	if p.Kind != identity.KindPlatform && !(p.Kind == identity.KindFactory && p.EnterpriseID == factoryID) {
		return nil, errs.New(errs.Forbidden, nil, "only the factory or the operator may read its capabilities")
	}
	rows, err := s.db.Query(ctx, `SELECT factory_id, work_centre_kind, minutes_per_day, updated_at FROM factory_capabilities
		WHERE factory_id = $1 ORDER BY work_centre_kind`, factoryID)
	if err != nil {
		return nil, fmt.Errorf("capabilities: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Capability])
}

// AssignInput is what the order workflow assigns to production.
type AssignInput struct {
	OrderID uuid.UUID
	// Key is the activity's idempotency key, kept for the record; the
	// production order itself is named by the order (one per order).
	Key            string
	Quantity       int
	Stages         []catalog.Stage // the routing; TotalMinutes is ignored (MinutesPerUnit × Quantity is planned)
	ScrapTolerance decimal.Decimal
	// PreferredFactory, when set, is used if it runs every kind of the routing,
	// whatever its load; otherwise Assign refuses (INVALID_INPUT).
	PreferredFactory *uuid.UUID
	// Candidates, when not empty, limits the choice to these factories (an
	// operator's or a customer's approved list).
	Candidates []uuid.UUID
}

func validateAssign(in AssignInput) errs.List {
	var out errs.List
	if n := len(strings.TrimSpace(in.Key)); n < 1 || n > 200 {
		out = append(out, errs.Invalid([]string{"input", "key"}, "key must be 1 to 200 characters"))
	}
	if in.Quantity < 1 {
		out = append(out, errs.Invalid([]string{"input", "quantity"}, "quantity must be at least 1"))
	}
	if in.ScrapTolerance.IsNegative() || in.ScrapTolerance.GreaterThanOrEqual(decimal.NewFromInt(1)) {
		out = append(out, errs.Invalid([]string{"input", "scrapTolerance"}, "scrap tolerance is a fraction from 0 to below 1"))
	}
	if len(in.Stages) == 0 || len(in.Stages) > 100 {
		out = append(out, errs.Invalid([]string{"input", "stages"}, "a routing has 1 to 100 stages"))
	}
	seen := map[int]bool{}
	for i, st := range in.Stages {
		path := func(f string) []string { return []string{"input", "stages", fmt.Sprint(i), f} }
		if seen[st.Seq] {
			out = append(out, errs.Invalid(path("seq"), "stage seq %d appears twice", st.Seq))
		}
		seen[st.Seq] = true
		if n := utf8.RuneCountInString(st.Code); n < 1 || n > 100 {
			out = append(out, errs.Invalid(path("code"), "code must be 1 to 100 characters"))
		}
		if n := utf8.RuneCountInString(st.Name); n < 1 || n > 200 {
			out = append(out, errs.Invalid(path("name"), "name must be 1 to 200 characters"))
		}
		if !workCentreKinds[st.WorkCentreKind] {
			out = append(out, errs.Invalid(path("workCentreKind"), "unknown work-centre kind %q", st.WorkCentreKind))
		}
		if st.MinutesPerUnit.IsNegative() {
			out = append(out, errs.Invalid(path("minutesPerUnit"), "minutes must not be negative"))
		}
	}
	return out
}

// Assign creates the production order of an order: it picks a factory that
// runs every work-centre kind of the routing, the one with the most headroom
// (see Choose), and stores the stages as round 0 of each, PENDING. An order
// has one production order: when it exists already, Assign returns it
// (created false) whatever the input. Refusals change nothing: INVALID_INPUT
// for a bad input, NOT_FOUND for an unknown order, ILLEGAL_STATE when no
// factory can build the routing (the workflow waits and retries or escalates).
func (s *Service) Assign(ctx context.Context, in AssignInput) (o *Order, created bool, err error) {
	id := IDFor(in.OrderID)
	if existing, err := s.load(ctx, id); err == nil {
		return existing, false, nil
	} else if !errors.Is(err, errs.ErrNotFound) {
		return nil, false, err
	}
	if problems := validateAssign(in); len(problems) > 0 {
		return nil, false, problems
	}
	stages := slices.Clone(in.Stages)
	slices.SortFunc(stages, func(a, b catalog.Stage) int { return a.Seq - b.Seq })
	need := Need(stages, in.Quantity)
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		// Assignments read and add load: one at a time, so two orders do not
		// both take the last free capacity of a factory.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('production:assign'))`); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM production_orders WHERE id = $1)`, id).Scan(&exists); err != nil || exists {
			return err
		}
		var customerID uuid.UUID
		err := tx.QueryRow(ctx, `SELECT customer_id FROM orders WHERE id = $1`, in.OrderID).Scan(&customerID)
		if errors.Is(err, pgx.ErrNoRows) {
			return errs.New(errs.NotFound, []string{"input", "orderId"}, "no such order")
		}
		if err != nil {
			return err
		}
		factory, err := s.pick(ctx, tx, in, need)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO production_orders (id, order_id, customer_id, factory_id, assign_key, status, quantity, scrap_tolerance)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`, id, in.OrderID, customerID, factory, strings.TrimSpace(in.Key), StatusAssigned, in.Quantity, in.ScrapTolerance); err != nil {
			return err
		}
		q := decimal.NewFromInt(int64(in.Quantity))
		for i, st := range stages {
			var input *int
			if i == 0 {
				input = &in.Quantity
			}
			if _, err := tx.Exec(ctx, `INSERT INTO production_stages (production_order_id, seq, rework_round, code, name, work_centre_kind,
				minutes_per_unit, planned_minutes, reason, status, input_quantity) VALUES ($1,$2,0,$3,$4,$5,$6,$7,$8,$9,$10)`,
				id, st.Seq, st.Code, st.Name, st.WorkCentreKind, st.MinutesPerUnit, st.MinutesPerUnit.Mul(q), ReasonPlan, StagePending, input); err != nil {
				return err
			}
		}
		created = true
		return nil
	})
	if err != nil {
		if _, ok := errs.As(err); ok {
			return nil, false, err
		}
		return nil, false, fmt.Errorf("assign production: %w", err)
	}
	o, err = s.load(ctx, id)
	return o, created, err
}

// pick chooses the factory for the routing under the assignment lock.
func (s *Service) pick(ctx context.Context, tx pgx.Tx, in AssignInput, need map[catalog.WorkCentreKind]decimal.Decimal) (uuid.UUID, error) {
	kinds := make([]string, 0, len(need))
	for _, k := range sortedKinds(need) {
		kinds = append(kinds, string(k))
	}
	only := in.Candidates
	if in.PreferredFactory != nil {
		only = []uuid.UUID{*in.PreferredFactory}
	}
	if len(only) == 0 {
		only = nil
	}
	rows, err := tx.Query(ctx, `
		SELECT c.factory_id, c.work_centre_kind, c.minutes_per_day, coalesce(l.load, 0)
		FROM factory_capabilities c
		JOIN enterprises e ON e.id = c.factory_id AND e.kind = 'FACTORY'
		LEFT JOIN (
			SELECT o.factory_id, s.work_centre_kind, sum(s.planned_minutes) AS load
			FROM production_orders o JOIN production_stages s ON s.production_order_id = o.id
			WHERE o.status IN ('ASSIGNED','IN_PROGRESS') AND s.status <> 'DONE' AND s.work_centre_kind = ANY($1)
			GROUP BY 1, 2) l ON l.factory_id = c.factory_id AND l.work_centre_kind = c.work_centre_kind
		WHERE c.work_centre_kind = ANY($1) AND ($2::uuid[] IS NULL OR c.factory_id = ANY($2))`, kinds, only)
	if err != nil {
		return uuid.Nil, err
	}
	byFactory := map[uuid.UUID]*Candidate{}
	var cands []*Candidate
	for rows.Next() {
		var id uuid.UUID
		var kind catalog.WorkCentreKind
		var capacity int
		var load decimal.Decimal
		if err := rows.Scan(&id, &kind, &capacity, &load); err != nil {
			rows.Close()
			return uuid.Nil, err
		}
		c := byFactory[id]
		if c == nil {
			c = &Candidate{FactoryID: id, Capacity: map[catalog.WorkCentreKind]decimal.Decimal{}, Load: map[catalog.WorkCentreKind]decimal.Decimal{}}
			byFactory[id] = c
			cands = append(cands, c)
		}
		c.Capacity[kind], c.Load[kind] = decimal.NewFromInt(int64(capacity)), load
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return uuid.Nil, err
	}
	list := make([]Candidate, len(cands))
	for i, c := range cands {
		list[i] = *c
	}
	id, _, ok := Choose(list, need)
	if ok {
		return id, nil
	}
	if in.PreferredFactory != nil {
		return uuid.Nil, errs.Invalid([]string{"input", "preferredFactory"}, "the preferred factory does not run every work centre of the routing (%s)", strings.Join(kinds, ", "))
	}
	return uuid.Nil, errs.New(errs.IllegalState, []string{"input", "stages"}, "no factory runs every work centre of the routing (%s)", strings.Join(kinds, ", "))
}
