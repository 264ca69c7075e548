package orders

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

	"github.com/masscustom/orchestrator/services/cache"
	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/store"
	input "github.com/masscustom/orchestrator/services/validate"
)

const orderColumns = `id, customer_id, placed_by, idempotency_key, template_id, quote_id, config_version, selections, quantity,
	shipping_address, result, total, currency, status, stage, design_deadline, design_approved_at, last_seq, created_at, updated_at`

func scanOrder(row pgx.Row) (*Order, error) {
	var o Order
	var sel, addr, res []byte
	err := row.Scan(&o.ID, &o.CustomerID, &o.PlacedBy, &o.IdempotencyKey, &o.TemplateID, &o.QuoteID, &o.ConfigVersion, &sel, &o.Quantity,
		&addr, &res, &o.Total, &o.Currency, &o.Status, &o.Stage, &o.DesignDeadline, &o.DesignApprovedAt, &o.LastSeq, &o.CreatedAt, &o.UpdatedAt)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(sel, &o.Selections); err != nil {
		return nil, fmt.Errorf("order %s selections: %w", o.ID, err)
	}
	if err := json.Unmarshal(addr, &o.ShippingAddress); err != nil {
		return nil, fmt.Errorf("order %s address: %w", o.ID, err)
	}
	if err := json.Unmarshal(res, &o.Result); err != nil {
		return nil, fmt.Errorf("order %s result: %w", o.ID, err)
	}
	return &o, nil
}

// load reads an order through the Redis cache, without authorization (for
// activities and for Get after its check). The order's slices and maps are
// shared with other readers: change a copy, never them.
func (s *Service) load(ctx context.Context, id uuid.UUID) (*Order, error) {
	return cache.ReadThroughMemo(ctx, s.cache, s.memo, orderKey(id), 10*time.Minute, func(ctx context.Context) (*Order, error) {
		o, err := scanOrder(s.db.QueryRow(ctx, `SELECT `+orderColumns+` FROM orders WHERE id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, errs.ErrNotFound
		}
		if err != nil {
			return nil, fmt.Errorf("load order: %w", err)
		}
		return o, nil
	})
}

// Get returns an order the principal may read; others' orders look missing.
func (s *Service) Get(ctx context.Context, p *identity.Principal, id uuid.UUID) (*Order, error) {
	if p == nil {
		return nil, identity.Authorize(p, identity.ActOrderRead, identity.Scope{})
	}
	o, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if !identity.Can(p, identity.ActOrderRead, identity.Scope{EnterpriseID: o.CustomerID}) {
		return nil, errs.ErrNotFound
	}
	return o, nil
}

// Authorize checks that p may perform action on the order, which must exist and
// be visible; it returns the order.
func (s *Service) Authorize(ctx context.Context, p *identity.Principal, action identity.Action, id uuid.UUID) (*Order, error) {
	o, err := s.Get(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if err := identity.Authorize(p, action, identity.Scope{EnterpriseID: o.CustomerID}); err != nil {
		return nil, err
	}
	return o, nil
}

// Filter narrows a list of orders.
type Filter struct {
	Status *string
	Stage  *string
}

// List returns the orders the principal may read, oldest first: a customer its
// own, the operator all.
func (s *Service) List(ctx context.Context, p *identity.Principal, f Filter, first int, after string) (store.Page[Order], error) {
	if err := identity.Authorize(p, identity.ActOrderRead, identity.Scope{EnterpriseID: p.EnterpriseIDOrNil()}); err != nil {
		return store.Page[Order]{}, err
	}
	key, err := store.ParseCursor(after)
	if err != nil {
		return store.Page[Order]{}, errs.Invalid([]string{"after"}, "invalid cursor")
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
	rows, err := s.db.Query(ctx, `SELECT `+orderColumns+` FROM orders
		WHERE ($1::uuid IS NULL OR customer_id = $1) AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR stage = $3)
		  AND ($4::timestamptz IS NULL OR (created_at, id) > ($4, $5::uuid))
		ORDER BY created_at, id LIMIT $6`, only, f.Status, f.Stage, at, kid, limit+1)
	if err != nil {
		return store.Page[Order]{}, fmt.Errorf("list orders: %w", err)
	}
	defer rows.Close()
	var list []Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return store.Page[Order]{}, err
		}
		list = append(list, *o)
	}
	if err := rows.Err(); err != nil {
		return store.Page[Order]{}, err
	}
	return store.NewPage(list, limit, func(o Order) store.Key { return store.Key{At: o.CreatedAt, ID: o.ID} }), nil
}

// Events returns the order's timeline after seq (exclusive), up to limit events.
// The caller has already authorized reading the order.
func (s *Service) Events(ctx context.Context, id uuid.UUID, after int64, limit int) ([]Event, error) {
	rows, err := s.db.Query(ctx, `SELECT order_id, seq, event_key, type, stage, status, message, data, actor_id, at
		FROM order_events WHERE order_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, id, after, limit)
	if err != nil {
		return nil, fmt.Errorf("order events: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Event])
}

// Configure prices a configuration of a template for the principal (any
// authenticated user may configure).
func (s *Service) Configure(ctx context.Context, p *identity.Principal, templateID uuid.UUID, sel []catalog.Selection, qty int) (*catalog.Stored, catalog.Result, error) {
	if err := identity.Authorize(p, identity.ActCatalogRead, identity.Scope{}); err != nil {
		return nil, catalog.Result{}, err
	}
	t, err := s.catalog.Get(ctx, templateID)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, catalog.Result{}, errs.New(errs.NotFound, []string{"input", "templateId"}, "no such product template")
	}
	if err != nil {
		return nil, catalog.Result{}, err
	}
	return &t, catalog.Configure(t.Template, sel, qty), nil
}

// violationErrors turns configuration violations into coded input errors.
func violationErrors(v []catalog.Violation) errs.List {
	out := make(errs.List, 0, len(v))
	for _, x := range v {
		path := append([]string{"input"}, x.Path...)
		out = append(out, &errs.Error{Code: errs.InvalidInput, Field: path, Message: x.Code + ": " + x.Message})
	}
	return out
}

// CreateQuote prices a configuration and keeps it for QuoteTTL.
func (s *Service) CreateQuote(ctx context.Context, p *identity.Principal, templateID uuid.UUID, sel []catalog.Selection, qty int) (*Quote, []catalog.Violation, error) {
	if err := identity.Authorize(p, identity.ActOrderPlace, identity.Scope{EnterpriseID: p.EnterpriseIDOrNil()}); err != nil {
		return nil, nil, err
	}
	t, res, err := s.Configure(ctx, p, templateID, sel, qty)
	if err != nil {
		return nil, nil, err
	}
	if !res.Valid {
		return nil, res.Violations, nil
	}
	q := &Quote{ID: uuid.New(), CustomerID: p.EnterpriseID, TemplateID: t.UUID, Selections: res.Resolved, Quantity: qty, Result: res,
		Total: res.Price.Total, Currency: res.Price.Currency, ValidUntil: time.Now().Add(s.QuoteTTL).UTC().Truncate(time.Millisecond)}
	selRaw, _ := json.Marshal(q.Selections)
	resRaw, _ := json.Marshal(res)
	err = s.db.QueryRow(ctx, `INSERT INTO quotes (id, customer_id, template_id, selections, quantity, result, total, currency, valid_until)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) RETURNING created_at`,
		q.ID, q.CustomerID, q.TemplateID, selRaw, q.Quantity, resRaw, q.Total, q.Currency, q.ValidUntil).Scan(&q.CreatedAt)
	if err != nil {
		return nil, nil, fmt.Errorf("create quote: %w", err)
	}
	return q, nil, nil
}

// Quote returns a quote of the principal's enterprise (or any, for the operator).
func (s *Service) Quote(ctx context.Context, p *identity.Principal, id uuid.UUID) (*Quote, error) {
	var q Quote
	var sel, res []byte
	err := s.db.QueryRow(ctx, `SELECT id, customer_id, template_id, selections, quantity, result, total, currency, valid_until, created_at FROM quotes WHERE id = $1`, id).
		Scan(&q.ID, &q.CustomerID, &q.TemplateID, &sel, &q.Quantity, &res, &q.Total, &q.Currency, &q.ValidUntil, &q.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("quote: %w", err)
	}
	if !identity.Can(p, identity.ActOrderRead, identity.Scope{EnterpriseID: q.CustomerID}) {
		return nil, errs.ErrNotFound
	}
	if err := json.Unmarshal(sel, &q.Selections); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(res, &q.Result); err != nil {
		return nil, err
	}
	return &q, nil
}

// PlaceInput is what placeOrder takes: a quote, or a template with selections.
type PlaceInput struct {
	IdempotencyKey  string
	QuoteID         *uuid.UUID
	TemplateID      *uuid.UUID
	Selections      []catalog.Selection
	Quantity        int
	ShippingAddress Address
}

func validateAddress(a Address) errs.List {
	var out errs.List
	check := func(field, v string, required bool, max int) {
		n := utf8.RuneCountInString(strings.TrimSpace(v))
		if e := input.Text([]string{"input", "shippingAddress", field}, v, input.Line); e != nil {
			out = append(out, e)
		} else if required && n == 0 {
			out = append(out, errs.Invalid([]string{"input", "shippingAddress", field}, "%s is required", field))
		} else if n > max {
			out = append(out, errs.Invalid([]string{"input", "shippingAddress", field}, "%s is longer than %d characters", field, max))
		}
	}
	check("recipient", a.Recipient, true, 200)
	check("phone", a.Phone, false, 40)
	check("line1", a.Line1, true, 200)
	check("line2", a.Line2, false, 200)
	check("city", a.City, true, 100)
	check("region", a.Region, false, 100)
	check("postalCode", a.PostalCode, true, 20)
	if len(a.Country) != 2 || strings.ToUpper(a.Country) != a.Country {
		out = append(out, errs.Invalid([]string{"input", "shippingAddress", "country"}, "country must be an ISO 3166 alpha-2 code such as CN"))
	}
	return out
}

// Place records an order for the principal's enterprise, once per idempotency
// key: a repeated or concurrent call with the same key returns the same order
// (created reports whether this call made it). Nothing is written on refusal.
func (s *Service) Place(ctx context.Context, p *identity.Principal, in PlaceInput) (o *Order, created bool, err error) {
	if err := identity.Authorize(p, identity.ActOrderPlace, identity.Scope{EnterpriseID: p.EnterpriseIDOrNil()}); err != nil {
		return nil, false, err
	}
	key := strings.TrimSpace(in.IdempotencyKey)
	if e := input.Text([]string{"input", "idempotencyKey"}, key, input.Key); e != nil {
		return nil, false, e
	}
	if n := len(key); n < 1 || n > 200 {
		return nil, false, errs.Invalid([]string{"input", "idempotencyKey"}, "idempotency key must be 1 to 200 characters")
	}
	id := OrderID(p.EnterpriseID, key)
	if existing, err := s.load(ctx, id); err == nil {
		return existing, false, nil
	} else if !errors.Is(err, errs.ErrNotFound) {
		return nil, false, err
	}
	problems := validateAddress(in.ShippingAddress)
	var templateID uuid.UUID
	var res catalog.Result
	var selections []catalog.Selection
	qty := in.Quantity
	switch {
	case in.QuoteID != nil && in.TemplateID != nil:
		problems = append(problems, errs.Invalid([]string{"input", "quoteId"}, "give a quote or a template with selections, not both"))
	case in.QuoteID != nil:
		q, err := s.Quote(ctx, p, *in.QuoteID)
		if errors.Is(err, errs.ErrNotFound) {
			problems = append(problems, errs.New(errs.NotFound, []string{"input", "quoteId"}, "no such quote"))
			break
		} else if err != nil {
			return nil, false, err
		}
		if q.CustomerID != p.EnterpriseID {
			problems = append(problems, errs.New(errs.Forbidden, []string{"input", "quoteId"}, "the quote belongs to another customer"))
			break
		}
		if !q.ValidUntil.After(time.Now()) {
			problems = append(problems, errs.Invalid([]string{"input", "quoteId"}, "the quote expired at %s; request a new one", q.ValidUntil.Format(time.RFC3339)))
			break
		}
		if qty != 0 && qty != q.Quantity {
			problems = append(problems, errs.Invalid([]string{"input", "quantity"}, "the quote is for %d units, not %d", q.Quantity, qty))
			break
		}
		templateID, res, selections, qty = q.TemplateID, q.Result, q.Selections, q.Quantity
	case in.TemplateID != nil:
		_, r, err := s.Configure(ctx, p, *in.TemplateID, in.Selections, qty)
		if err != nil {
			if e, ok := errs.As(err); ok && e.Code == errs.NotFound {
				problems = append(problems, e)
				break
			}
			return nil, false, err
		}
		if !r.Valid {
			problems = append(problems, violationErrors(r.Violations)...)
			break
		}
		templateID, res, selections = *in.TemplateID, r, r.Resolved
	default:
		problems = append(problems, errs.Invalid([]string{"input", "quoteId"}, "give a quote, or a template with selections"))
	}
	if len(problems) > 0 {
		return nil, false, problems
	}
	selRaw, _ := json.Marshal(selections)
	addrRaw, _ := json.Marshal(in.ShippingAddress)
	resRaw, _ := json.Marshal(res)
	var placedBy *uuid.UUID
	if p.UserID != uuid.Nil {
		placedBy = &p.UserID
	}
	// No conflict target: the id derives from (customer, key), so a racing
	// placement of the same key may trip either unique index first, and both
	// mean the order exists.
	tag, err := s.db.Exec(ctx, `INSERT INTO orders (id, customer_id, placed_by, idempotency_key, template_id, quote_id, selections, quantity,
		shipping_address, result, total, currency, status, stage)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,'ACTIVE','INTERACTION') ON CONFLICT DO NOTHING`,
		id, p.EnterpriseID, placedBy, key, templateID, in.QuoteID, selRaw, qty, addrRaw, resRaw, res.Price.Total, res.Price.Currency)
	if err != nil {
		return nil, false, fmt.Errorf("place order: %w", err)
	}
	o, err = s.load(ctx, id)
	if err != nil {
		return nil, false, err
	}
	return o, tag.RowsAffected() == 1, nil
}
