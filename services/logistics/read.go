package logistics

import (
	"context"
	"encoding/json"
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

const shipmentColumns = `id, order_id, customer_id, carrier_id, book_key, status, tracking_number, destination, price, currency, lead_days,
	last_seq, last_location, picked_up_at, pod, delivered_at, confirmed_at, auto_confirmed, created_at, updated_at`

func scanShipment(row pgx.Row) (*Shipment, error) {
	var s Shipment
	var dest, pod []byte
	err := row.Scan(&s.ID, &s.OrderID, &s.CustomerID, &s.CarrierID, &s.BookKey, &s.Status, &s.TrackingNumber, &dest, &s.Price, &s.Currency, &s.LeadDays,
		&s.LastSeq, &s.LastLocation, &s.PickedUpAt, &pod, &s.DeliveredAt, &s.ConfirmedAt, &s.AutoConfirmed, &s.CreatedAt, &s.UpdatedAt)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(dest, &s.Destination); err != nil {
		return nil, fmt.Errorf("shipment %s destination: %w", s.ID, err)
	}
	if pod != nil {
		s.POD = &POD{}
		if err := json.Unmarshal(pod, s.POD); err != nil {
			return nil, fmt.Errorf("shipment %s proof of delivery: %w", s.ID, err)
		}
	}
	return &s, nil
}

// fetch reads a shipment from Postgres; lock takes the row lock that
// serializes the commands on one shipment.
func fetch(ctx context.Context, q querier, id uuid.UUID, lock bool) (*Shipment, error) {
	sql := `SELECT ` + shipmentColumns + ` FROM shipments WHERE id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	s, err := scanShipment(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("shipment: %w", err)
	}
	return s, nil
}

// load reads a shipment through the cache, without authorization.
func (s *Service) load(ctx context.Context, id uuid.UUID) (*Shipment, error) {
	return cache.ReadThrough(ctx, s.cache, cacheKey(id), time.Minute, func(ctx context.Context) (*Shipment, error) {
		return fetch(ctx, s.db, id, false)
	})
}

// Shipment returns a shipment the principal may see; others look missing.
func (s *Service) Shipment(ctx context.Context, p *identity.Principal, id uuid.UUID) (*Shipment, error) {
	if p == nil {
		return nil, unauthenticated()
	}
	sh, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if !canRead(p, sh) {
		return nil, errs.ErrNotFound
	}
	return sh, nil
}

// ForOrder returns the shipment of an order for a principal who may see it.
func (s *Service) ForOrder(ctx context.Context, p *identity.Principal, orderID uuid.UUID) (*Shipment, error) {
	return s.Shipment(ctx, p, IDFor(orderID))
}

// ByOrder returns the shipment of an order without authorization (for the
// workflow's activities); NOT_FOUND when none was booked.
func (s *Service) ByOrder(ctx context.Context, orderID uuid.UUID) (*Shipment, error) {
	return s.load(ctx, IDFor(orderID))
}

// Events returns the tracking history of a shipment the principal may see, oldest first.
func (s *Service) Events(ctx context.Context, p *identity.Principal, id uuid.UUID) ([]TrackingEvent, error) {
	if _, err := s.Shipment(ctx, p, id); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT shipment_id, seq, kind, location, note, event_key, actor_id, at FROM tracking_events WHERE shipment_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("tracking events: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[TrackingEvent])
}

// Inbox lists shipments, oldest first: a carrier its own, platform users all.
// Other enterprises have no shipment inbox (FORBIDDEN). status, when given, is
// one of Statuses.
func (s *Service) Inbox(ctx context.Context, p *identity.Principal, status *string, first int, after string) (store.Page[Shipment], error) {
	if p == nil {
		return store.Page[Shipment]{}, unauthenticated()
	}
	var only *uuid.UUID
	switch p.Kind {
	case identity.KindPlatform:
	case identity.KindCarrier:
		only = &p.EnterpriseID
	default:
		return store.Page[Shipment]{}, errs.New(errs.Forbidden, nil, "only carriers and the operator have a shipment inbox")
	}
	if status != nil && !slices.Contains(Statuses, *status) {
		return store.Page[Shipment]{}, errs.Invalid([]string{"status"}, "unknown shipment status %q", *status)
	}
	key, err := store.ParseCursor(after)
	if err != nil {
		return store.Page[Shipment]{}, errs.Invalid([]string{"after"}, "invalid cursor")
	}
	limit := store.PageSize(first)
	var at, kid any
	if key != nil {
		at, kid = key.At, key.ID
	}
	rows, err := s.db.Query(ctx, `SELECT `+shipmentColumns+` FROM shipments
		WHERE ($1::uuid IS NULL OR carrier_id = $1) AND ($2::text IS NULL OR status = $2)
		  AND ($3::timestamptz IS NULL OR (created_at, id) > ($3, $4::uuid))
		ORDER BY created_at, id LIMIT $5`, only, status, at, kid, limit+1)
	if err != nil {
		return store.Page[Shipment]{}, fmt.Errorf("shipment inbox: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Shipment, error) {
		sh, err := scanShipment(r)
		if err != nil {
			return Shipment{}, err
		}
		return *sh, nil
	})
	if err != nil {
		return store.Page[Shipment]{}, fmt.Errorf("shipment inbox: %w", err)
	}
	return store.NewPage(list, limit, func(x Shipment) store.Key { return store.Key{At: x.CreatedAt, ID: x.ID} }), nil
}

// Lanes lists the lanes of a carrier by country: for the carrier itself and
// platform users (others: FORBIDDEN).
func (s *Service) Lanes(ctx context.Context, p *identity.Principal, carrierID uuid.UUID) ([]Lane, error) {
	if p == nil {
		return nil, unauthenticated()
	}
	if p.Kind != identity.KindPlatform && !(p.Kind == identity.KindCarrier && p.EnterpriseID == carrierID) {
		return nil, errs.New(errs.Forbidden, nil, "only the carrier or the operator may read its lanes")
	}
	rows, err := s.db.Query(ctx, `SELECT carrier_id, country, lead_days, price, currency, updated_at FROM carrier_lanes WHERE carrier_id = $1 ORDER BY country`, carrierID)
	if err != nil {
		return nil, fmt.Errorf("lanes: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Lane])
}
