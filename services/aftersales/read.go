package aftersales

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/store"
)

type querier interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}

const warrantyColumns = `order_id, customer_id, factory_id, starts_at, ends_at, last_ticket, created_at`

func fetchWarranty(ctx context.Context, q querier, orderID uuid.UUID, lock bool) (*Warranty, error) {
	sql := `SELECT ` + warrantyColumns + ` FROM warranties WHERE order_id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	rows, err := q.Query(ctx, sql, orderID)
	if err != nil {
		return nil, fmt.Errorf("warranty: %w", err)
	}
	w, err := pgx.CollectOneRow(rows, pgx.RowToStructByPos[Warranty])
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("warranty: %w", err)
	}
	return &w, nil
}

// WarrantyOf returns an order's warranty without authorization (for the
// workflow's activities); NOT_FOUND when it has not started.
func (s *Service) WarrantyOf(ctx context.Context, orderID uuid.UUID) (*Warranty, error) {
	return fetchWarranty(ctx, s.db, orderID, false)
}

// Warranty returns an order's warranty for a principal who may see it.
func (s *Service) Warranty(ctx context.Context, p *identity.Principal, orderID uuid.UUID) (*Warranty, error) {
	if p == nil {
		return nil, unauthenticated()
	}
	w, err := s.WarrantyOf(ctx, orderID)
	if err != nil {
		return nil, err
	}
	if !canReadWarranty(p, w) {
		return nil, errs.ErrNotFound
	}
	return w, nil
}

// ticketSelect reads tickets with their warranty's serving factory.
const ticketSelect = `SELECT t.id, t.order_id, t.customer_id, t.number, t.open_key, t.category, t.description, t.status, t.opened_by,
	w.factory_id, t.assignee_enterprise, t.dispatched_by, t.dispatched_at, coalesce(t.resolution, ''), t.resolved_by, t.resolved_at,
	t.created_at, t.updated_at
	FROM service_tickets t JOIN warranties w ON w.order_id = t.order_id`

func collectTickets(rows pgx.Rows, err error) ([]Ticket, error) {
	if err != nil {
		return nil, fmt.Errorf("tickets: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Ticket])
	if err != nil {
		return nil, fmt.Errorf("tickets: %w", err)
	}
	return list, nil
}

func fetchTicket(ctx context.Context, q querier, id uuid.UUID, lock bool) (*Ticket, error) {
	sql := ticketSelect + ` WHERE t.id = $1`
	if lock {
		sql += ` FOR UPDATE OF t`
	}
	list, err := collectTickets(q.Query(ctx, sql, id))
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, errs.ErrNotFound
	}
	return &list[0], nil
}

// Ticket returns a ticket the principal may see; others look missing.
func (s *Service) Ticket(ctx context.Context, p *identity.Principal, id uuid.UUID) (*Ticket, error) {
	if p == nil {
		return nil, unauthenticated()
	}
	t, err := fetchTicket(ctx, s.db, id, false)
	if err != nil {
		return nil, err
	}
	if !canRead(p, t) {
		return nil, errs.ErrNotFound
	}
	return t, nil
}

// OpenTickets lists the order's tickets not yet resolved, by number, without
// authorization (the workflow asks before completing the order).
func (s *Service) OpenTickets(ctx context.Context, orderID uuid.UUID) ([]Ticket, error) {
	return collectTickets(s.db.Query(ctx, ticketSelect+` WHERE t.order_id = $1 AND t.status <> 'RESOLVED' ORDER BY t.number`, orderID))
}

// TicketFilter narrows a list of tickets.
type TicketFilter struct {
	OrderID *uuid.UUID
	Status  *string
}

// Tickets lists the tickets the principal may see, oldest first: platform
// users all, a customer its own, a factory those of the warranties it serves
// and those dispatched to it. Others have none (FORBIDDEN).
func (s *Service) Tickets(ctx context.Context, p *identity.Principal, f TicketFilter, first int, after string) (store.Page[Ticket], error) {
	if p == nil {
		return store.Page[Ticket]{}, unauthenticated()
	}
	var customer, factory *uuid.UUID
	switch p.Kind {
	case identity.KindPlatform:
	case identity.KindCustomer:
		customer = &p.EnterpriseID
	case identity.KindFactory:
		factory = &p.EnterpriseID
	default:
		return store.Page[Ticket]{}, errs.New(errs.Forbidden, nil, "only customers, factories and the operator have service tickets")
	}
	if f.Status != nil && !slices.Contains(Statuses, *f.Status) {
		return store.Page[Ticket]{}, errs.Invalid([]string{"status"}, "unknown ticket status %q", *f.Status)
	}
	key, err := store.ParseCursor(after)
	if err != nil {
		return store.Page[Ticket]{}, errs.Invalid([]string{"after"}, "invalid cursor")
	}
	limit := store.PageSize(first)
	var at, kid any
	if key != nil {
		at, kid = key.At, key.ID
	}
	list, err := collectTickets(s.db.Query(ctx, ticketSelect+`
		WHERE ($1::uuid IS NULL OR t.customer_id = $1) AND ($2::uuid IS NULL OR w.factory_id = $2 OR t.assignee_enterprise = $2)
		  AND ($3::uuid IS NULL OR t.order_id = $3) AND ($4::text IS NULL OR t.status = $4)
		  AND ($5::timestamptz IS NULL OR (t.created_at, t.id) > ($5, $6::uuid))
		ORDER BY t.created_at, t.id LIMIT $7`, customer, factory, f.OrderID, f.Status, at, kid, limit+1))
	if err != nil {
		return store.Page[Ticket]{}, err
	}
	return store.NewPage(list, limit, func(t Ticket) store.Key { return store.Key{At: t.CreatedAt, ID: t.ID} }), nil
}
