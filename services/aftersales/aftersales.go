// Package aftersales owns the service period of a delivered order: its
// warranty (which starts at delivery and whose end completes the order, both
// timed by the order workflow on a durable timer) and the service tickets the
// customer opens during it, which the operator dispatches and the operator
// or the assignee resolves.
//
// Every write is idempotent on a business key so that its activity may run
// twice: the warranty on the order, a ticket on (order, open key), dispatch
// and resolution on the ticket's state.
//
// Who may do what (checked here until identity declares after-sales actions):
// platform users see every warranty and ticket; a customer its orders'; a
// factory the warranties it serves and their tickets, and the tickets
// dispatched to it. Tickets are opened by the order's customer (admins and
// members), or by platform admins and members on its behalf; dispatched by
// platform admins and members only (to a factory or the platform); resolved by
// platform admins and members, or by the assignee. Anybody else gets NOT_FOUND for what they cannot see, and FORBIDDEN
// for an act on what they can see.
package aftersales

import (
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
)

// Ticket categories.
const (
	CategoryInstallation = "INSTALLATION"
	CategoryDefect       = "DEFECT"
	CategoryNoise        = "NOISE"
	CategoryPerformance  = "PERFORMANCE"
	CategoryOther        = "OTHER"
)

// Categories lists the ticket categories.
var Categories = []string{CategoryInstallation, CategoryDefect, CategoryNoise, CategoryPerformance, CategoryOther}

// Ticket statuses: OPEN → DISPATCHED → RESOLVED (the operator may resolve an
// OPEN ticket directly, and re-dispatch a DISPATCHED one). RESOLVED is final.
const (
	StatusOpen       = "OPEN"
	StatusDispatched = "DISPATCHED"
	StatusResolved   = "RESOLVED"
)

// Statuses lists the ticket statuses, for filters.
var Statuses = []string{StatusOpen, StatusDispatched, StatusResolved}

// MaxText bounds a ticket's description and resolution, in characters.
const MaxText = 2000

// Warranty is the service period of a delivered order.
type Warranty struct {
	OrderID    uuid.UUID `json:"orderId"`
	CustomerID uuid.UUID `json:"customerId"`
	// FactoryID is the enterprise that serves the warranty (normally the
	// factory that built the order), if any.
	FactoryID  *uuid.UUID `json:"factoryId,omitempty"`
	StartsAt   time.Time  `json:"startsAt"`
	EndsAt     time.Time  `json:"endsAt"`
	LastTicket int        `json:"lastTicket"`
	CreatedAt  time.Time  `json:"createdAt"`
}

// Covers reports whether the warranty runs at t: StartsAt ≤ t < EndsAt.
func (w *Warranty) Covers(t time.Time) bool { return !t.Before(w.StartsAt) && t.Before(w.EndsAt) }

// Ticket is a service ticket of an order.
type Ticket struct {
	ID         uuid.UUID `json:"id"`
	OrderID    uuid.UUID `json:"orderId"`
	CustomerID uuid.UUID `json:"customerId"`
	// Number counts the order's tickets from 1.
	Number      int        `json:"number"`
	OpenKey     string     `json:"openKey"`
	Category    string     `json:"category"`
	Description string     `json:"description"`
	Status      string     `json:"status"`
	OpenedBy    *uuid.UUID `json:"openedBy,omitempty"`
	// ServiceFactoryID is the warranty's serving factory.
	ServiceFactoryID   *uuid.UUID `json:"serviceFactoryId,omitempty"`
	AssigneeEnterprise *uuid.UUID `json:"assigneeEnterprise,omitempty"`
	DispatchedBy       *uuid.UUID `json:"dispatchedBy,omitempty"`
	DispatchedAt       *time.Time `json:"dispatchedAt,omitempty"`
	Resolution         string     `json:"resolution,omitempty"`
	ResolvedBy         *uuid.UUID `json:"resolvedBy,omitempty"`
	ResolvedAt         *time.Time `json:"resolvedAt,omitempty"`
	CreatedAt          time.Time  `json:"createdAt"`
	UpdatedAt          time.Time  `json:"updatedAt"`
}

// Service is the after-sales context.
type Service struct {
	db  *pgxpool.Pool
	now func() time.Time
}

// New returns the after-sales service.
func New(db *pgxpool.Pool) *Service { return &Service{db: db, now: time.Now} }

// ticketNS derives ticket ids from (order, open key).
var ticketNS = uuid.MustParse("349a8776-9662-4458-a5c2-e6ac91212be7")

// TicketID is the id of the ticket opened on an order under key.
func TicketID(orderID uuid.UUID, key string) uuid.UUID {
	return uuid.NewSHA1(ticketNS, []byte(orderID.String()+"|"+key))
}

func isActor(p *identity.Principal) bool {
	return p.Role == identity.RoleAdmin || p.Role == identity.RoleMember
}

func same(a *uuid.UUID, b uuid.UUID) bool { return a != nil && *a == b }

// canReadWarranty: platform users all; the customer its own; the serving factory.
func canReadWarranty(p *identity.Principal, w *Warranty) bool {
	switch p.Kind {
	case identity.KindPlatform:
		return true
	case identity.KindCustomer:
		return p.EnterpriseID == w.CustomerID
	case identity.KindFactory:
		return same(w.FactoryID, p.EnterpriseID)
	}
	return false
}

// canRead: platform users all; the customer its own; the serving factory and the assignee.
func canRead(p *identity.Principal, t *Ticket) bool {
	switch p.Kind {
	case identity.KindPlatform:
		return true
	case identity.KindCustomer:
		return p.EnterpriseID == t.CustomerID
	}
	return same(t.ServiceFactoryID, p.EnterpriseID) || same(t.AssigneeEnterprise, p.EnterpriseID)
}

func unauthenticated() error {
	return errs.New(errs.Unauthenticated, nil, "a bearer token is required")
}
