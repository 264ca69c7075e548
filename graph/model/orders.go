package model

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/orders"
)

// ProductTemplate is the GraphQL view of a stored template version.
type ProductTemplate struct {
	ID          string                `json:"id"`
	Code        string                `json:"code"`
	Version     int                   `json:"version"`
	Name        string                `json:"name"`
	Description string                `json:"description"`
	Currency    string                `json:"currency"`
	MinQuantity int                   `json:"minQuantity"`
	MaxQuantity int                   `json:"maxQuantity"`
	Options     []catalog.OptionGroup `json:"options"`
	Definition  json.RawMessage       `json:"definition"`
	PublishedAt time.Time             `json:"publishedAt"`
}

// IsNode marks ProductTemplate as a Node.
func (ProductTemplate) IsNode() {}

// GetID returns the global id.
func (t ProductTemplate) GetID() string { return t.ID }

// Quote is the GraphQL view of orders.Quote.
type Quote struct {
	ID            string          `json:"id"`
	Quantity      int             `json:"quantity"`
	Configuration catalog.Result  `json:"configuration"`
	Total         decimal.Decimal `json:"total"`
	Currency      string          `json:"currency"`
	ValidUntil    time.Time       `json:"validUntil"`
	CreatedAt     time.Time       `json:"createdAt"`
	TemplateUUID  uuid.UUID       `json:"-"`
}

// IsNode marks Quote as a Node.
func (Quote) IsNode() {}

// GetID returns the global id.
func (q Quote) GetID() string { return q.ID }

// Order is the GraphQL view of orders.Order.
type Order struct {
	ID               string              `json:"id"`
	Status           OrderStatus         `json:"status"`
	Stage            OrderStage          `json:"stage"`
	ConfigVersion    int                 `json:"configVersion"`
	Quantity         int                 `json:"quantity"`
	Selections       []catalog.Selection `json:"selections"`
	ShippingAddress  orders.Address      `json:"shippingAddress"`
	Configuration    catalog.Result      `json:"configuration"`
	Total            decimal.Decimal     `json:"total"`
	Currency         string              `json:"currency"`
	DesignDeadline   *time.Time          `json:"designDeadline,omitempty"`
	DesignApprovedAt *time.Time          `json:"designApprovedAt,omitempty"`
	CreatedAt        time.Time           `json:"createdAt"`
	UpdatedAt        time.Time           `json:"updatedAt"`
	UUID             uuid.UUID           `json:"-"`
	CustomerUUID     uuid.UUID           `json:"-"`
	TemplateUUID     uuid.UUID           `json:"-"`
}

// IsNode marks Order as a Node.
func (Order) IsNode() {}

// GetID returns the global id.
func (o Order) GetID() string { return o.ID }

// OrderEvent is the GraphQL view of orders.Event.
type OrderEvent struct {
	Seq     int             `json:"seq"`
	Type    string          `json:"type"`
	Stage   OrderStage      `json:"stage"`
	Status  OrderStatus     `json:"status"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
	At      time.Time       `json:"at"`
}
