package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"go.temporal.io/sdk/worker"

	"github.com/masscustom/orchestrator/graph"
	"github.com/masscustom/orchestrator/internal/platform"
	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/config"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/production"
	"github.com/masscustom/orchestrator/workflows"
)

// The journey test plays one order from placement to completion: the customer,
// two suppliers, a factory, a carrier and the operator each act under their own
// token through GraphQL, and the customer follows the timeline over a websocket
// from the start. Waits are bounded polls or bounded reads of the socket; no
// assertion is about how long anything took.

const (
	// journeyOfferTimeout is each supplier's SLA. The offers a supplier answers
	// are answered within a second of being made; the one left unanswered lapses.
	journeyOfferTimeout = 3 * time.Second
	// journeyWarranty runs from delivery: long enough for the customer to
	// confirm receipt and open a ticket inside it.
	journeyWarranty = 6 * time.Second
	// journeyWait bounds every wait for an asynchronous step.
	journeyWait = 30 * time.Second
	// journeyQuantity is the number of air conditioners ordered.
	journeyQuantity = 2
	// journeyLanePrice undercuts every lane other tests declare to CN.
	journeyLanePrice = "0.01"
)

// party is an enterprise of the journey acting under its own token.
type party struct {
	name string
	acc  identity.Account
	c    testenv.Client
	id   string // its enterprise's global id, as GraphQL shows it
}

type userError struct {
	Code    string
	Field   []string
	Message string
}

// query runs a query as the party, failing on any top-level error, and decodes
// data.<field> into out.
func (p party) query(t *testing.T, q string, vars map[string]any, field string, out any) {
	t.Helper()
	r := p.c.Do(t, q, vars)
	if len(r.Errors) > 0 {
		t.Fatalf("%s: %s: %+v", p.name, field, r.Errors)
	}
	r.Into(t, field, out)
}

func mutation(field, inputType, selection string) string {
	return fmt.Sprintf(`mutation($in: %s!) { %s(input: $in) { %s errors { code field message } } }`, inputType, field, selection)
}

// must runs mutation field(input: in) as the party; its payload must carry no
// errors. The payload is decoded into out when out is not nil.
func (p party) must(t *testing.T, field, inputType, selection string, in map[string]any, out any) {
	t.Helper()
	r := p.c.Do(t, mutation(field, inputType, selection), map[string]any{"in": in})
	if len(r.Errors) > 0 {
		t.Fatalf("%s: %s: %+v", p.name, field, r.Errors)
	}
	var refusal struct{ Errors []userError }
	r.Into(t, field, &refusal)
	if len(refusal.Errors) > 0 {
		t.Fatalf("%s: %s(%v) refused: %+v", p.name, field, in, refusal.Errors)
	}
	if out != nil {
		r.Into(t, field, out)
	}
}

// refused runs mutation field(input: in) as the party and expects it refused in
// its payload with one of codes.
func (p party) refused(t *testing.T, field, inputType string, in map[string]any, codes ...string) {
	t.Helper()
	r := p.c.Do(t, mutation(field, inputType, ""), map[string]any{"in": in})
	if len(r.Errors) > 0 {
		t.Fatalf("%s: %s: top-level errors %+v, want a refusal %v in the payload", p.name, field, r.Errors, codes)
	}
	var got struct{ Errors []userError }
	r.Into(t, field, &got)
	if len(got.Errors) == 0 || !slices.Contains(codes, got.Errors[0].Code) {
		t.Fatalf("%s: %s(%v) answered %+v, want a refusal %v", p.name, field, in, got.Errors, codes)
	}
}

// post is a GraphQL call that reports instead of failing, for goroutines.
func post(url, token, query string, vars map[string]any) (map[string]json.RawMessage, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	var out struct {
		Data   map[string]json.RawMessage
		Errors []json.RawMessage
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("status %d: %s", res.StatusCode, raw)
	}
	if len(out.Errors) > 0 {
		return nil, fmt.Errorf("errors: %s", out.Errors)
	}
	return out.Data, nil
}

// timelineEvent is an order event as the subscription and the timeline show it.
type timelineEvent struct {
	Seq                          int
	Type, Stage, Status, Message string
}

// eventStream follows an order's orderEvents subscription in a goroutine.
type eventStream struct {
	ch   chan timelineEvent
	errc chan error
	seen []timelineEvent
}

// follow subscribes to the order's events from the first one, as token.
func follow(t *testing.T, url, token, orderID string) *eventStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	ws := testenv.DialWS(ctx, t, url)
	if ack, err := ws.Init(ctx, token); err != nil || ack.Type != "connection_ack" {
		t.Fatalf("connection_init: %+v %v", ack, err)
	}
	if err := ws.Subscribe(ctx, "1", `subscription($id: ID!) { orderEvents(orderId: $id, after: 0) { seq type stage status message } }`,
		map[string]any{"id": orderID}); err != nil {
		t.Fatal(err)
	}
	s := &eventStream{ch: make(chan timelineEvent, 512), errc: make(chan error, 1)}
	go func() {
		for {
			m, err := ws.Read(ctx)
			if err == nil && (m.Type != "next" || m.ID != "1") {
				err = fmt.Errorf("got %s %s %s, want next of operation 1", m.Type, m.ID, m.Payload)
			}
			var msg struct {
				Data struct {
					OrderEvents *timelineEvent `json:"orderEvents"`
				} `json:"data"`
				Errors []json.RawMessage `json:"errors"`
			}
			if err == nil {
				if err = json.Unmarshal(m.Payload, &msg); err == nil && (msg.Data.OrderEvents == nil || len(msg.Errors) > 0) {
					err = fmt.Errorf("next carries no event: %s", m.Payload)
				}
			}
			if err != nil {
				s.errc <- err
				return
			}
			select {
			case s.ch <- *msg.Data.OrderEvents:
			case <-ctx.Done():
				return
			}
		}
	}()
	return s
}

// expect waits for the next events, which must have the given types in that
// order and sequence numbers that follow on from the last one, with no gap
// and no repeat.
func (s *eventStream) expect(t *testing.T, types ...string) []timelineEvent {
	t.Helper()
	out := make([]timelineEvent, 0, len(types))
	timer := time.NewTimer(journeyWait)
	defer timer.Stop()
	for _, want := range types {
		select {
		case e := <-s.ch:
			if e.Seq != len(s.seen)+1 {
				t.Fatalf("event %+v follows seq %d: a gap or a repeat", e, len(s.seen))
			}
			s.seen = append(s.seen, e)
			if e.Type != want {
				t.Fatalf("event %d is %s (%q), want %s; the last events: %s", e.Seq, e.Type, e.Message, want, s.tail())
			}
			out = append(out, e)
		case err := <-s.errc:
			t.Fatalf("the subscription ended while waiting for %s: %v", want, err)
		case <-timer.C:
			t.Fatalf("no %s event within %s; the last events: %s", want, journeyWait, s.tail())
		}
	}
	return out
}

func (s *eventStream) tail() string {
	from := max(0, len(s.seen)-6)
	var b strings.Builder
	for _, e := range s.seen[from:] {
		fmt.Fprintf(&b, "\n  %d %s %s/%s %q", e.Seq, e.Type, e.Stage, e.Status, e.Message)
	}
	return b.String()
}

// eventually polls get until it reports done, for at most journeyWait.
func eventually[T any](t *testing.T, what string, get func() (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(journeyWait)
	for {
		v, done := get()
		if done {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (last seen %+v)", what, journeyWait, v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func repeat(typ string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = typ
	}
	return out
}

// pairs repeats the pair (a, b) n times.
func pairs(a, b string, n int) []string {
	out := make([]string, 0, 2*n)
	for range n {
		out = append(out, a, b)
	}
	return out
}

type bomLine struct {
	Material, Quantity, Unit string
}

type routingStage struct {
	Seq                  int
	Code, WorkCentreKind string
}

type procurementTask struct {
	ID, Status, Material, Quantity string
	Line, Attempt                  int
	ShippedQuantity                string
	Supplier                       struct{ ID string }
}

const taskFields = `id status material quantity line attempt shippedQuantity supplier { id }`

// journey is the state of the test: who takes part, and the order.
type journey struct {
	t   *testing.T
	p   *platform.Platform
	url string

	customer, supplier1, supplier2, factory, carrier, operator party
	// Outsiders are enterprises of the same kinds that take no part in the order.
	otherCustomer, otherSupplier, otherFactory, otherCarrier party

	bom     []bomLine
	routing []routingStage
	// best maps each material to the supplier ranked first for it.
	best map[string]*party
	// lapsing is the material whose best supplier lets its offer lapse.
	lapsing string

	orderID string
	events  *eventStream
}

func TestOneOrderFromPlacementToCompletionWithEveryPartyActingThroughGraphQL(t *testing.T) {
	j := newJourney(t)
	j.declareCapabilities()

	j.placeAndApprove()
	offered := j.assignProductionAndOffer()
	rejected, lapsed := j.suppliersAnswer(offered)
	j.checkEachSupplierSeesOnlyItsTasks(rejected, lapsed)
	j.suppliersShip()
	j.factoryReceives()
	j.factoryProduces()
	j.carrierDelivers()
	j.serviceDuringTheWarranty()

	// The order is completed, and its timeline is exactly this.
	n := len(j.bom)
	want := slices.Concat(
		[]string{"ORDER_PLACED", "DESIGN_READY", "DESIGN_APPROVED", "PRODUCTION_ASSIGNED"},
		// Every material is offered to its best supplier; supplier 1 declines
		// its first offer, which goes to supplier 2; every open offer but the
		// lapsing one is accepted; the silent offer lapses and supplier 1 takes it.
		repeat("PROCUREMENT_OFFERED", n),
		[]string{"PROCUREMENT_REJECTED", "PROCUREMENT_OFFERED"},
		repeat("PROCUREMENT_ACCEPTED", n-1),
		[]string{"PROCUREMENT_TIMED_OUT", "PROCUREMENT_OFFERED", "PROCUREMENT_ACCEPTED"},
		// Everything is shipped; the first line is received in two parts, and
		// each line's sourcing closes once all of it arrived.
		repeat("MATERIAL_SHIPPED", n),
		[]string{"MATERIAL_RECEIVED", "MATERIAL_RECEIVED", "SOURCING_DONE"},
		pairs("MATERIAL_RECEIVED", "SOURCING_DONE", n-1),
		[]string{"PROCUREMENT_DONE"},
		pairs("STAGE_STARTED", "STAGE_FINISHED", len(j.routing)),
		[]string{"QA_PASSED", "SHIPMENT_BOOKED",
			"SHIPMENT_TRACKED", "SHIPMENT_TRACKED", "SHIPMENT_TRACKED", "SHIPMENT_DELIVERED",
			"RECEIPT_CONFIRMED", "WARRANTY_STARTED",
			"TICKET_OPENED", "TICKET_DISPATCHED", "TICKET_RESOLVED",
			"ORDER_COMPLETED"},
	)
	j.checkCompletedWithTimeline(want)
}

func newJourney(t *testing.T) *journey {
	t.Helper()
	return newJourneyWith(t, journeyOfferTimeout)
}

// newJourneyWith is newJourney with suppliers' SLA of its own.
func newJourneyWith(t *testing.T, offerTimeout time.Duration) *journey {
	t.Helper()
	return newJourneyOf(t, offerTimeout, journeyWarranty)
}

// newJourneyOf is newJourney with suppliers' SLA and a warranty of its own.
func newJourneyOf(t *testing.T, offerTimeout, warranty time.Duration) *journey {
	t.Helper()
	queue := "test-journey-" + testenv.Suffix()
	srv, p := gateway(t, func(c *config.Config) {
		c.TaskQueue = queue
		c.DesignApprovalTimeout = time.Hour
		c.OfferTimeout = offerTimeout
		c.AutoConfirmAfter = time.Hour // the customer confirms
		c.Warranty = warranty
	})
	if err := p.Catalog.EnsureSeeded(context.Background(), catalog.SeedTemplates()); err != nil {
		t.Fatal(err)
	}
	w := worker.New(p.Temporal, queue, workflows.WorkerOptions(worker.Options{}))
	workflows.Register(w, p.Activities())
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	j := &journey{t: t, p: p, url: srv.URL + "/graphql"}
	newParty := func(name string, kind identity.Kind, role identity.Role) party {
		a := testenv.Account(t, p, kind, role)
		pt := party{name: name, acc: a, c: testenv.Client{URL: j.url, Token: a.Secret}}
		var v struct{ Enterprise struct{ ID string } }
		pt.query(t, `{ viewer { enterprise { id } } }`, nil, "viewer", &v)
		pt.id = v.Enterprise.ID
		return pt
	}
	j.customer = newParty("customer", identity.KindCustomer, identity.RoleMember)
	j.supplier1 = newParty("supplier 1", identity.KindSupplier, identity.RoleMember)
	j.supplier2 = newParty("supplier 2", identity.KindSupplier, identity.RoleMember)
	j.factory = newParty("factory", identity.KindFactory, identity.RoleMember)
	j.carrier = newParty("carrier", identity.KindCarrier, identity.RoleAdmin) // declares its own lane
	j.operator = newParty("operator", identity.KindPlatform, identity.RoleAdmin)
	j.otherCustomer = newParty("another customer", identity.KindCustomer, identity.RoleAdmin)
	j.otherSupplier = newParty("another supplier", identity.KindSupplier, identity.RoleAdmin)
	j.otherFactory = newParty("another factory", identity.KindFactory, identity.RoleAdmin)
	j.otherCarrier = newParty("another carrier", identity.KindCarrier, identity.RoleAdmin)

	var conf struct {
		Valid   bool
		Bom     []bomLine
		Routing []routingStage
	}
	j.customer.query(t, `query($in: ConfigureInput!) { configure(input: $in) { valid bom { material quantity unit } routing { seq code workCentreKind } } }`,
		map[string]any{"in": map[string]any{"templateId": templateID(t, j.customer.c, "AC-SPLIT"), "selections": acSelections, "quantity": journeyQuantity}},
		"configure", &conf)
	if !conf.Valid || len(conf.Bom) < 3 || len(conf.Routing) < 2 {
		t.Fatalf("configure: %+v; the journey needs at least 3 materials and 2 stages", conf)
	}
	j.bom, j.routing = conf.Bom, conf.Routing
	return j
}

// declareCapabilities makes the journey's suppliers, factory and carrier the
// ones the ranking picks, through GraphQL: the operator declares what the
// suppliers supply and what the factory runs, the carrier its own lane.
//
// The stack is shared, and the platform ranks everyone who declared a
// capability. So the test first checks that nobody else would compete for this
// order (refusing to run otherwise, with what to remove), and takes its
// declarations back when it ends, so that they do not win later rankings.
func (j *journey) declareCapabilities() {
	t, ctx := j.t, context.Background()
	materials := make([]string, len(j.bom))
	for i, l := range j.bom {
		materials[i] = l.Material
	}
	kinds := map[string]bool{}
	for _, s := range j.routing {
		kinds[s.WorkCentreKind] = true
	}
	var competing int
	if err := j.p.DB.QueryRow(ctx, `SELECT count(*) FROM supplier_capabilities WHERE material = ANY($1)`, materials).Scan(&competing); err != nil {
		t.Fatal(err)
	}
	if competing > 0 {
		t.Fatalf("%d supplier capabilities for the AC-SPLIT materials exist on this stack (left by an interrupted run?); they would compete for the offers. "+
			"Remove them: DELETE FROM supplier_capabilities WHERE material IN ('%s')", competing, strings.Join(materials, "', '"))
	}
	if err := j.p.DB.QueryRow(ctx, `SELECT count(*) FROM factory_capabilities WHERE minutes_per_day >= $1`, production.MaxMinutesPerDay).Scan(&competing); err != nil {
		t.Fatal(err)
	}
	if competing > 0 {
		t.Fatalf("%d factory capabilities of %d minutes a day exist on this stack; they would compete for the order. "+
			"Remove them: DELETE FROM factory_capabilities WHERE minutes_per_day >= %[2]d", competing, production.MaxMinutesPerDay)
	}
	if err := j.p.DB.QueryRow(ctx, `SELECT count(*) FROM carrier_lanes WHERE country = 'CN' AND currency = 'CNY' AND price <= $1`, journeyLanePrice).Scan(&competing); err != nil {
		t.Fatal(err)
	}
	if competing > 0 {
		t.Fatalf("%d lanes to CN at %s CNY or less exist on this stack; they would compete for the shipment. "+
			"Remove them: DELETE FROM carrier_lanes WHERE country = 'CN' AND currency = 'CNY' AND price <= %s", competing, journeyLanePrice, journeyLanePrice)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		if _, err := j.p.DB.Exec(ctx, `DELETE FROM supplier_capabilities WHERE supplier_id = ANY($1)`,
			[]uuid.UUID{j.supplier1.acc.Enterprise.ID, j.supplier2.acc.Enterprise.ID}); err != nil {
			t.Errorf("take back the suppliers' capabilities: %v", err)
		}
		for k := range kinds {
			if _, err := j.p.Production.SetCapability(ctx, identity.System, j.factory.acc.Enterprise.ID, catalog.WorkCentreKind(k), 0); err != nil {
				t.Errorf("take back the factory's %s: %v", k, err)
			}
		}
		if err := j.p.Logistics.RemoveLane(ctx, identity.System, j.carrier.acc.Enterprise.ID, "CN"); err != nil {
			t.Errorf("take back the carrier's lane: %v", err)
		}
	})

	// Supplier 1 is the better offer for the even lines, supplier 2 for the
	// odd ones; both can supply everything, so each material has a second choice.
	j.best = map[string]*party{}
	for i, l := range j.bom {
		first, second := &j.supplier1, &j.supplier2
		if i%2 == 1 {
			first, second = second, first
		}
		j.best[l.Material] = first
		for _, c := range []struct {
			s     *party
			price string
			lead  int
		}{{first, "10.00", 2}, {second, "12.50", 6}} {
			j.operator.must(t, "setSupplierCapability", "SupplierCapabilityInput", "ok", map[string]any{
				"supplierId": c.s.id, "material": l.Material, "unitPrice": c.price, "currency": "CNY", "leadDays": c.lead, "maxQuantity": "1000",
			}, nil)
		}
	}
	j.lapsing = j.bom[1].Material // supplier 2 is its best supplier, and stays silent

	for k := range kinds {
		j.operator.must(t, "setFactoryCapability", "FactoryCapabilityInput", "ok", map[string]any{
			"factoryId": j.factory.id, "workCentreKind": k, "minutesPerDay": production.MaxMinutesPerDay,
		}, nil)
	}
	j.carrier.must(t, "setCarrierLane", "CarrierLaneInput", "ok", map[string]any{
		"carrierId": j.carrier.id, "country": "CN", "leadDays": 0, "price": journeyLanePrice, "currency": "CNY",
	}, nil)
	// A carrier declares its own lanes only.
	j.otherCarrier.refused(t, "setCarrierLane", "CarrierLaneInput", map[string]any{
		"carrierId": j.carrier.id, "country": "DE", "leadDays": 1, "price": "1", "currency": "CNY",
	}, "FORBIDDEN")
}

// placeAndApprove: the customer places the order, follows its events from the
// start, and approves the design.
func (j *journey) placeAndApprove() {
	t := j.t
	var placed struct{ Order struct{ ID string } }
	j.customer.must(t, "placeOrder", "PlaceOrderInput", "order { id }", map[string]any{
		"idempotencyKey": "journey-" + testenv.Suffix(), "templateId": templateID(t, j.customer.c, "AC-SPLIT"),
		"selections": acSelections, "quantity": journeyQuantity, "shippingAddress": address,
	}, &placed)
	j.orderID = placed.Order.ID
	t.Cleanup(func() {
		if t.Failed() { // do not leave a half-played order running
			_ = j.p.Temporal.TerminateWorkflow(context.Background(), workflows.OrderWorkflowID(orderUUID(t, j.orderID)), "", "journey test failed")
		}
	})
	j.events = follow(t, j.url, j.customer.acc.Secret, j.orderID)
	j.events.expect(t, "ORDER_PLACED", "DESIGN_READY")

	// Nobody else may decide on the design.
	j.otherCustomer.refused(t, "approveDesign", "ApproveDesignInput", map[string]any{"orderId": j.orderID}, "NOT_FOUND")
	awaitApprovable(t, j.orderID)
	approve(t, j.customer.c, j.orderID)
	j.events.expect(t, "DESIGN_APPROVED")
}

func orderUUID(t *testing.T, id string) string {
	t.Helper()
	typ, u, ok := graph.ParseGlobalID(id)
	if !ok || typ != "Order" {
		t.Fatalf("%q is not an order id", id)
	}
	return u.String()
}

// assignProductionAndOffer: the factory with the capabilities is assigned and
// every material is offered to its best supplier. It returns the offers as
// the suppliers see them in their inboxes.
func (j *journey) assignProductionAndOffer() map[string][]procurementTask {
	t := j.t
	j.events.expect(t, "PRODUCTION_ASSIGNED")
	j.events.expect(t, repeat("PROCUREMENT_OFFERED", len(j.bom))...)

	po := j.productionOrder(j.factory)
	if po.Factory.ID != j.factory.id || po.Status != "ASSIGNED" || len(po.Stages) != len(j.routing) {
		t.Fatalf("production order %+v, want ASSIGNED to the factory %s with %d stages", po, j.factory.id, len(j.routing))
	}
	offered := map[string][]procurementTask{}
	for _, s := range []*party{&j.supplier1, &j.supplier2} {
		var want []string
		for m, b := range j.best {
			if b == s {
				want = append(want, m)
			}
		}
		slices.Sort(want)
		offered[s.name] = eventually(t, s.name+" is offered the materials it is ranked first for, "+strings.Join(want, ", "), func() ([]procurementTask, bool) {
			tasks := j.offers(*s, "OFFERED")
			got := make([]string, len(tasks))
			for i, tk := range tasks {
				got[i] = tk.Material
			}
			slices.Sort(got)
			return tasks, slices.Equal(got, want)
		})
	}
	return offered
}

// suppliersAnswer: supplier 1 rejects its first offer, which goes to supplier
// 2; every other offer is accepted at once but the lapsing material's, which
// supplier 2 leaves unanswered until it times out and goes to supplier 1. It
// returns the rejected and the lapsed task.
func (j *journey) suppliersAnswer(offered map[string][]procurementTask) (rejected, lapsed procurementTask) {
	t := j.t
	rejected = offered[j.supplier1.name][0]
	j.supplier1.must(t, "rejectProcurementTask", "RejectProcurementTaskInput", "task { id }",
		map[string]any{"taskId": rejected.ID, "reason": "no capacity on the line this month"}, nil)
	j.events.expect(t, "PROCUREMENT_REJECTED", "PROCUREMENT_OFFERED")

	// Everything offered now is accepted, in parallel, well inside the SLA,
	// except the lapsing material's offer to supplier 2.
	type answer struct {
		s    *party
		task procurementTask
	}
	var answers []answer
	eventually(t, "the rejected material offered to supplier 2", func() (int, bool) {
		answers, lapsed = nil, procurementTask{}
		for _, tk := range j.offers(j.supplier1, "OFFERED") {
			answers = append(answers, answer{&j.supplier1, tk})
		}
		for _, tk := range j.offers(j.supplier2, "OFFERED") {
			if tk.Material == j.lapsing {
				lapsed = tk
				continue
			}
			answers = append(answers, answer{&j.supplier2, tk})
		}
		return len(answers), lapsed.ID != "" && len(answers) == len(j.bom)-1
	})
	promised := time.Now().UTC().Add(7 * 24 * time.Hour).Format(time.RFC3339)
	errc := make(chan error, len(answers))
	var wg sync.WaitGroup
	for _, a := range answers {
		wg.Go(func() {
			data, err := post(j.url, a.s.acc.Secret, mutation("acceptProcurementTask", "AcceptProcurementTaskInput", "task { status }"),
				map[string]any{"in": map[string]any{"taskId": a.task.ID, "unitPrice": "10.00", "quantity": a.task.Quantity, "promisedDate": promised}})
			if err == nil {
				var p struct {
					Task   *struct{ Status string }
					Errors []userError
				}
				if err = json.Unmarshal(data["acceptProcurementTask"], &p); err == nil && (p.Task == nil || len(p.Errors) > 0) {
					err = fmt.Errorf("refused: %+v", p.Errors)
				}
			}
			if err != nil {
				errc <- fmt.Errorf("%s accepting %s: %w (an offer that lapsed first means this machine is too slow for an SLA of %s)",
					a.s.name, a.task.Material, err, journeyOfferTimeout)
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	j.events.expect(t, repeat("PROCUREMENT_ACCEPTED", len(j.bom)-1)...)

	// Supplier 2's silence: the SLA lapses and the offer goes to supplier 1.
	j.events.expect(t, "PROCUREMENT_TIMED_OUT", "PROCUREMENT_OFFERED")
	second := eventually(t, "the second attempt of "+j.lapsing+" offered to supplier 1", func() ([]procurementTask, bool) {
		open := j.offers(j.supplier1, "OFFERED")
		return open, len(open) == 1 && open[0].Material == j.lapsing && open[0].Attempt == 2
	})
	// An offer that lapsed cannot be accepted any more.
	j.supplier2.refused(t, "acceptProcurementTask", "AcceptProcurementTaskInput", map[string]any{
		"taskId": lapsed.ID, "unitPrice": "10.00", "quantity": lapsed.Quantity, "promisedDate": promised}, "ILLEGAL_STATE")
	j.supplier1.must(t, "acceptProcurementTask", "AcceptProcurementTaskInput", "task { id }", map[string]any{
		"taskId": second[0].ID, "unitPrice": "12.50", "quantity": second[0].Quantity, "promisedDate": promised}, nil)
	j.events.expect(t, "PROCUREMENT_ACCEPTED")
	return rejected, lapsed
}

// connection reads every page of a connection field as the party; query
// takes $after (and the variables in vars) and selects edges { node { ... } }
// and pageInfo { hasNextPage endCursor }.
func connection[T any](t *testing.T, p party, query, field string, vars map[string]any) []T {
	t.Helper()
	var out []T
	v := map[string]any{"after": nil}
	for k, x := range vars {
		v[k] = x
	}
	for {
		var conn struct {
			Edges    []struct{ Node T }
			PageInfo struct {
				HasNextPage bool
				EndCursor   string
			}
		}
		p.query(t, query, v, field, &conn)
		for _, e := range conn.Edges {
			out = append(out, e.Node)
		}
		if !conn.PageInfo.HasNextPage {
			return out
		}
		v["after"] = conn.PageInfo.EndCursor
	}
}

// offers lists the tasks of this order in the supplier's inbox (of one
// status, or all for ""). While the journey's suppliers hold capabilities for
// the AC-SPLIT materials, every AC-SPLIT order on the shared stack is offered
// to them too, and a supplier does not see which order a task is for; the
// customer's view of its order tells this order's tasks apart.
func (j *journey) offers(s party, status string) []procurementTask {
	j.t.Helper()
	mine := map[string]bool{}
	for _, tk := range j.orderTasks(j.customer) {
		mine[tk.ID] = true
	}
	var out []procurementTask
	for _, tk := range j.inbox(s, status) {
		if mine[tk.ID] {
			out = append(out, tk)
		}
	}
	return out
}

// inbox lists the party's procurement tasks (of one status, or all for "").
func (j *journey) inbox(s party, status string) []procurementTask {
	j.t.Helper()
	vars := map[string]any{"status": nil}
	if status != "" {
		vars["status"] = status
	}
	return connection[procurementTask](j.t, s, `query($status: String, $after: String) { procurementInbox(status: $status, first: 50, after: $after) {
		edges { node { `+taskFields+` } } pageInfo { hasNextPage endCursor } } }`, "procurementInbox", vars)
}

// orderTasks are the order's tasks as the given viewer of the order sees them.
func (j *journey) orderTasks(viewer party) []procurementTask {
	j.t.Helper()
	var o *struct{ ProcurementTasks []procurementTask }
	viewer.query(j.t, `query($id: ID!) { order(id: $id) { procurementTasks { `+taskFields+` } } }`, map[string]any{"id": j.orderID}, "order", &o)
	if o == nil {
		j.t.Fatalf("%s does not see the order", viewer.name)
	}
	return o.ProcurementTasks
}

// checkEachSupplierSeesOnlyItsTasks: each supplier's inbox holds exactly the
// tasks offered to it, and another supplier sees and answers none of them.
func (j *journey) checkEachSupplierSeesOnlyItsTasks(rejected, lapsed procurementTask) {
	t := j.t
	all := j.orderTasks(j.operator)
	if len(all) != len(j.bom)+2 {
		t.Fatalf("the order has %d tasks, want one per material plus the re-offers after the rejection and the lapse: %+v", len(all), all)
	}
	for _, s := range []party{j.supplier1, j.supplier2} {
		var want []string
		for _, tk := range all {
			if tk.Supplier.ID == s.id {
				want = append(want, tk.ID)
			}
		}
		inbox := map[string]bool{}
		for _, tk := range j.inbox(s, "") {
			if tk.Supplier.ID != s.id {
				t.Fatalf("%s sees task %+v of another supplier", s.name, tk)
			}
			inbox[tk.ID] = true
		}
		for _, tk := range all {
			if inbox[tk.ID] != (tk.Supplier.ID == s.id) {
				t.Fatalf("%s's inbox has task %+v: %v; want exactly the tasks offered to it, %v", s.name, tk, inbox[tk.ID], want)
			}
		}
		if len(want) == 0 {
			t.Fatalf("%s was offered nothing", s.name)
		}
	}
	for _, tk := range all {
		switch tk.ID {
		case rejected.ID:
			if tk.Status != "REJECTED" || tk.Supplier.ID != j.supplier1.id {
				t.Fatalf("the rejected task is %+v", tk)
			}
		case lapsed.ID:
			if tk.Status != "TIMED_OUT" || tk.Supplier.ID != j.supplier2.id {
				t.Fatalf("the lapsed task is %+v", tk)
			}
		default:
			if tk.Status != "ACCEPTED" {
				t.Fatalf("task %+v, want ACCEPTED", tk)
			}
		}
	}
	if got := j.offers(j.otherSupplier, ""); len(got) != 0 {
		t.Fatalf("another supplier sees %+v", got)
	}
	var accepted procurementTask
	for _, tk := range all {
		if tk.Status == "ACCEPTED" && tk.Supplier.ID == j.supplier1.id {
			accepted = tk
		}
	}
	movement := map[string]any{"taskId": accepted.ID, "quantity": accepted.Quantity}
	j.otherSupplier.refused(t, "reportMaterialShipped", "MaterialMovementInput", movement, "NOT_FOUND")
	j.supplier2.refused(t, "reportMaterialShipped", "MaterialMovementInput", movement, "NOT_FOUND")
	j.otherSupplier.refused(t, "rejectProcurementTask", "RejectProcurementTaskInput", map[string]any{"taskId": accepted.ID, "reason": "not mine"}, "NOT_FOUND")
	// Nothing is received before it is shipped.
	j.factory.refused(t, "confirmMaterialReceipt", "MaterialMovementInput", movement, "INVALID_INPUT")
}

// suppliersShip: each supplier reports every task it accepted as shipped.
func (j *journey) suppliersShip() {
	t := j.t
	for _, s := range []party{j.supplier1, j.supplier2} {
		for _, tk := range j.offers(s, "ACCEPTED") {
			s.must(t, "reportMaterialShipped", "MaterialMovementInput", "task { id }", map[string]any{"taskId": tk.ID, "quantity": tk.Quantity}, nil)
			j.events.expect(t, "MATERIAL_SHIPPED")
		}
	}
}

// factoryReceives: the factory confirms every shipment received, the first
// line's in two parts; each line's sourcing closes once all of it arrived.
func (j *journey) factoryReceives() {
	t := j.t
	var shipped []procurementTask
	for _, tk := range j.orderTasks(j.factory) {
		if tk.Status == "SHIPPED" {
			shipped = append(shipped, tk)
		}
	}
	slices.SortFunc(shipped, func(a, b procurementTask) int { return a.Line - b.Line })
	if len(shipped) != len(j.bom) {
		t.Fatalf("the factory sees %d shipped tasks, want %d: %+v", len(shipped), len(j.bom), shipped)
	}
	j.otherFactory.refused(t, "confirmMaterialReceipt", "MaterialMovementInput", map[string]any{"taskId": shipped[0].ID, "quantity": shipped[0].Quantity}, "NOT_FOUND")
	j.customer.refused(t, "confirmMaterialReceipt", "MaterialMovementInput", map[string]any{"taskId": shipped[0].ID, "quantity": shipped[0].Quantity}, "FORBIDDEN")

	receive := func(tk procurementTask, q decimal.Decimal) {
		j.factory.must(t, "confirmMaterialReceipt", "MaterialMovementInput", "task { id }", map[string]any{"taskId": tk.ID, "quantity": q.String()}, nil)
	}
	for i, tk := range shipped {
		q := decimal.RequireFromString(tk.Quantity)
		if i == 0 {
			part := q.Div(decimal.NewFromInt(2))
			receive(tk, part)
			j.events.expect(t, "MATERIAL_RECEIVED")
			q = q.Sub(part)
		}
		receive(tk, q)
		j.events.expect(t, "MATERIAL_RECEIVED", "SOURCING_DONE")
	}
	j.events.expect(t, "PROCUREMENT_DONE")
}

type productionOrder struct {
	ID, Status string
	Factory    struct{ ID string }
	Order      *struct{ ID string }
	Stages     []struct {
		Seq          int
		Code, Status string
	}
}

// productionOrders lists the party's production orders.
func (j *journey) productionOrders(f party) []productionOrder {
	j.t.Helper()
	return connection[productionOrder](j.t, f, `query($after: String) { productionInbox(first: 50, after: $after) {
		edges { node { id status factory { id } order { id } stages { seq code status } } } pageInfo { hasNextPage endCursor } } }`, "productionInbox", nil)
}

// productionOrder finds the order's production order in the party's inbox.
func (j *journey) productionOrder(f party) productionOrder {
	j.t.Helper()
	list := j.productionOrders(f)
	for _, po := range list {
		if po.Order != nil && po.Order.ID == j.orderID {
			return po
		}
	}
	j.t.Fatalf("%s has no production order for %s among its %d (assigned to another factory?)", f.name, j.orderID, len(list))
	return productionOrder{}
}

// factoryProduces: the factory reports every routing stage started and
// finished, in order, then QA; the shipment is booked.
func (j *journey) factoryProduces() {
	t := j.t
	po := j.productionOrder(j.factory)
	if other := j.productionOrders(j.otherFactory); len(other) != 0 {
		t.Fatalf("another factory sees production orders %+v", other)
	}
	first := map[string]any{"orderId": j.orderID, "seq": po.Stages[0].Seq, "finished": false}
	j.otherFactory.refused(t, "reportProductionStage", "ReportProductionStageInput", first, "NOT_FOUND")
	j.supplier1.refused(t, "reportProductionStage", "ReportProductionStageInput", first, "FORBIDDEN")
	j.otherFactory.refused(t, "recordQA", "RecordQAInput", map[string]any{"orderId": j.orderID, "passed": true}, "NOT_FOUND")

	for _, s := range po.Stages {
		j.factory.must(t, "reportProductionStage", "ReportProductionStageInput", "order { id }",
			map[string]any{"orderId": j.orderID, "seq": s.Seq, "finished": false}, nil)
		j.events.expect(t, "STAGE_STARTED")
		j.factory.must(t, "reportProductionStage", "ReportProductionStageInput", "order { id }",
			map[string]any{"orderId": j.orderID, "seq": s.Seq, "finished": true, "good": journeyQuantity, "scrap": 0}, nil)
		j.events.expect(t, "STAGE_FINISHED")
	}
	j.factory.must(t, "recordQA", "RecordQAInput", "order { id }", map[string]any{"orderId": j.orderID, "passed": true, "notes": "run test and leak test passed"}, nil)
	j.events.expect(t, "QA_PASSED", "SHIPMENT_BOOKED")
	eventually(t, "the production order PASSED", func() (productionOrder, bool) {
		po := j.productionOrder(j.factory)
		return po, po.Status == "PASSED"
	})
}

type shipment struct {
	ID, Status, TrackingNumber string
	Carrier                    struct{ ID string }
	Order                      *struct{ ID string }
	Events                     []struct{ Kind, Location string }
}

func (j *journey) shipment(c party) (shipment, bool) {
	j.t.Helper()
	for _, sh := range connection[shipment](j.t, c, `query($after: String) { shipmentInbox(first: 50, after: $after) {
		edges { node { id status trackingNumber carrier { id } order { id } events { kind location } } } pageInfo { hasNextPage endCursor } } }`, "shipmentInbox", nil) {
		if sh.Order != nil && sh.Order.ID == j.orderID {
			return sh, true
		}
	}
	return shipment{}, false
}

// carrierDelivers: the booked carrier reports the shipment picked up, in
// transit, out for delivery and delivered with its proof.
func (j *journey) carrierDelivers() {
	t := j.t
	sh, ok := j.shipment(j.carrier)
	if !ok || sh.Status != "BOOKED" || sh.Carrier.ID != j.carrier.id || sh.TrackingNumber == "" {
		t.Fatalf("the carrier's shipment: %+v (found %v), want BOOKED with it", sh, ok)
	}
	if _, seen := j.shipment(j.otherCarrier); seen {
		t.Fatal("another carrier sees the shipment")
	}
	pickedUp := map[string]any{"orderId": j.orderID, "kind": "PICKED_UP", "location": "Foshan plant"}
	j.otherCarrier.refused(t, "trackShipment", "TrackShipmentInput", pickedUp, "NOT_FOUND")
	j.factory.refused(t, "trackShipment", "TrackShipmentInput", pickedUp, "FORBIDDEN")

	for _, in := range []map[string]any{
		pickedUp,
		{"orderId": j.orderID, "kind": "IN_TRANSIT", "location": "Qingdao hub"},
		{"orderId": j.orderID, "kind": "OUT_FOR_DELIVERY", "location": "Qingdao Laoshan"},
	} {
		j.carrier.must(t, "trackShipment", "TrackShipmentInput", "order { id }", in, nil)
		j.events.expect(t, "SHIPMENT_TRACKED")
	}
	j.carrier.must(t, "trackShipment", "TrackShipmentInput", "order { id }", map[string]any{
		"orderId": j.orderID, "kind": "DELIVERED", "receivedBy": "Zhang Min", "signatureRef": "sig-" + testenv.Suffix(),
	}, nil)
	j.events.expect(t, "SHIPMENT_DELIVERED")
	eventually(t, "the shipment DELIVERED with its tracking", func() (shipment, bool) {
		sh, _ := j.shipment(j.carrier)
		return sh, sh.Status == "DELIVERED" && len(sh.Events) >= 4
	})
}

// serviceDuringTheWarranty: the customer confirms receipt, the warranty
// starts; a ticket is opened by the customer, dispatched by the operator to
// a service partner (another factory) and resolved by it; the warranty ends.
func (j *journey) serviceDuringTheWarranty() {
	t := j.t
	j.otherCustomer.refused(t, "confirmDelivery", "ConfirmDeliveryInput", map[string]any{"orderId": j.orderID}, "NOT_FOUND")
	j.customer.must(t, "confirmDelivery", "ConfirmDeliveryInput", "order { id }", map[string]any{"orderId": j.orderID}, nil)
	j.events.expect(t, "RECEIPT_CONFIRMED", "WARRANTY_STARTED")

	var opened struct {
		Order struct {
			ServiceTickets []struct{ ID, Status, Category string }
		}
	}
	j.customer.must(t, "openServiceTicket", "OpenServiceTicketInput", "order { serviceTickets { id status category } }", map[string]any{
		"orderId": j.orderID, "category": "NOISE", "description": "the indoor unit rattles at low fan speed", "key": "journey-ticket",
	}, &opened)
	j.events.expect(t, "TICKET_OPENED")
	if len(opened.Order.ServiceTickets) != 1 || opened.Order.ServiceTickets[0].Status != "OPEN" {
		t.Fatalf("tickets after opening: %+v", opened.Order.ServiceTickets)
	}
	ticket := opened.Order.ServiceTickets[0].ID

	// Only the operator dispatches: neither a factory that cannot see the
	// ticket nor the order's own factory, which sees it.
	j.otherFactory.refused(t, "dispatchServiceTicket", "DispatchServiceTicketInput", map[string]any{"ticketId": ticket, "assigneeId": j.otherFactory.id}, "NOT_FOUND")
	j.factory.refused(t, "dispatchServiceTicket", "DispatchServiceTicketInput", map[string]any{"ticketId": ticket, "assigneeId": j.factory.id}, "FORBIDDEN")
	// The operator sends a local service partner, not the factory that built it.
	j.operator.must(t, "dispatchServiceTicket", "DispatchServiceTicketInput", "order { id }", map[string]any{"ticketId": ticket, "assigneeId": j.otherFactory.id}, nil)
	j.events.expect(t, "TICKET_DISPATCHED") // and not before: the refused dispatches changed nothing
	j.otherCustomer.refused(t, "resolveServiceTicket", "ResolveServiceTicketInput", map[string]any{"ticketId": ticket, "resolution": "not mine"}, "NOT_FOUND")
	// The partner resolves it. It does not see the order, and the answer is a
	// success all the same: no error, no order.
	r := j.otherFactory.c.Do(t, mutation("resolveServiceTicket", "ResolveServiceTicketInput", "order { id }"),
		map[string]any{"in": map[string]any{"ticketId": ticket, "resolution": "fan blade re-seated and balanced on site"}})
	var resolved struct {
		Order  *struct{ ID string }
		Errors []userError
	}
	if len(r.Errors) > 0 {
		t.Fatalf("the assignee resolving: top-level errors %+v", r.Errors)
	}
	r.Into(t, "resolveServiceTicket", &resolved)
	if resolved.Order != nil || resolved.Errors == nil || len(resolved.Errors) > 0 {
		t.Fatalf("the assignee resolving: %+v, want a success without the order it cannot see", resolved)
	}
	j.events.expect(t, "TICKET_RESOLVED")
	var tickets struct {
		ServiceTickets []struct{ Status, Resolution string }
	}
	j.customer.query(t, `query($id: ID!) { order(id: $id) { serviceTickets { status resolution } } }`, map[string]any{"id": j.orderID}, "order", &tickets)
	if len(tickets.ServiceTickets) != 1 || tickets.ServiceTickets[0].Status != "RESOLVED" {
		t.Fatalf("the customer sees tickets %+v, want one RESOLVED", tickets.ServiceTickets)
	}
	j.events.expect(t, "ORDER_COMPLETED") // when the warranty ends
}

// checkCompletedWithTimeline: the order is COMPLETED in SERVICE, its timeline
// is exactly want, and the subscription delivered that same timeline.
func (j *journey) checkCompletedWithTimeline(want []string) {
	t := j.t
	var timeline []timelineEvent
	var o struct{ Status, Stage string }
	for {
		var page *struct {
			Status, Stage string
			Timeline      []timelineEvent
		}
		j.customer.query(t, `query($id: ID!, $after: Int) { order(id: $id) { status stage timeline(after: $after, first: 100) { seq type stage status message } } }`,
			map[string]any{"id": j.orderID, "after": len(timeline)}, "order", &page)
		if page == nil {
			t.Fatal("the customer no longer sees the order")
		}
		o.Status, o.Stage = page.Status, page.Stage
		if len(page.Timeline) == 0 {
			break
		}
		timeline = append(timeline, page.Timeline...)
	}
	if o.Status != "COMPLETED" || o.Stage != "SERVICE" {
		t.Fatalf("the order is %s in %s, want COMPLETED in SERVICE", o.Status, o.Stage)
	}
	// Its workflow ends with it (and before the test stops the worker).
	ctx, cancel := context.WithTimeout(context.Background(), journeyWait)
	defer cancel()
	if err := j.p.Temporal.GetWorkflow(ctx, workflows.OrderWorkflowID(orderUUID(t, j.orderID)), "").Get(ctx, nil); err != nil {
		t.Fatalf("the order's workflow did not complete: %v", err)
	}
	got := make([]string, len(timeline))
	for i, e := range timeline {
		got[i] = e.Type
		if e.Seq != i+1 {
			t.Fatalf("timeline[%d] has seq %d", i, e.Seq)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("timeline:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if !slices.Equal(timeline, j.events.seen) {
		t.Fatalf("the subscription delivered %+v, the timeline is %+v", j.events.seen, timeline)
	}
	for i, e := range timeline[:len(timeline)-1] {
		if e.Status != "ACTIVE" {
			t.Fatalf("event %d %s is %s; the order never paused", i+1, e.Type, e.Status)
		}
	}
	// Nothing more comes: the subscription is quiet after completion.
	select {
	case e := <-j.events.ch:
		t.Fatalf("an event after completion: %+v", e)
	case err := <-j.events.errc:
		if !errors.Is(err, context.Canceled) {
			t.Logf("subscription: %v", err)
		}
	default:
	}
	if testing.Verbose() {
		for _, e := range timeline {
			t.Logf("%3d %-12s %-9s %-22s %s", e.Seq, e.Stage, e.Status, e.Type, e.Message)
		}
	}
}
