package activities

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/aftersales"
	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/logistics"
	"github.com/masscustom/orchestrator/services/production"
	"github.com/masscustom/orchestrator/workflows/refusal"
)

// Production is an assigned production order, as the workflow needs it.
type Production struct {
	ID        string
	FactoryID string
	Stages    int
	// Seqs are the routing's stage numbers in order (for example 10, 20, 30).
	Seqs     []int
	Quantity int
	// Plan is the production order as the update validators check stage
	// reports and QA against it (production.Order.Checkable); runs recorded
	// before it was kept have none, and leave those checks to the service.
	Plan *production.Order `json:",omitempty"`
}

// AssignProduction assigns the order to a factory with the routing's stages.
func (a *Activities) AssignProduction(ctx context.Context, orderID string) (Production, error) {
	id, err := parse(orderID)
	if err != nil {
		return Production{}, err
	}
	o, err := a.Orders.Get(ctx, identity.System, id)
	if err != nil {
		return Production{}, err
	}
	t, err := a.Catalog.Get(ctx, o.TemplateID)
	if err != nil {
		return Production{}, err
	}
	po, _, err := a.Production.Assign(ctx, production.AssignInput{
		OrderID: id, Key: "production", Quantity: o.Quantity, Stages: o.Result.Routing, ScrapTolerance: t.ScrapTolerance,
	})
	if err != nil {
		return Production{}, refusal.From(err)
	}
	return Production{ID: po.ID.String(), FactoryID: po.FactoryID.String(), Stages: len(o.Result.Routing), Seqs: po.Seqs(), Quantity: po.Quantity,
		Plan: po.Checkable()}, nil
}

// StageCommand is a factory's report on a stage of its production order.
type StageCommand struct {
	Principal    identity.Principal
	ProductionID string
	Seq          int
	Finished     bool
	Good, Scrap  int
}

// StageOutcome is what a stage report changed.
type StageOutcome struct {
	Status   string // the production order's status after the report
	Action   string // for a finished stage: the scrap decision
	Quantity int    // units a rework or re-procurement round makes up
	Percent  string
	// Plan is the production order after the report, for the validators.
	Plan *production.Order `json:",omitempty"`
}

// ReportStage records a stage started or finished.
func (a *Activities) ReportStage(ctx context.Context, c StageCommand) (StageOutcome, error) {
	id, err := parse(c.ProductionID)
	if err != nil {
		return StageOutcome{}, err
	}
	p := c.Principal
	var out StageOutcome
	if !c.Finished {
		po, err := a.Production.StartStage(ctx, &p, id, c.Seq)
		if err != nil {
			return out, refusal.From(err)
		}
		out.Status, out.Plan = po.Status, po.Checkable()
	} else {
		rep, err := a.Production.FinishStage(ctx, &p, id, c.Seq, c.Good, c.Scrap)
		if err != nil {
			return out, refusal.From(err)
		}
		out.Status, out.Action, out.Quantity = rep.Order.Status, rep.Decision.Action, rep.Decision.Quantity
		out.Plan = rep.Order.Checkable()
	}
	if prog, err := a.Production.Progress(ctx, identity.System, id); err == nil {
		out.Percent = prog.Percent.String()
	}
	return out, nil
}

// QACommand is a factory's QA verdict.
type QACommand struct {
	Principal    identity.Principal
	ProductionID string
	Passed       bool
	Notes        string
}

// RecordQA closes production with a QA verdict.
func (a *Activities) RecordQA(ctx context.Context, c QACommand) (string, error) {
	id, err := parse(c.ProductionID)
	if err != nil {
		return "", err
	}
	p := c.Principal
	po, err := a.Production.RecordQA(ctx, &p, id, c.Passed, c.Notes)
	if err != nil {
		return "", refusal.From(err)
	}
	return po.Status, nil
}

// CancelProduction stops the order's production (compensation).
func (a *Activities) CancelProduction(ctx context.Context, orderID string) error {
	id, err := parse(orderID)
	if err != nil {
		return err
	}
	_, err = a.Production.Cancel(ctx, production.IDFor(id), "cancelled")
	if err != nil && !errors.Is(err, errs.ErrNotFound) {
		if e, ok := errs.As(err); ok && e.Code == errs.IllegalState {
			return nil // already finished: nothing left to stop
		}
		return err
	}
	return nil
}

// Shipment is a booked shipment, as the workflow needs it.
type Shipment struct {
	ID             string
	CarrierID      string
	TrackingNumber string
	// Status and PickedUp are the shipment's as the update validators check
	// tracking against them; runs recorded before they were kept have no
	// Status, and leave those checks to the service.
	Status   string `json:",omitempty"`
	PickedUp bool   `json:",omitempty"`
}

// BookShipment books the order's shipment with a carrier serving its destination.
func (a *Activities) BookShipment(ctx context.Context, orderID string) (Shipment, error) {
	id, err := parse(orderID)
	if err != nil {
		return Shipment{}, err
	}
	o, err := a.Orders.Get(ctx, identity.System, id)
	if err != nil {
		return Shipment{}, err
	}
	sh, _, err := a.Logistics.Book(ctx, logistics.BookInput{OrderID: id, Key: "shipment", Destination: o.ShippingAddress, Currency: o.Currency})
	if err != nil {
		return Shipment{}, refusal.From(err)
	}
	return Shipment{ID: sh.ID.String(), CarrierID: sh.CarrierID.String(), TrackingNumber: sh.TrackingNumber, Status: sh.Status, PickedUp: sh.PickedUpAt != nil}, nil
}

// TrackCommand is a carrier's tracking report (Kind DELIVERED carries the POD).
type TrackCommand struct {
	Principal  identity.Principal
	ShipmentID string
	Kind       string
	Location   string
	Note       string
	EventKey   string
	POD        POD
}

// POD is a proof of delivery.
type POD struct {
	ReceivedBy   string
	SignatureRef string
	PhotoRef     string
}

// Tracked is a shipment's state after a report.
type Tracked struct {
	Status      string
	DeliveredAt *time.Time
}

// Track records a tracking event, or the delivery with its proof.
func (a *Activities) Track(ctx context.Context, c TrackCommand) (Tracked, error) {
	id, err := parse(c.ShipmentID)
	if err != nil {
		return Tracked{}, err
	}
	p := c.Principal
	var sh *logistics.Shipment
	if c.Kind == "DELIVERED" {
		sh, err = a.Logistics.Deliver(ctx, &p, id, logistics.POD{ReceivedBy: c.POD.ReceivedBy, SignatureRef: c.POD.SignatureRef, PhotoRef: c.POD.PhotoRef})
	} else {
		sh, err = a.Logistics.Track(ctx, &p, id, c.Kind, c.Location, c.Note, c.EventKey)
	}
	if err != nil {
		return Tracked{}, refusal.From(err)
	}
	return Tracked{Status: sh.Status, DeliveredAt: sh.DeliveredAt}, nil
}

// ConfirmReceipt confirms the delivery, by the customer or automatically.
func (a *Activities) ConfirmReceipt(ctx context.Context, orderID string, p identity.Principal, auto bool) error {
	id, err := parse(orderID)
	if err != nil {
		return err
	}
	if auto {
		p = *identity.System
	}
	_, err = a.Logistics.ConfirmReceipt(ctx, &p, id, auto)
	return refusal.From(err)
}

// CancelShipment cancels a shipment that was only booked (compensation).
func (a *Activities) CancelShipment(ctx context.Context, orderID string) error {
	id, err := parse(orderID)
	if err != nil {
		return err
	}
	_, err = a.Logistics.Cancel(ctx, logistics.IDFor(id))
	if err != nil && !errors.Is(err, errs.ErrNotFound) {
		if e, ok := errs.As(err); ok && e.Code == errs.IllegalState {
			return nil
		}
		return err
	}
	return nil
}

// StartWarranty starts the warranty at delivery for the given duration; it
// returns when it ends.
func (a *Activities) StartWarranty(ctx context.Context, orderID, factoryID string, startsAt time.Time, d time.Duration) (time.Time, error) {
	id, err := parse(orderID)
	if err != nil {
		return time.Time{}, err
	}
	var factory *uuid.UUID
	if f, err := uuid.Parse(factoryID); err == nil {
		factory = &f
	}
	w, _, err := a.Aftersales.StartWarranty(ctx, aftersales.WarrantyInput{OrderID: id, FactoryID: factory, StartsAt: startsAt, Duration: d})
	if err != nil {
		return time.Time{}, refusal.From(err)
	}
	return w.EndsAt, nil
}

// TicketCommand is a ticket action: open (TicketID empty), dispatch or resolve.
type TicketCommand struct {
	Principal   identity.Principal
	OrderID     string
	Key         string
	TicketID    string
	Category    string
	Description string
	Assignee    string
	Resolution  string
}

// TicketState is a ticket after a command.
type TicketState struct {
	ID     string
	Number int
	Status string
}

// OpenTicket opens a service ticket for the order (idempotent on Key).
func (a *Activities) OpenTicket(ctx context.Context, c TicketCommand) (TicketState, error) {
	id, err := parse(c.OrderID)
	if err != nil {
		return TicketState{}, err
	}
	p := c.Principal
	t, _, err := a.Aftersales.OpenTicket(ctx, &p, aftersales.TicketInput{OrderID: id, Key: c.Key, Category: c.Category, Description: c.Description})
	if err != nil {
		return TicketState{}, refusal.From(err)
	}
	return TicketState{ID: t.ID.String(), Number: t.Number, Status: t.Status}, nil
}

// DispatchTicket assigns a ticket to a factory or the platform.
func (a *Activities) DispatchTicket(ctx context.Context, c TicketCommand) (TicketState, error) {
	id, err := parse(c.TicketID)
	if err != nil {
		return TicketState{}, err
	}
	assignee, err := parse(c.Assignee)
	if err != nil {
		return TicketState{}, err
	}
	p := c.Principal
	t, err := a.Aftersales.Dispatch(ctx, &p, id, assignee)
	if err != nil {
		return TicketState{}, refusal.From(err)
	}
	return TicketState{ID: t.ID.String(), Number: t.Number, Status: t.Status}, nil
}

// ResolveTicket resolves a ticket.
func (a *Activities) ResolveTicket(ctx context.Context, c TicketCommand) (TicketState, error) {
	id, err := parse(c.TicketID)
	if err != nil {
		return TicketState{}, err
	}
	p := c.Principal
	t, err := a.Aftersales.Resolve(ctx, &p, id, c.Resolution)
	if err != nil {
		return TicketState{}, refusal.From(err)
	}
	return TicketState{ID: t.ID.String(), Number: t.Number, Status: t.Status}, nil
}

// OpenTicketCount is how many of the order's tickets are not resolved.
func (a *Activities) OpenTicketCount(ctx context.Context, orderID string) (int, error) {
	id, err := parse(orderID)
	if err != nil {
		return 0, err
	}
	list, err := a.Aftersales.OpenTickets(ctx, id)
	return len(list), err
}

// MaterialLine is one material the order must procure.
type MaterialLine struct {
	Line     int
	Material string
	Unit     string
	Quantity decimal.Decimal
}

// PlanProcurement lists the BOM materials of the order's approved configuration.
func (a *Activities) PlanProcurement(ctx context.Context, orderID string) ([]MaterialLine, error) {
	id, err := parse(orderID)
	if err != nil {
		return nil, err
	}
	o, err := a.Orders.Get(ctx, identity.System, id)
	if err != nil {
		return nil, err
	}
	return materialLines(o.Result.BOM), nil
}

func materialLines(bom []catalog.BOMLine) []MaterialLine {
	out := make([]MaterialLine, 0, len(bom))
	for i, b := range bom {
		if !b.Quantity.IsPositive() {
			continue
		}
		out = append(out, MaterialLine{Line: i + 1, Material: b.Material, Unit: b.Unit, Quantity: b.Quantity})
	}
	return out
}

// LeasedUsage is what settling a production job's leased-equipment usage charged.
type LeasedUsage struct {
	Invoices int
	Total    string
	Currency string
}

// SettleProductionUsage charges at once the usage of equipment leased to the
// order's factory during its production (instant settlement, one charge per
// lease, idempotent on the order), so a finished job is paid for as it ends.
func (a *Activities) SettleProductionUsage(ctx context.Context, orderID string) (LeasedUsage, error) {
	id, err := parse(orderID)
	if err != nil {
		return LeasedUsage{}, err
	}
	po, err := a.Production.ByOrder(ctx, id)
	if err != nil {
		return LeasedUsage{}, err
	}
	from := po.CreatedAt
	for _, st := range po.Stages {
		if st.StartedAt != nil && st.StartedAt.Before(from) {
			from = *st.StartedAt
		}
	}
	to := time.Now().UTC()
	if po.QA != nil && po.QA.At.After(from) {
		to = po.QA.At
	}
	contracts, err := a.Leasing.ActiveContractsOf(ctx, po.FactoryID, from, to)
	if err != nil {
		return LeasedUsage{}, err
	}
	out := LeasedUsage{Total: "0"}
	total := decimal.Zero
	for _, c := range contracts {
		machines, err := a.Leasing.ContractEquipment(ctx, c.ID)
		if err != nil {
			return LeasedUsage{}, err
		}
		ids := make([]uuid.UUID, len(machines))
		for i, m := range machines {
			ids[i] = m.ID
		}
		inv, err := a.Leasing.InstantSettle(ctx, identity.System, c.ID, "production:"+orderID, ids, from, to.Add(time.Nanosecond))
		if e, ok := errs.As(err); ok && (e.Code == errs.IllegalState || e.Code == errs.InvalidInput) {
			continue // no unbilled usage in that window, or outside the lease
		}
		if err != nil {
			return LeasedUsage{}, err
		}
		out.Invoices++
		out.Currency = inv.Currency
		total = total.Add(inv.Total)
	}
	out.Total = total.String()
	return out, nil
}
