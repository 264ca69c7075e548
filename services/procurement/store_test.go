package procurement_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/internal/platform"
	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/orders"
	"github.com/masscustom/orchestrator/services/procurement"
)

// These tests run on the real stack (see internal/testenv): Postgres for the
// tables of migration 0005, Redis for the task cache.

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func principal(a identity.Account) *identity.Principal {
	return &identity.Principal{UserID: a.User.ID, EnterpriseID: a.Enterprise.ID, Kind: a.Enterprise.Kind, Role: a.User.Role, TokenID: a.TokenID}
}

type fixture struct {
	p        *platform.Platform
	svc      *procurement.Service
	operator *identity.Principal
	customer identity.Account
	supA     identity.Account
	supB     identity.Account
	orderID  uuid.UUID
	material string
	now      time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	p := testenv.Platform(t)
	ctx := context.Background()
	f := &fixture{
		p:        p,
		svc:      procurement.New(p.DB, p.Cache),
		operator: principal(testenv.Account(t, p, identity.KindPlatform, identity.RoleAdmin)),
		customer: testenv.Account(t, p, identity.KindCustomer, identity.RoleMember),
		supA:     testenv.Account(t, p, identity.KindSupplier, identity.RoleAdmin),
		supB:     testenv.Account(t, p, identity.KindSupplier, identity.RoleAdmin),
		material: "steel-" + testenv.Suffix(),
		now:      time.Now().UTC().Truncate(time.Millisecond),
	}
	f.orderID = testenv.PlaceOrder(t, p, f.customer)
	for _, s := range []identity.Account{f.supA, f.supB} {
		if _, err := f.svc.SetCapability(ctx, f.operator, s.Enterprise.ID, f.material, d("12.00"), "CNY", 5, d("1000")); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *fixture) offer(t *testing.T, line, attempt int, supplier identity.Account, qty string) *procurement.Task {
	t.Helper()
	task, err := f.svc.Offer(context.Background(), f.offerInput(line, attempt, supplier, qty))
	if err != nil {
		t.Fatal(err)
	}
	return task
}

func (f *fixture) offerInput(line, attempt int, supplier identity.Account, qty string) procurement.OfferInput {
	return procurement.OfferInput{OrderID: f.orderID, Line: line, Attempt: attempt, Material: f.material, Quantity: d(qty),
		SupplierID: supplier.Enterprise.ID, Currency: "CNY", ListUnitPrice: d("12.00"), Deadline: f.now.Add(time.Hour), At: f.now}
}

func (f *fixture) acceptance(id uuid.UUID, qty string) procurement.AcceptInput {
	return procurement.AcceptInput{TaskID: id, At: f.now, Acceptance: procurement.Acceptance{
		UnitPrice: d("11.80"), Quantity: d(qty), PromisedDate: f.now.AddDate(0, 0, 7)}}
}

func (f *fixture) score(t *testing.T, supplier identity.Account) string {
	t.Helper()
	c, err := f.svc.Capability(context.Background(), supplier.Enterprise.ID, f.material)
	if err != nil {
		t.Fatal(err)
	}
	return c.Score.String()
}

func requireCode(t *testing.T, err error, code errs.Code) {
	t.Helper()
	e, ok := errs.As(err)
	if !ok || e.Code != code {
		t.Fatalf("got %v, want a %s error", err, code)
	}
}

func requireFields(t *testing.T, err error, want ...string) {
	t.Helper()
	var list errs.List
	if !errors.As(err, &list) {
		t.Fatalf("got %v, want an errs.List", err)
	}
	var got []string
	for _, e := range list {
		got = append(got, strings.Join(e.Field, "."))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("refused fields %v, want %v (%v)", got, want, err)
	}
}

func TestOfferIsIdempotentOnOrderLineAndAttempt(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	first := f.offer(t, 1, 1, f.supA, "100")
	again := f.offer(t, 1, 1, f.supA, "100")
	if first.ID != again.ID || first.ID != procurement.TaskID(f.orderID, 1, 1) {
		t.Fatalf("offered %s then %s, want the same task %s", first.ID, again.ID, procurement.TaskID(f.orderID, 1, 1))
	}
	if first.Status != procurement.StatusOffered || first.CustomerID != f.customer.Enterprise.ID || !first.Quantity.Equal(d("100")) ||
		!first.Deadline.Equal(f.now.Add(time.Hour)) || first.ListUnitPrice == nil || !first.ListUnitPrice.Equal(d("12")) {
		t.Errorf("offered task %+v", first)
	}
	_, err := f.svc.Offer(ctx, f.offerInput(1, 1, f.supB, "100"))
	requireCode(t, err, errs.IllegalState)
	tasks, err := f.svc.OrderTasks(ctx, f.orderID)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 1 {
		t.Fatalf("the order has %d tasks, want 1", len(tasks))
	}
	_, err = f.svc.Offer(ctx, procurement.OfferInput{OrderID: f.orderID, Line: -1, Attempt: 0, Quantity: d("0"), Currency: "XXX"})
	requireFields(t, err, "line", "attempt", "material", "quantity", "supplierId", "currency", "deadline")
}

func TestTaskTransitionsAreIdempotentAndReturnTheTaskAfter(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	task := f.offer(t, 1, 1, f.supA, "100")

	acc, err := f.svc.Accept(ctx, f.acceptance(task.ID, "60"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.svc.Accept(ctx, f.acceptance(task.ID, "60"))
	if err != nil {
		t.Fatalf("accepting again: %v", err)
	}
	if acc.Status != procurement.StatusAccepted || !acc.AcceptedQuantity.Equal(d("60")) || !acc.UnitPrice.Equal(d("11.80")) ||
		acc.PromisedDate == nil || acc.PromisedDate.Format(time.DateOnly) != f.now.AddDate(0, 0, 7).Format(time.DateOnly) ||
		acc.DecidedAt == nil || !acc.DecidedAt.Equal(f.now) || !again.UpdatedAt.Equal(acc.UpdatedAt) {
		t.Errorf("accepted %+v, then %+v", acc, again)
	}
	if got := f.score(t, f.supA); got != "52" {
		t.Errorf("after one acceptance (written twice) the score is %s, want 52", got)
	}
	_, err = f.svc.Reject(ctx, procurement.Decision{TaskID: task.ID, Reason: "changed my mind"})
	requireCode(t, err, errs.IllegalState)
	_, err = f.svc.Timeout(ctx, procurement.Decision{TaskID: task.ID})
	requireCode(t, err, errs.IllegalState)

	ship := procurement.Movement{TaskID: task.ID, Seq: 1, Quantity: d("40"), At: f.now}
	for range 2 {
		if task, err = f.svc.Ship(ctx, ship); err != nil {
			t.Fatal(err)
		}
	}
	if task.Status != procurement.StatusShipped || !task.ShippedQuantity.Equal(d("40")) {
		t.Errorf("after shipment 1 (written twice) the task is %s with %s shipped, want SHIPPED with 40", task.Status, task.ShippedQuantity)
	}
	_, err = f.svc.Ship(ctx, procurement.Movement{TaskID: task.ID, Seq: 2, Quantity: d("21"), At: f.now})
	requireFields(t, err, "input.quantity")
	_, err = f.svc.Receive(ctx, procurement.Movement{TaskID: task.ID, Seq: 1, Quantity: d("41"), At: f.now})
	requireFields(t, err, "input.quantity")

	for _, m := range []procurement.Movement{
		{TaskID: task.ID, Seq: 1, Quantity: d("25")},
		{TaskID: task.ID, Seq: 1, Quantity: d("25")}, // the same receipt again
		{TaskID: task.ID, Seq: 2, Quantity: d("15")},
	} {
		if task, err = f.svc.Receive(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if task.Status != procurement.StatusShipped || !task.ReceivedQuantity.Equal(d("40")) {
		t.Errorf("after receipts of 25 and 15 the task is %s with %s received, want SHIPPED with 40", task.Status, task.ReceivedQuantity)
	}
	if task, err = f.svc.Ship(ctx, procurement.Movement{TaskID: task.ID, Seq: 2, Quantity: d("20")}); err != nil {
		t.Fatal(err)
	}
	if task, err = f.svc.Receive(ctx, procurement.Movement{TaskID: task.ID, Seq: 3, Quantity: d("20")}); err != nil {
		t.Fatal(err)
	}
	if task.Status != procurement.StatusReceived || !task.ReceivedQuantity.Equal(d("60")) {
		t.Errorf("with everything received the task is %s with %s, want RECEIVED with 60", task.Status, task.ReceivedQuantity)
	}
	if got := f.score(t, f.supA); got != "55" {
		t.Errorf("after shipping everything on time the score is %s, want 55", got)
	}
	moves, err := f.svc.Movements(ctx, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(moves) != 5 {
		t.Errorf("recorded %d movements, want 2 shipments and 3 receipts: %+v", len(moves), moves)
	}
	// A received task is left as it is by a cancellation.
	if after, err := f.svc.Cancel(ctx, procurement.Decision{TaskID: task.ID, Reason: "order cancelled"}); err != nil || after.Status != procurement.StatusReceived {
		t.Errorf("cancelling a received task: %v, %+v", err, after)
	}
}

func TestAcceptRefusesBadInputWithFieldPathsAndChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	task := f.offer(t, 1, 1, f.supA, "100")
	_, err := f.svc.Accept(ctx, procurement.AcceptInput{TaskID: task.ID, At: f.now, Acceptance: procurement.Acceptance{
		UnitPrice: d("11.805"), Quantity: d("101"), PromisedDate: f.now.AddDate(0, 0, -1)}})
	requireFields(t, err, "input.unitPrice", "input.quantity", "input.promisedDate")
	_, err = f.svc.Reject(ctx, procurement.Decision{TaskID: task.ID, Reason: " "})
	requireFields(t, err, "input.reason")
	after, err := f.svc.TaskByID(ctx, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Status != procurement.StatusOffered || after.UnitPrice != nil || !after.UpdatedAt.Equal(task.UpdatedAt) {
		t.Errorf("after refused answers the task is %+v, want it untouched", after)
	}
	if got := f.score(t, f.supA); got != "50" {
		t.Errorf("refused answers moved the score to %s", got)
	}
	_, err = f.svc.Accept(ctx, f.acceptance(uuid.New(), "1"))
	requireCode(t, err, errs.NotFound)
}

func TestScoresFollowBehaviourAndStayWithinBounds(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	at := func(m int) time.Time { return f.now.Add(time.Duration(m) * time.Minute) }
	steps := []struct {
		name string
		do   func(task *procurement.Task) error
		want string
	}{
		{"rejected", func(task *procurement.Task) error {
			_, err := f.svc.Reject(ctx, procurement.Decision{TaskID: task.ID, Reason: "no capacity", At: at(1)})
			return err
		}, "47"},
		{"timed out", func(task *procurement.Task) error {
			_, err := f.svc.Timeout(ctx, procurement.Decision{TaskID: task.ID, At: at(2)})
			return err
		}, "41"},
		{"accepted then shipped late", func(task *procurement.Task) error {
			in := f.acceptance(task.ID, "10")
			in.At = at(3)
			if _, err := f.svc.Accept(ctx, in); err != nil {
				return err
			}
			late := f.now.AddDate(0, 0, 8)
			if _, err := f.svc.Ship(ctx, procurement.Movement{TaskID: task.ID, Seq: 1, Quantity: d("4"), At: late}); err != nil {
				return err
			}
			// The rest, late as well: counted once, and no on-time bonus.
			_, err := f.svc.Ship(ctx, procurement.Movement{TaskID: task.ID, Seq: 2, Quantity: d("6"), At: late})
			return err
		}, "39"},
	}
	for i, s := range steps {
		task := f.offer(t, 1, i+1, f.supA, "10")
		if err := s.do(task); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := f.score(t, f.supA); got != s.want {
			t.Fatalf("after %s the score is %s, want %s", s.name, got, s.want)
		}
	}
	events, err := f.svc.ScoreEvents(ctx, f.supA.Enterprise.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range events {
		kinds = append(kinds, string(e.Kind)+" "+e.Delta.String()+" "+e.ScoreAfter.String())
	}
	if want := []string{"REJECTED -3 47", "TIMED_OUT -6 41", "ACCEPTED 2 43", "SHIPPED_LATE -4 39"}; !slices.Equal(kinds, want) {
		t.Errorf("score events %v, want %v", kinds, want)
	}
	// Seven lapses take 39 down to 0, not below.
	for i := range 7 {
		task := f.offer(t, 2, i+1, f.supA, "10")
		if _, err := f.svc.Timeout(ctx, procurement.Decision{TaskID: task.ID}); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.score(t, f.supA); got != "0" {
		t.Errorf("after seven more lapses the score is %s, want 0", got)
	}
	if got := f.score(t, f.supB); got != "50" {
		t.Errorf("B's score moved to %s with A's behaviour", got)
	}
}

func TestTaskIsVisibleToItsSupplierTheOrdersCustomerAndTheOperatorOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	task := f.offer(t, 1, 1, f.supA, "100")
	viewer := testenv.Member(t, f.p, f.supA.Enterprise, identity.RoleViewer)
	tests := []struct {
		name string
		p    *identity.Principal
		code errs.Code // "" when visible
	}{
		{"its supplier", principal(f.supA), ""},
		{"a viewer of its supplier", principal(viewer), ""},
		{"the operator", f.operator, ""},
		{"the order's customer", principal(f.customer), ""},
		{"another supplier", principal(f.supB), errs.NotFound},
		{"another customer", principal(testenv.Account(t, f.p, identity.KindCustomer, identity.RoleAdmin)), errs.NotFound},
		{"a factory", principal(testenv.Account(t, f.p, identity.KindFactory, identity.RoleAdmin)), errs.NotFound},
		{"nobody", nil, errs.Unauthenticated},
	}
	for _, tt := range tests {
		got, err := f.svc.Task(ctx, tt.p, task.ID)
		if tt.code == "" {
			if err != nil || got.ID != task.ID {
				t.Errorf("%s: %v, want the task", tt.name, err)
			}
			continue
		}
		if e, ok := errs.As(err); !ok || e.Code != tt.code {
			t.Errorf("%s: got %v, want %s", tt.name, err, tt.code)
		}
	}
}

func TestInboxPagesThroughTheSuppliersOwnTasksOldestFirst(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	var want []uuid.UUID
	for i := range 5 {
		want = append(want, f.offer(t, 1, i+1, f.supA, "10").ID)
		f.offer(t, 2, i+1, f.supB, "10")
	}
	if _, err := f.svc.Accept(ctx, f.acceptance(want[1], "10")); err != nil {
		t.Fatal(err)
	}
	var got []uuid.UUID
	after := ""
	for page := 0; ; page++ {
		p, err := f.svc.Inbox(ctx, principal(f.supA), nil, 2, after)
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range p.Items {
			got = append(got, task.ID)
		}
		if !p.HasNext {
			break
		}
		if page > 5 {
			t.Fatal("the inbox never ends")
		}
		after = p.Cursors[len(p.Cursors)-1]
	}
	if !slices.Equal(got, want) {
		t.Fatalf("inbox of A %v, want its 5 tasks in offer order %v", got, want)
	}
	accepted := procurement.StatusAccepted
	p, err := f.svc.Inbox(ctx, principal(f.supA), &accepted, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 1 || p.Items[0].ID != want[1] || p.HasNext {
		t.Errorf("A's accepted tasks %+v, want just %s", p.Items, want[1])
	}
	// The operator's inbox holds every supplier's tasks.
	seen, cursor := false, ""
	for !seen {
		p, err := f.svc.Inbox(ctx, f.operator, &accepted, 100, cursor)
		if err != nil {
			t.Fatal(err)
		}
		seen = slices.ContainsFunc(p.Items, func(x procurement.Task) bool { return x.ID == want[1] })
		if !p.HasNext {
			break
		}
		cursor = p.Cursors[len(p.Cursors)-1]
	}
	if !seen {
		t.Error("the operator's inbox of accepted tasks misses A's")
	}
	bad := procurement.Status("LOST")
	_, err = f.svc.Inbox(ctx, principal(f.supA), &bad, 10, "")
	requireCode(t, err, errs.InvalidInput)
	_, err = f.svc.Inbox(ctx, principal(f.supA), nil, 10, "not-a-cursor")
	requireCode(t, err, errs.InvalidInput)
	_, err = f.svc.Inbox(ctx, principal(f.customer), nil, 10, "")
	requireCode(t, err, errs.Forbidden)
}

func TestWithdrawClosesAnOfferEvenOneNotYetWritten(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	// Never offered: withdrawn in its place, and a late offer cannot open it.
	w := procurement.Withdrawal{Offer: f.offerInput(1, 1, f.supA, "100"), Reason: "the order was cancelled", At: f.now}
	task, err := f.svc.Withdraw(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	late := f.offer(t, 1, 1, f.supA, "100")
	if task.Status != procurement.StatusWithdrawn || late.Status != procurement.StatusWithdrawn || *late.CancelReason != "the order was cancelled" {
		t.Errorf("withdrawn before it was written: %+v; the late offer found %+v", task, late)
	}
	// Open: withdrawn. Accepted meanwhile: cancelled, the supplier sees why.
	open := f.offer(t, 1, 2, f.supA, "100")
	if task, err = f.svc.Withdraw(ctx, procurement.Withdrawal{Offer: f.offerInput(1, 2, f.supA, "100"), Reason: "cancelled"}); err != nil || task.Status != procurement.StatusWithdrawn {
		t.Errorf("withdrawing open task %s: %v, %+v", open.ID, err, task)
	}
	taken := f.offer(t, 1, 3, f.supA, "100")
	if _, err := f.svc.Accept(ctx, f.acceptance(taken.ID, "100")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		task, err = f.svc.Withdraw(ctx, procurement.Withdrawal{Offer: f.offerInput(1, 3, f.supA, "100"), Reason: "the order was cancelled"})
		if err != nil {
			t.Fatal(err)
		}
	}
	seen, err := f.svc.Task(ctx, principal(f.supA), taken.ID)
	if err != nil {
		t.Fatal(err)
	}
	if task.Status != procurement.StatusCancelled || seen.Status != procurement.StatusCancelled || *seen.CancelReason != "the order was cancelled" {
		t.Errorf("withdrawing an accepted task left %+v; its supplier sees %+v", task, seen)
	}
	if got := f.score(t, f.supA); got != "52" {
		t.Errorf("a cancellation moved the supplier's score: %s, want 52 (its acceptance only)", got)
	}
}

func TestSetCapabilityIsForTheOperatorAndTheSuppliersAdmin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	member := testenv.Member(t, f.p, f.supA.Enterprise, identity.RoleMember)
	set := func(p *identity.Principal, supplier uuid.UUID) error {
		_, err := f.svc.SetCapability(ctx, p, supplier, f.material+"-x", d("3.20"), "CNY", 2, d("50"))
		return err
	}
	if err := set(principal(f.supA), f.supA.Enterprise.ID); err != nil {
		t.Errorf("the supplier's admin for itself: %v", err)
	}
	requireCode(t, set(principal(member), f.supA.Enterprise.ID), errs.Forbidden)
	requireCode(t, set(principal(f.supB), f.supA.Enterprise.ID), errs.Forbidden)
	requireCode(t, set(principal(f.customer), f.supA.Enterprise.ID), errs.Forbidden)
	requireCode(t, set(nil, f.supA.Enterprise.ID), errs.Unauthenticated)
	requireFields(t, set(f.operator, f.customer.Enterprise.ID), "input.supplierId")
	_, err := f.svc.SetCapability(ctx, f.operator, f.supA.Enterprise.ID, "", d("0.001"), "CNY", 400, d("-1"))
	requireFields(t, err, "input.material", "input.unitPrice", "input.leadDays", "input.maxQuantity")

	// A new price keeps the score the supplier earned.
	task := f.offer(t, 1, 1, f.supA, "10")
	if _, err := f.svc.Reject(ctx, procurement.Decision{TaskID: task.ID, Reason: "no"}); err != nil {
		t.Fatal(err)
	}
	c, err := f.svc.SetCapability(ctx, principal(f.supA), f.supA.Enterprise.ID, f.material, d("9.90"), "CNY", 3, d("20"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Score.Equal(d("47")) || !c.UnitPrice.Equal(d("9.90")) {
		t.Errorf("after a new price the capability is %+v, want score 47 kept", c)
	}
	caps, err := f.svc.Capabilities(ctx, principal(member), f.supA.Enterprise.ID)
	if err != nil || len(caps) != 2 {
		t.Errorf("capabilities of A for its member: %v, %d (want 2)", err, len(caps))
	}
	_, err = f.svc.Capabilities(ctx, principal(f.supB), f.supA.Enterprise.ID)
	requireCode(t, err, errs.Forbidden)
}

func TestRankRanksTheStoredCapabilitiesLeavingOutTheExcluded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	supC := testenv.Account(t, f.p, identity.KindSupplier, identity.RoleAdmin)
	// A and B cover 1000 at 12.00; C covers only 30 but is cheaper.
	if _, err := f.svc.SetCapability(ctx, f.operator, supC.Enterprise.ID, f.material, d("8.00"), "CNY", 1, d("30")); err != nil {
		t.Fatal(err)
	}
	// B gets a better score than A.
	task := f.offer(t, 1, 1, f.supA, "10")
	if _, err := f.svc.Reject(ctx, procurement.Decision{TaskID: task.ID, Reason: "no"}); err != nil {
		t.Fatal(err)
	}
	ids := func(cs []procurement.Candidate) []uuid.UUID {
		out := []uuid.UUID{}
		for _, c := range cs {
			out = append(out, c.SupplierID)
		}
		return out
	}
	got, err := f.svc.Rank(ctx, f.material, d("100"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []uuid.UUID{f.supB.Enterprise.ID, f.supA.Enterprise.ID, supC.Enterprise.ID}; !slices.Equal(ids(got), want) {
		t.Errorf("ranked for 100: %v, want B (score 50), A (47), then C (covers 30)", ids(got))
	}
	got, err = f.svc.Rank(ctx, f.material, d("30"), []uuid.UUID{f.supB.Enterprise.ID})
	if err != nil {
		t.Fatal(err)
	}
	if want := []uuid.UUID{supC.Enterprise.ID, f.supA.Enterprise.ID}; !slices.Equal(ids(got), want) {
		t.Errorf("ranked for 30 without B: %v, want C (cheaper, faster) then A", ids(got))
	}
	if got, err := f.svc.Rank(ctx, "unobtainium-"+testenv.Suffix(), d("1"), nil); err != nil || len(got) != 0 {
		t.Errorf("ranked an unknown material: %v, %v", got, err)
	}
}

func TestHoldsMarkHeldLinesUntilReleased(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for range 2 { // idempotent
		if err := f.svc.Hold(ctx, f.orderID, 3, 1, f.material, d("40")); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.svc.Hold(ctx, f.orderID, 1, 1, f.material, d("5")); err != nil {
		t.Fatal(err)
	}
	if held, err := f.svc.HeldLines(ctx, f.orderID); err != nil || !slices.Equal(held, []int{1, 3}) {
		t.Fatalf("held lines %v, %v; want [1 3]", held, err)
	}
	if err := f.svc.Release(ctx, f.orderID, 3); err != nil {
		t.Fatal(err)
	}
	if held, err := f.svc.HeldLines(ctx, f.orderID); err != nil || !slices.Equal(held, []int{1}) {
		t.Fatalf("held lines after releasing 3: %v, %v; want [1]", held, err)
	}
}

// Procurement events of an order's lines are appended while the order's own
// workflow moves it: they never write its stage or status, so a cancellation
// recorded among them is never undone, and the sequence stays whole. The
// legacy hold protocol (orders.RecordDerived) keeps a cancellation too.
func TestProcurementEventsNeverUndoTheStatusTheOrderRecords(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	const appends = 24
	before, err := f.p.Orders.Events(ctx, f.orderID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range appends {
		wg.Go(func() {
			var err error
			tr := orders.Transition{OrderID: f.orderID, Key: fmt.Sprintf("offer:%d:1", i), Type: procurement.EventOffered, Message: "offered"}
			if i%6 == 5 { // a legacy escalation now and then
				tr.Key, tr.Type = fmt.Sprintf("escalated:%d:1", i), procurement.EventEscalated
				_, err = f.p.Orders.RecordDerived(ctx, tr, func(_ context.Context, _ pgx.Tx, stage, status string) (string, string, error) {
					if status == "CANCELLED" {
						return stage, status, nil
					}
					return "PROCUREMENT", "ON_HOLD", nil
				})
			} else {
				_, err = f.p.Orders.Append(ctx, tr)
			}
			if err != nil {
				t.Error(err)
			}
		})
		if i == appends/2 {
			wg.Go(func() {
				if _, err := f.p.Orders.Record(ctx, orders.Transition{OrderID: f.orderID, Key: "cancelled", Type: orders.EventCancelled,
					Stage: "PROCUREMENT", Status: "CANCELLED", Message: "order cancelled"}); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	evs, err := f.p.Orders.Events(ctx, f.orderID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	cancelledAt := int64(0)
	for i, e := range evs {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d: the sequence has a gap or a repeat", i, e.Seq)
		}
		if e.Key == "cancelled" {
			cancelledAt = e.Seq
		}
		if cancelledAt > 0 && e.Status != "CANCELLED" {
			t.Errorf("event %s (seq %d) after the cancellation (seq %d) carries status %s", e.Key, e.Seq, cancelledAt, e.Status)
		}
	}
	if want := len(before) + appends + 1; len(evs) != want { // the appends and the cancellation
		t.Errorf("%d events, want %d", len(evs), want)
	}
	var status string
	if err := f.p.DB.QueryRow(ctx, `SELECT status FROM orders WHERE id = $1`, f.orderID).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if status != "CANCELLED" {
		t.Errorf("order is %s after its cancellation and the procurement events around it, want CANCELLED", status)
	}
}

func TestAnswersTakeOnlyWholePiecesOfAMaterialCountedInPieces(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	in := f.offerInput(7, 1, f.supA, "2")
	in.Material = "IDU-CHASSIS" // on the AC-SPLIT bill of materials in pcs
	task, err := f.svc.Offer(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if unit, err := f.svc.MaterialUnit(ctx, task); err != nil || unit != "pcs" {
		t.Fatalf("unit of %s: %q, %v; want pcs", task.Material, unit, err)
	}
	for _, qty := range []string{"1e-30", "0.5", "1.999999"} {
		_, err := f.svc.Accept(ctx, f.acceptance(task.ID, qty))
		requireFields(t, err, "input.quantity")
		problems, err := f.svc.CheckQuantity(ctx, task, []string{"input", "quantity"}, d(qty))
		if err != nil || len(problems) != 1 {
			t.Errorf("CheckQuantity(%s) = %v, %v; want one refusal", qty, problems, err)
		}
	}
	after, err := f.svc.TaskByID(ctx, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Status != procurement.StatusOffered || after.AcceptedQuantity != nil || !after.UpdatedAt.Equal(task.UpdatedAt) {
		t.Fatalf("after refused acceptances the task is %+v, want it untouched", after)
	}
	// One piece is taken, and half of it cannot be shipped.
	if _, err := f.svc.Accept(ctx, f.acceptance(task.ID, "1")); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Ship(ctx, procurement.Movement{TaskID: task.ID, Seq: 1, Quantity: d("0.5"), At: f.now})
	requireFields(t, err, "input.quantity")
	if got, _ := f.svc.TaskByID(ctx, task.ID); !got.ShippedQuantity.IsZero() {
		t.Fatalf("a refused shipment moved the shipped quantity to %s", got.ShippedQuantity)
	}
}
