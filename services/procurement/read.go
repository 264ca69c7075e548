package procurement

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

// taskTTL is how long a task stays cached. Every write drops it; the short
// TTL bounds how long a read racing a write can leave a stale copy behind.
const taskTTL = 2 * time.Minute

// TaskByID returns a task without authorization (for activities, and for
// Task after its check), through the cache.
func (s *Service) TaskByID(ctx context.Context, id uuid.UUID) (*Task, error) {
	return cache.ReadThrough(ctx, s.cache, taskKey(id), taskTTL, func(ctx context.Context) (*Task, error) {
		t, err := scanTask(s.db.QueryRow(ctx, `SELECT `+taskColumns+taskFrom+` WHERE t.id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, errs.ErrNotFound
		}
		if err != nil {
			return nil, fmt.Errorf("procurement task: %w", err)
		}
		return t, nil
	})
}

// CanRead reports whether p may read task t: the operator reads every task,
// a supplier the tasks offered to it, the customer the tasks of its orders
// (through the order-read rule). Factories do not read tasks yet: they will
// once production assigns them to an order.
func CanRead(p *identity.Principal, t *Task) bool {
	switch {
	case p == nil:
		return false
	case p.Kind == identity.KindPlatform:
		return true
	case p.Kind == identity.KindSupplier:
		return p.EnterpriseID == t.SupplierID
	case p.Kind == identity.KindCustomer:
		return identity.Can(p, identity.ActOrderRead, identity.Scope{EnterpriseID: t.CustomerID})
	}
	return false
}

// Task returns a task the principal may read (see CanRead); another's task
// looks missing, so that ids reveal nothing.
func (s *Service) Task(ctx context.Context, p *identity.Principal, id uuid.UUID) (*Task, error) {
	if p == nil {
		return nil, errs.New(errs.Unauthenticated, nil, "a bearer token is required")
	}
	t, err := s.TaskByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if !CanRead(p, t) {
		return nil, errs.ErrNotFound
	}
	return t, nil
}

// Inbox lists procurement tasks oldest first, optionally of one status: a
// supplier's users see the tasks offered to their enterprise, the operator
// every task. Others have no inbox.
func (s *Service) Inbox(ctx context.Context, p *identity.Principal, status *Status, first int, after string) (store.Page[Task], error) {
	var only *uuid.UUID
	switch {
	case p == nil:
		return store.Page[Task]{}, errs.New(errs.Unauthenticated, nil, "a bearer token is required")
	case p.Kind == identity.KindPlatform:
	case p.Kind == identity.KindSupplier:
		only = &p.EnterpriseID
	default:
		return store.Page[Task]{}, errs.New(errs.Forbidden, nil, "only suppliers and the operator have a procurement inbox")
	}
	if status != nil && !slices.Contains(Statuses, *status) {
		return store.Page[Task]{}, errs.Invalid([]string{"status"}, "unknown task status %q", *status)
	}
	key, err := store.ParseCursor(after)
	if err != nil {
		return store.Page[Task]{}, errs.Invalid([]string{"after"}, "invalid cursor")
	}
	limit := store.PageSize(first)
	var at, kid any
	if key != nil {
		at, kid = key.At, key.ID
	}
	rows, err := s.db.Query(ctx, `SELECT `+taskColumns+taskFrom+`
		WHERE ($1::uuid IS NULL OR t.supplier_id = $1) AND ($2::text IS NULL OR t.status = $2)
		  AND ($3::timestamptz IS NULL OR (t.created_at, t.id) > ($3, $4::uuid))
		ORDER BY t.created_at, t.id LIMIT $5`, only, status, at, kid, limit+1)
	if err != nil {
		return store.Page[Task]{}, fmt.Errorf("procurement inbox: %w", err)
	}
	list, err := collectTasks(rows)
	if err != nil {
		return store.Page[Task]{}, fmt.Errorf("procurement inbox: %w", err)
	}
	return store.NewPage(list, limit, func(t Task) store.Key { return store.Key{At: t.CreatedAt, ID: t.ID} }), nil
}

// OrderTasks lists an order's tasks by line and attempt. The caller has
// already authorized reading the order (and decides which fields it shows).
func (s *Service) OrderTasks(ctx context.Context, orderID uuid.UUID) ([]Task, error) {
	rows, err := s.db.Query(ctx, `SELECT `+taskColumns+taskFrom+` WHERE t.order_id = $1 ORDER BY t.line, t.attempt`, orderID)
	if err != nil {
		return nil, fmt.Errorf("order procurement tasks: %w", err)
	}
	list, err := collectTasks(rows)
	if err != nil {
		return nil, fmt.Errorf("order procurement tasks: %w", err)
	}
	return list, nil
}

func collectTasks(rows pgx.Rows) ([]Task, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Task, error) {
		t, err := scanTask(r)
		if err != nil {
			return Task{}, err
		}
		return *t, nil
	})
}
