// Package procurement owns sourcing: what each supplier can supply (its
// capabilities and score), the purchase tasks offered to suppliers for the
// materials of an order, their shipments and receipts, and the lines held for
// want of a supplier. The sourcing workflow decides (whom to offer, when an
// offer lapses); this package persists each decision idempotently, keyed by
// business keys, because Temporal may run an activity twice.
package procurement

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/cache"
	"github.com/masscustom/orchestrator/services/genealogy"
)

// Status is the state of a procurement task.
type Status string

// The statuses of a task. OFFERED is open; ACCEPTED, SHIPPED and RECEIVED are
// a part of the quantity that a supplier committed to; the rest are closed.
const (
	StatusOffered   Status = "OFFERED"
	StatusAccepted  Status = "ACCEPTED"
	StatusRejected  Status = "REJECTED"
	StatusTimedOut  Status = "TIMED_OUT"
	StatusWithdrawn Status = "WITHDRAWN"
	StatusCancelled Status = "CANCELLED"
	StatusShipped   Status = "SHIPPED"
	StatusReceived  Status = "RECEIVED"
)

// Statuses lists every task status.
var Statuses = []Status{StatusOffered, StatusAccepted, StatusRejected, StatusTimedOut, StatusWithdrawn, StatusCancelled, StatusShipped, StatusReceived}

// Committed reports whether a task in status s holds a supplier's commitment
// (accepted, not yet cancelled).
func (s Status) Committed() bool {
	return s == StatusAccepted || s == StatusShipped || s == StatusReceived
}

// Timeline event types of procurement, appended to the order's timeline.
const (
	EventOffered           = "PROCUREMENT_OFFERED"
	EventAccepted          = "PROCUREMENT_ACCEPTED"
	EventRejected          = "PROCUREMENT_REJECTED"
	EventTimedOut          = "PROCUREMENT_TIMED_OUT"
	EventWithdrawn         = "PROCUREMENT_WITHDRAWN"
	EventCancelled         = "PROCUREMENT_CANCELLED"
	EventShipped           = "MATERIAL_SHIPPED"
	EventReceived          = "MATERIAL_RECEIVED"
	EventEscalated         = "SOURCING_ESCALATED"
	EventResumed           = "SOURCING_RESUMED"
	EventSourcingDone      = "SOURCING_DONE"
	EventSourcingCancelled = "SOURCING_CANCELLED"
)

// Task is a procurement task: the offer of a quantity of one material of an
// order's line to one supplier, and what became of it.
type Task struct {
	ID         uuid.UUID `json:"id"`
	OrderID    uuid.UUID `json:"orderId"`
	CustomerID uuid.UUID `json:"customerId"` // the order's customer, who may read the task
	Line       int       `json:"line"`
	Attempt    int       `json:"attempt"`
	Material   string    `json:"material"`
	// Quantity is what was offered; AcceptedQuantity what the supplier took.
	Quantity      decimal.Decimal  `json:"quantity"`
	SupplierID    uuid.UUID        `json:"supplierId"`
	Currency      string           `json:"currency"`
	ListUnitPrice *decimal.Decimal `json:"listUnitPrice,omitempty"` // the capability's price when offered
	Status        Status           `json:"status"`
	OfferedAt     time.Time        `json:"offeredAt"`
	Deadline      time.Time        `json:"deadline"`
	DecidedAt     *time.Time       `json:"decidedAt,omitempty"`
	// Set on acceptance.
	UnitPrice        *decimal.Decimal `json:"unitPrice,omitempty"`
	AcceptedQuantity *decimal.Decimal `json:"acceptedQuantity,omitempty"`
	PromisedDate     *time.Time       `json:"promisedDate,omitempty"`
	RejectReason     *string          `json:"rejectReason,omitempty"`
	CancelReason     *string          `json:"cancelReason,omitempty"`
	ShippedQuantity  decimal.Decimal  `json:"shippedQuantity"`
	ReceivedQuantity decimal.Decimal  `json:"receivedQuantity"`
	CreatedAt        time.Time        `json:"createdAt"`
	UpdatedAt        time.Time        `json:"updatedAt"`
}

// Service is the procurement context.
type Service struct {
	db    *pgxpool.Pool
	cache *cache.Cache
	// Genealogy, when set, records shipped lots and their receipt as EPCIS
	// events in the same transactions.
	Genealogy *genealogy.Service
}

// New returns the procurement service. cache may be nil.
func New(db *pgxpool.Pool, c *cache.Cache) *Service {
	return &Service{db: db, cache: c}
}

// taskNS derives task ids from their business key (order, line, attempt).
var taskNS = uuid.MustParse("5c7f1f0e-8a7d-4f43-9d36-2f0b8a6c9e21")

// TaskID is the id of the task of an order's line at an attempt: the same key
// always names the same task, so an offer written twice is one task.
func TaskID(orderID uuid.UUID, line, attempt int) uuid.UUID {
	return uuid.NewSHA1(taskNS, []byte(orderID.String()+"|"+strconv.Itoa(line)+"|"+strconv.Itoa(attempt)))
}

func taskKey(id uuid.UUID) string { return "procurement-task:" + id.String() }

// invalidate drops a cached task; best effort, as the cache is never the only copy.
func (s *Service) invalidate(ctx context.Context, id uuid.UUID) {
	if err := s.cache.Invalidate(ctx, taskKey(id)); err != nil {
		slog.WarnContext(ctx, "procurement task cache invalidation failed", "task_id", id, "err", err)
	}
}

// dateOf is the calendar day of t in its own location, as midnight UTC: a
// date sent as local midnight (2030-01-10T00:00+08:00) stays the 10th.
// Instants of the platform (workflow time, now) are UTC already.
func dateOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now().UTC()
	}
	return t.UTC()
}
