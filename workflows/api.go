// Package workflows holds the Temporal workflows of the platform. They are
// deterministic: every effect on Postgres or Redis is an activity (package
// activities), and time comes from workflow.Now and timers.
package workflows

import (
	"time"

	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/workflows/refusal"
)

// Names of the order workflow and of its updates and query, shared with the gateway.
const (
	OrderWorkflow             = "Order"
	UpdateApproveDesign       = "approveDesign"
	UpdateRequestDesignChange = "requestDesignChange"
	UpdateCancel              = "cancel"
	UpdateResume              = "resume"
	QueryState                = "state"
)

// OrderWorkflowID is the workflow id of an order: a business id with a prefix.
func OrderWorkflowID(orderID string) string { return "order/" + orderID }

// Stages of an order's journey.
const (
	StageInteraction = "INTERACTION"
	StageDesign      = "DESIGN"
	StageProcurement = "PROCUREMENT"
	StageProduction  = "PRODUCTION"
	StageLogistics   = "LOGISTICS"
	StageService     = "SERVICE"
)

// Statuses of an order.
const (
	StatusActive    = "ACTIVE"
	StatusOnHold    = "ON_HOLD"
	StatusCancelled = "CANCELLED"
	StatusCompleted = "COMPLETED"
)

// Codes of the refusals (package refusal) that validators and handlers
// return; the gateway decodes them into payload errors.
const (
	ErrIllegalState = string(errs.IllegalState)
	ErrInvalidInput = string(errs.InvalidInput)
)

// OrderInput starts an order workflow.
type OrderInput struct {
	OrderID string
	// DesignApprovalTimeout is how long the customer has to approve a design
	// before the order goes ON_HOLD.
	DesignApprovalTimeout time.Duration
	// OfferTimeout is each supplier's SLA to answer a procurement offer.
	OfferTimeout time.Duration
	// AutoConfirmAfter is how long after delivery receipt is confirmed for a
	// customer who did not confirm it.
	AutoConfirmAfter time.Duration
	// Warranty is how long the warranty runs from delivery.
	Warranty time.Duration
	// HistoryLimit is the history length past which the order continues as
	// new during its warranty (0: 10,000 events).
	HistoryLimit int
	// Resume, when set, continues an order at its service stage.
	Resume *Resumption
}

// OrderState is what the workflow knows of its order, answered by QueryState
// and by every update.
type OrderState struct {
	OrderID        string
	Stage          string
	Status         string
	ConfigVersion  int
	DesignRound    int
	DesignDeadline time.Time
	WaitingFor     string
	Seq            int64
	// After the design: who produces and ships, and production progress.
	FactoryID    string
	ProductionID string
	Progress     string
	CarrierID    string
	ShipmentID   string
	Delivered    bool
	WarrantyEnds time.Time
}

// ApproveDesign is the payload of UpdateApproveDesign.
type ApproveDesign struct {
	ActorID string
	// ConfigVersion, when set, must be the configuration the approver saw; a
	// design that changed meanwhile is not approved by accident.
	ConfigVersion int
	Comment       string
}

// DesignChange is the payload of UpdateRequestDesignChange: a new configuration.
type DesignChange struct {
	ActorID    string
	Selections []catalog.Selection
	// Quantity, when positive, replaces the ordered quantity.
	Quantity int
	Reason   string
}

// Cancel is the payload of UpdateCancel.
type Cancel struct {
	ActorID string
	Reason  string
}

// Resume is the payload of UpdateResume (operator only: the gateway authorizes).
type Resume struct {
	ActorID string
	Reason  string
}

func illegal(format string, args ...any) error {
	return refusal.Newf(errs.IllegalState, format, args...)
}

// Updates of an order after its design, sent by the other enterprises through
// the gateway (which authenticates them and fills Principal).
const (
	UpdateReportStage     = "reportStage"
	UpdateRecordQA        = "recordQA"
	UpdateTrackShipment   = "trackShipment"
	UpdateConfirmDelivery = "confirmDelivery"
	UpdateOpenTicket      = "openTicket"
	UpdateDispatchTicket  = "dispatchTicket"
	UpdateResolveTicket   = "resolveTicket"
)

// ErrForbidden is the refusal code of an update from an enterprise that
// takes no part in that step (another factory, another carrier).
const ErrForbidden = string(errs.Forbidden)

// StageReport is the payload of UpdateReportStage: the assigned factory
// started a routing stage, or finished it with good and scrap quantities.
type StageReport struct {
	Principal identity.Principal
	Seq       int
	Finished  bool
	Good      int
	Scrap     int
}

// QAVerdict is the payload of UpdateRecordQA: it closes production.
type QAVerdict struct {
	Principal identity.Principal
	Passed    bool
	Notes     string
}

// TrackingReport is the payload of UpdateTrackShipment: Kind is PICKED_UP,
// IN_TRANSIT (with Location), OUT_FOR_DELIVERY, EXCEPTION (with Note) or
// DELIVERED (with the proof of delivery).
type TrackingReport struct {
	Principal    identity.Principal
	Kind         string
	Location     string
	Note         string
	EventKey     string
	ReceivedBy   string
	SignatureRef string
	PhotoRef     string
}

// ConfirmDelivery is the payload of UpdateConfirmDelivery: the customer
// confirms receipt (the gateway authorizes the customer).
type ConfirmDelivery struct {
	Principal identity.Principal
}

// TicketRequest is the payload of the ticket updates: OpenTicket (Key,
// Category, Description), DispatchTicket (TicketID, Assignee) and
// ResolveTicket (TicketID, Resolution).
type TicketRequest struct {
	Principal   identity.Principal
	Key         string
	Category    string
	Description string
	TicketID    string
	Assignee    string
	Resolution  string
}

// Resumption carries an order's state into a continued run, so that a long
// warranty does not grow one history without bound.
type Resumption struct {
	State        OrderState
	FactoryID    string
	ProductionID string
	ShipmentID   string
	CarrierID    string
	DeliveredAt  time.Time
	WarrantyEnds time.Time
	Counter      int
}
