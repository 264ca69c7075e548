package production

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/masscustom/orchestrator/services/cache"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/store"
)

type querier interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}

const orderColumns = `id, order_id, customer_id, factory_id, assign_key, status, quantity, scrap_tolerance, created_at, updated_at`

func scanOrder(row pgx.Row) (*Order, error) {
	var o Order
	err := row.Scan(&o.ID, &o.OrderID, &o.CustomerID, &o.FactoryID, &o.AssignKey, &o.Status, &o.Quantity, &o.ScrapTolerance, &o.CreatedAt, &o.UpdatedAt)
	if err != nil {
		return nil, err
	}
	return &o, nil
}

const stageColumns = `production_order_id, seq, rework_round, code, name, work_centre_kind, minutes_per_unit, planned_minutes, reason, status,
	input_quantity, good_quantity, scrap_quantity, started_at, finished_at`

// attach loads the stages and QA results of the given production orders.
func attach(ctx context.Context, q querier, list []*Order) error {
	if len(list) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(list))
	byID := make(map[uuid.UUID]*Order, len(list))
	for i, o := range list {
		ids[i], byID[o.ID] = o.ID, o
		o.Stages = []Stage{}
	}
	rows, err := q.Query(ctx, `SELECT `+stageColumns+` FROM production_stages WHERE production_order_id = ANY($1) ORDER BY production_order_id, seq, rework_round`, ids)
	if err != nil {
		return fmt.Errorf("production stages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s Stage
		var id uuid.UUID
		if err := rows.Scan(&id, &s.Seq, &s.Round, &s.Code, &s.Name, &s.WorkCentreKind, &s.MinutesPerUnit, &s.PlannedMinutes, &s.Reason, &s.Status,
			&s.InputQuantity, &s.GoodQuantity, &s.ScrapQuantity, &s.StartedAt, &s.FinishedAt); err != nil {
			return fmt.Errorf("production stages: %w", err)
		}
		byID[id].Stages = append(byID[id].Stages, s)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("production stages: %w", err)
	}
	qa, err := q.Query(ctx, `SELECT production_order_id, passed, notes, quantity, recorded_by, at FROM qa_results WHERE production_order_id = ANY($1)`, ids)
	if err != nil {
		return fmt.Errorf("qa results: %w", err)
	}
	defer qa.Close()
	for qa.Next() {
		var r QAResult
		var id uuid.UUID
		if err := qa.Scan(&id, &r.Passed, &r.Notes, &r.Quantity, &r.RecordedBy, &r.At); err != nil {
			return fmt.Errorf("qa results: %w", err)
		}
		byID[id].QA = &r
	}
	return qa.Err()
}

// fetch reads a production order with its stages from Postgres; lock takes the
// row lock that serializes the commands on one production order.
func fetch(ctx context.Context, q querier, id uuid.UUID, lock bool) (*Order, error) {
	sql := `SELECT ` + orderColumns + ` FROM production_orders WHERE id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	o, err := scanOrder(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("production order: %w", err)
	}
	if err := attach(ctx, q, []*Order{o}); err != nil {
		return nil, err
	}
	return o, nil
}

// load reads a production order through the cache, without authorization.
func (s *Service) load(ctx context.Context, id uuid.UUID) (*Order, error) {
	return cache.ReadThrough(ctx, s.cache, cacheKey(id), time.Minute, func(ctx context.Context) (*Order, error) {
		return fetch(ctx, s.db, id, false)
	})
}

// ProductionOrder returns a production order the principal may see; others
// look missing (NOT_FOUND).
func (s *Service) ProductionOrder(ctx context.Context, p *identity.Principal, id uuid.UUID) (*Order, error) {
	if p == nil {
		return nil, unauthenticated()
	}
	o, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if !canRead(p, o) {
		return nil, errs.ErrNotFound
	}
	return o, nil
}

// ForOrder returns the production order of an order, for a principal who may
// see it (the order's customer, the factory, the operator).
func (s *Service) ForOrder(ctx context.Context, p *identity.Principal, orderID uuid.UUID) (*Order, error) {
	return s.ProductionOrder(ctx, p, IDFor(orderID))
}

// ByOrder returns the production order of an order without authorization (for
// the workflow's activities); NOT_FOUND when none was assigned.
func (s *Service) ByOrder(ctx context.Context, orderID uuid.UUID) (*Order, error) {
	return s.load(ctx, IDFor(orderID))
}

// Progress returns the progress of a production order the principal may see.
func (s *Service) Progress(ctx context.Context, p *identity.Principal, id uuid.UUID) (Progress, error) {
	o, err := s.ProductionOrder(ctx, p, id)
	if err != nil {
		return Progress{}, err
	}
	return ComputeProgress(o.Stages), nil
}

// Inbox lists production orders, oldest first: a factory its own, platform
// users all. Other enterprises have no production inbox (FORBIDDEN). status,
// when given, is one of Statuses.
func (s *Service) Inbox(ctx context.Context, p *identity.Principal, status *string, first int, after string) (store.Page[Order], error) {
	if p == nil {
		return store.Page[Order]{}, unauthenticated()
	}
	var only *uuid.UUID
	switch p.Kind {
	case identity.KindPlatform:
	case identity.KindFactory:
		only = &p.EnterpriseID
	default:
		return store.Page[Order]{}, errs.New(errs.Forbidden, nil, "only factories and the operator have a production inbox")
	}
	if status != nil && !slices.Contains(Statuses, *status) {
		return store.Page[Order]{}, errs.Invalid([]string{"status"}, "unknown production status %q", *status)
	}
	key, err := store.ParseCursor(after)
	if err != nil {
		return store.Page[Order]{}, errs.Invalid([]string{"after"}, "invalid cursor")
	}
	limit := store.PageSize(first)
	var at, kid any
	if key != nil {
		at, kid = key.At, key.ID
	}
	rows, err := s.db.Query(ctx, `SELECT `+orderColumns+` FROM production_orders
		WHERE ($1::uuid IS NULL OR factory_id = $1) AND ($2::text IS NULL OR status = $2)
		  AND ($3::timestamptz IS NULL OR (created_at, id) > ($3, $4::uuid))
		ORDER BY created_at, id LIMIT $5`, only, status, at, kid, limit+1)
	if err != nil {
		return store.Page[Order]{}, fmt.Errorf("production inbox: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Order, error) { return scanOrder(r) })
	if err != nil {
		return store.Page[Order]{}, fmt.Errorf("production inbox: %w", err)
	}
	if err := attach(ctx, s.db, list); err != nil {
		return store.Page[Order]{}, err
	}
	out := make([]Order, len(list))
	for i, o := range list {
		out[i] = *o
	}
	return store.NewPage(out, limit, func(o Order) store.Key { return store.Key{At: o.CreatedAt, ID: o.ID} }), nil
}
