// Package orders owns orders, quotes and the order timeline: the read model that
// queries serve, and the idempotent writes that the order workflow makes through
// its activities. Process state (which stage, whom it waits for) is Temporal's.
package orders

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/cache"
	"github.com/masscustom/orchestrator/services/catalog"
)

// Event types of the timeline.
const (
	EventPlaced         = "ORDER_PLACED"
	EventDesignReady    = "DESIGN_READY"
	EventDesignApproved = "DESIGN_APPROVED"
	EventDesignChange   = "DESIGN_CHANGE_REQUESTED"
	EventDesignLapsed   = "DESIGN_DEADLINE_LAPSED"
	EventResumed        = "ORDER_RESUMED"
	EventCancelled      = "ORDER_CANCELLED"
	EventCompensated    = "ORDER_COMPENSATED"

	EventProductionAssigned = "PRODUCTION_ASSIGNED"
	EventProcured           = "PROCUREMENT_DONE"
	EventStageStarted       = "STAGE_STARTED"
	EventStageFinished      = "STAGE_FINISHED"
	EventReprocurement      = "MATERIAL_REPROCUREMENT"
	EventProductionHeld     = "PRODUCTION_ESCALATED"
	EventQAPassed           = "QA_PASSED"
	EventQAFailed           = "QA_FAILED"
	EventShipmentBooked     = "SHIPMENT_BOOKED"
	EventShipmentTracked    = "SHIPMENT_TRACKED"
	EventDelivered          = "SHIPMENT_DELIVERED"
	EventReceiptConfirmed   = "RECEIPT_CONFIRMED"
	EventWarrantyStarted    = "WARRANTY_STARTED"
	EventTicketOpened       = "TICKET_OPENED"
	EventTicketDispatched   = "TICKET_DISPATCHED"
	EventTicketResolved     = "TICKET_RESOLVED"
	EventCompleted          = "ORDER_COMPLETED"
)

// Address is where an order ships to.
type Address struct {
	Recipient  string `json:"recipient"`
	Phone      string `json:"phone,omitempty"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city"`
	Region     string `json:"region,omitempty"`
	PostalCode string `json:"postalCode"`
	Country    string `json:"country"`
}

// Order is the read model of one order.
type Order struct {
	ID               uuid.UUID           `json:"id"`
	CustomerID       uuid.UUID           `json:"customerId"`
	PlacedBy         *uuid.UUID          `json:"placedBy,omitempty"`
	IdempotencyKey   string              `json:"idempotencyKey"`
	TemplateID       uuid.UUID           `json:"templateId"`
	QuoteID          *uuid.UUID          `json:"quoteId,omitempty"`
	ConfigVersion    int                 `json:"configVersion"`
	Selections       []catalog.Selection `json:"selections"`
	Quantity         int                 `json:"quantity"`
	ShippingAddress  Address             `json:"shippingAddress"`
	Result           catalog.Result      `json:"result"`
	Total            decimal.Decimal     `json:"total"`
	Currency         string              `json:"currency"`
	Status           string              `json:"status"`
	Stage            string              `json:"stage"`
	DesignDeadline   *time.Time          `json:"designDeadline,omitempty"`
	DesignApprovedAt *time.Time          `json:"designApprovedAt,omitempty"`
	LastSeq          int64               `json:"lastSeq"`
	CreatedAt        time.Time           `json:"createdAt"`
	UpdatedAt        time.Time           `json:"updatedAt"`
}

// Event is one entry of an order's timeline.
type Event struct {
	OrderID uuid.UUID       `json:"orderId"`
	Seq     int64           `json:"seq"`
	Key     string          `json:"key"`
	Type    string          `json:"type"`
	Stage   string          `json:"stage"`
	Status  string          `json:"status"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
	ActorID *uuid.UUID      `json:"actorId,omitempty"`
	At      time.Time       `json:"at"`
}

// Quote is a priced configuration valid until a time.
type Quote struct {
	ID         uuid.UUID           `json:"id"`
	CustomerID uuid.UUID           `json:"customerId"`
	TemplateID uuid.UUID           `json:"templateId"`
	Selections []catalog.Selection `json:"selections"`
	Quantity   int                 `json:"quantity"`
	Result     catalog.Result      `json:"result"`
	Total      decimal.Decimal     `json:"total"`
	Currency   string              `json:"currency"`
	ValidUntil time.Time           `json:"validUntil"`
	CreatedAt  time.Time           `json:"createdAt"`
}

// Service is the orders context.
type Service struct {
	db      *pgxpool.Pool
	cache   *cache.Cache
	catalog *catalog.Store
	// memo keeps decoded orders in process under their cache generation, so
	// the hot order(id) read costs one small Redis GET and no JSON decoding
	// (cache.Memo). What a read returns is shared below its top level.
	memo     *cache.Memo[Order]
	QuoteTTL time.Duration
}

// New returns the orders service.
func New(db *pgxpool.Pool, c *cache.Cache, cat *catalog.Store) *Service {
	return &Service{db: db, cache: c, catalog: cat, memo: cache.NewMemo[Order](10000, time.Minute), QuoteTTL: 7 * 24 * time.Hour}
}

func orderKey(id uuid.UUID) string { return "order:" + id.String() }

// CacheKey is the Redis key the order is cached under; its generation
// (cache.Generation) changes with every write of the order.
func CacheKey(id uuid.UUID) string { return orderKey(id) }

// EventsChannel is the Redis channel on which an order's new events are published.
func EventsChannel(id uuid.UUID) string { return "order-events:" + id.String() }

// idNS derives order ids from (customer, idempotency key), so that a retried
// placeOrder names the same order and the same workflow.
var idNS = uuid.MustParse("b3e0f6f4-43a1-4c1e-8f55-6a3c1d9e0b17")

// OrderID is the deterministic id of the order a customer places under key.
func OrderID(customerID uuid.UUID, key string) uuid.UUID {
	return uuid.NewSHA1(idNS, []byte(customerID.String()+"|"+key))
}
