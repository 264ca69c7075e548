package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/masscustom/orchestrator/graph"
	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/identifiers"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/registry"
)

// The outcomes of the identifier operations, beyond those of the main matrix.
const (
	seen     = "SEEN"      // the private value is in the answer
	unseen   = "UNSEEN"    // resolved, without the private value
	full     = "FULL"      // a trace with the orders' customers
	summary  = "SUMMARY"   // a trace as counts and stages only
	oneEvent = "ONE_EVENT" // the lot's event is listed
	noEvents = "NO_EVENTS" // the caller sees none of the lot's events
)

// idParty names the enterprises of the identifier fixture.
type idParty string

const (
	pOperator      idParty = "operator"
	pCustomer      idParty = "customer"      // placed the order the units belong to
	pOtherCustomer idParty = "otherCustomer" // another customer
	pSupplier      idParty = "supplier"      // owns the lot
	pOtherSupplier idParty = "otherSupplier"
	pFactory       idParty = "factory" // owns the units made of the lot
	pOtherFactory  idParty = "otherFactory"
	pCarrier       idParty = "carrier"
	pLessor        idParty = "lessor"
	pNobody        idParty = "nobody" // no token
)

// expectedID is the identifier matrix, written by hand from the product's
// rules: who resolves which values, traces what, lists which events, recalls,
// mints and writes values.
func expectedID(who idParty, role identity.Role, op string) string {
	actor := role == identity.RoleAdmin || role == identity.RoleMember
	if who == pNobody {
		switch op {
		case "resolve unit", "resolve lot":
			return unseen
		}
		return noAuth
	}
	switch op {
	case "resolve unit": // its customer, its factory and the operator see the private value
		if who == pOperator || who == pCustomer || who == pFactory {
			return seen
		}
		return unseen
	case "resolve lot": // only the supplier that owns it and the operator
		if who == pOperator || who == pSupplier {
			return seen
		}
		return unseen
	case "trace lot downstream":
		switch who {
		case pOperator, pFactory:
			return full
		case pSupplier:
			return summary
		}
		return missing
	case "trace unit upstream":
		switch who {
		case pOperator, pFactory, pCustomer:
			return full
		}
		return missing
	case "events of the lot": // the parties to the lot's order: its customer, its factory, the supplier that recorded it
		switch who {
		case pOperator, pSupplier, pCustomer, pFactory:
			return oneEvent
		}
		return noEvents
	case "recall the lot":
		if actor && (who == pOperator || who == pSupplier) {
			return allowed
		}
		return denied
	case "mint own identifiers":
		if actor {
			return allowed
		}
		return denied
	case "set a lot value":
		if actor && (who == pOperator || who == pSupplier) {
			return allowed
		}
		return denied
	case "assign a prefix":
		if who == pOperator && role == identity.RoleAdmin {
			return allowed
		}
		return denied
	}
	panic("no expectation for " + op)
}

// TestIdentifierVisibilityMatrix runs each identifier operation as a user
// of every role of each party to one lot and the units made of it (and as
// nobody), through the real gateway.
func TestIdentifierVisibilityMatrix(t *testing.T) {
	srv, p := gateway(t)
	ctx := context.Background()
	url := srv.URL + "/graphql"
	kinds := map[idParty]identity.Kind{
		pOperator: identity.KindPlatform, pCustomer: identity.KindCustomer, pOtherCustomer: identity.KindCustomer,
		pSupplier: identity.KindSupplier, pOtherSupplier: identity.KindSupplier, pFactory: identity.KindFactory,
		pOtherFactory: identity.KindFactory, pCarrier: identity.KindCarrier, pLessor: identity.KindLessor,
	}
	accounts := map[idParty]identity.Account{}
	for who, k := range kinds {
		accounts[who] = testenv.Account(t, p, k, identity.RoleAdmin)
	}
	order := testenv.PlaceOrder(t, p, accounts[pCustomer])
	// The factory makes the order (so it may tie its units to it).
	if _, err := p.DB.Exec(ctx, `INSERT INTO production_orders (id, order_id, customer_id, factory_id, assign_key, status, quantity, scrap_tolerance)
		VALUES (gen_random_uuid(), $1, $2, $3, 'matrix', 'PASSED', 2, 0)`, order, accounts[pCustomer].Enterprise.ID, accounts[pFactory].Enterprise.ID); err != nil {
		t.Fatal(err)
	}
	unitsBatch, err := p.Registry.MintBatch(ctx, testenv.Principal(accounts[pFactory]), registry.BatchInput{
		Key: "m-" + testenv.Suffix(), Kind: registry.KindUnit, Count: 2, Stem: "U" + testenv.Suffix(), OrderID: &order,
		Values: []registry.ValueInput{{Type: "URL", Data: "https://example.com/u"}, {Type: "UNIT.NOTE", Data: "made on line 3", Readable: registry.ReadOwner}}})
	if err != nil {
		t.Fatal(err)
	}
	// The operator mints the lot for the supplier (which took no task of the
	// order here: a party only ties identifiers to an order).
	supplierID := accounts[pSupplier].Enterprise.ID
	if _, err := p.Registry.MintBatch(ctx, testenv.Principal(accounts[pSupplier]), registry.BatchInput{
		Key: "m-" + testenv.Suffix(), Kind: registry.KindLot, Count: 1, Stem: "X", OrderID: &order}); err == nil {
		t.Fatal("a supplier that is no party to the order tied a lot to it")
	}
	lotBatch, err := p.Registry.MintBatch(ctx, testenv.Principal(accounts[pOperator]), registry.BatchInput{
		Key: "m-" + testenv.Suffix(), Kind: registry.KindLot, Owner: &supplierID, Suffixes: []string{"LOT-" + testenv.Suffix()}, OrderID: &order,
		Values: []registry.ValueInput{{Type: "URL", Data: "https://example.com/l"}, {Type: "LOT.COST", Data: "12.50 CNY", Readable: registry.ReadOwner}}})
	if err != nil {
		t.Fatal(err)
	}
	lot, unit := lotBatch.Handles[0], unitsBatch.Handles[0]
	for _, u := range unitsBatch.Handles {
		if _, err := p.DB.Exec(ctx, `INSERT INTO genealogy_edges (parent_key, child_key, kind, event_id) VALUES ($1, $2, 'INPUT', 'matrix')`,
			strings.ToLower(lot), strings.ToLower(u)); err != nil {
			t.Fatal(err)
		}
	}
	// The supplier recorded one event about the lot.
	eventID := "urn:uuid:" + testenv.Suffix()
	if _, err := p.DB.Exec(ctx, `INSERT INTO epcis_events (id, event_type, action, biz_step, event_time, order_id, recorded_by, body)
		VALUES ($1, 'ObjectEvent', 'ADD', 'commissioning', now(), $2, $3, '{"type":"ObjectEvent"}')`, eventID, order, accounts[pSupplier].Enterprise.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := p.DB.Exec(ctx, `INSERT INTO epcis_event_ids (handle_key, role, event_id, event_time) VALUES ($1, 'EPC', $2, now())`, strings.ToLower(lot), eventID); err != nil {
		t.Fatal(err)
	}

	resolve := func(token, h, private string) string {
		a := fedGet(t, srv.URL+"/api/handles/"+h, token).answer
		if a.ResponseCode != identifiers.CodeSuccess {
			return fmt.Sprintf("answer %d", a.ResponseCode)
		}
		for _, v := range a.Values {
			if v.Type == private {
				return seen
			}
		}
		return unseen
	}
	payloadOutcome := func(r testenv.Response, field string) (string, json.RawMessage) {
		if len(r.Errors) > 0 {
			return r.Code(), nil
		}
		var pl struct {
			Errors []struct{ Code string }
		}
		_ = json.Unmarshal(r.Data[field], &pl)
		if len(pl.Errors) > 0 {
			return pl.Errors[0].Code, nil
		}
		return allowed, r.Data[field]
	}
	trace := func(c testenv.Client, id, dir string) string {
		r := c.Do(t, `query($id: String!, $d: TraceDirection!) { trace(identifier: $id, direction: $d) {
			trace { summary orders { customer { id } } } errors { code } } }`, map[string]any{"id": id, "d": dir})
		got, raw := payloadOutcome(r, "trace")
		if got != allowed {
			return got
		}
		var tr struct {
			Trace struct {
				Summary bool
				Orders  []struct{ Customer *struct{ ID string } }
			}
		}
		_ = json.Unmarshal(raw, &tr)
		switch {
		case tr.Trace.Summary:
			return summary
		case len(tr.Trace.Orders) == 1 && tr.Trace.Orders[0].Customer != nil:
			return full
		}
		return fmt.Sprintf("a trace of %+v", tr.Trace)
	}
	ops := []struct {
		name string
		run  func(c testenv.Client, self identity.Account) string
	}{
		{"resolve unit", func(c testenv.Client, _ identity.Account) string { return resolve(c.Token, unit, "UNIT.NOTE") }},
		{"resolve lot", func(c testenv.Client, _ identity.Account) string { return resolve(c.Token, lot, "LOT.COST") }},
		{"trace lot downstream", func(c testenv.Client, _ identity.Account) string { return trace(c, lot, "DOWNSTREAM") }},
		{"trace unit upstream", func(c testenv.Client, _ identity.Account) string { return trace(c, unit, "UPSTREAM") }},
		{"events of the lot", func(c testenv.Client, _ identity.Account) string {
			r := c.Do(t, `query($f: EpcisEventFilter!) { epcisEvents(filter: $f) { result { events { eventId } } errors { code } } }`,
				map[string]any{"f": map[string]any{"identifier": lot}})
			got, raw := payloadOutcome(r, "epcisEvents")
			if got != allowed {
				return got
			}
			var l struct {
				Result struct{ Events []struct{ EventID string } }
			}
			_ = json.Unmarshal(raw, &l)
			switch len(l.Result.Events) {
			case 0:
				return noEvents
			case 1:
				return oneEvent
			}
			return fmt.Sprintf("%d events", len(l.Result.Events))
		}},
		{"recall the lot", func(c testenv.Client, _ identity.Account) string {
			got, _ := payloadOutcome(c.Do(t, `mutation($in: StartRecallInput!) { startRecall(input: $in) { recall { affectedCount } errors { code } } }`,
				map[string]any{"in": map[string]any{"identifier": lot, "reason": "matrix", "key": "matrix-" + testenv.Suffix()}}), "startRecall")
			return got
		}},
		{"mint own identifiers", func(c testenv.Client, _ identity.Account) string {
			got, _ := payloadOutcome(c.Do(t, `mutation($in: MintIdentifiersInput!) { mintIdentifiers(input: $in) { handles errors { code } } }`,
				map[string]any{"in": map[string]any{"key": "k-" + testenv.Suffix(), "kind": "OTHER", "count": 1, "stem": "M" + testenv.Suffix()}}), "mintIdentifiers")
			return got
		}},
		{"set a lot value", func(c testenv.Client, _ identity.Account) string {
			got, _ := payloadOutcome(c.Do(t, `mutation($in: SetIdentifierValuesInput!) { setIdentifierValues(input: $in) { resolution { responseCode } errors { code } } }`,
				map[string]any{"in": map[string]any{"handle": lot, "values": []map[string]any{{"type": "LOT.NOTE", "data": "checked"}}}}), "setIdentifierValues")
			return got
		}},
		{"assign a prefix", func(c testenv.Client, _ identity.Account) string {
			e := testenv.Account(t, p, identity.KindSupplier, identity.RoleAdmin)
			got, _ := payloadOutcome(c.Do(t, `mutation($in: AssignEnterprisePrefixInput!) { assignEnterprisePrefix(input: $in) { prefix { prefix } errors { code } } }`,
				map[string]any{"in": map[string]any{"enterpriseId": graph.GlobalID("Enterprise", e.Enterprise.ID), "code": fmt.Sprint(2_000_000 + rand.IntN(1_000_000_000))}}), "assignEnterprisePrefix")
			return got
		}},
	}
	var failures []string
	checked := 0
	parties := append(slices.Sorted(func(yield func(idParty) bool) {
		for who := range kinds {
			if !yield(who) {
				return
			}
		}
	}), pNobody)
	for _, who := range parties {
		roles := []identity.Role{identity.RoleAdmin, identity.RoleMember, identity.RoleFinance, identity.RoleViewer}
		if who == pNobody {
			roles = []identity.Role{""}
		}
		for _, role := range roles {
			c := testenv.Client{URL: url}
			var self identity.Account
			if who != pNobody {
				self = testenv.Member(t, p, accounts[who].Enterprise, role)
				c.Token = self.Secret
			}
			for _, op := range ops {
				got, want := op.run(c, self), expectedID(who, role, op.name)
				checked++
				if got != want {
					failures = append(failures, fmt.Sprintf("%-14s %-7s %-22s got %-16s want %s", who, role, op.name, got, want))
				}
			}
		}
	}
	if len(failures) > 0 {
		t.Fatalf("%d of %d cells differ:\n%s", len(failures), checked, strings.Join(failures, "\n"))
	}
	t.Logf("identifier matrix: %d cells checked", checked)
}
