package graph

import (
	"context"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/masscustom/orchestrator/graph/model"
	"github.com/masscustom/orchestrator/services/aftersales"
	"github.com/masscustom/orchestrator/services/genealogy"
	"github.com/masscustom/orchestrator/services/identifiers"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/orders"
	"github.com/masscustom/orchestrator/services/registry"
	"github.com/masscustom/orchestrator/workflows"
)

const typeRecall = "Recall"

// toResolution maps a Handle REST answer; the owner's view (readable,
// partners) is added from the record when p may see it.
func toResolution(a identifiers.Answer, rec *registry.Record, p *identity.Principal) *model.IdentifierResolution {
	out := &model.IdentifierResolution{ResponseCode: a.ResponseCode, Handle: a.Handle, Node: a.Node, Values: []*model.HandleValue{}}
	if a.Message != "" {
		out.Message = &a.Message
	}
	owner := rec != nil && p != nil && (p.Kind == identity.KindPlatform || p.EnterpriseID == rec.OwnerID)
	for _, v := range a.Values {
		ts, _ := time.Parse(time.RFC3339, v.Timestamp)
		hv := &model.HandleValue{Index: v.Index, Type: v.Type, Data: v.Data.Value, TTL: v.TTL, Timestamp: ts}
		if owner {
			for _, sv := range rec.Values {
				if sv.Index == v.Index {
					readable := sv.Readable
					hv.Readable = &readable
					hv.Partners = []string{}
					for _, id := range sv.Partners {
						hv.Partners = append(hv.Partners, GlobalID(typeEnterprise, id))
					}
				}
			}
		}
		out.Values = append(out.Values, hv)
	}
	return out
}

// valueInputs decodes value inputs; partner ids are enterprise ids.
func valueInputs(in []*model.HandleValueInput) ([]registry.ValueInput, error) {
	out := make([]registry.ValueInput, len(in))
	for i, v := range in {
		vi := registry.ValueInput{Type: v.Type, Data: v.Data, TTL: v.TTL, Readable: deref(v.Readable)}
		if v.Index != nil {
			vi.Index = *v.Index
		}
		for j, pid := range v.Partners {
			id, err := idOf(pid, typeEnterprise, "input", "values", strconv.Itoa(i), "partners", strconv.Itoa(j))
			if err != nil {
				return nil, err
			}
			vi.Partners = append(vi.Partners, id)
		}
		out[i] = vi
	}
	return out, nil
}

func (r *Resolver) resolution(ctx context.Context, handle string, q identifiers.Query) (*model.IdentifierResolution, error) {
	p := identity.FromContext(ctx)
	a, rec, err := r.Registry.ResolveText(ctx, p, handle, q, r.Remote)
	if err != nil {
		return nil, err
	}
	return toResolution(a, rec, p), nil
}

// toEpcisEvent maps an event; orders, when given, keeps the orders already
// looked up (the events of a listing share few orders).
func (r *Resolver) toEpcisEvent(ctx context.Context, e genealogy.StoredEvent, orders map[uuid.UUID]*model.Order) (*model.EpcisEvent, error) {
	out := &model.EpcisEvent{EventID: e.ID, Type: e.Type, BizStep: e.BizStep, EventTime: e.At, Event: e.Body}
	if e.OrderID == nil {
		return out, nil
	}
	if o, ok := orders[*e.OrderID]; ok {
		out.Order = o
		return out, nil
	}
	o, err := r.orderIfVisible(ctx, *e.OrderID)
	if err != nil {
		return nil, err
	}
	if orders != nil {
		orders[*e.OrderID] = o
	}
	out.Order = o
	return out, nil
}

// maxFilterValues bounds the types and indexes a resolution filters by.
const maxFilterValues = 20

func (r *Resolver) tracedOrders(ctx context.Context, orders []genealogy.AffectedOrder) ([]*model.TracedOrder, error) {
	out := make([]*model.TracedOrder, 0, len(orders))
	for _, o := range orders {
		t := &model.TracedOrder{Stage: o.Stage, Status: o.Status, Units: o.Units, Delivered: o.Delivered, OpenTickets: []*model.ServiceTicket{}}
		if o.Detailed {
			ord, err := r.OrderSvc.Get(ctx, identity.System, o.OrderID)
			if err != nil {
				return nil, err
			}
			t.Order = toOrder(ord)
			if t.Customer, err = r.enterpriseOf(ctx, o.CustomerID); err != nil {
				return nil, err
			}
			for _, id := range o.OpenTickets {
				tk, err := r.Aftersales.Ticket(ctx, identity.System, id)
				if err != nil {
					return nil, err
				}
				t.OpenTickets = append(t.OpenTickets, toTicket(tk))
			}
		}
		out = append(out, t)
	}
	return out, nil
}

func traced(nodes []genealogy.Node) []*model.TracedIdentifier {
	out := make([]*model.TracedIdentifier, len(nodes))
	for i, n := range nodes {
		out[i] = &model.TracedIdentifier{Handle: n.Handle, Kind: n.Kind, Depth: n.Depth}
	}
	return out
}

// recallNotify opens a recall's tickets through each order's workflow (the
// platform files them, as the operator would) and puts the RECALL event on
// the order's timeline.
func (r *Resolver) recallNotify() genealogy.Notify {
	return genealogy.Notify{
		OpenTicket: func(ctx context.Context, orderID uuid.UUID, key, description string) error {
			_, err := r.Workflows.OpenTicket(ctx, orderID.String(), workflows.TicketRequest{
				Principal: *identity.System, Key: key, Category: aftersales.CategoryDefect, Description: description})
			return err
		},
		Timeline: func(ctx context.Context, orderID uuid.UUID, key, message string, data map[string]any) error {
			_, err := r.OrderSvc.Append(ctx, orders.Transition{OrderID: orderID, Key: key, Type: genealogy.EventRecall, Message: message, Data: data})
			return err
		},
	}
}
