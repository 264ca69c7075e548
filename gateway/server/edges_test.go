package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/masscustom/orchestrator/graph"
	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/workflows"
)

// The tests of this file hold the edges: bad input of every kind is refused
// with INVALID_INPUT on its field, and changes nothing.

// refusal is the part of a mutation payload these tests read.
type refusal struct {
	Errors []userError
}

// requireRefusedOn requires data.<field> to be refused in its payload with
// INVALID_INPUT on path (dot-joined), with a message, and no top-level error.
func requireRefusedOn(t *testing.T, name string, r testenv.Response, field, path string) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Errorf("%s: top-level errors %+v, want a refusal on %s in the payload", name, r.Errors, path)
		return
	}
	var got refusal
	r.Into(t, field, &got)
	for _, e := range got.Errors {
		if e.Code == "INVALID_INPUT" && strings.Join(e.Field, ".") == path && e.Message != "" {
			return
		}
	}
	t.Errorf("%s: refusals %+v, want INVALID_INPUT on %s with a message", name, got.Errors, path)
}

func count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := testenv.Platform(t).DB.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestUnboundedOrTooFineDecimalsAreRefusedOnTheirFieldAndWriteNothing(t *testing.T) {
	f := leaseOverGraphQL(t)
	p := testenv.Platform(t)
	_, contract, _ := graph.ParseGlobalID(f.contractID)
	finance := testenv.Client{URL: f.url, Token: f.finance.Secret}
	operator := testenv.Client{URL: f.url, Token: testenv.Account(t, p, identity.KindPlatform, identity.RoleAdmin).Secret}
	customer := testenv.Account(t, p, identity.KindCustomer, identity.RoleMember)
	supplier := testenv.Account(t, p, identity.KindSupplier, identity.RoleAdmin)
	carrier := testenv.Account(t, p, identity.KindCarrier, identity.RoleAdmin)
	shopper := testenv.Client{URL: f.url, Token: customer.Secret}
	tid := templateID(t, shopper, "AC-SPLIT")

	payment := func(amount string) (testenv.Client, string, map[string]any) {
		return finance, `mutation($in: RecordPaymentInput!) { recordPayment(input: $in) { contract { id } errors { code field message } } }`,
			map[string]any{"in": map[string]any{"contractId": f.contractID, "amount": amount, "reference": "BANK-" + testenv.Suffix()}}
	}
	capability := func(price, qty string) (testenv.Client, string, map[string]any) {
		return operator, `mutation($in: SupplierCapabilityInput!) { setSupplierCapability(input: $in) { ok errors { code field message } } }`,
			map[string]any{"in": map[string]any{"supplierId": graph.GlobalID("Enterprise", supplier.Enterprise.ID), "material": "EDGE-" + testenv.Suffix(),
				"unitPrice": price, "currency": "CNY", "leadDays": 3, "maxQuantity": qty}}
	}
	lane := func(price string) (testenv.Client, string, map[string]any) {
		return operator, `mutation($in: CarrierLaneInput!) { setCarrierLane(input: $in) { ok errors { code field message } } }`,
			map[string]any{"in": map[string]any{"carrierId": graph.GlobalID("Enterprise", carrier.Enterprise.ID), "country": "CN", "leadDays": 2, "price": price, "currency": "CNY"}}
	}
	order := func(number string) (testenv.Client, string, map[string]any) {
		return shopper, `mutation($in: PlaceOrderInput!) { placeOrder(input: $in) { order { id } errors { code field message } } }`,
			map[string]any{"in": map[string]any{"idempotencyKey": "edge-" + testenv.Suffix(), "templateId": tid,
				"selections": []map[string]any{{"option": "capacity", "number": number}}, "quantity": 1, "shippingAddress": address}}
	}
	cases := []struct {
		name        string
		call        func() (testenv.Client, string, map[string]any)
		field, path string
	}{
		{"a payment of 1e400", func() (testenv.Client, string, map[string]any) { return payment("1e400") }, "recordPayment", "input.amount"},
		{"a payment above the largest amount", func() (testenv.Client, string, map[string]any) { return payment("1000000000000.01") }, "recordPayment", "input.amount"},
		{"a payment below the minor unit", func() (testenv.Client, string, map[string]any) { return payment("10.001") }, "recordPayment", "input.amount"},
		{"a payment of 1e-30", func() (testenv.Client, string, map[string]any) { return payment("1e-30") }, "recordPayment", "input.amount"},
		{"a negative payment", func() (testenv.Client, string, map[string]any) { return payment("-5") }, "recordPayment", "input.amount"},
		{"a list price of 1e400", func() (testenv.Client, string, map[string]any) { return capability("1e400", "10") }, "setSupplierCapability", "input.unitPrice"},
		{"a list price below the minor unit", func() (testenv.Client, string, map[string]any) { return capability("9.999", "10") }, "setSupplierCapability", "input.unitPrice"},
		{"a capacity of 1e400", func() (testenv.Client, string, map[string]any) { return capability("10.00", "1e400") }, "setSupplierCapability", "input.maxQuantity"},
		{"a capacity of 1e-30", func() (testenv.Client, string, map[string]any) { return capability("10.00", "1e-30") }, "setSupplierCapability", "input.maxQuantity"},
		{"a lane price of 1e400", func() (testenv.Client, string, map[string]any) { return lane("1e400") }, "setCarrierLane", "input.price"},
		{"a lane price below the minor unit", func() (testenv.Client, string, map[string]any) { return lane("0.005") }, "setCarrierLane", "input.price"},
		{"a configured number of 1e400", func() (testenv.Client, string, map[string]any) { return order("1e400") }, "placeOrder", "input.selections.capacity"},
		{"a configured number of 1e-30", func() (testenv.Client, string, map[string]any) { return order("1e-30") }, "placeOrder", "input.selections.capacity"},
	}
	for _, c := range cases {
		client, q, vars := c.call()
		requireRefusedOn(t, c.name, client.Do(t, q, vars), c.field, c.path)
	}

	// Nothing was written: no payment, no ledger entry, no capability, no lane, no order.
	for what, n := range map[string]int{
		"payments":       count(t, `SELECT count(*) FROM payments WHERE contract_id = $1`, contract),
		"ledger entries": count(t, `SELECT count(*) FROM ledger_entries WHERE contract_id = $1 AND posting_key LIKE 'payment:%'`, contract),
		"capabilities":   count(t, `SELECT count(*) FROM supplier_capabilities WHERE supplier_id = $1`, supplier.Enterprise.ID),
		"lanes":          count(t, `SELECT count(*) FROM carrier_lanes WHERE carrier_id = $1`, carrier.Enterprise.ID),
		"orders":         count(t, `SELECT count(*) FROM orders WHERE customer_id = $1`, customer.Enterprise.ID),
	} {
		if n != 0 {
			t.Errorf("%d %s written by refused input", n, what)
		}
	}

	// The bounds leave room for real amounts: the largest payment is taken.
	_, q, vars := payment("1000000000000")
	var ok struct {
		Contract *struct{ ID string }
		Errors   []userError
	}
	finance.Do(t, q, vars).Into(t, "recordPayment", &ok)
	if ok.Contract == nil || len(ok.Errors) > 0 {
		t.Fatalf("the largest payment: %+v", ok)
	}
}

func TestMalformedDecimalsAreRefusedAsInvalidInputOnTheArgumentAndWriteNothing(t *testing.T) {
	f := leaseOverGraphQL(t)
	_, contract, _ := graph.ParseGlobalID(f.contractID)
	finance := testenv.Client{URL: f.url, Token: f.finance.Secret}
	const byVariable = `mutation($in: RecordPaymentInput!) { recordPayment(input: $in) { contract { id } errors { code field message } } }`
	cases := []struct {
		name   string
		amount any
	}{
		{"NaN", "NaN"},
		{"Infinity", "Infinity"},
		{"an empty string", ""},
		{"a trailing space", "3.5 "},
		{"hexadecimal", "0x10"},
		{"letters", "abc"},
		{"a boolean", true},
		{"an object", map[string]any{"value": "1"}},
		{"too many characters", strings.Repeat("9", 100)},
	}
	for _, c := range cases {
		r := finance.Do(t, byVariable, map[string]any{"in": map[string]any{"contractId": f.contractID, "amount": c.amount, "reference": "BANK-" + testenv.Suffix()}})
		requireTopLevelInvalidInput(t, c.name, r, "amount")
	}
	// Literals in the query: a float and a malformed string.
	for name, literal := range map[string]string{"a float literal": `3.5`, "a string literal": `"NaN"`} {
		r := finance.Do(t, `mutation($c: ID!) { recordPayment(input: {contractId: $c, amount: `+literal+`, reference: "BANK-LIT"}) { errors { code } } }`,
			map[string]any{"c": f.contractID})
		requireTopLevelInvalidInput(t, name, r, "amount")
	}
	if n := count(t, `SELECT count(*) FROM payments WHERE contract_id = $1`, contract); n != 0 {
		t.Fatalf("%d payments written by malformed amounts", n)
	}
	// A JSON number in variables is exact (parsed from its text), so it is taken.
	var ok struct {
		Contract *struct{ ID string }
		Errors   []userError
	}
	finance.Do(t, byVariable, map[string]any{"in": map[string]any{"contractId": f.contractID, "amount": 12.5, "reference": "BANK-NUM"}}).Into(t, "recordPayment", &ok)
	if ok.Contract == nil || len(ok.Errors) > 0 {
		t.Fatalf("a JSON number amount: %+v", ok)
	}
}

// requireTopLevelInvalidInput requires one top-level INVALID_INPUT error with
// a message whose path ends at arg, and no data for the mutation.
func requireTopLevelInvalidInput(t *testing.T, name string, r testenv.Response, arg string) {
	t.Helper()
	if len(r.Errors) == 0 {
		t.Errorf("%s: no top-level error, data %s", name, r.Data["recordPayment"])
		return
	}
	e := r.Errors[0]
	if r.Code() != "INVALID_INPUT" || e.Message == "" || len(e.Path) == 0 || e.Path[len(e.Path)-1] != arg {
		t.Errorf("%s: error %+v, want INVALID_INPUT with a message on a path ending at %s", name, e, arg)
	}
	if raw, ok := r.Data["recordPayment"]; ok && string(raw) != "null" {
		t.Errorf("%s: data %s, want none", name, raw)
	}
}

func TestNULAndControlCharactersInTextAreRefusedBeforeAnyWorkflowUpdate(t *testing.T) {
	url, cust, op := orderStack(t)
	c := testenv.Client{URL: url, Token: cust.Secret}
	operator := testenv.Client{URL: url, Token: op.Secret}
	id := placeAC(t, c)
	awaitApprovable(t, id)
	wf := workflows.OrderWorkflowID(orderUUID(t, id))
	p := testenv.Platform(t)
	before := testenv.UpdatesAccepted(t, p.Temporal, wf)
	var timeline orderView
	c.Do(t, `query($id: ID!) { order(id: $id) { `+orderFields+` } }`, map[string]any{"id": id}).Into(t, "order", &timeline)

	cases := []struct {
		name   string
		client testenv.Client
		field  string
		input  string
		in     map[string]any
		path   string
	}{
		{"a NUL in an approval comment", c, "approveDesign", "ApproveDesignInput", map[string]any{"orderId": id, "comment": "looks good\x00"}, "input.comment"},
		{"a NUL in a design change reason", c, "requestDesignChange", "RequestDesignChangeInput",
			map[string]any{"orderId": id, "selections": acSelections, "reason": "bigger\x00"}, "input.reason"},
		{"a NUL in a selection's text", c, "requestDesignChange", "RequestDesignChangeInput",
			map[string]any{"orderId": id, "selections": []map[string]any{{"option": "engraving", "text": "Z\x00M"}}}, "input.selections.0.text"},
		{"a NUL in a cancellation reason", c, "cancelOrder", "CancelOrderInput", map[string]any{"orderId": id, "reason": "changed my mind\x00"}, "input.reason"},
		{"an escape sequence in a cancellation reason", c, "cancelOrder", "CancelOrderInput", map[string]any{"orderId": id, "reason": "\x1b[2J"}, "input.reason"},
		{"an over-long cancellation reason", c, "cancelOrder", "CancelOrderInput", map[string]any{"orderId": id, "reason": strings.Repeat("x", 2001)}, "input.reason"},
		{"a NUL in a resume reason", operator, "resumeOrder", "ResumeOrderInput", map[string]any{"orderId": id, "reason": "\x00"}, "input.reason"},
		{"a NUL in a ticket description", c, "openServiceTicket", "OpenServiceTicketInput",
			map[string]any{"orderId": id, "category": "NOISE", "description": "rattles\x00"}, "input.description"},
		{"a control character in a ticket key", c, "openServiceTicket", "OpenServiceTicketInput",
			map[string]any{"orderId": id, "category": "NOISE", "description": "rattles", "key": "k\x07"}, "input.key"},
	}
	for _, tc := range cases {
		r := tc.client.Do(t, mutation(tc.field, tc.input, "order { id }"), map[string]any{"in": tc.in})
		requireRefusedOn(t, tc.name, r, tc.field, tc.path)
	}

	if after := testenv.UpdatesAccepted(t, p.Temporal, wf); after != before {
		t.Errorf("the order's workflow accepted %d updates during refused requests", after-before)
	}
	var now orderView
	c.Do(t, `query($id: ID!) { order(id: $id) { `+orderFields+` } }`, map[string]any{"id": id}).Into(t, "order", &now)
	if now.Status != "ACTIVE" || now.Stage != "DESIGN" || len(now.Timeline) != len(timeline.Timeline) {
		t.Fatalf("the order changed: %+v, was %+v", now, timeline)
	}
	// The same requests with clean text go through: the refusals were about the text.
	approve(t, c, id)
}

func TestNULInTextTheGatewayStoresIsRefusedAndWritesNothing(t *testing.T) {
	f := leaseOverGraphQL(t)
	p := testenv.Platform(t)
	_, contract, _ := graph.ParseGlobalID(f.contractID)
	customer := testenv.Account(t, p, identity.KindCustomer, identity.RoleAdmin)
	operator := testenv.Account(t, p, identity.KindPlatform, identity.RoleAdmin)
	shopper := testenv.Client{URL: f.url, Token: customer.Secret}
	admin := testenv.Client{URL: f.url, Token: operator.Secret}
	lessor := testenv.Client{URL: f.url, Token: f.lessor.Secret}
	finance := testenv.Client{URL: f.url, Token: f.finance.Secret}
	tid := templateID(t, shopper, "AC-SPLIT")
	marker := "edge" + testenv.Suffix()
	withAddress := func(field, value string) map[string]any {
		a := map[string]any{}
		for k, v := range address {
			a[k] = v
		}
		a[field] = value
		return a
	}
	placeOrder := `mutation($in: PlaceOrderInput!) { placeOrder(input: $in) { order { id } errors { code field message } } }`
	cases := []struct {
		name   string
		client testenv.Client
		query  string
		in     map[string]any
		field  string
		path   string
	}{
		{"a NUL in the recipient", shopper, placeOrder, map[string]any{"idempotencyKey": marker + "-1", "templateId": tid, "selections": acSelections, "quantity": 1,
			"shippingAddress": withAddress("recipient", "Zhang\x00Min")}, "placeOrder", "input.shippingAddress.recipient"},
		{"a line break in the city", shopper, placeOrder, map[string]any{"idempotencyKey": marker + "-2", "templateId": tid, "selections": acSelections, "quantity": 1,
			"shippingAddress": withAddress("city", "Qing\ndao")}, "placeOrder", "input.shippingAddress.city"},
		// (Invalid UTF-8 cannot arrive: JSON decoding turns it into U+FFFD.)
		{"a C1 control character in the first line", shopper, placeOrder, map[string]any{"idempotencyKey": marker + "-3", "templateId": tid, "selections": acSelections, "quantity": 1,
			"shippingAddress": withAddress("line1", "88 Haier Road\u0085")}, "placeOrder", "input.shippingAddress.line1"},
		{"a NUL in the idempotency key", shopper, placeOrder, map[string]any{"idempotencyKey": marker + "\x00", "templateId": tid, "selections": acSelections, "quantity": 1,
			"shippingAddress": address}, "placeOrder", "input.idempotencyKey"},
		{"a NUL in an enterprise name", admin, `mutation($in: CreateEnterpriseInput!) { createEnterprise(input: $in) { enterprise { id } errors { code field message } } }`,
			map[string]any{"kind": "SUPPLIER", "name": marker + "\x00"}, "createEnterprise", "input.name"},
		{"a NUL in a user name", admin, `mutation($in: CreateUserInput!) { createUser(input: $in) { user { id } errors { code field message } } }`,
			map[string]any{"enterpriseId": graph.GlobalID("Enterprise", customer.Enterprise.ID), "email": marker + "@test.example", "name": "New\x00", "role": "MEMBER"}, "createUser", "input.name"},
		{"a NUL in a token name", shopper, `mutation($in: CreateApiTokenInput!) { createApiToken(input: $in) { secret errors { code field message } } }`,
			map[string]any{"userId": graph.GlobalID("User", customer.User.ID), "name": marker + "\x00"}, "createApiToken", "input.name"},
		{"a NUL in an equipment serial", lessor, `mutation($in: RegisterEquipmentInput!) { registerEquipment(input: $in) { equipment { id } errors { code field message } } }`,
			map[string]any{"lessorId": graph.GlobalID("Enterprise", f.lessor.Enterprise.ID), "serial": marker + "\x00", "kind": "CNC_MILL", "meters": []string{"parts"}},
			"registerEquipment", "input.serial"},
		{"a NUL in a payment reference", finance, `mutation($in: RecordPaymentInput!) { recordPayment(input: $in) { contract { id } errors { code field message } } }`,
			map[string]any{"contractId": f.contractID, "amount": "10.00", "reference": marker + "\x00"}, "recordPayment", "input.reference"},
	}
	for _, c := range cases {
		requireRefusedOn(t, c.name, c.client.Do(t, c.query, map[string]any{"in": c.in}), c.field, c.path)
	}
	for what, n := range map[string]int{
		"orders":      count(t, `SELECT count(*) FROM orders WHERE customer_id = $1`, customer.Enterprise.ID),
		"enterprises": count(t, `SELECT count(*) FROM enterprises WHERE name LIKE $1`, marker+"%"),
		"users":       count(t, `SELECT count(*) FROM users WHERE email LIKE $1`, marker+"%"),
		"tokens":      count(t, `SELECT count(*) FROM api_tokens WHERE user_id = $1 AND name LIKE $2`, customer.User.ID, marker+"%"),
		"equipment":   count(t, `SELECT count(*) FROM equipment WHERE serial LIKE $1`, marker+"%"),
		"payments":    count(t, `SELECT count(*) FROM payments WHERE contract_id = $1`, contract),
	} {
		if n != 0 {
			t.Errorf("%d %s written by refused input", n, what)
		}
	}
}

func TestWhatTheCallerCannotSeeReadsAsMissingWhenCreatingUsersAndTokens(t *testing.T) {
	srv, p := gateway(t)
	url := srv.URL + "/graphql"
	admin := testenv.Account(t, p, identity.KindSupplier, identity.RoleAdmin)
	member := testenv.Member(t, p, admin.Enterprise, identity.RoleMember)
	stranger := testenv.Account(t, p, identity.KindCustomer, identity.RoleAdmin)
	strangerToken, _, err := p.Identity.CreateToken(context.Background(), identity.System, stranger.User.ID, "spare", nil)
	if err != nil {
		t.Fatal(err)
	}
	createUser := `mutation($in: CreateUserInput!) { createUser(input: $in) { user { id } errors { code field message } } }`
	createToken := `mutation($in: CreateApiTokenInput!) { createApiToken(input: $in) { secret errors { code field message } } }`
	revoke := `mutation($in: RevokeApiTokenInput!) { revokeApiToken(input: $in) { apiToken { id } errors { code field message } } }`
	newEmail := func() string { return "hidden." + testenv.Suffix() + "@test.example" }
	cases := []struct {
		name       string
		caller     identity.Account
		query      string
		in         map[string]any
		field      string
		wantCode   string
		wantOnPath string
	}{
		{"another enterprise", admin, createUser, map[string]any{"enterpriseId": graph.GlobalID("Enterprise", stranger.Enterprise.ID), "email": newEmail(), "name": "X", "role": "MEMBER"},
			"createUser", "NOT_FOUND", "input.enterpriseId"},
		{"a random enterprise", admin, createUser, map[string]any{"enterpriseId": graph.GlobalID("Enterprise", uuid.New()), "email": newEmail(), "name": "X", "role": "MEMBER"},
			"createUser", "NOT_FOUND", "input.enterpriseId"},
		{"another enterprise's user", admin, createToken, map[string]any{"userId": graph.GlobalID("User", stranger.User.ID), "name": "theirs"},
			"createApiToken", "NOT_FOUND", "input.userId"},
		{"a random user", admin, createToken, map[string]any{"userId": graph.GlobalID("User", uuid.New()), "name": "theirs"},
			"createApiToken", "NOT_FOUND", "input.userId"},
		{"a colleague a member cannot see", member, createToken, map[string]any{"userId": graph.GlobalID("User", admin.User.ID), "name": "theirs"},
			"createApiToken", "NOT_FOUND", "input.userId"},
		{"another enterprise's token", admin, revoke, map[string]any{"tokenId": graph.GlobalID("ApiToken", strangerToken.ID)},
			"revokeApiToken", "NOT_FOUND", "input.tokenId"},
		{"a random token", admin, revoke, map[string]any{"tokenId": graph.GlobalID("ApiToken", uuid.New())},
			"revokeApiToken", "NOT_FOUND", "input.tokenId"},
		// What the caller sees but may not act on stays FORBIDDEN.
		{"its own enterprise, as a member", member, createUser, map[string]any{"enterpriseId": graph.GlobalID("Enterprise", admin.Enterprise.ID), "email": newEmail(), "name": "X", "role": "MEMBER"},
			"createUser", "FORBIDDEN", ""},
	}
	for _, c := range cases {
		r := testenv.Client{URL: url, Token: c.caller.Secret}.Do(t, c.query, map[string]any{"in": c.in})
		if len(r.Errors) > 0 {
			t.Errorf("%s: top-level errors %+v", c.name, r.Errors)
			continue
		}
		var got refusal
		r.Into(t, c.field, &got)
		if len(got.Errors) != 1 || got.Errors[0].Code != c.wantCode || strings.Join(got.Errors[0].Field, ".") != c.wantOnPath || got.Errors[0].Message == "" {
			t.Errorf("%s: %+v, want %s on %q with a message", c.name, got.Errors, c.wantCode, c.wantOnPath)
		}
	}
	// Nothing changed: the stranger's token still works, no user was added.
	if _, err := p.Identity.Authenticate(context.Background(), stranger.Secret); err != nil {
		t.Fatalf("the stranger's token: %v", err)
	}
	if n := count(t, `SELECT count(*) FROM api_tokens WHERE id = $1 AND revoked_at IS NULL`, strangerToken.ID); n != 1 {
		t.Fatal("the stranger's spare token was revoked by a refused request")
	}
	if n := count(t, `SELECT count(*) FROM users WHERE email LIKE 'hidden.%' AND enterprise_id = ANY($1)`,
		[]uuid.UUID{admin.Enterprise.ID, stranger.Enterprise.ID}); n != 0 {
		t.Fatalf("%d users created by refused requests", n)
	}
}

func TestBadAnswersToAnOfferAreRefusedBeforeTheSourcingWorkflowSeesThem(t *testing.T) {
	// Offers wait an hour here, so that no SLA runs out while the test refuses them.
	j := newJourneyWith(t, time.Hour)
	j.declareCapabilities()
	j.placeAndApprove()
	t.Cleanup(func() { // the order is left half-way: stop it and its sourcing
		_ = j.p.Temporal.TerminateWorkflow(context.Background(), workflows.OrderWorkflowID(orderUUID(t, j.orderID)), "", "test done")
	})
	offered := j.assignProductionAndOffer()

	// An offer of a material counted in pieces, and one of a material by weight.
	units := map[string]string{}
	for _, l := range j.bom {
		units[l.Material] = l.Unit
	}
	var pieces, weighed procurementTask
	var piecesBy, weighedBy *party
	for _, s := range []*party{&j.supplier1, &j.supplier2} {
		for _, tk := range offered[s.name] {
			switch units[tk.Material] {
			case "pcs":
				pieces, piecesBy = tk, s
			case "kg":
				weighed, weighedBy = tk, s
			}
		}
	}
	if piecesBy == nil || weighedBy == nil {
		t.Fatalf("the AC-SPLIT bill of materials %+v has no material in pcs or kg offered", j.bom)
	}
	promised := time.Now().UTC().Add(7 * 24 * time.Hour).Format(time.RFC3339)
	accept := func(tk procurementTask, price, qty string) map[string]any {
		return map[string]any{"taskId": tk.ID, "unitPrice": price, "quantity": qty, "promisedDate": promised}
	}
	history := map[string]int{}
	for _, tk := range []procurementTask{pieces, weighed} {
		id := workflows.SourcingWorkflowID(orderUUID(t, j.orderID), tk.Line)
		history[id] = testenv.UpdatesAccepted(t, j.p.Temporal, id)
	}
	timeline := len(j.orderTasks(j.customer))

	cases := []struct {
		name  string
		by    *party
		field string
		input string
		in    map[string]any
		path  string
	}{
		{"a thirtieth decimal of a piece", piecesBy, "acceptProcurementTask", "AcceptProcurementTaskInput", accept(pieces, "10.00", "1e-30"), "input.quantity"},
		{"half a piece", piecesBy, "acceptProcurementTask", "AcceptProcurementTaskInput", accept(pieces, "10.00", "0.5"), "input.quantity"},
		{"a ten-thousandth of a kilogram", weighedBy, "acceptProcurementTask", "AcceptProcurementTaskInput", accept(weighed, "10.00", "0.0001"), "input.quantity"},
		{"a price of 1e400", piecesBy, "acceptProcurementTask", "AcceptProcurementTaskInput", accept(pieces, "1e400", pieces.Quantity), "input.unitPrice"},
		{"a price below the minor unit", piecesBy, "acceptProcurementTask", "AcceptProcurementTaskInput", accept(pieces, "9.999", pieces.Quantity), "input.unitPrice"},
		{"a quantity of 1e400", piecesBy, "acceptProcurementTask", "AcceptProcurementTaskInput", accept(pieces, "10.00", "1e400"), "input.quantity"},
		{"a NUL in a rejection reason", piecesBy, "rejectProcurementTask", "RejectProcurementTaskInput", map[string]any{"taskId": pieces.ID, "reason": "no stock\x00"}, "input.reason"},
	}
	for _, c := range cases {
		requireRefusedOn(t, c.name, c.by.c.Do(t, mutation(c.field, c.input, "task { id }"), map[string]any{"in": c.in}), c.field, c.path)
	}

	// Nothing reached the sourcing workflows, and the offers are as they were.
	for id, n := range history {
		if got := testenv.UpdatesAccepted(t, j.p.Temporal, id); got != n {
			t.Errorf("%s accepted %d updates during refused answers", id, got-n)
		}
	}
	for _, tk := range []procurementTask{pieces, weighed} {
		var now procurementTask
		j.operator.query(t, `query($id: ID!) { node(id: $id) { ... on ProcurementTask { `+taskFields+` } } }`, map[string]any{"id": tk.ID}, "node", &now)
		if now.Status != "OFFERED" || now.Quantity != tk.Quantity || now.Attempt != tk.Attempt {
			t.Errorf("offer of %s changed: %+v, was %+v", tk.Material, now, tk)
		}
	}
	if n := len(j.orderTasks(j.customer)); n != timeline {
		t.Errorf("the order has %d procurement tasks after refused answers, had %d", n, timeline)
	}

	// A whole number of pieces is taken.
	j.supplierAccepts(piecesBy, accept(pieces, "10.00", pieces.Quantity))
}

// supplierAccepts accepts an offer as the supplier; it must succeed.
func (j *journey) supplierAccepts(s *party, in map[string]any) {
	j.t.Helper()
	s.must(j.t, "acceptProcurementTask", "AcceptProcurementTaskInput", "task { status }", in, nil)
}
