// Package logistics owns shipments with carriers: the lanes a carrier serves
// (country, lead days, price), booking an order's shipment with a carrier, the
// tracking events the carrier reports, proof of delivery, and the customer's
// confirmation of receipt (or the automatic one the order workflow makes after
// its configured number of days).
//
// Every write is idempotent on a business key so that its activity may run
// twice: Book on the order (one shipment per order), tracking events on their
// event key, delivery on its proof, confirmation and cancellation on the
// shipment's status.
//
// Who may do what (checked here until identity declares logistics actions):
// platform users see every shipment; a carrier sees its own; a customer sees its
// order's shipment. Tracking events and delivery are reported by the carrier's
// admins and members, or by platform admins and members on its behalf; receipt
// is confirmed by the customer's admins and members, or by platform admins and
// members (automatic confirmation is a platform act). Anybody else gets
// NOT_FOUND for a shipment they cannot see, and FORBIDDEN for an act on one they
// can see.
package logistics

import (
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/cache"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/genealogy"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/orders"
)

// Shipment statuses. A shipment moves BOOKED → PICKED_UP → IN_TRANSIT (again
// for each new location) → OUT_FOR_DELIVERY → DELIVERED → CONFIRMED. EXCEPTION
// can be reported in any status before DELIVERED, and is left back to
// IN_TRANSIT (or to PICKED_UP when the goods were never picked up). A BOOKED
// shipment can be CANCELLED. CONFIRMED and CANCELLED are final.
const (
	StatusBooked         = "BOOKED"
	StatusPickedUp       = "PICKED_UP"
	StatusInTransit      = "IN_TRANSIT"
	StatusOutForDelivery = "OUT_FOR_DELIVERY"
	StatusDelivered      = "DELIVERED"
	StatusException      = "EXCEPTION"
	StatusConfirmed      = "CONFIRMED"
	StatusCancelled      = "CANCELLED"
)

// Statuses lists the shipment statuses, for filters.
var Statuses = []string{StatusBooked, StatusPickedUp, StatusInTransit, StatusOutForDelivery, StatusDelivered, StatusException, StatusConfirmed, StatusCancelled}

// TrackKinds are the events a carrier reports with Track; delivery is reported
// with Deliver, which carries the proof.
var TrackKinds = []string{StatusPickedUp, StatusInTransit, StatusOutForDelivery, StatusException}

// Lane is a destination country a carrier serves, with its lead time and price
// per shipment.
type Lane struct {
	CarrierID uuid.UUID       `json:"carrierId"`
	Country   string          `json:"country"`
	LeadDays  int             `json:"leadDays"`
	Price     decimal.Decimal `json:"price"`
	Currency  string          `json:"currency"`
	UpdatedAt time.Time       `json:"updatedAt"`
}

// POD is a proof of delivery: who received the goods, and a reference to the
// signature or photo the carrier stored (at least one of them).
type POD struct {
	ReceivedBy   string `json:"receivedBy"`
	SignatureRef string `json:"signatureRef,omitempty"`
	PhotoRef     string `json:"photoRef,omitempty"`
}

// Shipment is an order's shipment with a carrier.
type Shipment struct {
	ID             uuid.UUID       `json:"id"`
	OrderID        uuid.UUID       `json:"orderId"`
	CustomerID     uuid.UUID       `json:"customerId"`
	CarrierID      uuid.UUID       `json:"carrierId"`
	BookKey        string          `json:"bookKey"`
	Status         string          `json:"status"`
	TrackingNumber string          `json:"trackingNumber"`
	Destination    orders.Address  `json:"destination"`
	Price          decimal.Decimal `json:"price"`
	Currency       string          `json:"currency"`
	LeadDays       int             `json:"leadDays"`
	LastSeq        int             `json:"lastSeq"`
	LastLocation   string          `json:"lastLocation"`
	PickedUpAt     *time.Time      `json:"pickedUpAt,omitempty"`
	POD            *POD            `json:"pod,omitempty"`
	DeliveredAt    *time.Time      `json:"deliveredAt,omitempty"`
	ConfirmedAt    *time.Time      `json:"confirmedAt,omitempty"`
	AutoConfirmed  bool            `json:"autoConfirmed"`
	CreatedAt      time.Time       `json:"createdAt"`
	UpdatedAt      time.Time       `json:"updatedAt"`
}

// ETA is when the goods are expected: the booking day plus the lane's lead days.
func (s *Shipment) ETA() time.Time { return s.CreatedAt.AddDate(0, 0, s.LeadDays) }

// TrackingEvent is one entry of a shipment's tracking history.
type TrackingEvent struct {
	ShipmentID uuid.UUID  `json:"shipmentId"`
	Seq        int        `json:"seq"`
	Kind       string     `json:"kind"`
	Location   string     `json:"location"`
	Note       string     `json:"note"`
	Key        string     `json:"key"`
	ActorID    *uuid.UUID `json:"actorId,omitempty"`
	At         time.Time  `json:"at"`
}

// Service is the logistics context.
type Service struct {
	db    *pgxpool.Pool
	cache *cache.Cache
	// Genealogy, when set, records packing, pick-up and delivery as EPCIS
	// events in the same transactions.
	Genealogy *genealogy.Service
}

// New returns the logistics service. cache may be nil.
func New(db *pgxpool.Pool, c *cache.Cache) *Service { return &Service{db: db, cache: c} }

// idNS derives shipment ids from order ids: one shipment per order.
var idNS = uuid.MustParse("92d3ecdb-4d5b-4df6-836f-18549d38f2df")

// IDFor is the id of the shipment of an order.
func IDFor(orderID uuid.UUID) uuid.UUID { return uuid.NewSHA1(idNS, orderID[:]) }

// TrackingNumber is the platform's tracking number of a shipment, derived from its id.
func TrackingNumber(id uuid.UUID) string { return "MC" + strings.ToUpper(hex.EncodeToString(id[:6])) }

func cacheKey(id uuid.UUID) string { return "shipment:" + id.String() }

// Next returns the status a shipment moves to on a tracking event (one of
// TrackKinds, or DELIVERED, CONFIRMED, CANCELLED for Deliver, ConfirmReceipt
// and Cancel); pickedUp says whether the goods were ever picked up. An illegal
// event is an ILLEGAL_STATE error.
func Next(status string, pickedUp bool, kind string) (string, error) {
	ok := false
	switch kind {
	case StatusPickedUp:
		ok = status == StatusBooked || (status == StatusException && !pickedUp)
	case StatusInTransit:
		ok = status == StatusPickedUp || status == StatusInTransit || (status == StatusException && pickedUp)
	case StatusOutForDelivery:
		ok = status == StatusInTransit
	case StatusException:
		ok = slices.Contains([]string{StatusBooked, StatusPickedUp, StatusInTransit, StatusOutForDelivery, StatusException}, status)
	case StatusDelivered:
		ok = status == StatusOutForDelivery
	case StatusConfirmed:
		ok = status == StatusDelivered
	case StatusCancelled:
		ok = status == StatusBooked
	default:
		return "", errs.Invalid([]string{"input", "kind"}, "unknown tracking event %q", kind)
	}
	if !ok {
		return "", errs.New(errs.IllegalState, []string{"input", "kind"}, "a %s shipment cannot become %s", status, kind)
	}
	return kind, nil
}

// ChooseLane picks the lane to book among those serving the destination:
// the cheapest, then the fastest, then the smallest carrier id, so the choice
// is deterministic. ok is false for no lanes.
func ChooseLane(lanes []Lane) (best Lane, ok bool) {
	for _, l := range lanes {
		if !ok || better(l, best) {
			best, ok = l, true
		}
	}
	return best, ok
}

func better(a, b Lane) bool {
	if c := a.Price.Cmp(b.Price); c != 0 {
		return c < 0
	}
	if a.LeadDays != b.LeadDays {
		return a.LeadDays < b.LeadDays
	}
	return strings.Compare(a.CarrierID.String(), b.CarrierID.String()) < 0
}

func isActor(p *identity.Principal) bool {
	return p.Role == identity.RoleAdmin || p.Role == identity.RoleMember
}

// canRead: platform users all; a carrier its own; a customer its order's.
func canRead(p *identity.Principal, s *Shipment) bool {
	switch p.Kind {
	case identity.KindPlatform:
		return true
	case identity.KindCarrier:
		return p.EnterpriseID == s.CarrierID
	case identity.KindCustomer:
		return p.EnterpriseID == s.CustomerID
	}
	return false
}

// canTrack: the carrier's admins and members, or platform admins and members.
// CanTrack reports whether p may report tracking of carrier's shipment.
func CanTrack(p *identity.Principal, carrier uuid.UUID) bool {
	return canTrack(p, &Shipment{CarrierID: carrier})
}

func canTrack(p *identity.Principal, s *Shipment) bool {
	return isActor(p) && (p.Kind == identity.KindPlatform || (p.Kind == identity.KindCarrier && p.EnterpriseID == s.CarrierID))
}

// canConfirm: the customer's admins and members, or platform admins and members.
func canConfirm(p *identity.Principal, s *Shipment) bool {
	return isActor(p) && (p.Kind == identity.KindPlatform || (p.Kind == identity.KindCustomer && p.EnterpriseID == s.CustomerID))
}

func unauthenticated() error {
	return errs.New(errs.Unauthenticated, nil, "a bearer token is required")
}
