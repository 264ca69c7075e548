// Package workflows holds the Temporal workflows of the platform. They are
// deterministic: every effect on Postgres or Redis is an activity (package
// activities), and time comes from workflow.Now and timers.
package workflows

import (
	"fmt"
	"time"

	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/workflows/activities"
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

// Error types carried by ApplicationErrors from update validators and handlers;
// the gateway maps them to payload error codes.
const (
	ErrIllegalState         = "ILLEGAL_STATE"
	ErrInvalidConfiguration = activities.ErrInvalidConfiguration
)

// OrderInput starts an order workflow.
type OrderInput struct {
	OrderID string
	// DesignApprovalTimeout is how long the customer has to approve a design
	// before the order goes ON_HOLD.
	DesignApprovalTimeout time.Duration
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
	return newAppError(fmt.Sprintf(format, args...), ErrIllegalState)
}
