package model

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/leasing"
)

// Equipment is the GraphQL view of leasing.Equipment.
type Equipment struct {
	ID         string     `json:"id"`
	Serial     string     `json:"serial"`
	Kind       string     `json:"kind"`
	Meters     []string   `json:"meters"`
	Locked     bool       `json:"locked"`
	LockedAt   *time.Time `json:"lockedAt,omitempty"`
	CreatedAt  time.Time  `json:"createdAt"`
	LessorUUID uuid.UUID  `json:"-"`
}

// IsNode marks Equipment as a Node.
func (Equipment) IsNode() {}

// GetID returns the global id.
func (e Equipment) GetID() string { return e.ID }

// Invoice is the GraphQL view of leasing.StoredInvoice.
type Invoice struct {
	ID             string                `json:"id"`
	Number         int                   `json:"number"`
	Kind           string                `json:"kind"`
	PeriodKey      string                `json:"periodKey"`
	Currency       string                `json:"currency"`
	Lines          []leasing.InvoiceLine `json:"lines"`
	Total          decimal.Decimal       `json:"total"`
	VatRatePercent decimal.Decimal       `json:"vatRatePercent"`
	Tax            decimal.Decimal       `json:"tax"`
	Gross          decimal.Decimal       `json:"gross"`
	PlatformFee    decimal.Decimal       `json:"platformFee"`
	LessorShare    decimal.Decimal       `json:"lessorShare"`
	IssuedAt       time.Time             `json:"issuedAt"`
	Status         string                `json:"status"`
	ReviewUntil    *time.Time            `json:"reviewUntil,omitempty"`
	FinalizedAt    *time.Time            `json:"finalizedAt,omitempty"`
	DocumentURL    string                `json:"documentUrl"`
	// UUID is the invoice's id, for its notes.
	UUID uuid.UUID `json:"-"`
}

// IsNode marks Invoice as a Node.
func (Invoice) IsNode() {}

// GetID returns the global id.
func (i Invoice) GetID() string { return i.ID }

// LeaseContract is the GraphQL view of leasing.StoredContract.
type LeaseContract struct {
	ID          string                  `json:"id"`
	Number      int                     `json:"number"`
	Status      string                  `json:"status"`
	Currency    string                  `json:"currency"`
	Terms       json.RawMessage         `json:"terms"`
	StartsAt    time.Time               `json:"startsAt"`
	EndsAt      time.Time               `json:"endsAt"`
	CreditLimit decimal.Decimal         `json:"creditLimit"`
	UUID        uuid.UUID               `json:"-"`
	LessorUUID  uuid.UUID               `json:"-"`
	LesseeUUID  uuid.UUID               `json:"-"`
	Stored      *leasing.StoredContract `json:"-"`
}

// IsNode marks LeaseContract as a Node.
func (LeaseContract) IsNode() {}

// GetID returns the global id.
func (c LeaseContract) GetID() string { return c.ID }
