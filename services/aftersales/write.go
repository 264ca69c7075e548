package aftersales

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

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	input "github.com/masscustom/orchestrator/services/validate"
)

// WarrantyInput starts an order's warranty.
type WarrantyInput struct {
	OrderID uuid.UUID
	// FactoryID is the enterprise that serves the warranty (the factory that
	// built the order), or nil for the platform alone.
	FactoryID *uuid.UUID
	// StartsAt is the delivery time; the warranty ends Duration later.
	StartsAt time.Time
	Duration time.Duration
}

// StartWarranty records an order's warranty from StartsAt for Duration. An
// order has one warranty: when it exists already, StartWarranty returns it
// (created false) whatever the input. The workflow times the end (a durable
// timer until EndsAt) and completes the order then.
func (s *Service) StartWarranty(ctx context.Context, in WarrantyInput) (w *Warranty, created bool, err error) {
	if existing, err := s.WarrantyOf(ctx, in.OrderID); err == nil {
		return existing, false, nil
	} else if !errors.Is(err, errs.ErrNotFound) {
		return nil, false, err
	}
	var problems errs.List
	if in.StartsAt.IsZero() {
		problems = append(problems, errs.Invalid([]string{"input", "startsAt"}, "a warranty starts at delivery"))
	}
	if in.Duration <= 0 {
		problems = append(problems, errs.Invalid([]string{"input", "duration"}, "a warranty lasts a positive duration"))
	}
	if in.FactoryID != nil {
		var k identity.Kind
		err := s.db.QueryRow(ctx, `SELECT kind FROM enterprises WHERE id = $1`, *in.FactoryID).Scan(&k)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && k != identity.KindFactory) {
			problems = append(problems, errs.Invalid([]string{"input", "factoryId"}, "not a factory"))
		} else if err != nil {
			return nil, false, fmt.Errorf("start warranty: %w", err)
		}
	}
	if len(problems) > 0 {
		return nil, false, problems
	}
	var customerID uuid.UUID
	err = s.db.QueryRow(ctx, `SELECT customer_id FROM orders WHERE id = $1`, in.OrderID).Scan(&customerID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, errs.New(errs.NotFound, []string{"input", "orderId"}, "no such order")
	}
	if err != nil {
		return nil, false, fmt.Errorf("start warranty: %w", err)
	}
	start := in.StartsAt.UTC().Truncate(time.Microsecond)
	tag, err := s.db.Exec(ctx, `INSERT INTO warranties (order_id, customer_id, factory_id, starts_at, ends_at) VALUES ($1,$2,$3,$4,$5)
		ON CONFLICT (order_id) DO NOTHING`, in.OrderID, customerID, in.FactoryID, start, start.Add(in.Duration))
	if err != nil {
		return nil, false, fmt.Errorf("start warranty: %w", err)
	}
	w, err = s.WarrantyOf(ctx, in.OrderID)
	return w, tag.RowsAffected() == 1, err
}

// TicketInput opens a service ticket.
type TicketInput struct {
	OrderID uuid.UUID
	// Key is the client's idempotency key: opening again under it returns the
	// same ticket.
	Key         string
	Category    string
	Description string
}

// OpenTicket opens a service ticket on an order during its warranty, numbered
// after the order's earlier tickets. The order's customer opens it (admins and
// members), or platform admins and members on its behalf. Opening again under
// the same key returns the same ticket (created false). Before delivery or
// after the warranty it is refused (ILLEGAL_STATE).
func (s *Service) OpenTicket(ctx context.Context, p *identity.Principal, in TicketInput) (t *Ticket, created bool, err error) {
	if p == nil {
		return nil, false, unauthenticated()
	}
	key, desc := strings.TrimSpace(in.Key), strings.TrimSpace(in.Description)
	var problems errs.List
	if e := input.Text([]string{"input", "key"}, key, input.Key); e != nil {
		problems = append(problems, e)
	} else if n := len(key); n < 1 || n > 200 {
		problems = append(problems, errs.Invalid([]string{"input", "key"}, "key must be 1 to 200 characters"))
	}
	if !slices.Contains(Categories, in.Category) {
		problems = append(problems, errs.Invalid([]string{"input", "category"}, "category is one of %s", strings.Join(Categories, ", ")))
	}
	if e := input.Text([]string{"input", "description"}, desc, input.Note); e != nil {
		problems = append(problems, e)
	} else if n := utf8.RuneCountInString(desc); n < 1 || n > MaxText {
		problems = append(problems, errs.Invalid([]string{"input", "description"}, "description must be 1 to %d characters", MaxText))
	}
	if len(problems) > 0 {
		return nil, false, problems
	}
	id := TicketID(in.OrderID, key)
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		w, err := fetchWarranty(ctx, tx, in.OrderID, true)
		if errors.Is(err, errs.ErrNotFound) {
			return s.noWarranty(ctx, tx, p, in.OrderID)
		}
		if err != nil {
			return err
		}
		if p.Kind != identity.KindPlatform && !(p.Kind == identity.KindCustomer && p.EnterpriseID == w.CustomerID) {
			if canReadWarranty(p, w) {
				return errs.New(errs.Forbidden, nil, "only the order's customer (or the operator) opens service tickets")
			}
			return errs.ErrNotFound
		}
		if !isActor(p) {
			return errs.New(errs.Forbidden, nil, "only admins and members open service tickets")
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM service_tickets WHERE id = $1)`, id).Scan(&exists); err != nil || exists {
			return err // a repeated open
		}
		if now := s.now(); !w.Covers(now) {
			if now.Before(w.StartsAt) {
				return errs.New(errs.IllegalState, []string{"input", "orderId"}, "the warranty starts at %s", w.StartsAt.Format(time.RFC3339))
			}
			return errs.New(errs.IllegalState, []string{"input", "orderId"}, "the warranty ended at %s", w.EndsAt.Format(time.RFC3339))
		}
		var number int
		if err := tx.QueryRow(ctx, `UPDATE warranties SET last_ticket = last_ticket + 1 WHERE order_id = $1 RETURNING last_ticket`, in.OrderID).Scan(&number); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO service_tickets (id, order_id, customer_id, number, open_key, category, description, status, opened_by)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`, id, in.OrderID, w.CustomerID, number, key, in.Category, desc, StatusOpen, identity.ActorID(p)); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil {
		if _, ok := errs.As(err); ok {
			return nil, false, err
		}
		return nil, false, fmt.Errorf("open ticket: %w", err)
	}
	t, err = fetchTicket(ctx, s.db, id, false)
	return t, created, err
}

// noWarranty explains why an order without a warranty takes no ticket: to its
// customer and the operator, it is not delivered yet; to others, it does not exist.
func (s *Service) noWarranty(ctx context.Context, tx pgx.Tx, p *identity.Principal, orderID uuid.UUID) error {
	var customerID uuid.UUID
	err := tx.QueryRow(ctx, `SELECT customer_id FROM orders WHERE id = $1`, orderID).Scan(&customerID)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && p.Kind != identity.KindPlatform && p.EnterpriseID != customerID) {
		return errs.ErrNotFound
	}
	if err != nil {
		return err
	}
	return errs.New(errs.IllegalState, []string{"input", "orderId"}, "the warranty starts at delivery; the order is not delivered yet")
}

// ticketCommand runs fn on the ticket locked for update in one transaction,
// after checking that p may see it (else NOT_FOUND). It returns the ticket as
// committed.
func (s *Service) ticketCommand(ctx context.Context, p *identity.Principal, id uuid.UUID, fn func(tx pgx.Tx, t *Ticket) error) (*Ticket, error) {
	if p == nil {
		return nil, unauthenticated()
	}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		t, err := fetchTicket(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if !canRead(p, t) {
			return errs.ErrNotFound
		}
		return fn(tx, t)
	})
	if err != nil {
		if _, ok := errs.As(err); ok {
			return nil, err
		}
		return nil, fmt.Errorf("ticket %s: %w", id, err)
	}
	return fetchTicket(ctx, s.db, id, false)
}

// Dispatch assigns a ticket to the enterprise that will handle it. Only
// platform admins and members dispatch (to any factory or to the platform,
// and may re-dispatch): the platform decides who serves its customers, so a
// factory neither takes a ticket itself nor hands it on. Dispatching again to
// the same assignee changes nothing; a resolved ticket is refused
// (ILLEGAL_STATE).
func (s *Service) Dispatch(ctx context.Context, p *identity.Principal, ticketID, assignee uuid.UUID) (*Ticket, error) {
	return s.ticketCommand(ctx, p, ticketID, func(tx pgx.Tx, t *Ticket) error {
		if p.Kind != identity.KindPlatform || !isActor(p) {
			return errs.New(errs.Forbidden, nil, "only the operator dispatches service tickets")
		}
		if same(t.AssigneeEnterprise, assignee) && t.Status == StatusDispatched {
			return nil // a repeated dispatch
		}
		if t.Status == StatusResolved {
			return errs.New(errs.IllegalState, nil, "ticket %d is resolved", t.Number)
		}
		var k identity.Kind
		err := tx.QueryRow(ctx, `SELECT kind FROM enterprises WHERE id = $1`, assignee).Scan(&k)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && k != identity.KindFactory && k != identity.KindPlatform) {
			return errs.Invalid([]string{"input", "assignee"}, "tickets are dispatched to a factory or to the platform")
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE service_tickets SET status = $2, assignee_enterprise = $3, dispatched_by = $4, dispatched_at = now(), updated_at = now()
			WHERE id = $1`, t.ID, StatusDispatched, assignee, identity.ActorID(p))
		return err
	})
}

// Resolve closes a ticket with its resolution: platform admins and members
// (an open or dispatched ticket), or the assignee's admins and members (a
// ticket dispatched to it). Resolving again with the same resolution changes
// nothing; with another it is refused (ILLEGAL_STATE).
func (s *Service) Resolve(ctx context.Context, p *identity.Principal, ticketID uuid.UUID, resolution string) (*Ticket, error) {
	resolution = strings.TrimSpace(resolution)
	if e := input.Text([]string{"input", "resolution"}, resolution, input.Note); e != nil {
		return nil, e
	}
	if n := utf8.RuneCountInString(resolution); n < 1 || n > MaxText {
		return nil, errs.Invalid([]string{"input", "resolution"}, "resolution must be 1 to %d characters", MaxText)
	}
	return s.ticketCommand(ctx, p, ticketID, func(tx pgx.Tx, t *Ticket) error {
		operator := p.Kind == identity.KindPlatform && isActor(p)
		assignee := p.Kind != identity.KindPlatform && isActor(p) && same(t.AssigneeEnterprise, p.EnterpriseID)
		if !operator && !assignee {
			return errs.New(errs.Forbidden, nil, "only the operator or the ticket's assignee resolves it")
		}
		if t.Status == StatusResolved {
			if t.Resolution == resolution {
				return nil // a repeated resolution
			}
			return errs.New(errs.IllegalState, []string{"input", "resolution"}, "ticket %d is already resolved", t.Number)
		}
		_, err := tx.Exec(ctx, `UPDATE service_tickets SET status = $2, resolution = $3, resolved_by = $4, resolved_at = now(), updated_at = now() WHERE id = $1`,
			t.ID, StatusResolved, resolution, identity.ActorID(p))
		return err
	})
}
