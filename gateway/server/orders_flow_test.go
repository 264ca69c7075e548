package server_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/identity"
)

const placeMutation = `mutation($in: PlaceOrderInput!) { placeOrder(input: $in) { order { ` + orderFields + ` } errors { code field message } } }`

func place(t *testing.T, c testenv.Client, tid string, qty int) orderView {
	t.Helper()
	var p payload
	c.Do(t, placeMutation, map[string]any{"in": map[string]any{
		"idempotencyKey": "k-" + testenv.Suffix(), "templateId": tid, "selections": acSelections, "quantity": qty, "shippingAddress": address,
	}}).Into(t, "placeOrder", &p)
	if p.Order == nil {
		t.Fatalf("placeOrder refused: %+v", p.Errors)
	}
	return *p.Order
}

func types(o orderView) []string {
	out := make([]string, len(o.Timeline))
	for i, e := range o.Timeline {
		out[i] = e.Type
	}
	return out
}

func sameTypes(t *testing.T, o orderView, want ...string) {
	t.Helper()
	got := types(o)
	if len(got) != len(want) {
		t.Fatalf("timeline %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] || o.Timeline[i].Seq != i+1 {
			t.Fatalf("timeline %v (seq %+v), want %v", got, o.Timeline, want)
		}
	}
}

func TestDesignChangeRepricesAndNeedsAFreshApproval(t *testing.T) {
	url, cust, _ := orderStack(t)
	c := testenv.Client{URL: url, Token: cust.Secret}
	o := place(t, c, templateID(t, c, "AC-SPLIT"), 1)
	o = waitForStage(t, c, o.ID, "DESIGN")
	before := o.Total

	var bad payload
	c.Do(t, `mutation($id: ID!) { requestDesignChange(input: {orderId: $id, selections: [{option: "capacity", number: "99"}]}) { order { id } errors { code field message } } }`,
		map[string]any{"id": o.ID}).Into(t, "requestDesignChange", &bad)
	if bad.Order != nil || len(bad.Errors) == 0 || bad.Errors[0].Code != "INVALID_INPUT" {
		t.Fatalf("invalid change: %+v", bad)
	}

	var changed payload
	c.Do(t, `mutation($id: ID!) { requestDesignChange(input: {orderId: $id, selections: [{option: "capacity", number: "7.1"}], quantity: 3, reason: "bigger room"}) { order { `+orderFields+` } errors { code message } } }`,
		map[string]any{"id": o.ID}).Into(t, "requestDesignChange", &changed)
	// The answer is the order once the update completed: the workflow may have
	// prepared the new design in the same workflow task already.
	if changed.Order == nil || changed.Order.ConfigVersion != 2 || (changed.Order.Stage != "INTERACTION" && changed.Order.Stage != "DESIGN") ||
		changed.Order.Total == before {
		t.Fatalf("change: %+v (total before %s)", changed, before)
	}
	o = waitForStage(t, c, o.ID, "DESIGN")
	sameTypes(t, o, "ORDER_PLACED", "DESIGN_READY", "DESIGN_CHANGE_REQUESTED", "DESIGN_READY")

	var stale payload
	c.Do(t, `mutation($id: ID!) { approveDesign(input: {orderId: $id, configVersion: 1}) { order { id } errors { code message } } }`,
		map[string]any{"id": o.ID}).Into(t, "approveDesign", &stale)
	if len(stale.Errors) != 1 || stale.Errors[0].Code != "ILLEGAL_STATE" {
		t.Fatalf("approval of the replaced version: %+v", stale)
	}
	var ok payload
	c.Do(t, `mutation($id: ID!) { approveDesign(input: {orderId: $id, configVersion: 2}) { order { `+orderFields+` } errors { code message } } }`,
		map[string]any{"id": o.ID}).Into(t, "approveDesign", &ok)
	if ok.Order == nil || ok.Order.Stage != "PROCUREMENT" {
		t.Fatalf("approval of the new version: %+v", ok)
	}
}

// An approval sent again under the same Idempotency-Key (as a client does
// after a timeout) gets the first approval's answer, not ILLEGAL_STATE, and
// approves once; without a key a second approval is refused; a malformed key
// is refused before anything runs.
func TestAnApprovalSentAgainUnderItsIdempotencyKeyGetsTheFirstAnswer(t *testing.T) {
	url, cust, _ := orderStack(t)
	c := testenv.Client{URL: url, Token: cust.Secret}
	o := place(t, c, templateID(t, c, "AC-SPLIT"), 1)
	o = waitForStage(t, c, o.ID, "DESIGN")
	approve := `mutation($id: ID!) { approveDesign(input: {orderId: $id, configVersion: 1, comment: "fine"}) { order { ` + orderFields + ` } errors { code message } } }`

	bad := testenv.Client{URL: url, Token: cust.Secret, Header: http.Header{"Idempotency-Key": {"has spaces"}}}
	if res := bad.Do(t, approve, map[string]any{"id": o.ID}); res.Status != http.StatusBadRequest || res.Code() != "INVALID_INPUT" {
		t.Fatalf("a malformed key: %d %+v", res.Status, res.Errors)
	}
	keyed := testenv.Client{URL: url, Token: cust.Secret, Header: http.Header{"Idempotency-Key": {"approve-" + testenv.Suffix()}}}
	var first, again payload
	keyed.Do(t, approve, map[string]any{"id": o.ID}).Into(t, "approveDesign", &first)
	if first.Order == nil || first.Order.Stage != "PROCUREMENT" {
		t.Fatalf("approval: %+v", first)
	}
	keyed.Do(t, approve, map[string]any{"id": o.ID}).Into(t, "approveDesign", &again)
	if again.Order == nil || len(again.Errors) != 0 || again.Order.Stage != "PROCUREMENT" {
		t.Fatalf("the approval sent again under its key: %+v", again)
	}
	var unkeyed payload
	c.Do(t, approve, map[string]any{"id": o.ID}).Into(t, "approveDesign", &unkeyed)
	if len(unkeyed.Errors) != 1 || unkeyed.Errors[0].Code != "ILLEGAL_STATE" {
		t.Fatalf("a second approval without a key: %+v", unkeyed)
	}
	var now struct{ Timeline []struct{ Type string } }
	c.Do(t, `query($id: ID!) { order(id: $id) { timeline { type } } }`, map[string]any{"id": o.ID}).Into(t, "order", &now)
	approved := 0
	for _, e := range now.Timeline {
		if e.Type == "DESIGN_APPROVED" {
			approved++
		}
	}
	if approved != 1 {
		t.Fatalf("%d DESIGN_APPROVED events, want 1: %+v", approved, now.Timeline)
	}
}

func TestLapsedDesignGoesOnHoldAndOnlyTheOperatorResumesIt(t *testing.T) {
	url, cust, op := orderStackWith(t, 2*time.Second)
	c := testenv.Client{URL: url, Token: cust.Secret}
	o := place(t, c, templateID(t, c, "AC-SPLIT"), 1)

	deadline := time.Now().Add(30 * time.Second)
	for o.Status != "ON_HOLD" {
		if time.Now().After(deadline) {
			t.Fatalf("order never went on hold: %+v", o)
		}
		time.Sleep(100 * time.Millisecond)
		c.Do(t, `query($id: ID!) { order(id: $id) { `+orderFields+` } }`, map[string]any{"id": o.ID}).Into(t, "order", &o)
	}
	sameTypes(t, o, "ORDER_PLACED", "DESIGN_READY", "DESIGN_DEADLINE_LAPSED")

	var byCustomer payload
	c.Do(t, `mutation($id: ID!) { resumeOrder(input: {orderId: $id}) { order { id } errors { code } } }`, map[string]any{"id": o.ID}).Into(t, "resumeOrder", &byCustomer)
	if len(byCustomer.Errors) != 1 || byCustomer.Errors[0].Code != "FORBIDDEN" {
		t.Fatalf("customer resume: %+v", byCustomer)
	}
	var approveOnHold payload
	c.Do(t, `mutation($id: ID!) { approveDesign(input: {orderId: $id}) { order { id } errors { code } } }`, map[string]any{"id": o.ID}).Into(t, "approveDesign", &approveOnHold)
	if len(approveOnHold.Errors) != 1 || approveOnHold.Errors[0].Code != "ILLEGAL_STATE" {
		t.Fatalf("approval on hold: %+v", approveOnHold)
	}

	operator := testenv.Client{URL: url, Token: op.Secret}
	var resumed payload
	operator.Do(t, `mutation($id: ID!) { resumeOrder(input: {orderId: $id, reason: "customer called"}) { order { `+orderFields+` } errors { code message } } }`,
		map[string]any{"id": o.ID}).Into(t, "resumeOrder", &resumed)
	if resumed.Order == nil || resumed.Order.Status != "ACTIVE" {
		t.Fatalf("operator resume: %+v", resumed)
	}
	// The design may be ready again by the time the update's answer is read.
	if got := types(*resumed.Order); !slices.Equal(got[:4], []string{"ORDER_PLACED", "DESIGN_READY", "DESIGN_DEADLINE_LAPSED", "ORDER_RESUMED"}) ||
		len(got) > 5 || len(got) == 5 && got[4] != "DESIGN_READY" {
		t.Fatalf("timeline after resume: %v", got)
	}
}

func TestOrdersAreVisibleOnlyToTheirCustomerAndTheOperator(t *testing.T) {
	url, cust, op := orderStack(t)
	p := testenv.Platform(t)
	c := testenv.Client{URL: url, Token: cust.Secret}
	o := place(t, c, templateID(t, c, "AC-SPLIT"), 2)
	waitForStage(t, c, o.ID, "DESIGN")

	other := testenv.Account(t, p, identity.KindCustomer, identity.RoleAdmin)
	supplier := testenv.Account(t, p, identity.KindSupplier, identity.RoleAdmin)
	viewer := testenv.Member(t, p, cust.Enterprise, identity.RoleViewer)

	for _, who := range []struct {
		name    string
		acc     identity.Account
		sees    bool
		listLen int
		act     string
	}{
		{"the customer", cust, true, 1, ""},
		{"a viewer of the customer", viewer, true, 1, "FORBIDDEN"},
		{"another customer", other, false, 0, "NOT_FOUND"},
		{"a supplier", supplier, false, -1, "NOT_FOUND"},
		{"the operator", op, true, -2, ""},
	} {
		t.Run(who.name, func(t *testing.T) {
			cl := testenv.Client{URL: url, Token: who.acc.Secret}
			r := cl.Do(t, `query($id: ID!) { order(id: $id) { id } node(id: $id) { id } }`, map[string]any{"id": o.ID})
			seen := string(r.Data["order"]) != "null" && string(r.Data["node"]) != "null"
			if seen != who.sees {
				t.Fatalf("sees order = %v, want %v (%s %s %+v)", seen, who.sees, r.Data["order"], r.Data["node"], r.Errors)
			}
			lr := cl.Do(t, `{ orders(status: ACTIVE, first: 100) { edges { node { id } } } }`, nil)
			switch who.listLen {
			case -1:
				if lr.Code() != "FORBIDDEN" {
					t.Fatalf("supplier listing orders: %+v", lr.Errors)
				}
			case -2:
				var l struct {
					Edges []struct{ Node struct{ ID string } }
				}
				lr.Into(t, "orders", &l)
				if len(l.Edges) == 0 {
					t.Fatal("operator sees no orders")
				}
			default:
				var l struct {
					Edges []struct{ Node struct{ ID string } }
				}
				lr.Into(t, "orders", &l)
				if len(l.Edges) != who.listLen {
					t.Fatalf("lists %d orders, want %d", len(l.Edges), who.listLen)
				}
			}
			if who.act == "" {
				return
			}
			var cancel payload
			cl.Do(t, `mutation($id: ID!) { cancelOrder(input: {orderId: $id}) { order { id } errors { code } } }`, map[string]any{"id": o.ID}).Into(t, "cancelOrder", &cancel)
			if cancel.Order != nil || len(cancel.Errors) != 1 || cancel.Errors[0].Code != who.act {
				t.Fatalf("cancel by %s: %+v, want %s", who.name, cancel, who.act)
			}
		})
	}
	// Nobody's refusal changed the order.
	var after orderView
	c.Do(t, `query($id: ID!) { order(id: $id) { `+orderFields+` } }`, map[string]any{"id": o.ID}).Into(t, "order", &after)
	if after.Status != "ACTIVE" || len(after.Timeline) != 2 {
		t.Fatalf("order changed by refused commands: %+v", after)
	}
}

func TestOperatorPublishesTemplateVersionsAndOldOrdersKeepTheirs(t *testing.T) {
	url, cust, op := orderStack(t)
	c := testenv.Client{URL: url, Token: cust.Secret}
	operator := testenv.Client{URL: url, Token: op.Secret}

	def := catalog.CNCFlange()
	def.Code = "FLANGE-" + testenv.Suffix()
	raw, _ := json.Marshal(def)
	var doc map[string]any
	_ = json.Unmarshal(raw, &doc)

	publish := func(cl testenv.Client, d map[string]any) (id string, version int, violations int, errCode string) {
		var p struct {
			Template *struct {
				ID      string
				Version int
			}
			Violations []struct{ Code string }
			Errors     []struct{ Code string }
		}
		cl.Do(t, `mutation($d: JSON!) { publishProductTemplate(input: {definition: $d}) { template { id version } violations { code } errors { code } } }`,
			map[string]any{"d": d}).Into(t, "publishProductTemplate", &p)
		if len(p.Errors) > 0 {
			errCode = p.Errors[0].Code
		}
		if p.Template != nil {
			id, version = p.Template.ID, p.Template.Version
		}
		return id, version, len(p.Violations), errCode
	}
	if _, _, _, code := publish(c, doc); code != "FORBIDDEN" {
		t.Fatalf("customer published a template (code %q)", code)
	}
	v1, n1, _, _ := publish(operator, doc)
	if v1 == "" || n1 != 1 {
		t.Fatalf("first version: %s %d", v1, n1)
	}
	broken := map[string]any{}
	for k, v := range doc {
		broken[k] = v
	}
	broken["currency"] = "XXX"
	broken["maxQuantity"] = -1
	if id, _, nv, _ := publish(operator, broken); id != "" || nv < 2 {
		t.Fatalf("invalid template accepted (id %q, %d violations)", id, nv)
	}

	var q struct {
		Quote      struct{ ID string }
		Violations []struct{ Code, Message string }
	}
	flange := []map[string]any{{"option": "nominalDiameter", "number": "100"}, {"option": "thickness", "number": "20"}, {"option": "boltHoles", "number": "8"}}
	r := c.Do(t, `mutation($in: CreateQuoteInput!) { createQuote(input: $in) { quote { id } violations { code message } } }`,
		map[string]any{"in": map[string]any{"templateId": v1, "selections": flange, "quantity": 10}})
	r.Into(t, "createQuote", &q)
	if q.Quote.ID == "" {
		t.Fatalf("flange quote refused: %+v", q.Violations)
	}
	var placed payload
	c.Do(t, placeMutation, map[string]any{"in": map[string]any{"idempotencyKey": "f-" + testenv.Suffix(), "quoteId": q.Quote.ID, "shippingAddress": address}}).Into(t, "placeOrder", &placed)
	if placed.Order == nil {
		t.Fatalf("place: %+v", placed.Errors)
	}
	v2, n2, _, _ := publish(operator, doc)
	if n2 != 2 || v2 == v1 {
		t.Fatalf("second version: %s %d", v2, n2)
	}
	var o struct {
		Template struct {
			ID      string
			Version int
		}
	}
	c.Do(t, `query($id: ID!) { order(id: $id) { template { id version } } }`, map[string]any{"id": placed.Order.ID}).Into(t, "order", &o)
	if o.Template.ID != v1 || o.Template.Version != 1 {
		t.Fatalf("order moved to template %+v after a new version", o.Template)
	}
}

// A repeated read of an order's fields is answered from the gateway's read
// cache while the order is unchanged; the next read after a change shows the
// change, another customer sending the very same request is refused as
// before, and a read that selects other records always runs.
func TestARepeatedOrderReadIsFreshAfterEveryChangeAndOnlyForItsReader(t *testing.T) {
	url, cust, _ := orderStack(t)
	c := testenv.Client{URL: url, Token: cust.Secret}
	o := place(t, c, templateID(t, c, "AC-SPLIT"), 1)
	o = waitForStage(t, c, o.ID, "DESIGN")
	read := `query($id: ID!) { order(id: $id) { id stage status configVersion updatedAt } }`
	type view struct{ ID, Stage, Status, UpdatedAt string }
	get := func(cl testenv.Client) (view, testenv.Response) {
		t.Helper()
		res := cl.Do(t, read, map[string]any{"id": o.ID})
		var v view
		if res.Code() == "" {
			res.Into(t, "order", &v)
		}
		return v, res
	}
	first, _ := get(c)
	again, _ := get(c)
	if first.Stage != "DESIGN" || again != first {
		t.Fatalf("two reads of an unchanged order: %+v then %+v", first, again)
	}
	var ok payload
	c.Do(t, `mutation($id: ID!) { approveDesign(input: {orderId: $id}) { order { id } errors { code message } } }`,
		map[string]any{"id": o.ID}).Into(t, "approveDesign", &ok)
	if len(ok.Errors) != 0 {
		t.Fatalf("approval: %+v", ok.Errors)
	}
	after, _ := get(c)
	if after.Stage == "DESIGN" || after.UpdatedAt == first.UpdatedAt {
		t.Fatalf("the read after the approval still shows %+v", after)
	}
	p := testenv.Platform(t)
	other := testenv.Account(t, p, identity.KindCustomer, identity.RoleAdmin)
	// order(id) answers null (or NOT_FOUND) to a customer that did not place it.
	if v, res := get(testenv.Client{URL: url, Token: other.Secret}); v.ID != "" || (res.Code() != "" && res.Code() != "NOT_FOUND") {
		t.Fatalf("another customer sending the same request: %+v %+v", v, res.Errors)
	}
	var withTimeline struct{ Timeline []struct{ Type string } }
	c.Do(t, `query($id: ID!) { order(id: $id) { timeline { type } } }`, map[string]any{"id": o.ID}).Into(t, "order", &withTimeline)
	if n := len(withTimeline.Timeline); n < 3 || withTimeline.Timeline[n-1].Type == "DESIGN_READY" {
		t.Fatalf("the timeline read: %+v", withTimeline.Timeline)
	}
}
