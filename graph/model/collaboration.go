package model

import (
	"github.com/masscustom/orchestrator/services/aftersales"
	"github.com/masscustom/orchestrator/services/logistics"
	"github.com/masscustom/orchestrator/services/procurement"
	"github.com/masscustom/orchestrator/services/production"
)

// ProcurementTask is a procurement.Task with its global id.
type ProcurementTask struct {
	procurement.Task
	ID string `json:"id"`
}

// IsNode marks ProcurementTask as a Node.
func (ProcurementTask) IsNode() {}

// GetID returns the global id.
func (t ProcurementTask) GetID() string { return t.ID }

// ProductionOrder is a production.Order with its global id.
type ProductionOrder struct {
	production.Order
	ID string `json:"id"`
}

// IsNode marks ProductionOrder as a Node.
func (ProductionOrder) IsNode() {}

// GetID returns the global id.
func (p ProductionOrder) GetID() string { return p.ID }

// Shipment is a logistics.Shipment with its global id.
type Shipment struct {
	logistics.Shipment
	ID string `json:"id"`
}

// IsNode marks Shipment as a Node.
func (Shipment) IsNode() {}

// GetID returns the global id.
func (s Shipment) GetID() string { return s.ID }

// ServiceTicket is an aftersales.Ticket with its global id.
type ServiceTicket struct {
	aftersales.Ticket
	ID string `json:"id"`
}

// IsNode marks ServiceTicket as a Node.
func (ServiceTicket) IsNode() {}

// GetID returns the global id.
func (t ServiceTicket) GetID() string { return t.ID }
