// Package production owns production at factories: what each factory runs and
// how much (capabilities and capacity), the assignment of an order's routing to
// a factory, the stage reports (started; finished with good and scrap
// quantities), the rework rule, the QA verdict that closes production, and
// progress for the customer.
//
// Process state (when to assign, waiting for reports, what to do on a rework
// or re-procurement decision) is the order workflow's. Every write here is
// idempotent on a business key so that its activity may run twice: Assign on
// the order, stage reports on (production order, seq, rework round) and their
// quantities, QA on the production order, Cancel on the production order.
//
// Who may do what (checked here until identity declares production actions):
// platform users see every production order; a factory sees its own; a
// customer sees the production order of its own order. Stage and QA reports are
// made by the assigned factory's admins and members, or by platform admins and
// members on its behalf. Anybody else gets NOT_FOUND for a production order
// they cannot see, and FORBIDDEN for an act on one they can see.
package production

import (
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/cache"
	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/genealogy"
	"github.com/masscustom/orchestrator/services/identity"
)

// Production order statuses. ASSIGNED until the first stage starts, IN_PROGRESS
// until every stage is done, then QA until the verdict: PASSED or FAILED.
// CANCELLED comes from the order's cancellation. PASSED, FAILED and CANCELLED
// are final.
const (
	StatusAssigned   = "ASSIGNED"
	StatusInProgress = "IN_PROGRESS"
	StatusQA         = "QA"
	StatusPassed     = "PASSED"
	StatusFailed     = "FAILED"
	StatusCancelled  = "CANCELLED"
)

// Statuses lists the production order statuses, for filters.
var Statuses = []string{StatusAssigned, StatusInProgress, StatusQA, StatusPassed, StatusFailed, StatusCancelled}

// Stage round statuses.
const (
	StagePending = "PENDING"
	StageStarted = "STARTED"
	StageDone    = "DONE"
)

// Why a stage round exists: the plan (round 0), or a rework decision.
const (
	ReasonPlan      = "PLAN"
	ReasonRework    = "REWORK"
	ReasonReprocure = "REPROCURE"
)

// Order is a production order: an order's routing assigned to one factory.
type Order struct {
	ID             uuid.UUID       `json:"id"`
	OrderID        uuid.UUID       `json:"orderId"`
	CustomerID     uuid.UUID       `json:"customerId"`
	FactoryID      uuid.UUID       `json:"factoryId"`
	AssignKey      string          `json:"assignKey"`
	Status         string          `json:"status"`
	Quantity       int             `json:"quantity"`
	ScrapTolerance decimal.Decimal `json:"scrapTolerance"`
	// Stages holds every round of every stage, by seq then round.
	Stages    []Stage   `json:"stages"`
	QA        *QAResult `json:"qa,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Stage is one round of one routing stage. Round 0 is the plan; further rounds
// are rework of the same stage for the quantity it came up short.
type Stage struct {
	Seq            int                    `json:"seq"`
	Round          int                    `json:"round"`
	Code           string                 `json:"code"`
	Name           string                 `json:"name"`
	WorkCentreKind catalog.WorkCentreKind `json:"workCentreKind"`
	MinutesPerUnit decimal.Decimal        `json:"minutesPerUnit"`
	// PlannedMinutes is MinutesPerUnit × the quantity planned for the round:
	// the order quantity for round 0, the missing quantity for a rework round.
	PlannedMinutes decimal.Decimal `json:"plannedMinutes"`
	Reason         string          `json:"reason"`
	Status         string          `json:"status"`
	// InputQuantity is what entered the round: set at creation for the first
	// stage and for rework rounds, at start for later stages (the good output
	// of the stage before).
	InputQuantity *int       `json:"inputQuantity,omitempty"`
	GoodQuantity  *int       `json:"goodQuantity,omitempty"`
	ScrapQuantity *int       `json:"scrapQuantity,omitempty"`
	StartedAt     *time.Time `json:"startedAt,omitempty"`
	FinishedAt    *time.Time `json:"finishedAt,omitempty"`
}

// QAResult is the verdict that closes production.
type QAResult struct {
	Passed bool   `json:"passed"`
	Notes  string `json:"notes"`
	// Quantity is the good output of the last stage presented to QA.
	Quantity   int        `json:"quantity"`
	RecordedBy *uuid.UUID `json:"recordedBy,omitempty"`
	At         time.Time  `json:"at"`
}

// Service is the production context.
type Service struct {
	db    *pgxpool.Pool
	cache *cache.Cache
	// Genealogy, when set, records each finished stage as EPCIS events (the
	// units minted, transformed on their machine, scrapped) in the same
	// transaction.
	Genealogy *genealogy.Service
}

// New returns the production service. cache may be nil.
func New(db *pgxpool.Pool, c *cache.Cache) *Service { return &Service{db: db, cache: c} }

// idNS derives production order ids from order ids: one production order per order.
var idNS = uuid.MustParse("bbfe5bac-5002-485c-aab8-16ab74d765f8")

// IDFor is the id of the production order of an order.
func IDFor(orderID uuid.UUID) uuid.UUID { return uuid.NewSHA1(idNS, orderID[:]) }

func cacheKey(id uuid.UUID) string { return "production:" + id.String() }

// Seqs returns the distinct stage seqs in order.
func (o *Order) Seqs() []int {
	var out []int
	for _, s := range o.Stages {
		if len(out) == 0 || out[len(out)-1] != s.Seq {
			out = append(out, s.Seq)
		}
	}
	return out
}

// Rounds returns the rounds of stage seq, oldest first.
func (o *Order) Rounds(seq int) []*Stage {
	var out []*Stage
	for i := range o.Stages {
		if o.Stages[i].Seq == seq {
			out = append(out, &o.Stages[i])
		}
	}
	return out
}

// Latest returns the newest round of stage seq, or nil.
func (o *Order) Latest(seq int) *Stage {
	r := o.Rounds(seq)
	if len(r) == 0 {
		return nil
	}
	return r[len(r)-1]
}

// Previous returns the newest round of the stage before seq, or nil for the first stage.
func (o *Order) Previous(seq int) *Stage {
	var prev *Stage
	for _, q := range o.Seqs() {
		if q == seq {
			return prev
		}
		prev = o.Latest(q)
	}
	return nil
}

// GoodOut is the good quantity of stage seq over its finished rounds up to round.
func (o *Order) GoodOut(seq, upTo int) int {
	n := 0
	for _, r := range o.Rounds(seq) {
		if r.Round <= upTo && r.Status == StageDone && r.GoodQuantity != nil {
			n += *r.GoodQuantity
		}
	}
	return n
}

// AllDone reports whether the newest round of every stage is done.
func (o *Order) AllDone() bool {
	for _, q := range o.Seqs() {
		if o.Latest(q).Status != StageDone {
			return false
		}
	}
	return true
}

// isActor reports whether p's role may act (not only read).
func isActor(p *identity.Principal) bool {
	return p.Role == identity.RoleAdmin || p.Role == identity.RoleMember
}

// canRead: platform users all; a factory its own; a customer its order's.
func canRead(p *identity.Principal, o *Order) bool {
	switch p.Kind {
	case identity.KindPlatform:
		return true
	case identity.KindFactory:
		return p.EnterpriseID == o.FactoryID
	case identity.KindCustomer:
		return p.EnterpriseID == o.CustomerID
	}
	return false
}

// canReport: the assigned factory's admins and members, or platform admins and members.
func canReport(p *identity.Principal, o *Order) bool {
	if !isActor(p) {
		return false
	}
	return p.Kind == identity.KindPlatform || (p.Kind == identity.KindFactory && p.EnterpriseID == o.FactoryID)
}

func unauthenticated() error {
	return errs.New(errs.Unauthenticated, nil, "a bearer token is required")
}
