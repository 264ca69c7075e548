package aftersales_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/masscustom/orchestrator/services/aftersales"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/orders"
)

func TestWarrantyCoversFromStartUntilEnd(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	w := &aftersales.Warranty{StartsAt: start, EndsAt: start.Add(24 * time.Hour)}
	cases := []struct {
		at   time.Time
		want bool
	}{
		{start.Add(-time.Nanosecond), false},
		{start, true},
		{start.Add(23 * time.Hour), true},
		{start.Add(24*time.Hour - time.Nanosecond), true},
		{start.Add(24 * time.Hour), false},
	}
	for _, c := range cases {
		if got := w.Covers(c.at); got != c.want {
			t.Errorf("Covers(%s) = %v, want %v", c.at, got, c.want)
		}
	}
	o := uuid.New()
	if aftersales.TicketID(o, "a") != aftersales.TicketID(o, "a") || aftersales.TicketID(o, "a") == aftersales.TicketID(o, "b") || aftersales.TicketID(o, "a") == aftersales.TicketID(uuid.New(), "a") {
		t.Fatal("ticket ids are not derived from (order, key)")
	}
}

// delivered places an order and starts its warranty at start for d, served by factory.
func (e env) delivered(t *testing.T, customer *identity.Principal, factory *uuid.UUID, start time.Time, d time.Duration) (*orders.Order, *identity.Principal, *aftersales.Warranty) {
	t.Helper()
	o, customer := e.place(t, customer)
	w, created, err := e.svc.StartWarranty(context.Background(), aftersales.WarrantyInput{OrderID: o.ID, FactoryID: factory, StartsAt: start, Duration: d})
	if err != nil || !created {
		t.Fatalf("start warranty: %v (created %v)", err, created)
	}
	return o, customer, w
}

func open(t *testing.T, e env, p *identity.Principal, orderID uuid.UUID, key string) *aftersales.Ticket {
	t.Helper()
	tk, _, err := e.svc.OpenTicket(context.Background(), p, aftersales.TicketInput{OrderID: orderID, Key: key, Category: aftersales.CategoryNoise, Description: "rattles at night"})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestWarrantyStartsOnceAndBoundsTickets(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	now := time.Now()
	o, customer, w := e.delivered(t, nil, nil, now.Add(-time.Minute), time.Hour)
	if w.CustomerID != customer.EnterpriseID || !w.EndsAt.Equal(w.StartsAt.Add(time.Hour)) || w.FactoryID != nil {
		t.Fatalf("warranty %+v", w)
	}
	again, created, err := e.svc.StartWarranty(ctx, aftersales.WarrantyInput{OrderID: o.ID, StartsAt: now, Duration: 5 * time.Hour})
	if err != nil || created || !again.EndsAt.Equal(w.EndsAt) {
		t.Fatalf("repeated start: %v %v %+v", err, created, again)
	}
	_, _, err = e.svc.StartWarranty(ctx, aftersales.WarrantyInput{OrderID: uuid.New(), StartsAt: now, Duration: time.Hour})
	wantCode(t, err, errs.NotFound)
	_, _, err = e.svc.StartWarranty(ctx, aftersales.WarrantyInput{OrderID: uuid.New(), FactoryID: &customer.EnterpriseID})
	if l, ok := err.(errs.List); !ok || len(l) != 3 {
		t.Fatalf("bad warranty: %v", err)
	}

	t1, created, err := e.svc.OpenTicket(ctx, customer, aftersales.TicketInput{OrderID: o.ID, Key: "k1", Category: aftersales.CategoryDefect, Description: "  no cold air  "})
	if err != nil || !created || t1.Number != 1 || t1.Status != aftersales.StatusOpen || t1.Description != "no cold air" || t1.OpenedBy == nil || t1.CustomerID != customer.EnterpriseID {
		t.Fatalf("open: %v %v %+v", err, created, t1)
	}
	same, created, err := e.svc.OpenTicket(ctx, customer, aftersales.TicketInput{OrderID: o.ID, Key: "k1", Category: aftersales.CategoryDefect, Description: "no cold air"})
	if err != nil || created || same.ID != t1.ID || same.Number != 1 {
		t.Fatalf("repeated open: %v %v %+v", err, created, same)
	}
	if t2 := open(t, e, customer, o.ID, "k2"); t2.Number != 2 {
		t.Fatalf("second ticket is number %d", t2.Number)
	}
	_, _, err = e.svc.OpenTicket(ctx, customer, aftersales.TicketInput{OrderID: o.ID, Key: "", Category: "BROKEN", Description: strings.Repeat("é", aftersales.MaxText+1)})
	if l, ok := err.(errs.List); !ok || len(l) != 3 {
		t.Fatalf("bad ticket: %v", err)
	}

	// Outside the warranty, and before delivery, no ticket.
	ended, _, _ := e.delivered(t, customer, nil, now.Add(-2*time.Hour), time.Hour)
	_, _, err = e.svc.OpenTicket(ctx, customer, aftersales.TicketInput{OrderID: ended.ID, Key: "k", Category: aftersales.CategoryOther, Description: "x"})
	wantCode(t, err, errs.IllegalState)
	future, _, _ := e.delivered(t, customer, nil, now.Add(time.Hour), time.Hour)
	_, _, err = e.svc.OpenTicket(ctx, customer, aftersales.TicketInput{OrderID: future.ID, Key: "k", Category: aftersales.CategoryOther, Description: "x"})
	wantCode(t, err, errs.IllegalState)
	undelivered, _ := e.place(t, customer)
	_, _, err = e.svc.OpenTicket(ctx, customer, aftersales.TicketInput{OrderID: undelivered.ID, Key: "k", Category: aftersales.CategoryOther, Description: "x"})
	wantCode(t, err, errs.IllegalState)
	_, other := e.account(t, identity.KindCustomer, identity.RoleAdmin)
	_, _, err = e.svc.OpenTicket(ctx, other, aftersales.TicketInput{OrderID: undelivered.ID, Key: "k", Category: aftersales.CategoryOther, Description: "x"})
	wantCode(t, err, errs.NotFound)
	_, _, err = e.svc.OpenTicket(ctx, other, aftersales.TicketInput{OrderID: o.ID, Key: "k3", Category: aftersales.CategoryOther, Description: "x"})
	wantCode(t, err, errs.NotFound)
	_, _, err = e.svc.OpenTicket(ctx, nil, aftersales.TicketInput{OrderID: o.ID, Key: "k3", Category: aftersales.CategoryOther, Description: "x"})
	wantCode(t, err, errs.Unauthenticated)

	// Concurrent opens: one ticket per key, numbers without gaps.
	o2, _, _ := e.delivered(t, customer, nil, now.Add(-time.Minute), time.Hour)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			if _, _, err := e.svc.OpenTicket(ctx, customer, aftersales.TicketInput{OrderID: o2.ID, Key: fmt.Sprint("c", i%3), Category: aftersales.CategoryOther, Description: "x"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	pending := must[[]aftersales.Ticket](t)(e.svc.OpenTickets(ctx, o2.ID))
	var numbers []int
	for _, tk := range pending {
		numbers = append(numbers, tk.Number)
	}
	if !slices.Equal(numbers, []int{1, 2, 3}) {
		t.Fatalf("ticket numbers %v, want [1 2 3]", numbers)
	}
}

func TestTicketIsDispatchedAndResolved(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	f, fp := e.account(t, identity.KindFactory, identity.RoleAdmin)
	repair, rp := e.account(t, identity.KindFactory, identity.RoleMember)
	_, op := e.account(t, identity.KindPlatform, identity.RoleMember)
	_, stranger := e.account(t, identity.KindFactory, identity.RoleAdmin)
	o, customer, _ := e.delivered(t, nil, &f.Enterprise.ID, time.Now().Add(-time.Minute), time.Hour)
	tk := open(t, e, customer, o.ID, "t1")

	if _, err := e.svc.Ticket(ctx, fp, tk.ID); err != nil {
		t.Fatalf("the serving factory reads: %v", err)
	}
	_, err := e.svc.Ticket(ctx, stranger, tk.ID)
	wantCode(t, err, errs.NotFound)
	_, err = e.svc.Dispatch(ctx, stranger, tk.ID, stranger.EnterpriseID)
	wantCode(t, err, errs.NotFound)
	_, err = e.svc.Dispatch(ctx, customer, tk.ID, f.Enterprise.ID)
	wantCode(t, err, errs.Forbidden)
	_, err = e.svc.Dispatch(ctx, fp, tk.ID, repair.Enterprise.ID)
	wantCode(t, err, errs.Forbidden) // only the operator dispatches
	_, err = e.svc.Dispatch(ctx, op, tk.ID, customer.EnterpriseID)
	wantCode(t, err, errs.InvalidInput)
	_, err = e.svc.Resolve(ctx, rp, tk.ID, "fixed")
	wantCode(t, err, errs.NotFound) // not dispatched to it yet

	d := must[*aftersales.Ticket](t)(e.svc.Dispatch(ctx, op, tk.ID, repair.Enterprise.ID))
	if d.Status != aftersales.StatusDispatched || d.AssigneeEnterprise == nil || *d.AssigneeEnterprise != repair.Enterprise.ID || d.DispatchedAt == nil {
		t.Fatalf("dispatched %+v", d)
	}
	if again := must[*aftersales.Ticket](t)(e.svc.Dispatch(ctx, op, tk.ID, repair.Enterprise.ID)); !again.DispatchedAt.Equal(*d.DispatchedAt) {
		t.Fatal("a repeated dispatch changed the ticket")
	}
	_, err = e.svc.Dispatch(ctx, fp, tk.ID, f.Enterprise.ID)
	wantCode(t, err, errs.Forbidden) // dispatched to another already
	_, err = e.svc.Resolve(ctx, fp, tk.ID, "fixed")
	wantCode(t, err, errs.Forbidden) // the serving factory is not the assignee
	_, err = e.svc.Resolve(ctx, rp, tk.ID, " ")
	wantCode(t, err, errs.InvalidInput)

	r := must[*aftersales.Ticket](t)(e.svc.Resolve(ctx, rp, tk.ID, "fan bearing replaced"))
	if r.Status != aftersales.StatusResolved || r.Resolution != "fan bearing replaced" || r.ResolvedAt == nil || r.ResolvedBy == nil {
		t.Fatalf("resolved %+v", r)
	}
	if again := must[*aftersales.Ticket](t)(e.svc.Resolve(ctx, rp, tk.ID, "fan bearing replaced")); !again.ResolvedAt.Equal(*r.ResolvedAt) {
		t.Fatal("a repeated resolution changed the ticket")
	}
	_, err = e.svc.Resolve(ctx, op, tk.ID, "something else")
	wantCode(t, err, errs.IllegalState)
	_, err = e.svc.Dispatch(ctx, op, tk.ID, f.Enterprise.ID)
	wantCode(t, err, errs.IllegalState)

	// The serving factory does not take a ticket itself (the operator
	// dispatches), and the refusal leaves it open; the operator resolves one directly.
	t2 := open(t, e, customer, o.ID, "t2")
	_, err = e.svc.Dispatch(ctx, fp, t2.ID, f.Enterprise.ID)
	wantCode(t, err, errs.Forbidden)
	if still := must[*aftersales.Ticket](t)(e.svc.Ticket(ctx, op, t2.ID)); still.Status != aftersales.StatusOpen || still.AssigneeEnterprise != nil {
		t.Fatalf("a refused dispatch changed the ticket: %+v", still)
	}
	t3 := open(t, e, op, o.ID, "t3") // on the customer's behalf
	if t3.CustomerID != customer.EnterpriseID {
		t.Fatalf("opened for %s", t3.CustomerID)
	}
	must[*aftersales.Ticket](t)(e.svc.Resolve(ctx, op, t3.ID, "answered on the phone"))
	left := must[[]aftersales.Ticket](t)(e.svc.OpenTickets(ctx, o.ID))
	if len(left) != 1 || left[0].ID != t2.ID {
		t.Fatalf("open tickets %+v, want only ticket 2", left)
	}
	viewer := e.member(t, f, identity.RoleViewer)
	_, err = e.svc.Resolve(ctx, viewer, t2.ID, "fixed")
	wantCode(t, err, errs.Forbidden)
}

func TestTicketListsAreFilteredToTheViewer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	f, fp := e.account(t, identity.KindFactory, identity.RoleAdmin)
	helper, hp := e.account(t, identity.KindFactory, identity.RoleAdmin)
	_, op := e.account(t, identity.KindPlatform, identity.RoleAdmin)
	start := time.Now().Add(-time.Minute)
	o1, customer, _ := e.delivered(t, nil, &f.Enterprise.ID, start, time.Hour)
	o2, _, _ := e.delivered(t, customer, nil, start, time.Hour)
	o3, other, _ := e.delivered(t, nil, nil, start, time.Hour)
	a := open(t, e, customer, o1.ID, "a")
	b := open(t, e, customer, o1.ID, "b")
	c := open(t, e, customer, o2.ID, "c")
	x := open(t, e, other, o3.ID, "x")
	must[*aftersales.Ticket](t)(e.svc.Dispatch(ctx, op, x.ID, helper.Enterprise.ID))

	ids := func(p pageOf) []uuid.UUID {
		var out []uuid.UUID
		for _, t := range p.Items {
			out = append(out, t.ID)
		}
		return out
	}
	p1 := must[pageOf](t)(e.svc.Tickets(ctx, customer, aftersales.TicketFilter{}, 2, ""))
	if !slices.Equal(ids(p1), []uuid.UUID{a.ID, b.ID}) || !p1.HasNext {
		t.Fatalf("customer's first page %v", ids(p1))
	}
	p2 := must[pageOf](t)(e.svc.Tickets(ctx, customer, aftersales.TicketFilter{}, 2, p1.Cursors[1]))
	if !slices.Equal(ids(p2), []uuid.UUID{c.ID}) || p2.HasNext {
		t.Fatalf("customer's second page %v", ids(p2))
	}
	if got := ids(must[pageOf](t)(e.svc.Tickets(ctx, customer, aftersales.TicketFilter{OrderID: &o2.ID}, 10, ""))); !slices.Equal(got, []uuid.UUID{c.ID}) {
		t.Fatalf("by order %v", got)
	}
	if got := ids(must[pageOf](t)(e.svc.Tickets(ctx, fp, aftersales.TicketFilter{}, 10, ""))); !slices.Equal(got, []uuid.UUID{a.ID, b.ID}) {
		t.Fatalf("serving factory %v", got)
	}
	if got := ids(must[pageOf](t)(e.svc.Tickets(ctx, hp, aftersales.TicketFilter{}, 10, ""))); !slices.Equal(got, []uuid.UUID{x.ID}) {
		t.Fatalf("assignee %v", got)
	}
	dispatched := aftersales.StatusDispatched
	if got := ids(must[pageOf](t)(e.svc.Tickets(ctx, op, aftersales.TicketFilter{OrderID: &o3.ID, Status: &dispatched}, 10, ""))); !slices.Equal(got, []uuid.UUID{x.ID}) {
		t.Fatalf("operator by status %v", got)
	}
	_, carrier := e.account(t, identity.KindCarrier, identity.RoleAdmin)
	_, err := e.svc.Tickets(ctx, carrier, aftersales.TicketFilter{}, 10, "")
	wantCode(t, err, errs.Forbidden)
	bad := "CLOSED"
	_, err = e.svc.Tickets(ctx, customer, aftersales.TicketFilter{Status: &bad}, 10, "")
	wantCode(t, err, errs.InvalidInput)

	// aftersales.Warranty reads follow the same lines.
	if _, err := e.svc.Warranty(ctx, fp, o1.ID); err != nil {
		t.Fatalf("serving factory reads the warranty: %v", err)
	}
	_, err = e.svc.Warranty(ctx, fp, o2.ID)
	wantCode(t, err, errs.NotFound)
	_, err = e.svc.Warranty(ctx, other, o1.ID)
	wantCode(t, err, errs.NotFound)
	_, err = e.svc.Ticket(ctx, other, a.ID)
	wantCode(t, err, errs.NotFound)
}

func TestTicketTextWithNULOrControlCharactersIsRefusedAndWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	f, _ := e.account(t, identity.KindFactory, identity.RoleAdmin)
	_, op := e.account(t, identity.KindPlatform, identity.RoleMember)
	o, customer, _ := e.delivered(t, nil, &f.Enterprise.ID, time.Now().Add(-time.Minute), time.Hour)
	for _, in := range []struct {
		name, key, description, field string
	}{
		{"a NUL in the description", "k1", "rattles\x00", "description"},
		{"an escape in the description", "k2", "\x1b[2Jrattles", "description"},
		{"a NUL in the key", "k\x003", "rattles", "key"},
	} {
		_, _, err := e.svc.OpenTicket(ctx, customer, aftersales.TicketInput{OrderID: o.ID, Key: in.key, Category: aftersales.CategoryNoise, Description: in.description})
		var list errs.List
		if !errors.As(err, &list) || len(list) != 1 || list[0].Code != errs.InvalidInput || list[0].Field[1] != in.field {
			t.Errorf("%s: %v, want INVALID_INPUT on input.%s", in.name, err, in.field)
		}
	}
	if left := must[[]aftersales.Ticket](t)(e.svc.OpenTickets(ctx, o.ID)); len(left) != 0 {
		t.Fatalf("refused tickets were written: %+v", left)
	}
	tk := open(t, e, customer, o.ID, "ok")
	_, err := e.svc.Resolve(ctx, op, tk.ID, "fixed\x00")
	wantCode(t, err, errs.InvalidInput)
	// Line breaks and tabs are fine in free text.
	r := must[*aftersales.Ticket](t)(e.svc.Resolve(ctx, op, tk.ID, "fan re-seated\n\tand balanced"))
	if r.Status != aftersales.StatusResolved {
		t.Fatalf("resolved %+v", r)
	}
}
