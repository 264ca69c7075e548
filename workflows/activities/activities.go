// Package activities adapts the order workflow's effects to the services. Each
// activity is idempotent on business keys, because Temporal may run it twice.
package activities

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/masscustom/orchestrator/services/aftersales"
	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/leasing"
	"github.com/masscustom/orchestrator/services/logistics"
	"github.com/masscustom/orchestrator/services/orders"
	"github.com/masscustom/orchestrator/services/production"
	"github.com/masscustom/orchestrator/workflows/refusal"
)

// Activities holds the services the activities call.
type Activities struct {
	Orders     *orders.Service
	Catalog    *catalog.Store
	Leasing    *leasing.Store
	Production *production.Service
	Logistics  *logistics.Service
	Aftersales *aftersales.Service
	// Procurement holds the sourcing activities, registered beside these.
	Procurement *ProcurementActivities
}

// Transition is the workflow's view of orders.Transition (string ids, so that
// workflow code needs no parsing).
type Transition struct {
	OrderID        string
	Key            string
	Type           string
	Stage          string
	Status         string
	Message        string
	Data           map[string]any
	ActorID        string
	DesignDeadline *time.Time
	DesignApproved bool
}

func parse(id string) (uuid.UUID, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return uuid.Nil, refusal.New(errs.Invalid(nil, "bad id %q", id))
	}
	return u, nil
}

func actor(id string) *uuid.UUID {
	if u, err := uuid.Parse(id); err == nil && u != uuid.Nil {
		return &u
	}
	return nil
}

// Record persists a transition and its timeline event; it returns the event's sequence number.
func (a *Activities) Record(ctx context.Context, t Transition) (int64, error) {
	if _, err := parse(t.OrderID); err != nil {
		return 0, err
	}
	return a.Orders.Record(ctx, transition(t))
}

// transition is the service's view of t (t.OrderID parsed already).
func transition(t Transition) orders.Transition {
	id, _ := uuid.Parse(t.OrderID)
	return orders.Transition{
		OrderID: id, Key: t.Key, Type: t.Type, Stage: t.Stage, Status: t.Status, Message: t.Message,
		Data: t.Data, ActorID: actor(t.ActorID), DesignDeadline: t.DesignDeadline, DesignApproved: t.DesignApproved,
	}
}

// Design summarizes a prepared design.
type Design struct {
	ConfigVersion int
	Materials     int
	Stages        int
}

// PrepareDesign derives and stores the BOM and routing of the order's configuration.
func (a *Activities) PrepareDesign(ctx context.Context, orderID string) (Design, error) {
	id, err := parse(orderID)
	if err != nil {
		return Design{}, err
	}
	d, err := a.Orders.PrepareDesign(ctx, id)
	return Design{ConfigVersion: d.ConfigVersion, Materials: d.Materials, Stages: d.Stages}, err
}

// Change is a design change to apply.
type Change struct {
	OrderID    string
	Key        string
	ActorID    string
	Selections []catalog.Selection
	Quantity   int
	Reason     string
}

// ChangeResult is the configuration version and event sequence after a change.
type ChangeResult struct {
	ConfigVersion int
	Seq           int64
}

// ApplyDesignChange validates and stores a new configuration. An invalid one
// fails without retry, with the violations as details.
func (a *Activities) ApplyDesignChange(ctx context.Context, c Change) (ChangeResult, error) {
	id, err := parse(c.OrderID)
	if err != nil {
		return ChangeResult{}, err
	}
	v, seq, err := a.Orders.ApplyChange(ctx, orders.Change{OrderID: id, Key: c.Key, ActorID: actor(c.ActorID), Selections: c.Selections, Quantity: c.Quantity, Reason: c.Reason})
	var invalid *orders.ErrInvalidConfiguration
	if errors.As(err, &invalid) {
		return ChangeResult{}, refusal.Violations(invalid.Violations)
	}
	return ChangeResult{ConfigVersion: v, Seq: seq}, err
}

// Compensation undoes a cancelled order's holdings.
type Compensation struct {
	OrderID string
	Key     string
	ActorID string
	Reason  string
}

// Compensate runs the compensations of a cancelled order and records them.
func (a *Activities) Compensate(ctx context.Context, c Compensation) (int64, error) {
	id, err := parse(c.OrderID)
	if err != nil {
		return 0, err
	}
	return a.Orders.Compensate(ctx, id, c.Key, actor(c.ActorID), c.Reason)
}
