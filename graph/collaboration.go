package graph

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/masscustom/orchestrator/graph/model"
	"github.com/masscustom/orchestrator/services/aftersales"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/logistics"
	"github.com/masscustom/orchestrator/services/orders"
	"github.com/masscustom/orchestrator/services/procurement"
	"github.com/masscustom/orchestrator/services/production"
)

const (
	typeTask       = "ProcurementTask"
	typeProduction = "ProductionOrder"
	typeShipment   = "Shipment"
	typeTicket     = "ServiceTicket"
)

func toTask(t *procurement.Task) *model.ProcurementTask {
	return &model.ProcurementTask{Task: *t, ID: GlobalID(typeTask, t.ID)}
}

func toProduction(o *production.Order) *model.ProductionOrder {
	return &model.ProductionOrder{Order: *o, ID: GlobalID(typeProduction, o.ID)}
}

func toShipment(s *logistics.Shipment) *model.Shipment {
	return &model.Shipment{Shipment: *s, ID: GlobalID(typeShipment, s.ID)}
}

func toTicket(t *aftersales.Ticket) *model.ServiceTicket {
	return &model.ServiceTicket{Ticket: *t, ID: GlobalID(typeTicket, t.ID)}
}

// visibleOrder returns an order its customer or the operator may read, and
// also the factory producing it and the carrier shipping it (they act on it
// and need its configuration and address). Others get NOT_FOUND.
func (r *Resolver) visibleOrder(ctx context.Context, p *identity.Principal, id uuid.UUID) (*orders.Order, error) {
	o, err := r.OrderSvc.Get(ctx, p, id)
	if err == nil || !errors.Is(err, errs.ErrNotFound) || p == nil {
		return o, err
	}
	_, perr := r.ProductionSvc.ForOrder(ctx, p, id)
	_, lerr := r.Logistics.ForOrder(ctx, p, id)
	if perr == nil || lerr == nil {
		return r.OrderSvc.Get(ctx, identity.System, id)
	}
	return nil, errs.ErrNotFound
}

// actAs checks that p may perform action for its own enterprise; which
// enterprise the step belongs to is the workflow's check.
func actAs(p *identity.Principal, action identity.Action) error {
	return identity.Authorize(p, action, identity.Scope{EnterpriseID: p.EnterpriseIDOrNil()})
}

// taskUpdate sends an update to the sourcing workflow of a task the viewer
// may see, and returns the task as it is after.
func (r *Resolver) taskUpdate(ctx context.Context, taskID string, action identity.Action, send func(ctx context.Context, t *procurement.Task, p *identity.Principal) error) (*model.ProcurementTaskPayload, error) {
	return r.checkedTaskUpdate(ctx, taskID, action, nil, send)
}

// checkedTaskUpdate is taskUpdate with a check of the input against the task
// (its material's unit) before anything is sent to the workflow.
func (r *Resolver) checkedTaskUpdate(ctx context.Context, taskID string, action identity.Action, check func(ctx context.Context, t *procurement.Task) (errs.List, error), send func(ctx context.Context, t *procurement.Task, p *identity.Principal) error) (*model.ProcurementTaskPayload, error) {
	p := identity.FromContext(ctx)
	var t *procurement.Task
	tid, err := idOf(taskID, typeTask, "input", "taskId")
	if err == nil {
		err = actAs(p, action)
	}
	if err == nil {
		t, err = r.visibleTask(ctx, p, tid)
		if errors.Is(err, errs.ErrNotFound) {
			err = errs.New(errs.NotFound, []string{"input", "taskId"}, "no such procurement task")
		}
	}
	if err == nil && check != nil {
		var problems errs.List
		if problems, err = check(ctx, t); err == nil && len(problems) > 0 {
			err = problems
		}
	}
	if err != nil {
		ue, fault := userErrors(err)
		if fault != nil {
			return nil, fault
		}
		return &model.ProcurementTaskPayload{Errors: ue}, nil
	}
	ue, err := runUpdate(ctx, func() error { return send(ctx, t, p) })
	if err != nil {
		return nil, err
	}
	if ue != nil {
		return &model.ProcurementTaskPayload{Errors: ue}, nil
	}
	after, err := r.Procurement.TaskByID(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	return &model.ProcurementTaskPayload{Task: toTask(after), Errors: []*model.UserError{}}, nil
}

// partyUpdate sends an update to an order's workflow on behalf of the party
// (factory, carrier) that found the order through its own record.
func (r *Resolver) partyUpdate(ctx context.Context, orderID string, action identity.Action, find func(p *identity.Principal, id uuid.UUID) error, send func(ctx context.Context, orderID string, p *identity.Principal) error) (*model.OrderPayload, error) {
	p := identity.FromContext(ctx)
	id, err := idOf(orderID, typeOrder, "input", "orderId")
	if err == nil {
		err = actAs(p, action)
	}
	if err == nil {
		if err = find(p, id); errors.Is(err, errs.ErrNotFound) {
			err = errs.New(errs.NotFound, []string{"input", "orderId"}, "no such order for you")
		}
	}
	if err != nil {
		ue, fault := userErrors(err)
		if fault != nil {
			return nil, fault
		}
		return &model.OrderPayload{Errors: ue}, nil
	}
	ue, err := runUpdate(ctx, func() error { return send(ctx, id.String(), p) })
	if err != nil {
		return nil, err
	}
	if ue != nil {
		return &model.OrderPayload{Errors: ue}, nil
	}
	return r.orderPayload(ctx, id)
}

// ticketUpdate acts on a ticket the viewer may see, if it may perform action.
func (r *Resolver) ticketUpdate(ctx context.Context, ticketID string, action identity.Action, send func(ctx context.Context, p *identity.Principal, t *aftersales.Ticket) error) (*model.OrderPayload, error) {
	p := identity.FromContext(ctx)
	var t *aftersales.Ticket
	tid, err := idOf(ticketID, typeTicket, "input", "ticketId")
	if err == nil {
		t, err = r.Aftersales.Ticket(ctx, p, tid)
		if errors.Is(err, errs.ErrNotFound) {
			err = errs.New(errs.NotFound, []string{"input", "ticketId"}, "no such service ticket")
		}
	}
	if err == nil && !identity.Can(p, action, identity.Scope{EnterpriseID: p.EnterpriseIDOrNil()}) {
		if action == identity.ActTicketDispatch {
			err = errs.New(errs.Forbidden, nil, "only the operator dispatches service tickets")
		} else {
			err = errs.New(errs.Forbidden, nil, "only the operator or the ticket's assignee handles service tickets")
		}
	}
	if err != nil {
		ue, fault := userErrors(err)
		if fault != nil {
			return nil, fault
		}
		return &model.OrderPayload{Errors: ue}, nil
	}
	ue, err := runUpdate(ctx, func() error { return send(ctx, p, t) })
	if err != nil {
		return nil, err
	}
	if ue != nil {
		return &model.OrderPayload{Errors: ue}, nil
	}
	return r.orderPayload(ctx, t.OrderID)
}

func principalOf(ctx context.Context) identity.Principal {
	if p := identity.FromContext(ctx); p != nil {
		return *p
	}
	return identity.Principal{}
}

// findProduction finds the order through the viewer's production order.
func (r *Resolver) findProduction(ctx context.Context) func(p *identity.Principal, id uuid.UUID) error {
	return func(p *identity.Principal, id uuid.UUID) error {
		_, err := r.ProductionSvc.ForOrder(ctx, p, id)
		return err
	}
}

// orderIfVisible shows the order of a task, production order or shipment to
// those who may see the order itself; others see null.
func (r *Resolver) orderIfVisible(ctx context.Context, id uuid.UUID) (*model.Order, error) {
	o, err := r.visibleOrder(ctx, identity.FromContext(ctx), id)
	if errors.Is(err, errs.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return toOrder(o), nil
}

func capabilityPayload(err error) (*model.CapabilityPayload, error) {
	ue, fault := userErrors(err)
	if fault != nil {
		return nil, fault
	}
	return &model.CapabilityPayload{Ok: err == nil, Errors: ue}, nil
}

// visibleTask returns a procurement task its supplier, the order's customer or
// the operator may see, and also the factory that receives its materials.
func (r *Resolver) visibleTask(ctx context.Context, p *identity.Principal, id uuid.UUID) (*procurement.Task, error) {
	t, err := r.Procurement.Task(ctx, p, id)
	if err == nil || !errors.Is(err, errs.ErrNotFound) || p == nil || p.Kind != identity.KindFactory {
		return t, err
	}
	t, err = r.Procurement.TaskByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if _, err := r.ProductionSvc.ForOrder(ctx, p, t.OrderID); err != nil {
		return nil, errs.ErrNotFound
	}
	return t, nil
}
