package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/worker"

	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/config"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/workflows"
)

// orderStack is the gateway plus a worker on a private task queue, on the real stack.
func orderStack(t *testing.T) (url string, customer, operator identity.Account) {
	t.Helper()
	return orderStackWith(t, time.Hour)
}

// orderStackWith is orderStack with a design approval timeout of its own.
func orderStackWith(t *testing.T, designTimeout time.Duration) (url string, customer, operator identity.Account) {
	t.Helper()
	queue := "test-orders-" + testenv.Suffix()
	srv, p := gateway(t, func(c *config.Config) { c.TaskQueue = queue; c.DesignApprovalTimeout = designTimeout })
	if err := p.Catalog.EnsureSeeded(context.Background(), catalog.SeedTemplates()); err != nil {
		t.Fatal(err)
	}
	w := worker.New(p.Temporal, queue, workflows.WorkerOptions(worker.Options{}))
	workflows.Register(w, p.Activities())
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return srv.URL + "/graphql", testenv.Account(t, p, identity.KindCustomer, identity.RoleMember), testenv.Account(t, p, identity.KindPlatform, identity.RoleAdmin)
}

func templateID(t *testing.T, c testenv.Client, code string) string {
	t.Helper()
	var got struct {
		Edges []struct{ Node struct{ ID, Code string } }
	}
	c.Do(t, `{ productTemplates(first: 50) { edges { node { id code } } } }`, nil).Into(t, "productTemplates", &got)
	for _, e := range got.Edges {
		if e.Node.Code == code {
			return e.Node.ID
		}
	}
	t.Fatalf("template %s not listed", code)
	return ""
}

var acSelections = []map[string]any{{"option": "capacity", "number": "3.5"}}

var address = map[string]any{"recipient": "Zhang Min", "line1": "88 Haier Road", "city": "Qingdao", "postalCode": "266101", "country": "CN"}

const orderFields = `id status stage configVersion total currency timeline { seq type stage status }`

type orderView struct {
	ID, Status, Stage, Total, Currency string
	ConfigVersion                      int
	Timeline                           []struct {
		Seq                 int
		Type, Stage, Status string
	}
}

type payload struct {
	Order  *orderView
	Errors []struct {
		Code    string
		Field   []string
		Message string
	}
}

func waitForStage(t *testing.T, c testenv.Client, id, stage string) orderView {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var o orderView
		c.Do(t, `query($id: ID!) { order(id: $id) { `+orderFields+` } }`, map[string]any{"id": id}).Into(t, "order", &o)
		if o.Stage == stage && len(o.Timeline) > 0 && o.Timeline[len(o.Timeline)-1].Stage == stage {
			return o
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s never reached %s: %+v", id, stage, o)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestConfigureQuotePlaceApproveThroughGraphQL(t *testing.T) {
	url, cust, _ := orderStack(t)
	c := testenv.Client{URL: url, Token: cust.Secret}
	tid := templateID(t, c, "AC-SPLIT")

	var conf struct {
		Valid      bool
		Violations []struct{ Code, Message string }
		Price      struct{ Total, Currency string }
		Bom        []struct{ Material string }
		Routing    []struct{ Code string }
	}
	c.Do(t, `query($in: ConfigureInput!) { configure(input: $in) { valid violations { code message } price { total currency } bom { material } routing { code } } }`,
		map[string]any{"in": map[string]any{"templateId": tid, "selections": acSelections, "quantity": 2}}).Into(t, "configure", &conf)
	if !conf.Valid || conf.Price.Total == "" || len(conf.Bom) == 0 || len(conf.Routing) == 0 {
		t.Fatalf("configure: %+v", conf)
	}

	var quote struct {
		Quote  struct{ ID, Total string }
		Errors []struct{ Code string }
	}
	c.Do(t, `mutation($in: CreateQuoteInput!) { createQuote(input: $in) { quote { id total } errors { code } } }`,
		map[string]any{"in": map[string]any{"templateId": tid, "selections": acSelections, "quantity": 2}}).Into(t, "createQuote", &quote)
	if quote.Quote.ID == "" || quote.Quote.Total != conf.Price.Total {
		t.Fatalf("quote %+v, configure total %s", quote, conf.Price.Total)
	}

	var placed payload
	c.Do(t, `mutation($in: PlaceOrderInput!) { placeOrder(input: $in) { order { `+orderFields+` } errors { code field message } } }`,
		map[string]any{"in": map[string]any{"idempotencyKey": "k-" + testenv.Suffix(), "quoteId": quote.Quote.ID, "shippingAddress": address}}).Into(t, "placeOrder", &placed)
	if placed.Order == nil || placed.Order.Total != quote.Quote.Total {
		t.Fatalf("placeOrder: %+v", placed)
	}
	o := waitForStage(t, c, placed.Order.ID, "DESIGN")

	var approved payload
	c.Do(t, `mutation($id: ID!, $v: Int) { approveDesign(input: {orderId: $id, configVersion: $v}) { order { `+orderFields+` } errors { code message } } }`,
		map[string]any{"id": o.ID, "v": o.ConfigVersion}).Into(t, "approveDesign", &approved)
	// The order goes straight on to factory assignment and sourcing, so by the
	// time the payload is read it may hold more events (or wait ON_HOLD for a
	// factory): the approval is the third event either way.
	if approved.Order == nil || approved.Order.Stage != "PROCUREMENT" {
		t.Fatalf("approveDesign: %+v", approved)
	}
	want := []string{"ORDER_PLACED", "DESIGN_READY", "DESIGN_APPROVED"}
	if len(approved.Order.Timeline) < len(want) {
		t.Fatalf("timeline %+v, want it to begin %v", approved.Order.Timeline, want)
	}
	for i, e := range approved.Order.Timeline[:len(want)] {
		if e.Type != want[i] || e.Seq != i+1 {
			t.Fatalf("timeline[%d] = %+v, want %s seq %d", i, e, want[i], i+1)
		}
	}

	// Approving twice is an illegal transition: refused with a code, nothing changes.
	var again payload
	c.Do(t, `mutation($id: ID!) { approveDesign(input: {orderId: $id}) { order { id } errors { code message } } }`,
		map[string]any{"id": o.ID}).Into(t, "approveDesign", &again)
	if len(again.Errors) != 1 || again.Errors[0].Code != "ILLEGAL_STATE" {
		t.Fatalf("second approval: %+v", again)
	}

	// Cancelling in procurement runs compensation.
	var cancelled payload
	c.Do(t, `mutation($id: ID!) { cancelOrder(input: {orderId: $id, reason: "changed plans"}) { order { `+orderFields+` } errors { code message } } }`,
		map[string]any{"id": o.ID}).Into(t, "cancelOrder", &cancelled)
	if cancelled.Order == nil || cancelled.Order.Status != "CANCELLED" {
		t.Fatalf("cancelOrder: %+v", cancelled)
	}
}

func TestConcurrentPlaceOrderWithOneKeyGivesOneOrder(t *testing.T) {
	url, cust, _ := orderStack(t)
	c := testenv.Client{URL: url, Token: cust.Secret}
	tid := templateID(t, c, "AC-SPLIT")
	key := "same-" + testenv.Suffix()
	const n = 20
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var p payload
			r := c.Do(t, `mutation($in: PlaceOrderInput!) { placeOrder(input: $in) { order { id } errors { code message } } }`,
				map[string]any{"in": map[string]any{"idempotencyKey": key, "templateId": tid, "selections": acSelections, "quantity": 1, "shippingAddress": address}})
			raw, _ := json.Marshal(r.Data["placeOrder"])
			_ = json.Unmarshal(raw, &p)
			if p.Order != nil {
				ids[i] = p.Order.ID
			} else {
				ids[i] = fmt.Sprintf("refused: %+v %+v", p.Errors, r.Errors)
			}
		}()
	}
	wg.Wait()
	for i := range ids {
		if ids[i] != ids[0] {
			t.Fatalf("call %d got %s, call 0 got %s", i, ids[i], ids[0])
		}
	}
	p := testenv.Platform(t)
	var rows int
	if err := p.DB.QueryRow(context.Background(), `SELECT count(*) FROM orders WHERE customer_id = $1 AND idempotency_key = $2`, cust.Enterprise.ID, key).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Fatalf("%d order rows for one key", rows)
	}
	o := waitForStage(t, c, ids[0], "DESIGN")
	placedEvents := 0
	for _, e := range o.Timeline {
		if e.Type == "ORDER_PLACED" {
			placedEvents++
		}
	}
	if placedEvents != 1 {
		t.Fatalf("%d ORDER_PLACED events: one workflow should have run", placedEvents)
	}
}

func TestBadOrdersAreRefusedAndWriteNothing(t *testing.T) {
	url, cust, _ := orderStack(t)
	c := testenv.Client{URL: url, Token: cust.Secret}
	tid := templateID(t, c, "AC-SPLIT")
	p := testenv.Platform(t)
	count := func() int {
		var n int
		if err := p.DB.QueryRow(context.Background(), `SELECT count(*) FROM orders WHERE customer_id = $1`, cust.Enterprise.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	cases := []struct {
		name string
		in   map[string]any
		code string
	}{
		{"quantity zero", map[string]any{"templateId": tid, "selections": acSelections, "quantity": 0, "shippingAddress": address}, "INVALID_INPUT"},
		{"quantity negative", map[string]any{"templateId": tid, "selections": acSelections, "quantity": -3, "shippingAddress": address}, "INVALID_INPUT"},
		{"quantity above maximum", map[string]any{"templateId": tid, "selections": acSelections, "quantity": 1_000_000, "shippingAddress": address}, "INVALID_INPUT"},
		{"unknown option", map[string]any{"templateId": tid, "selections": []map[string]any{{"option": "capacity", "number": "3.5"}, {"option": "turbo", "choice": "YES"}}, "quantity": 1, "shippingAddress": address}, "INVALID_INPUT"},
		{"capacity out of range", map[string]any{"templateId": tid, "selections": []map[string]any{{"option": "capacity", "number": "99"}}, "quantity": 1, "shippingAddress": address}, "INVALID_INPUT"},
		{"over-long engraving", map[string]any{"templateId": tid, "selections": []map[string]any{{"option": "capacity", "number": "3.5"}, {"option": "engraving", "text": "a name that is far too long for the panel"}}, "quantity": 1, "shippingAddress": address}, "INVALID_INPUT"},
		{"unknown template", map[string]any{"templateId": "UHJvZHVjdFRlbXBsYXRlOjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMA", "selections": acSelections, "quantity": 1, "shippingAddress": address}, "NOT_FOUND"},
		{"no address city", map[string]any{"templateId": tid, "selections": acSelections, "quantity": 1, "shippingAddress": map[string]any{"recipient": "x", "line1": "y", "city": "", "postalCode": "1", "country": "CN"}}, "INVALID_INPUT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.in["idempotencyKey"] = "bad-" + testenv.Suffix()
			var got payload
			c.Do(t, `mutation($in: PlaceOrderInput!) { placeOrder(input: $in) { order { id } errors { code field message } } }`,
				map[string]any{"in": tc.in}).Into(t, "placeOrder", &got)
			if got.Order != nil || len(got.Errors) == 0 || got.Errors[0].Code != tc.code {
				t.Fatalf("got %+v, want refusal %s", got, tc.code)
			}
		})
	}
	// An expired quote.
	var quote struct{ Quote struct{ ID string } }
	c.Do(t, `mutation($in: CreateQuoteInput!) { createQuote(input: $in) { quote { id } } }`,
		map[string]any{"in": map[string]any{"templateId": tid, "selections": acSelections, "quantity": 1}}).Into(t, "createQuote", &quote)
	if _, err := p.DB.Exec(context.Background(), `UPDATE quotes SET valid_until = now() - interval '1 minute' WHERE customer_id = $1`, cust.Enterprise.ID); err != nil {
		t.Fatal(err)
	}
	var got payload
	c.Do(t, `mutation($in: PlaceOrderInput!) { placeOrder(input: $in) { order { id } errors { code field message } } }`,
		map[string]any{"in": map[string]any{"idempotencyKey": "exp-" + testenv.Suffix(), "quoteId": quote.Quote.ID, "shippingAddress": address}}).Into(t, "placeOrder", &got)
	if got.Order != nil || len(got.Errors) == 0 || got.Errors[0].Code != "INVALID_INPUT" || got.Errors[0].Field[1] != "quoteId" {
		t.Fatalf("expired quote: %+v", got)
	}
	if after := count(); after != before {
		t.Fatalf("refused orders wrote %d rows", after-before)
	}
}
