package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/masscustom/orchestrator/gateway/server"
	"github.com/masscustom/orchestrator/graph"
	"github.com/masscustom/orchestrator/internal/platform"
	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/workflows"
)

// Subscription tests speak graphql-transport-ws to the real gateway over a real
// websocket. Every read has a deadline; none asserts on how long anything took.

const orderEventsSubscription = `subscription($id: ID!, $after: Int) { orderEvents(orderId: $id, after: $after) { seq type stage status } }`

// readTimeout bounds each wait for one server message (live events included,
// which the gateway also polls Postgres for every few seconds).
const readTimeout = 20 * time.Second

type liveEvent struct {
	Seq                 int
	Type, Stage, Status string
}

func readCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	t.Cleanup(cancel)
	return ctx
}

// subscribeEvents opens a socket under token, expects connection_ack and
// subscribes (operation id "1") to the order's events after `after`.
func subscribeEvents(t *testing.T, url, token, orderID string, after int) *testenv.WS {
	t.Helper()
	ws := testenv.DialWS(readCtx(t), t, url)
	ack, err := ws.Init(readCtx(t), token)
	if err != nil || ack.Type != "connection_ack" {
		t.Fatalf("connection_init: got %+v, %v; want connection_ack", ack, err)
	}
	if err := ws.Subscribe(readCtx(t), "1", orderEventsSubscription, map[string]any{"id": orderID, "after": after}); err != nil {
		t.Fatal(err)
	}
	return ws
}

// nextEvent reads the next message, which must be a `next` of operation 1
// carrying one event and no errors.
func nextEvent(t *testing.T, ws *testenv.WS) liveEvent {
	t.Helper()
	m, err := ws.Read(readCtx(t))
	if err != nil {
		t.Fatalf("waiting for an event: %v", err)
	}
	if m.Type != "next" || m.ID != "1" {
		t.Fatalf("got %s %s %s, want next of operation 1", m.Type, m.ID, m.Payload)
	}
	var p struct {
		Data struct {
			OrderEvents *liveEvent `json:"orderEvents"`
		} `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil || p.Data.OrderEvents == nil || len(p.Errors) > 0 {
		t.Fatalf("next payload %s: want one event and no errors (%v)", m.Payload, err)
	}
	return *p.Data.OrderEvents
}

func expectEvent(t *testing.T, ws *testenv.WS, seq int, typ, stage, status string) {
	t.Helper()
	want := liveEvent{Seq: seq, Type: typ, Stage: stage, Status: status}
	if got := nextEvent(t, ws); got != want {
		t.Fatalf("event %+v, want %+v", got, want)
	}
}

// placeAC places an AC-SPLIT order over HTTP and returns its id.
func placeAC(t *testing.T, c testenv.Client) string {
	t.Helper()
	var placed payload
	c.Do(t, `mutation($in: PlaceOrderInput!) { placeOrder(input: $in) { order { `+orderFields+` } errors { code field message } } }`,
		map[string]any{"in": map[string]any{"idempotencyKey": "ws-" + testenv.Suffix(), "templateId": templateID(t, c, "AC-SPLIT"),
			"selections": acSelections, "quantity": 1, "shippingAddress": address}}).Into(t, "placeOrder", &placed)
	if placed.Order == nil || len(placed.Errors) > 0 {
		t.Fatalf("placeOrder: %+v", placed)
	}
	return placed.Order.ID
}

// awaitApprovable waits until the order's workflow waits for the customer's
// decision. DESIGN_READY is on the timeline (and on the socket) a moment
// before the workflow starts waiting, and an approval in between is refused.
func awaitApprovable(t *testing.T, orderID string) {
	t.Helper()
	p := testenv.Platform(t)
	typ, id, ok := graph.ParseGlobalID(orderID)
	if !ok || typ != "Order" {
		t.Fatalf("%q is not an order id", orderID)
	}
	ctx := readCtx(t)
	for {
		var st workflows.OrderState
		v, err := p.Temporal.QueryWorkflow(ctx, workflows.OrderWorkflowID(id.String()), "", workflows.QueryState)
		if err == nil {
			err = v.Get(&st)
		}
		if err == nil && st.Stage == workflows.StageDesign && st.WaitingFor == "customer approval of the design" {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("order %s never awaited approval: %+v %v", orderID, st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func approve(t *testing.T, c testenv.Client, orderID string) {
	t.Helper()
	var approved payload
	c.Do(t, `mutation($id: ID!) { approveDesign(input: {orderId: $id}) { order { `+orderFields+` } errors { code message } } }`,
		map[string]any{"id": orderID}).Into(t, "approveDesign", &approved)
	if approved.Order == nil || approved.Order.Stage != "PROCUREMENT" {
		t.Fatalf("approveDesign: %+v", approved)
	}
}

func TestOrderEventsSubscriptionReplaysTheTimelineThenDeliversLiveEventsInOrder(t *testing.T) {
	url, cust, _ := orderStack(t)
	c := testenv.Client{URL: url, Token: cust.Secret}
	id := placeAC(t, c)

	// Subscribed right after placing: the first events come from the replay or
	// live, depending on how far the workflow got; either way in order, once.
	ws := subscribeEvents(t, url, cust.Secret, id, 0)
	expectEvent(t, ws, 1, "ORDER_PLACED", "INTERACTION", "ACTIVE")
	expectEvent(t, ws, 2, "DESIGN_READY", "DESIGN", "ACTIVE")

	awaitApprovable(t, id)
	approve(t, c, id)
	expectEvent(t, ws, 3, "DESIGN_APPROVED", "PROCUREMENT", "ACTIVE")
}

func TestOrderEventsSubscriptionResumesAfterTheGivenSeqWithoutRepeats(t *testing.T) {
	url, cust, _ := orderStack(t)
	c := testenv.Client{URL: url, Token: cust.Secret}
	id := placeAC(t, c)
	waitForStage(t, c, id, "DESIGN")
	awaitApprovable(t, id)
	approve(t, c, id)

	// A client that saw seq 1 and 2 reconnects: the replay starts at 3.
	ws := subscribeEvents(t, url, cust.Secret, id, 2)
	expectEvent(t, ws, 3, "DESIGN_APPROVED", "PROCUREMENT", "ACTIVE")

	// The replay ended at 3: the next message is the next live event, not a
	// repeat of anything replayed.
	var cancelled payload
	c.Do(t, `mutation($id: ID!) { cancelOrder(input: {orderId: $id, reason: "reconnect test"}) { order { id status } errors { code message } } }`,
		map[string]any{"id": id}).Into(t, "cancelOrder", &cancelled)
	if cancelled.Order == nil || cancelled.Order.Status != "CANCELLED" {
		t.Fatalf("cancelOrder: %+v", cancelled)
	}
	// After the approval the order may have gone on to assign a factory (or
	// held for lack of one) before the cancellation: whatever came, it comes
	// once, in sequence, ending with the cancellation and its compensation.
	var types []string
	for seq := 4; ; seq++ {
		ev := nextEvent(t, ws)
		if ev.Seq != seq {
			t.Fatalf("event %+v after %v: want seq %d", ev, types, seq)
		}
		types = append(types, ev.Type)
		if ev.Type == "ORDER_COMPENSATED" {
			break
		}
		if seq > 300 {
			t.Fatalf("no compensation after %v", types)
		}
	}
	// The cancellation, then the sourcing lines taken back (if procurement had
	// started), then the compensation.
	i := slices.Index(types, "ORDER_CANCELLED")
	if i < 0 {
		t.Fatalf("events after the reconnect %v: no ORDER_CANCELLED", types)
	}
	for _, typ := range types[i+1 : len(types)-1] {
		// Sourcing lines answer the cancellation: offers withdrawn, lines
		// cancelled (a line may have offered or escalated just before the
		// request reached it).
		if !strings.HasPrefix(typ, "SOURCING_") && !strings.HasPrefix(typ, "PROCUREMENT_") {
			t.Fatalf("events after the reconnect %v: %s between the cancellation and the compensation", types, typ)
		}
	}
}

// refusedInit dials, sends connection_init under token and returns the error
// that ended the socket, failing if the server acknowledged instead.
func refusedInit(t *testing.T, url, token string) error {
	t.Helper()
	ws := testenv.DialWS(readCtx(t), t, url)
	m, err := ws.Init(readCtx(t), token)
	if err == nil {
		t.Fatalf("connection_init answered %s %s; want the socket closed without connection_ack", m.Type, m.Payload)
	}
	return err
}

var badInits = []struct{ name, token string }{
	{"no token", ""},
	{"unknown token", "mco_not_a_real_token_" + testenv.Suffix()},
}

func TestOrderEventsSubscriptionRefusesConnectionInitWithoutAValidToken(t *testing.T) {
	url, _, _ := orderStack(t)
	for _, tc := range badInits {
		t.Run(tc.name, func(t *testing.T) {
			// What gqlgen does today: graphql-transport-ws has no
			// connection_error message, so the init error's text is dropped
			// and the socket is closed with 1000 "terminated", before any ack.
			err := refusedInit(t, url, tc.token)
			code, reason, ok := testenv.CloseOf(err)
			if !ok || code != 1000 && code != 4403 {
				t.Fatalf("connection_init: %v; want a close frame (1000 today, 4403 once fixed)", err)
			}
			t.Logf("refused with close %d %q", code, reason)
		})
	}
}

// The protocol asks a server that refuses connection_init to close with
// 4403 Forbidden; a close with 1000 is a normal end, which graphql-ws clients
// answer by reconnecting, and the reason (UNAUTHENTICATED) reaches nobody.
// Fails today: see websocketAuth in server.go.
func TestOrderEventsSubscriptionRefusedInitClosesWith4403AndSaysWhy(t *testing.T) {
	url, _, _ := orderStack(t)
	for _, tc := range badInits {
		t.Run(tc.name, func(t *testing.T) {
			code, reason, _ := testenv.CloseOf(refusedInit(t, url, tc.token))
			if code != 4403 || !strings.HasPrefix(reason, "UNAUTHENTICATED") {
				t.Fatalf("closed with %d %q; want 4403 and a reason starting UNAUTHENTICATED", code, reason)
			}
		})
	}
}

// notFoundRefusal subscribes as another customer to an order and returns the
// error the server answers with, checking that it is a NOT_FOUND `next`
// without data, followed by `complete`, and never an event.
func notFoundRefusal(t *testing.T) (message string) {
	t.Helper()
	url, cust, _ := orderStack(t)
	c := testenv.Client{URL: url, Token: cust.Secret}
	id := placeAC(t, c)
	waitForStage(t, c, id, "DESIGN")

	other := testenv.Account(t, testenv.Platform(t), "CUSTOMER", "MEMBER")
	ws := subscribeEvents(t, url, other.Secret, id, 0)
	m, err := ws.Read(readCtx(t))
	if err != nil {
		t.Fatalf("waiting for the refusal: %v", err)
	}
	var p struct {
		Data   *json.RawMessage `json:"data"`
		Errors []struct {
			Message    string         `json:"message"`
			Path       []string       `json:"path"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if m.Type != "next" || m.ID != "1" || json.Unmarshal(m.Payload, &p) != nil {
		t.Fatalf("got %s %s %s, want a next of operation 1 with an error", m.Type, m.ID, m.Payload)
	}
	if p.Data != nil && string(*p.Data) != "null" || len(p.Errors) != 1 || p.Errors[0].Extensions["code"] != "NOT_FOUND" ||
		len(p.Errors[0].Path) != 1 || p.Errors[0].Path[0] != "orderEvents" {
		t.Fatalf("refusal %s: want no data and one NOT_FOUND error at orderEvents", m.Payload)
	}
	if m, err := ws.Read(readCtx(t)); err != nil || m.Type != "complete" || m.ID != "1" {
		t.Fatalf("after the refusal: %s %s %s %v, want complete of operation 1", m.Type, m.ID, m.Payload, err)
	}
	return p.Errors[0].Message
}

func TestOrderEventsSubscriptionToAnotherCustomersOrderIsNotFound(t *testing.T) {
	notFoundRefusal(t)
}

// Every other refusal says what went wrong; this one sends "" (the resolver
// returns the bare errs.ErrNotFound). Fails today: see OrderEvents in
// graph/orders.resolvers.go.
func TestOrderEventsSubscriptionNotFoundErrorHasAMessage(t *testing.T) {
	if msg := notFoundRefusal(t); msg == "" {
		t.Fatal("NOT_FOUND error with an empty message; want e.g. \"no such order\"")
	}
}

// A client that approves the moment the subscription shows DESIGN_READY (the
// read model says DESIGN too) must not be told the order is still in
// INTERACTION. The event is committed by an activity a moment before the
// workflow learns that the activity finished; an update validated in between
// sees the old state. Fails today for most orders: see validateApprove in
// workflows/order.go.
func TestApproveDesignIsAcceptedAsSoonAsTheSubscriptionShowsDesignReady(t *testing.T) {
	url, cust, _ := orderStack(t)
	c := testenv.Client{URL: url, Token: cust.Secret}
	const orders = 5
	var refused []string
	for range orders {
		id := placeAC(t, c)
		ws := subscribeEvents(t, url, cust.Secret, id, 0)
		expectEvent(t, ws, 1, "ORDER_PLACED", "INTERACTION", "ACTIVE")
		expectEvent(t, ws, 2, "DESIGN_READY", "DESIGN", "ACTIVE")
		var approved payload
		c.Do(t, `mutation($id: ID!) { approveDesign(input: {orderId: $id, configVersion: 1}) { order { `+orderFields+` } errors { code message } } }`,
			map[string]any{"id": id}).Into(t, "approveDesign", &approved)
		if approved.Order == nil {
			refused = append(refused, fmt.Sprintf("%+v", approved.Errors))
			continue
		}
		expectEvent(t, ws, 3, "DESIGN_APPROVED", "PROCUREMENT", "ACTIVE")
		ws.Close()
	}
	if len(refused) > 0 {
		t.Fatalf("%d of %d approvals sent on DESIGN_READY refused: %v", len(refused), orders, refused)
	}
}

// Two gateways, each with its own connections and caches (as two processes
// have): a customer subscribed on one sees, in order and once, the events
// its approval through the other caused.
func TestASubscriberOnOneGatewaySeesWhatWasCausedThroughAnother(t *testing.T) {
	url, cust, _ := orderStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := testenv.Config(t)
	second, err := platform.Open(ctx, cfg, platform.Options{Temporal: true})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	metrics := server.NewMetrics()
	other := httptest.NewServer(server.New(server.Deps{Config: cfg, Resolver: graph.NewResolver(second, cfg, metrics.WorkflowStarts),
		Identity: second.Identity, Leasing: second.Leasing, Metrics: metrics}))
	defer other.Close()

	c := testenv.Client{URL: url, Token: cust.Secret}
	id := placeAC(t, c)
	ws := subscribeEvents(t, other.URL+"/graphql", cust.Secret, id, 0)
	expectEvent(t, ws, 1, "ORDER_PLACED", "INTERACTION", "ACTIVE")
	expectEvent(t, ws, 2, "DESIGN_READY", "DESIGN", "ACTIVE")
	awaitApprovable(t, id)
	approve(t, c, id) // through the first gateway
	expectEvent(t, ws, 3, "DESIGN_APPROVED", "PROCUREMENT", "ACTIVE")
}
