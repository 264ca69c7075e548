package logistics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/genealogy"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/orders"
	input "github.com/masscustom/orchestrator/services/validate"
)

var (
	countryRe  = regexp.MustCompile(`^[A-Z]{2}$`)
	currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)
)

// MaxLeadDays bounds a lane's lead time.
const MaxLeadDays = 365

// SetLane declares (or updates) the lane of a carrier to a country. A carrier's
// admins set their own lanes, platform admins any carrier's.
func (s *Service) SetLane(ctx context.Context, p *identity.Principal, l Lane) (*Lane, error) {
	if p == nil {
		return nil, unauthenticated()
	}
	if p.Role != identity.RoleAdmin || (p.Kind != identity.KindPlatform && !(p.Kind == identity.KindCarrier && p.EnterpriseID == l.CarrierID)) {
		return nil, errs.New(errs.Forbidden, nil, "only the carrier's admins or the operator may declare its lanes")
	}
	var problems errs.List
	var k identity.Kind
	err := s.db.QueryRow(ctx, `SELECT kind FROM enterprises WHERE id = $1`, l.CarrierID).Scan(&k)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && k != identity.KindCarrier) {
		problems = append(problems, errs.Invalid([]string{"input", "carrierId"}, "not a carrier"))
	} else if err != nil {
		return nil, fmt.Errorf("set lane: %w", err)
	}
	if !countryRe.MatchString(l.Country) {
		problems = append(problems, errs.Invalid([]string{"input", "country"}, "country must be an ISO 3166 alpha-2 code such as CN"))
	}
	if l.LeadDays < 0 || l.LeadDays > MaxLeadDays {
		problems = append(problems, errs.Invalid([]string{"input", "leadDays"}, "lead days must be 0 to %d", MaxLeadDays))
	}
	if e := input.Amount([]string{"input", "price"}, l.Price, l.Currency, input.NonNegative); e != nil {
		problems = append(problems, e)
	}
	if !currencyRe.MatchString(l.Currency) {
		problems = append(problems, errs.Invalid([]string{"input", "currency"}, "currency must be an ISO 4217 code such as CNY"))
	}
	if len(problems) > 0 {
		return nil, problems
	}
	out := l
	err = s.db.QueryRow(ctx, `INSERT INTO carrier_lanes (carrier_id, country, lead_days, price, currency) VALUES ($1,$2,$3,$4,$5)
		ON CONFLICT (carrier_id, country) DO UPDATE SET lead_days = EXCLUDED.lead_days, price = EXCLUDED.price, currency = EXCLUDED.currency, updated_at = now()
		RETURNING updated_at`, l.CarrierID, l.Country, l.LeadDays, l.Price, l.Currency).Scan(&out.UpdatedAt)
	if err != nil {
		return nil, fmt.Errorf("set lane: %w", err)
	}
	return &out, nil
}

// RemoveLane withdraws a carrier's lane to a country (booked shipments keep
// their terms). Removing a lane that does not exist changes nothing.
func (s *Service) RemoveLane(ctx context.Context, p *identity.Principal, carrierID uuid.UUID, country string) error {
	if p == nil {
		return unauthenticated()
	}
	if p.Role != identity.RoleAdmin || (p.Kind != identity.KindPlatform && !(p.Kind == identity.KindCarrier && p.EnterpriseID == carrierID)) {
		return errs.New(errs.Forbidden, nil, "only the carrier's admins or the operator may withdraw its lanes")
	}
	if _, err := s.db.Exec(ctx, `DELETE FROM carrier_lanes WHERE carrier_id = $1 AND country = $2`, carrierID, country); err != nil {
		return fmt.Errorf("remove lane: %w", err)
	}
	return nil
}

// BookInput is what the order workflow books.
type BookInput struct {
	OrderID uuid.UUID
	// Key is the activity's idempotency key, kept for the record; the shipment
	// itself is named by the order (one per order).
	Key         string
	Destination orders.Address
	// Currency is the currency the order is settled in: only lanes priced in it
	// are considered (there is no conversion).
	Currency string
	// PreferredCarrier, when set, is used if it serves the destination in the
	// currency; otherwise Book refuses (INVALID_INPUT).
	PreferredCarrier *uuid.UUID
	// Candidates, when not empty, limits the choice to these carriers.
	Candidates []uuid.UUID
}

// Book books the shipment of an order with the carrier serving the
// destination's country that is cheapest, then fastest (ChooseLane), at the
// lane's price and lead time. An order has one shipment: when it exists
// already, Book returns it (created false) whatever the input. Refusals change
// nothing: INVALID_INPUT, NOT_FOUND for an unknown order, ILLEGAL_STATE when no
// carrier serves the destination.
func (s *Service) Book(ctx context.Context, in BookInput) (sh *Shipment, created bool, err error) {
	id := IDFor(in.OrderID)
	if existing, err := s.load(ctx, id); err == nil {
		return existing, false, nil
	} else if !errors.Is(err, errs.ErrNotFound) {
		return nil, false, err
	}
	var problems errs.List
	key := strings.TrimSpace(in.Key)
	if n := len(key); n < 1 || n > 200 {
		problems = append(problems, errs.Invalid([]string{"input", "key"}, "key must be 1 to 200 characters"))
	}
	if !countryRe.MatchString(in.Destination.Country) {
		problems = append(problems, errs.Invalid([]string{"input", "destination", "country"}, "country must be an ISO 3166 alpha-2 code such as CN"))
	}
	if !currencyRe.MatchString(in.Currency) {
		problems = append(problems, errs.Invalid([]string{"input", "currency"}, "currency must be an ISO 4217 code such as CNY"))
	}
	if len(problems) > 0 {
		return nil, false, problems
	}
	dest, err := json.Marshal(in.Destination)
	if err != nil {
		return nil, false, err
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var customerID uuid.UUID
		err := tx.QueryRow(ctx, `SELECT customer_id FROM orders WHERE id = $1`, in.OrderID).Scan(&customerID)
		if errors.Is(err, pgx.ErrNoRows) {
			return errs.New(errs.NotFound, []string{"input", "orderId"}, "no such order")
		}
		if err != nil {
			return err
		}
		only := in.Candidates
		if in.PreferredCarrier != nil {
			only = []uuid.UUID{*in.PreferredCarrier}
		}
		if len(only) == 0 {
			only = nil
		}
		rows, err := tx.Query(ctx, `SELECT l.carrier_id, l.country, l.lead_days, l.price, l.currency, l.updated_at FROM carrier_lanes l
			JOIN enterprises e ON e.id = l.carrier_id AND e.kind = 'CARRIER'
			WHERE l.country = $1 AND l.currency = $2 AND ($3::uuid[] IS NULL OR l.carrier_id = ANY($3))`, in.Destination.Country, in.Currency, only)
		if err != nil {
			return err
		}
		lanes, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Lane])
		if err != nil {
			return err
		}
		lane, ok := ChooseLane(lanes)
		if !ok && in.PreferredCarrier != nil {
			return errs.Invalid([]string{"input", "preferredCarrier"}, "the preferred carrier does not serve %s in %s", in.Destination.Country, in.Currency)
		}
		if !ok {
			return errs.New(errs.IllegalState, []string{"input", "destination", "country"}, "no carrier serves %s in %s", in.Destination.Country, in.Currency)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO shipments (id, order_id, customer_id, carrier_id, book_key, status, tracking_number, destination, country, price, currency, lead_days, last_seq)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,1) ON CONFLICT DO NOTHING`,
			id, in.OrderID, customerID, lane.CarrierID, key, StatusBooked, TrackingNumber(id), dest, lane.Country, lane.Price, lane.Currency, lane.LeadDays)
		if err != nil || tag.RowsAffected() == 0 {
			// A concurrent Book made it. No conflict target: the racing insert
			// may trip the order_id index before the id one, and both mean the same.
			return err
		}
		created = true
		if _, err = tx.Exec(ctx, `INSERT INTO tracking_events (shipment_id, seq, kind, event_key, note) VALUES ($1, 1, $2, 'booked', $3)`,
			id, StatusBooked, fmt.Sprintf("booked: %d days, %s %s", lane.LeadDays, lane.Price.String(), lane.Currency)); err != nil {
			return err
		}
		return s.Genealogy.Packed(ctx, tx, genealogy.Packing{OrderID: in.OrderID, ShipmentID: id, Tracking: TrackingNumber(id), At: time.Now().UTC()})
	})
	if err != nil {
		if _, ok := errs.As(err); ok {
			return nil, false, err
		}
		return nil, false, fmt.Errorf("book shipment: %w", err)
	}
	sh, err = s.load(ctx, id)
	return sh, created, err
}

// command runs fn on the shipment locked for update, in one transaction, after
// checking that p may see it (else NOT_FOUND) and act on it (allowed; else
// FORBIDDEN). p nil is the workflow itself. It returns the shipment as committed.
func (s *Service) command(ctx context.Context, p *identity.Principal, id uuid.UUID, allowed func(*identity.Principal, *Shipment) bool, deny string,
	fn func(tx pgx.Tx, sh *Shipment) error) (*Shipment, error) {
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		sh, err := fetch(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if p != nil {
			if !canRead(p, sh) {
				return errs.ErrNotFound
			}
			if !allowed(p, sh) {
				return errs.New(errs.Forbidden, nil, "%s", deny)
			}
		}
		return fn(tx, sh)
	})
	if err != nil {
		if _, ok := errs.As(err); ok {
			return nil, err
		}
		return nil, fmt.Errorf("shipment %s: %w", id, err)
	}
	if err := s.cache.Invalidate(ctx, cacheKey(id)); err != nil {
		slog.WarnContext(ctx, "shipment cache invalidation failed", "shipment_id", id, "err", err)
	}
	// Read the committed state from Postgres, not through the cache, which a
	// concurrent reader may have just refilled with the state before.
	return fetch(ctx, s.db, id, false)
}

// event moves the shipment to status and appends its tracking event.
func event(ctx context.Context, tx pgx.Tx, sh *Shipment, status, location, note, key string, actor *uuid.UUID, extra string, args ...any) error {
	set := `status = $2, last_seq = last_seq + 1, last_location = CASE WHEN $3 = '' THEN last_location ELSE $3 END, updated_at = now()`
	if extra != "" {
		set += ", " + extra
	}
	if _, err := tx.Exec(ctx, `UPDATE shipments SET `+set+` WHERE id = $1`, append([]any{sh.ID, status, location}, args...)...); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO tracking_events (shipment_id, seq, kind, location, note, event_key, actor_id) VALUES ($1,$2,$3,$4,$5,$6,$7)`,
		sh.ID, sh.LastSeq+1, status, location, note, key, actor)
	return err
}

// existingEvent returns the event recorded under key, if any.
func existingEvent(ctx context.Context, tx pgx.Tx, id uuid.UUID, key string) (*TrackingEvent, error) {
	rows, err := tx.Query(ctx, `SELECT shipment_id, seq, kind, location, note, event_key, actor_id, at FROM tracking_events WHERE shipment_id = $1 AND event_key = $2`, id, key)
	if err != nil {
		return nil, err
	}
	ev, err := pgx.CollectOneRow(rows, pgx.RowToStructByPos[TrackingEvent])
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return &ev, err
}

// Track records a tracking event the carrier reports: kind is one of
// TrackKinds, moving the shipment as Next allows; IN_TRANSIT needs a location
// and EXCEPTION a note saying what happened. eventKey (the carrier's event id)
// makes it idempotent: the same key with the same event changes nothing, with
// a different event it is refused (ALREADY_EXISTS).
func (s *Service) Track(ctx context.Context, p *identity.Principal, shipmentID uuid.UUID, kind, location, note, eventKey string) (*Shipment, error) {
	if p == nil {
		return nil, unauthenticated()
	}
	location, note, eventKey = strings.TrimSpace(location), strings.TrimSpace(note), strings.TrimSpace(eventKey)
	if problems := ValidateTrack(kind, location, note, eventKey); len(problems) > 0 {
		return nil, problems
	}
	return s.command(ctx, p, shipmentID, canTrack, "only the carrier's admins and members (or the operator) may report tracking events", func(tx pgx.Tx, sh *Shipment) error {
		prev, err := existingEvent(ctx, tx, sh.ID, eventKey)
		if err != nil {
			return err
		}
		if prev != nil {
			if prev.Kind == kind && prev.Location == location && prev.Note == note {
				return nil // a repeated report
			}
			return errs.New(errs.AlreadyExists, []string{"input", "eventKey"}, "event %q was reported as %s", eventKey, prev.Kind)
		}
		next, err := Next(sh.Status, sh.PickedUpAt != nil, kind)
		if err != nil {
			return err
		}
		extra := ""
		if kind == StatusPickedUp {
			extra = "picked_up_at = coalesce(picked_up_at, now())"
			if err := s.Genealogy.PackageMoved(ctx, tx, genealogy.Movement{OrderID: sh.OrderID, Carrier: sh.CarrierID, Kind: kind,
				Location: location, At: time.Now().UTC()}); err != nil {
				return err
			}
		}
		return event(ctx, tx, sh, next, location, note, eventKey, identity.ActorID(p), extra)
	})
}

// ValidateTrack refuses a tracking report's input (trimmed by the caller):
// an unknown or reserved kind, a location or note too long or missing where
// the kind needs one, a bad event key. Track applies it, and the order's
// workflow in its update validator.
func ValidateTrack(kind, location, note, eventKey string) errs.List {
	var problems errs.List
	switch {
	case kind == StatusDelivered:
		problems = append(problems, errs.Invalid([]string{"input", "kind"}, "delivery is reported with its proof (deliver)"))
	case !slices.Contains(TrackKinds, kind):
		problems = append(problems, errs.Invalid([]string{"input", "kind"}, "unknown tracking event %q", kind))
	}
	problems = append(problems, input.Texts(
		input.Field{Path: []string{"input", "location"}, Value: location, Kind: input.Line},
		input.Field{Path: []string{"input", "note"}, Value: note, Kind: NoteText},
		input.Field{Path: []string{"input", "eventKey"}, Value: eventKey, Kind: input.Key},
	)...)
	if n := utf8.RuneCountInString(location); n > 200 {
		problems = append(problems, errs.Invalid([]string{"input", "location"}, "location is at most 200 characters"))
	} else if n == 0 && kind == StatusInTransit {
		problems = append(problems, errs.Invalid([]string{"input", "location"}, "an in-transit event says where the goods are"))
	}
	if n := utf8.RuneCountInString(note); n > 500 {
		problems = append(problems, errs.Invalid([]string{"input", "note"}, "note is at most 500 characters"))
	} else if n == 0 && kind == StatusException {
		problems = append(problems, errs.Invalid([]string{"input", "note"}, "an exception says what happened"))
	}
	if n := len(eventKey); n < 1 || n > 200 || eventKey == "booked" || eventKey == "delivered" || eventKey == "confirmed" || eventKey == "cancelled" {
		problems = append(problems, errs.Invalid([]string{"input", "eventKey"}, "event key must be 1 to 200 characters and not a reserved key"))
	}
	return problems
}

// ValidatePOD trims a proof of delivery and refuses an incomplete one.
func ValidatePOD(pod POD) (POD, errs.List) { return validatePOD(pod) }

// NoteText is the text rule of a tracking note, RefText of a reference to a
// signature or photo of a proof of delivery.
var (
	NoteText = input.TextKind{Max: 500, Multiline: true}
	RefText  = input.TextKind{Max: 500}
)

func validatePOD(pod POD) (POD, errs.List) {
	pod = POD{ReceivedBy: strings.TrimSpace(pod.ReceivedBy), SignatureRef: strings.TrimSpace(pod.SignatureRef), PhotoRef: strings.TrimSpace(pod.PhotoRef)}
	out := input.Texts(
		input.Field{Path: []string{"input", "pod", "receivedBy"}, Value: pod.ReceivedBy, Kind: input.Name},
		input.Field{Path: []string{"input", "pod", "signatureRef"}, Value: pod.SignatureRef, Kind: RefText},
		input.Field{Path: []string{"input", "pod", "photoRef"}, Value: pod.PhotoRef, Kind: RefText},
	)
	if n := utf8.RuneCountInString(pod.ReceivedBy); n < 1 || n > 200 {
		out = append(out, errs.Invalid([]string{"input", "pod", "receivedBy"}, "who received the goods is 1 to 200 characters"))
	}
	if pod.SignatureRef == "" && pod.PhotoRef == "" {
		out = append(out, errs.Invalid([]string{"input", "pod", "signatureRef"}, "a proof of delivery has a signature or a photo"))
	}
	if len(pod.SignatureRef) > 500 {
		out = append(out, errs.Invalid([]string{"input", "pod", "signatureRef"}, "signature reference is at most 500 characters"))
	}
	if len(pod.PhotoRef) > 500 {
		out = append(out, errs.Invalid([]string{"input", "pod", "photoRef"}, "photo reference is at most 500 characters"))
	}
	return pod, out
}

// Deliver records the delivery of a shipment out for delivery, with its proof.
// The delivery time (DeliveredAt) starts the warranty. Delivering again with
// the same proof changes nothing; with another proof it is refused.
func (s *Service) Deliver(ctx context.Context, p *identity.Principal, id uuid.UUID, pod POD) (*Shipment, error) {
	if p == nil {
		return nil, unauthenticated()
	}
	pod, problems := validatePOD(pod)
	if len(problems) > 0 {
		return nil, problems
	}
	raw, err := json.Marshal(pod)
	if err != nil {
		return nil, err
	}
	return s.command(ctx, p, id, canTrack, "only the carrier's admins and members (or the operator) may report delivery", func(tx pgx.Tx, sh *Shipment) error {
		if sh.POD != nil {
			if *sh.POD == pod {
				return nil // a repeated report
			}
			return errs.New(errs.IllegalState, []string{"input", "pod"}, "the shipment was delivered with another proof")
		}
		if _, err := Next(sh.Status, sh.PickedUpAt != nil, StatusDelivered); err != nil {
			return err
		}
		proof := map[string]string{"receivedBy": pod.ReceivedBy}
		if pod.SignatureRef != "" {
			proof["signatureRef"] = pod.SignatureRef
		}
		if pod.PhotoRef != "" {
			proof["photoRef"] = pod.PhotoRef
		}
		if err := s.Genealogy.PackageMoved(ctx, tx, genealogy.Movement{OrderID: sh.OrderID, Carrier: sh.CarrierID, Kind: StatusDelivered,
			Proof: proof, At: time.Now().UTC()}); err != nil {
			return err
		}
		return event(ctx, tx, sh, StatusDelivered, "", "received by "+pod.ReceivedBy, "delivered", identity.ActorID(p), "pod = $4, delivered_at = now()", raw)
	})
}

// ConfirmReceipt confirms that the order's goods were received: by the
// customer (auto false), or automatically by the platform when the customer
// did not within the configured days (auto true, a platform principal such as
// identity.System). Confirming a confirmed shipment changes nothing, whoever
// confirmed first.
func (s *Service) ConfirmReceipt(ctx context.Context, p *identity.Principal, orderID uuid.UUID, auto bool) (*Shipment, error) {
	if p == nil {
		return nil, unauthenticated()
	}
	allowed, deny := canConfirm, "only the customer's admins and members (or the operator) may confirm receipt"
	if auto {
		allowed = func(p *identity.Principal, _ *Shipment) bool { return p.Kind == identity.KindPlatform && isActor(p) }
		deny = "only the platform confirms receipt automatically"
	}
	return s.command(ctx, p, IDFor(orderID), allowed, deny, func(tx pgx.Tx, sh *Shipment) error {
		if sh.Status == StatusConfirmed {
			return nil
		}
		if _, err := Next(sh.Status, sh.PickedUpAt != nil, StatusConfirmed); err != nil {
			return err
		}
		note := "receipt confirmed by the customer"
		if auto {
			note = "receipt confirmed automatically"
		}
		return event(ctx, tx, sh, StatusConfirmed, "", note, "confirmed", identity.ActorID(p), "confirmed_at = now(), auto_confirmed = $4", auto)
	})
}

// Cancel cancels a booked shipment (the order's cancellation compensates with
// it); cancelling again changes nothing (the status is the key). Once picked up it is refused
// (ILLEGAL_STATE): the goods come back through an exception. An order with no
// shipment gets NOT_FOUND: nothing to cancel.
func (s *Service) Cancel(ctx context.Context, id uuid.UUID) (*Shipment, error) {
	return s.command(ctx, nil, id, nil, "", func(tx pgx.Tx, sh *Shipment) error {
		if sh.Status == StatusCancelled {
			return nil
		}
		if _, err := Next(sh.Status, sh.PickedUpAt != nil, StatusCancelled); err != nil {
			return err
		}
		return event(ctx, tx, sh, StatusCancelled, "", "shipment cancelled", "cancelled", nil, "")
	})
}
