package graph

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"

	"github.com/masscustom/orchestrator/graph/model"
	"github.com/masscustom/orchestrator/services/cache"
	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/orders"
	"github.com/masscustom/orchestrator/workflows"
	"github.com/masscustom/orchestrator/workflows/refusal"
)

const (
	typeTemplate = "ProductTemplate"
	typeQuote    = "Quote"
	typeOrder    = "Order"
)

func toTemplate(t catalog.Stored) *model.ProductTemplate {
	def, _ := json.Marshal(t.Template)
	return &model.ProductTemplate{
		ID: GlobalID(typeTemplate, t.UUID), Code: t.Code, Version: t.Version, Name: t.Name, Description: t.Description,
		Currency: t.Currency, MinQuantity: t.MinQuantity, MaxQuantity: t.MaxQuantity, Options: t.Groups,
		Definition: def, PublishedAt: t.PublishedAt,
	}
}

func toQuote(q *orders.Quote) *model.Quote {
	return &model.Quote{ID: GlobalID(typeQuote, q.ID), Quantity: q.Quantity, Configuration: q.Result, Total: q.Total,
		Currency: q.Currency, ValidUntil: q.ValidUntil, CreatedAt: q.CreatedAt, TemplateUUID: q.TemplateID}
}

func toOrder(o *orders.Order) *model.Order {
	return &model.Order{
		ID: GlobalID(typeOrder, o.ID), Status: model.OrderStatus(o.Status), Stage: model.OrderStage(o.Stage),
		ConfigVersion: o.ConfigVersion, Quantity: o.Quantity, Selections: o.Selections, ShippingAddress: o.ShippingAddress,
		Configuration: o.Result, Total: o.Total, Currency: o.Currency, DesignDeadline: o.DesignDeadline,
		DesignApprovedAt: o.DesignApprovedAt, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
		UUID: o.ID, CustomerUUID: o.CustomerID, TemplateUUID: o.TemplateID,
	}
}

func toEvent(e orders.Event) *model.OrderEvent {
	data := e.Data
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	return &model.OrderEvent{Seq: int(e.Seq), Type: e.Type, Stage: model.OrderStage(e.Stage), Status: model.OrderStatus(e.Status),
		Message: e.Message, Data: data, At: e.At}
}

func toSelections(in []*model.SelectionInput) []catalog.Selection {
	out := make([]catalog.Selection, 0, len(in))
	for _, s := range in {
		if s == nil {
			continue
		}
		out = append(out, catalog.Selection{Option: s.Option, Choice: deref(s.Choice), Choices: s.Choices, Number: s.Number, Text: s.Text})
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func toAddress(a *model.AddressInput) orders.Address {
	if a == nil {
		return orders.Address{}
	}
	return orders.Address{Recipient: a.Recipient, Phone: deref(a.Phone), Line1: a.Line1, Line2: deref(a.Line2), City: a.City,
		Region: deref(a.Region), PostalCode: a.PostalCode, Country: a.Country}
}

func actorID(p *identity.Principal) string {
	if p == nil || p.UserID == uuid.Nil {
		return ""
	}
	return p.UserID.String()
}

// startOrder starts the order's workflow. The conflict policy makes a retried
// placeOrder attach to the running workflow instead of starting a second one,
// and the reuse policy refuses to run a finished order again.
func (r *Resolver) startOrder(ctx context.Context, id uuid.UUID) error {
	err := r.Workflows.StartOrder(ctx, workflows.OrderInput{OrderID: id.String(), DesignApprovalTimeout: r.DesignTimeout,
		OfferTimeout: r.OrderDurations.OfferTimeout, AutoConfirmAfter: r.OrderDurations.AutoConfirmAfter, Warranty: r.OrderDurations.Warranty})
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	if r.WorkflowStarts != nil {
		r.WorkflowStarts.WithLabelValues(workflows.OrderWorkflow, outcome).Inc()
	}
	return err
}

// updateOrder runs a Temporal Update on the order's workflow after checking that
// the principal may perform action, then returns the order as persisted.
func (r *Resolver) updateOrder(ctx context.Context, orderID string, action identity.Action, send func(ctx context.Context, orderID string) error) (*model.OrderPayload, error) {
	p := identity.FromContext(ctx)
	id, err := idOf(orderID, typeOrder, "input", "orderId")
	if err == nil {
		_, err = r.OrderSvc.Authorize(ctx, p, action, id)
		if errors.Is(err, errs.ErrNotFound) {
			err = errs.New(errs.NotFound, []string{"input", "orderId"}, "no such order")
		}
	}
	if err != nil {
		ue, fault := userErrors(err)
		if fault != nil {
			return nil, fault
		}
		return &model.OrderPayload{Errors: ue}, nil
	}
	if ue, err := runUpdate(ctx, func() error { return send(ctx, id.String()) }); err != nil || ue != nil {
		if err != nil {
			return nil, err
		}
		return &model.OrderPayload{Errors: ue}, nil
	}
	return r.orderPayload(ctx, id)
}

// orderPayload answers a command that succeeded with the order as it is now.
// A viewer that may act without seeing the order (the factory a service
// ticket was dispatched to) gets the success without the order: a mutation
// that succeeded never answers an error.
func (r *Resolver) orderPayload(ctx context.Context, id uuid.UUID) (*model.OrderPayload, error) {
	o, err := r.visibleOrder(ctx, identity.FromContext(ctx), id)
	if errors.Is(err, errs.ErrNotFound) {
		return &model.OrderPayload{Errors: []*model.UserError{}}, nil
	}
	if err != nil {
		return nil, err
	}
	return &model.OrderPayload{Order: toOrder(o), Errors: []*model.UserError{}}, nil
}

// runUpdate runs send, an update through the typed workflow client, and
// waits until it completed; refusals come back as payload errors, faults as
// the error.
func runUpdate(ctx context.Context, send func() error) ([]*model.UserError, error) {
	err := send()
	if err != nil {
		if ue := updateRefusal(err); ue != nil {
			return ue, nil
		}
		slog.ErrorContext(ctx, "update failed", "err", err)
		return nil, err
	}
	return nil, nil
}

// updateRefusal maps a refused update to payload errors; nil for a fault.
func updateRefusal(err error) []*model.UserError {
	if list, ok := refusal.Decode(err); ok {
		ue, _ := userErrors(list)
		return ue
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return []*model.UserError{{Code: model.ErrorCodeIllegalState, Field: []string{}, Message: "the order is no longer running"}}
	}
	return nil
}

// followEvents replays the order's timeline from Postgres after `after`, then
// follows Redis; any gap (a lost message, Redis down) is filled from Postgres,
// which is also polled now and then, so a subscriber misses nothing.
func (r *Resolver) followEvents(ctx context.Context, id uuid.UUID, after int64) <-chan *model.OrderEvent {
	return follow(ctx, r.Cache, orders.EventsChannel(id), after,
		func(ctx context.Context, after int64, n int) ([]orders.Event, error) {
			return r.OrderSvc.Events(ctx, id, after, n)
		},
		func(e orders.Event) int64 { return e.Seq }, toEvent)
}

// follow is a resumable timeline subscription: it sends what load returns
// after `after`, in seq order and once, then reads again whenever channel
// announces something newer than what was sent (a message with a "seq" at
// or below it is skipped; one without a seq always reads) and every few
// seconds in case an announcement was lost. Postgres is the truth; Redis only
// says when to look.
func follow[E, M any](ctx context.Context, c *cache.Cache, channel string, after int64,
	load func(ctx context.Context, after int64, n int) ([]E, error), seqOf func(E) int64, to func(E) M) <-chan M {
	const batch = 500
	out := make(chan M, 64)
	sub := c.R.Subscribe(ctx, channel)
	go func() {
		defer close(out)
		defer sub.Close()
		last := after
		catchUp := func() bool {
			for {
				evs, err := load(ctx, last, batch)
				if err != nil {
					if ctx.Err() == nil {
						slog.WarnContext(ctx, "timeline replay failed", "channel", channel, "err", err)
					}
					return ctx.Err() == nil
				}
				for _, e := range evs {
					select {
					case out <- to(e):
						last = seqOf(e)
					case <-ctx.Done():
						return false
					}
				}
				if len(evs) < batch {
					return true
				}
			}
		}
		if !catchUp() {
			return
		}
		msgs := sub.Channel()
		poll := time.NewTicker(5 * time.Second)
		defer poll.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-poll.C:
				if !catchUp() {
					return
				}
			case m, ok := <-msgs:
				if !ok {
					return
				}
				var announced struct {
					Seq *int64 `json:"seq"`
				}
				if json.Unmarshal([]byte(m.Payload), &announced) == nil && announced.Seq != nil && *announced.Seq <= last {
					continue
				}
				if !catchUp() { // reads from Postgres up to the newest, in order
					return
				}
			}
		}
	}()
	return out
}
