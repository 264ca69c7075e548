package server_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/identifiers"
)

// The journey of TestOneOrderFromPlacementToCompletion records its own
// genealogy: lots commissioned, shipped and received, each stage a
// transformation on a machine, packing, pick-up, delivery and its proof. Then
// who may see what of it, and a recall over it by the supplier of a lot.
func TestTheJourneyRecordsItsGenealogyAndARecallReachesItsCustomer(t *testing.T) {
	j := newJourneyOf(t, journeyOfferTimeout, time.Hour)
	j.declareCapabilities()
	j.placeAndApprove()
	offered := j.assignProductionAndOffer()
	j.suppliersAnswer(offered)
	j.suppliersShip()
	j.factoryReceives()
	j.factoryProduces()
	j.carrierDelivers()
	j.customer.must(t, "confirmDelivery", "ConfirmDeliveryInput", "order { id }", map[string]any{"orderId": j.orderID}, nil)
	j.events.expect(t, "RECEIPT_CONFIRMED", "WARRANTY_STARTED")

	// Event by event, as the operator sees them.
	type event struct {
		EventID, Type, BizStep string
		Event                  map[string]any
	}
	var list struct {
		Result struct {
			Events   []event
			Document map[string]any
		}
		Errors []userError
	}
	j.operator.query(t, `query($f: EpcisEventFilter!) { epcisEvents(filter: $f) { result { events { eventId type bizStep event } document } errors { code field message } } }`,
		map[string]any{"f": map[string]any{"orderId": j.orderID}}, "epcisEvents", &list)
	if len(list.Errors) > 0 {
		t.Fatalf("epcisEvents: %+v", list.Errors)
	}
	n, stages := len(j.bom), len(j.routing)
	var steps []string
	for _, e := range list.Result.Events {
		steps = append(steps, e.Type+"/"+e.BizStep)
	}
	count := func(step string) int {
		c := 0
		for _, s := range steps {
			if s == step {
				c++
			}
		}
		return c
	}
	// n lots shipped once each; the first line received in two parts.
	for step, want := range map[string]int{
		"ObjectEvent/commissioning": n, "ObjectEvent/shipping": n, "ObjectEvent/receiving": n + 1,
		"TransformationEvent/assembling": stages, "AggregationEvent/packing": 1,
		"ObjectEvent/inspecting": 1, "ObjectEvent/departing": 1, "ObjectEvent/arriving": 1, "ObjectEvent/accepting": 1, "ObjectEvent/destroying": 0,
	} {
		if got := count(step); got != want {
			t.Errorf("%s: %d events, want %d (all: %v)", step, got, want, steps)
		}
	}
	if len(steps) != 3*n+1+stages+5 {
		t.Errorf("%d events, want %d: %v", len(steps), 3*n+1+stages+5, steps)
	}
	doc := list.Result.Document
	if doc["type"] != "EPCISDocument" || doc["schemaVersion"] != "2.0" {
		t.Errorf("document: type %v, schemaVersion %v", doc["type"], doc["schemaVersion"])
	}
	if body, _ := doc["epcisBody"].(map[string]any); body == nil || len(body["eventList"].([]any)) != len(steps) {
		t.Errorf("document body: %v", doc["epcisBody"])
	}
	var lots, units []string
	seen := map[string]bool{}
	var firstStage, packing, pod map[string]any
	for _, e := range list.Result.Events {
		if !strings.HasPrefix(e.EventID, "urn:uuid:") || seen[e.EventID] || e.Event["eventID"] != e.EventID {
			t.Errorf("event id %q (body %v) is not a fresh urn:uuid", e.EventID, e.Event["eventID"])
		}
		seen[e.EventID] = true
		switch e.Type + "/" + e.BizStep {
		case "ObjectEvent/commissioning":
			if e.Event["action"] != "ADD" {
				t.Errorf("commissioning with action %v", e.Event["action"])
			}
			lots = append(lots, strings.TrimPrefix(e.Event["epcList"].([]any)[0].(string), "info:hdl/"))
		case "TransformationEvent/assembling":
			if firstStage == nil {
				firstStage = e.Event
			}
			if rp, _ := e.Event["readPoint"].(map[string]any); rp == nil || !strings.HasPrefix(rp["id"].(string), "info:hdl/") {
				t.Errorf("a stage without a machine as readPoint: %v", e.Event["readPoint"])
			}
		case "AggregationEvent/packing":
			packing = e.Event
		case "ObjectEvent/accepting":
			pod = e.Event
		}
	}
	if firstStage == nil || packing == nil || pod == nil {
		t.Fatalf("missing events: first stage %v, packing %v, proof of delivery %v", firstStage, packing, pod)
	}
	for _, u := range firstStage["outputEPCList"].([]any) {
		units = append(units, strings.TrimPrefix(u.(string), "info:hdl/"))
	}
	inputs := firstStage["inputEPCList"].([]any)
	if len(units) != journeyQuantity || len(inputs) != n+journeyQuantity {
		t.Fatalf("first stage: %d outputs, %d inputs; want %d units from %d lots and the units", len(units), len(inputs), journeyQuantity, n)
	}
	for _, l := range lots {
		if !slices.Contains(inputs, any("info:hdl/"+l)) {
			t.Errorf("lot %s is not an input of the first stage", l)
		}
	}
	if kids := packing["childEPCs"].([]any); len(kids) != journeyQuantity {
		t.Errorf("packed %d units, want %d", len(kids), journeyQuantity)
	}
	if proof, _ := pod["mc:proofOfDelivery"].(map[string]any); proof["receivedBy"] != "Zhang Min" {
		t.Errorf("proof of delivery: %v", pod["mc:proofOfDelivery"])
	}

	// A correction: the carrier declares its pick-up event erroneous, the
	// arrival correcting it; the event stays, exported with its declaration.
	var departing, arriving string
	for _, e := range list.Result.Events {
		switch e.BizStep {
		case "departing":
			departing = e.EventID
		case "arriving":
			arriving = e.EventID
		}
	}
	decl := map[string]any{"eventId": departing, "reason": "incorrect_data", "correctiveEventIds": []string{arriving}}
	j.otherCarrier.refused(t, "declareEpcisError", "DeclareEpcisErrorInput", decl, "FORBIDDEN")
	j.customer.refused(t, "declareEpcisError", "DeclareEpcisErrorInput", decl, "FORBIDDEN")
	j.carrier.refused(t, "declareEpcisError", "DeclareEpcisErrorInput", map[string]any{"eventId": "urn:uuid:" + testenv.Suffix(), "reason": "incorrect_data"}, "NOT_FOUND")
	var declared struct {
		Event struct{ Event map[string]any }
	}
	j.carrier.must(t, "declareEpcisError", "DeclareEpcisErrorInput", "event { event }", decl, &declared)
	ed, _ := declared.Event.Event["errorDeclaration"].(map[string]any)
	if ed["reason"] != "incorrect_data" || len(ed["correctiveEventIDs"].([]any)) != 1 || ed["declarationTime"] == nil {
		t.Errorf("the declared event: %v", declared.Event.Event)
	}
	j.carrier.refused(t, "declareEpcisError", "DeclareEpcisErrorInput", decl, "ILLEGAL_STATE")

	// A supplier lists only the events it recorded: its lots commissioned and shipped.
	var mine struct {
		Result struct{ Events []event }
	}
	j.supplier2.query(t, `query($f: EpcisEventFilter!) { epcisEvents(filter: $f) { result { events { eventId type bizStep event } } errors { code } } }`,
		map[string]any{"f": map[string]any{"orderId": j.orderID}}, "epcisEvents", &mine)
	if len(mine.Result.Events) == 0 || len(mine.Result.Events) >= len(list.Result.Events) {
		t.Errorf("supplier 2 lists %d of the order's %d events", len(mine.Result.Events), len(list.Result.Events))
	}
	for _, e := range mine.Result.Events {
		if e.BizStep != "commissioning" && e.BizStep != "shipping" {
			t.Errorf("supplier 2 lists a %s event", e.BizStep)
		}
	}

	// Resolution: anyone sees a unit's public values; its customer and its
	// factory all of them; another customer only the public ones.
	base := strings.TrimSuffix(j.url, "/graphql")
	unit := units[0]
	get := func(token, path string) (int, identifiers.Answer) {
		a := fedGet(t, base+path, token)
		return a.status, a.answer
	}
	types := func(a identifiers.Answer) []string {
		var out []string
		for _, v := range a.Values {
			out = append(out, v.Type)
		}
		return out
	}
	status, anon := get("", "/api/handles/"+unit)
	if status != 200 || anon.ResponseCode != 1 || !strings.EqualFold(anon.Handle, unit) || slices.Contains(types(anon), "MC.ORDER") || !slices.Contains(types(anon), "MC.SERIAL") {
		t.Fatalf("anonymous GET of %s: %d %+v", unit, status, anon)
	}
	for _, who := range []party{j.customer, j.factory, j.operator} {
		if _, a := get(who.acc.Secret, "/api/handles/"+unit); !slices.Contains(types(a), "MC.ORDER") {
			t.Errorf("%s does not see the unit's order: %v", who.name, types(a))
		}
	}
	for _, who := range []party{j.otherCustomer, j.otherFactory, j.supplier1, j.carrier} {
		if _, a := get(who.acc.Secret, "/api/handles/"+unit); slices.Contains(types(a), "MC.ORDER") || a.ResponseCode != 1 {
			t.Errorf("%s sees the unit's order, or no public values: %+v", who.name, a)
		}
	}
	if status, a := get("", "/api/handles/"+strings.ToUpper(unit)+"?type=MC.SERIAL"); status != 200 || len(a.Values) != 1 || a.Values[0].Type != "MC.SERIAL" {
		t.Errorf("case-insensitive, filtered GET: %d %+v", status, a)
	}
	if status, a := get("", "/api/handles/"+unit+"?type=NO.SUCH"); status != 200 || a.ResponseCode != 200 || len(a.Values) != 0 {
		t.Errorf("filter matching nothing: %d %+v", status, a)
	}
	if status, a := get("", "/api/handles/88.500/nobody-minted-this"); status != 404 || a.ResponseCode != 100 {
		t.Errorf("unknown identifier: %d %+v", status, a)
	}
	if status, a := get("", "/api/handles/not-a-handle"); status != 400 || a.ResponseCode != 102 {
		t.Errorf("invalid identifier: %d %+v", status, a)
	}
	if status, a := get("", "/api/handles/"+unit+"?index=zero"); status != 400 || a.ResponseCode != 102 {
		t.Errorf("invalid index: %d %+v", status, a)
	}

	// Trace: who sees what of where a lot went.
	type tracedOrder struct {
		Order     *struct{ ID string }
		Customer  *struct{ Name string }
		Stage     string
		Units     int
		Delivered bool
	}
	type trace struct {
		Summary  bool
		Units    []struct{ Handle string }
		Lots     []struct{ Handle string }
		Machines []struct{ Handle string }
		Packages []struct{ Handle string }
		Orders   []tracedOrder
	}
	traceAs := func(who party, id, direction string) (trace, []userError) {
		var out struct {
			Trace  trace
			Errors []userError
		}
		who.query(t, `query($id: String!, $d: TraceDirection!) { trace(identifier: $id, direction: $d) {
			trace { summary units { handle } lots { handle } machines { handle } packages { handle }
				orders { order { id } customer { name } stage units delivered } }
			errors { code field message } } }`, map[string]any{"id": id, "d": direction}, "trace", &out)
		return out.Trace, out.Errors
	}
	lotOwner := func(lot string) party {
		for _, s := range []party{j.supplier1, j.supplier2} {
			var v struct {
				Resolution struct{ Values []struct{ Type, Data string } }
			}
			s.query(t, `query($h: String!) { resolveIdentifier(handle: $h) { resolution { values { type data readable } } } }`, map[string]any{"h": lot}, "resolveIdentifier", &v)
			for _, val := range v.Resolution.Values {
				if val.Type == "MC.QUANTITY" {
					return s
				}
			}
		}
		t.Fatalf("neither supplier owns lot %s", lot)
		return party{}
	}
	lot := lots[0]
	owner := lotOwner(lot)
	full, errs := traceAs(j.operator, lot, "DOWNSTREAM")
	if len(errs) > 0 || full.Summary || len(full.Units) != journeyQuantity || len(full.Packages) != 1 || len(full.Orders) != 1 ||
		full.Orders[0].Order == nil || full.Orders[0].Order.ID != j.orderID || full.Orders[0].Customer == nil || !full.Orders[0].Delivered {
		t.Fatalf("the operator's downstream trace of %s: %+v %+v", lot, full, errs)
	}
	sum, errs := traceAs(owner, lot, "DOWNSTREAM")
	if len(errs) > 0 || !sum.Summary || len(sum.Units) != 0 || len(sum.Orders) != 1 || sum.Orders[0].Order != nil || sum.Orders[0].Customer != nil ||
		sum.Orders[0].Units != journeyQuantity || sum.Orders[0].Stage != "SERVICE" {
		t.Fatalf("the lot's supplier traces it: %+v %+v; want counts and stages only", sum, errs)
	}
	fac, errs := traceAs(j.factory, lot, "DOWNSTREAM")
	if len(errs) > 0 || len(fac.Units) != journeyQuantity || len(fac.Orders) != 1 || fac.Orders[0].Customer == nil {
		t.Fatalf("the factory traces the lot it used: %+v %+v", fac, errs)
	}
	up, errs := traceAs(j.customer, unit, "UPSTREAM")
	if len(errs) > 0 || len(up.Lots) != n || len(up.Machines) < 1 {
		t.Fatalf("the customer traces its unit upstream: %+v %+v; want %d lots and the machines", up, errs, n)
	}
	for _, who := range []party{j.otherSupplier, j.otherCustomer, j.otherFactory, j.carrier} {
		if _, errs := traceAs(who, lot, "DOWNSTREAM"); len(errs) != 1 || errs[0].Code != "NOT_FOUND" {
			t.Errorf("%s traces the lot: %+v, want NOT_FOUND", who.name, errs)
		}
	}
	if _, errs := traceAs(j.operator, "88.500/", "DOWNSTREAM"); len(errs) != 1 || errs[0].Code != "INVALID_INPUT" {
		t.Errorf("trace of a malformed identifier: %+v", errs)
	}

	// A recall: not by another supplier, nor by the customer; by the lot's supplier.
	in := map[string]any{"identifier": lot, "reason": "compressor valve batch out of tolerance", "key": "recall-" + lot}
	j.otherSupplier.refused(t, "startRecall", "StartRecallInput", in, "FORBIDDEN")
	j.customer.refused(t, "startRecall", "StartRecallInput", in, "FORBIDDEN")
	var rc struct {
		Recall struct {
			Affected      []string
			AffectedCount int
			TicketsOpened int
			Repeated      bool
		}
	}
	owner.must(t, "startRecall", "StartRecallInput", "recall { affected affectedCount ticketsOpened repeated }", in, &rc)
	if rc.Recall.AffectedCount != 1+journeyQuantity+1 || rc.Recall.TicketsOpened != 1 || rc.Recall.Repeated || !strings.EqualFold(rc.Recall.Affected[0], lot) {
		t.Fatalf("the recall: %+v; want the lot, %d units and the package, one ticket", rc.Recall, journeyQuantity)
	}
	j.events.expect(t, "RECALL", "TICKET_OPENED")
	owner.must(t, "startRecall", "StartRecallInput", "recall { affected affectedCount ticketsOpened repeated }", in, &rc)
	if !rc.Recall.Repeated || rc.Recall.TicketsOpened != 1 {
		t.Errorf("the recall again: %+v, want the same, repeated", rc.Recall)
	}
	in["reason"] = "another reason"
	owner.refused(t, "startRecall", "StartRecallInput", in, "ALREADY_EXISTS")
	if _, a := get("", "/api/handles/"+unit+"?type=MC.RECALL_STATUS"); len(a.Values) != 1 || !strings.Contains(a.Values[0].Data.Value, "compressor valve") {
		t.Errorf("the unit's recall status: %+v", a)
	}
	var tickets struct {
		ServiceTickets []struct{ Status, Category, Description string }
	}
	j.customer.query(t, `query($id: ID!) { order(id: $id) { serviceTickets { status category description } } }`, map[string]any{"id": j.orderID}, "order", &tickets)
	if len(tickets.ServiceTickets) != 1 || tickets.ServiceTickets[0].Category != "DEFECT" || !strings.Contains(tickets.ServiceTickets[0].Description, lot) {
		t.Errorf("the customer's tickets after the recall: %+v", tickets.ServiceTickets)
	}
}
