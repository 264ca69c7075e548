package journey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"
)

// printer writes the demo's output: the timeline as it happens, what each
// party does, and notes. Lines from the follower and the parties interleave.
type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *printer) line(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format+"\n", args...)
}

func (p *printer) event(e event) {
	p.line("%4d  %-11s %-9s %-22s %s", e.Seq, e.Stage, e.Status, e.Type, e.Message)
}

// act says what a party does, before it does it.
func (p *printer) act(who *party, format string, args ...any) {
	p.line("        %-10s > %s", who.who, fmt.Sprintf(format, args...))
}

func (p *printer) note(format string, args ...any) {
	p.line("  -- %s", fmt.Sprintf(format, args...))
}

// shortDurations is how to start the platform for the whole demo.
const shortDurations = "ORDER_OFFER_TIMEOUT=20s ORDER_AUTO_CONFIRM_AFTER=1m ORDER_WARRANTY=2m make run"

// demo is one order's journey, every party acting under its own token.
type demo struct {
	out *printer

	customer, supplierA, supplierB, factory, carrier, operator *party

	quantity int
	maxWait  time.Duration // the longest wait for an SLA or the warranty
	cancelAt string        // Config.CancelAt
	template string        // Config.Template
	recall   bool          // Config.Recall
	held     []string      // messages of material lines on hold, for the operator to resume
	lapses   int           // offers of this order that lapsed
	pace     time.Duration // a pause between steps, so that a reader can follow
	ui       string        // the Temporal UI, for the order's workflow

	orderID string // global id
	bom     map[string]bomLine
	events  <-chan event // the timeline, as the follower delivers it
	followc <-chan error // why the follower stopped
	seen    map[string]int
	last    event

	// what the simulated suppliers and the factory did already
	answered map[string]bool // task ids answered, or deliberately not
	shipped  map[string]bool
	rejected bool   // supplier B rejected its first offer
	silent   string // the task supplier A lets lapse
	lapseOff bool   // the SLA is too long to wait for: nobody stays silent
	partial  string // the task the factory receives in two parts
}

type bomLine struct {
	Material string          `json:"material"`
	Unit     string          `json:"unit"`
	Quantity decimal.Decimal `json:"quantity"`
}

type task struct {
	ID               string          `json:"id"`
	Status           string          `json:"status"`
	Material         string          `json:"material"`
	Line             int             `json:"line"`
	Attempt          int             `json:"attempt"`
	Quantity         decimal.Decimal `json:"quantity"`
	ShippedQuantity  decimal.Decimal `json:"shippedQuantity"`
	ReceivedQuantity decimal.Decimal `json:"receivedQuantity"`
	OfferedAt        time.Time       `json:"offeredAt"`
	Deadline         time.Time       `json:"deadline"`
	Supplier         struct {
		ID string `json:"id"`
	} `json:"supplier"`
}

const taskFields = `id status material line attempt quantity shippedQuantity receivedQuantity offeredAt deadline supplier { id }`

// parties checks every demo token and learns each enterprise's id.
func (d *demo) parties(ctx context.Context) error {
	for _, c := range []struct {
		p    *party
		kind string
	}{{d.customer, "CUSTOMER"}, {d.supplierA, "SUPPLIER"}, {d.supplierB, "SUPPLIER"}, {d.factory, "FACTORY"}, {d.carrier, "CARRIER"}, {d.operator, "PLATFORM"}} {
		var v struct {
			Viewer struct {
				Enterprise struct{ ID, Kind, Name string }
			}
		}
		if err := c.p.query(ctx, `{ viewer { enterprise { id kind name } } }`, nil, &v); err != nil {
			return fmt.Errorf("the demo token of %s is not accepted (%w): seed the demo data with bin/seed (`make run` does)", c.p.who, err)
		}
		if v.Viewer.Enterprise.Kind != c.kind {
			return fmt.Errorf("the demo token of %s belongs to a %s, not a %s", c.p.who, v.Viewer.Enterprise.Kind, c.kind)
		}
		c.p.id, c.p.name = v.Viewer.Enterprise.ID, v.Viewer.Enterprise.Name
	}
	return nil
}

// run plays the journey from the quote to the end of the warranty.
func (d *demo) run(ctx context.Context, follow func(orderID string) (<-chan event, <-chan error)) error {
	if err := d.parties(ctx); err != nil {
		return err
	}
	d.answered, d.shipped, d.seen = map[string]bool{}, map[string]bool{}, map[string]int{}
	started := time.Now()

	if err := d.place(ctx); err != nil {
		return err
	}
	d.events, d.followc = follow(d.orderID)

	if err := d.waitFor(ctx, "DESIGN_READY", time.Minute, ""); err != nil {
		return err
	}
	if d.cancelAt == "DESIGN" {
		return d.cancel(ctx, "changed our mind about the design")
	}
	d.out.act(d.customer, "approves the design")
	if err := d.customer.mutateSoon(ctx, "approveDesign", "ApproveDesignInput", "order { id }",
		map[string]any{"orderId": d.orderID, "comment": "looks right"}, nil); err != nil {
		return err
	}
	if err := d.waitFor(ctx, "PRODUCTION_ASSIGNED", time.Minute,
		"no factory was assigned: does the demo factory run the routing's work centres? (bin/seed declares them)"); err != nil {
		return err
	}
	if d.cancelAt == "PROCUREMENT" {
		return d.cancel(ctx, "the project was postponed")
	}
	if err := d.procure(ctx); err != nil {
		return err
	}
	if err := d.produce(ctx); err != nil {
		return err
	}
	if err := d.waitFor(ctx, "SHIPMENT_BOOKED", time.Minute,
		"no shipment was booked: does the demo carrier have a lane to CN in CNY? (bin/seed declares it)"); err != nil {
		return err
	}
	if err := d.deliver(ctx); err != nil {
		return err
	}
	if err := d.service(ctx); err != nil {
		return err
	}
	d.out.note("order %s: %d events in %s", d.orderID, d.last.Seq, time.Since(started).Round(time.Second))
	d.out.note("its workflow: %s", d.ui)
	return nil
}

// cancel has the customer cancel the order and waits until it is cancelled
// (the workflow withdraws open offers and compensates what was done).
func (d *demo) cancel(ctx context.Context, reason string) error {
	d.out.act(d.customer, "cancels the order: %s", reason)
	if err := d.customer.mutateSoon(ctx, "cancelOrder", "CancelOrderInput", "order { id }",
		map[string]any{"orderId": d.orderID, "reason": reason}, nil); err != nil {
		return err
	}
	return d.waitFor(ctx, "ORDER_CANCELLED", time.Minute, "")
}

// place configures an air conditioner, shows the quote and places the order.
func (d *demo) place(ctx context.Context) error {
	var ts struct {
		ProductTemplates struct {
			Edges []struct {
				Node struct{ ID, Code, Name string }
			}
		}
	}
	if err := d.customer.query(ctx, `{ productTemplates(first: 50) { edges { node { id code name } } } }`, nil, &ts); err != nil {
		return err
	}
	code := d.template
	if code == "" {
		code = "AC-SPLIT"
	}
	var tid, name string
	for _, e := range ts.ProductTemplates.Edges {
		if e.Node.Code == code {
			tid, name = e.Node.ID, e.Node.Name
		}
	}
	if tid == "" {
		return fmt.Errorf("the %s template is not published: seed the demo data with bin/seed (`make run` does)", code)
	}
	selections := []map[string]any{
		{"option": "capacity", "number": "3.5"},
		{"option": "panelColour", "choice": "CHAMPAGNE"},
		{"option": "wifi", "choice": "BASIC"},
	}
	what := "3.5 kW, champagne panel, Wi-Fi"
	address := map[string]any{"recipient": "Zhang Min", "phone": "+86 532 8888 0000", "line1": "88 Haier Road", "city": "Qingdao",
		"region": "Shandong", "postalCode": "266101", "country": "CN"}
	if code == "FLANGE-CNC" {
		selections = []map[string]any{
			{"option": "nominalDiameter", "number": "100"},
			{"option": "material", "choice": "CS_A105"},
			{"option": "pressureClass", "choice": "CL150"},
		}
		what = "DN100, carbon steel A105, class 150"
		address = map[string]any{"recipient": "Maria Gonzalez", "phone": "+1 713 555 0100", "line1": "1200 Refinery Road", "city": "Houston",
			"region": "TX", "postalCode": "77017", "country": "US"}
	}
	var conf struct {
		Configure struct {
			Valid      bool
			Violations []struct{ Code, Message string }
			Price      struct {
				Total    decimal.Decimal
				Currency string
			}
			LeadTimeDays int
			Bom          []bomLine
			Routing      []struct{ Seq int }
		}
	}
	if err := d.customer.query(ctx, `query($in: ConfigureInput!) { configure(input: $in) {
		valid violations { code message } price { total currency } leadTimeDays bom { material unit quantity } routing { seq } } }`,
		map[string]any{"in": map[string]any{"templateId": tid, "selections": selections, "quantity": d.quantity}}, &conf); err != nil {
		return err
	}
	c := conf.Configure
	if !c.Valid {
		return fmt.Errorf("the demo configuration is refused: %+v", c.Violations)
	}
	d.bom = map[string]bomLine{}
	for _, l := range c.Bom {
		d.bom[l.Material] = l
	}
	d.out.note("%s x %d: %s: %s %s, %d days; %d materials to buy, %d production stages",
		name, d.quantity, what, c.Price.Total.StringFixed(2), c.Price.Currency, c.LeadTimeDays, len(c.Bom), len(c.Routing))

	d.out.act(d.customer, "places the order")
	var placed struct{ Order struct{ ID string } }
	if err := d.customer.mutate(ctx, "placeOrder", "PlaceOrderInput", "order { id }", map[string]any{
		"idempotencyKey": fmt.Sprintf("demo-%d", time.Now().UnixNano()), "templateId": tid, "selections": selections, "quantity": d.quantity,
		"shippingAddress": address,
	}, &placed); err != nil {
		return err
	}
	d.orderID = placed.Order.ID
	d.ui += "/workflows/" + strings.ReplaceAll(workflowID(d.orderID), "/", "%2F")
	d.out.note("order %s", d.orderID)
	d.out.note("its workflow in the Temporal UI: %s", d.ui)
	return nil
}

// next takes the next event the follower delivered.
func (d *demo) next(ctx context.Context, timeout <-chan time.Time) (event, bool, error) {
	select {
	case e := <-d.events:
		d.seen[e.Type]++
		d.last = e
		switch e.Type {
		case "PROCUREMENT_TIMED_OUT":
			d.lapses++
			return e, true, nil
		case "SOURCING_ESCALATED":
			if d.silent != "" || d.lapses > 0 {
				// The supplier that let its offer lapse is left out until the
				// operator resumes the line; with the other supplier's capacity
				// taken by other orders nobody is left. The operator resumes it.
				d.held = append(d.held, e.Message)
				return e, true, nil
			}
			return e, true, fmt.Errorf("a material has no supplier left (%s): the demo suppliers' capabilities come from bin/seed; the operator adds one and calls resumeSourcing", e.Message)
		case "ORDER_CANCELLED":
			if d.cancelAt != "" {
				return e, true, nil // the customer cancelled it
			}
			return e, true, fmt.Errorf("the order stopped: %s %s", e.Type, e.Message)
		case "QA_FAILED", "PRODUCTION_ESCALATED", "DESIGN_DEADLINE_LAPSED":
			return e, true, fmt.Errorf("the order stopped: %s %s", e.Type, e.Message)
		}
		return e, true, nil
	case err := <-d.followc:
		if err == nil {
			err = errors.New("the subscription ended")
		}
		return event{}, false, err
	case <-timeout:
		return event{}, false, nil
	case <-ctx.Done():
		return event{}, false, ctx.Err()
	}
}

// waitFor waits until an event of typ arrived (now or earlier), for at most
// limit; hint says what is probably missing when it does not come.
func (d *demo) waitFor(ctx context.Context, typ string, limit time.Duration, hint string) error {
	timeout := time.After(limit)
	for d.seen[typ] == 0 {
		_, ok, err := d.next(ctx, timeout)
		if err != nil {
			return err
		}
		if !ok {
			msg := fmt.Sprintf("no %s within %s (the last event: %d %s)", typ, limit, d.last.Seq, d.last.Type)
			if hint != "" {
				msg += ": " + hint
			}
			return errors.New(msg)
		}
	}
	return nil
}

// orderTasks are the order's procurement tasks, as its customer sees them.
func (d *demo) orderTasks(ctx context.Context) (map[string]task, error) {
	var o struct {
		Order *struct{ ProcurementTasks []task }
	}
	if err := d.customer.query(ctx, `query($id: ID!) { order(id: $id) { procurementTasks { `+taskFields+` } } }`, map[string]any{"id": d.orderID}, &o); err != nil {
		return nil, err
	}
	if o.Order == nil {
		return nil, errors.New("the customer no longer sees its order")
	}
	out := map[string]task{}
	for _, t := range o.Order.ProcurementTasks {
		out[t.ID] = t
	}
	return out, nil
}

// inbox lists the supplier's tasks of one status that belong to this order:
// a supplier does not see which order a task is for, the customer's view of
// its order tells them apart from other orders offered to the same supplier.
func (d *demo) inbox(ctx context.Context, s *party, status string, mine map[string]task) ([]task, error) {
	all, err := connection[task](ctx, s, `query($status: String, $after: String) { procurementInbox(status: $status, first: 50, after: $after) {
		edges { node { `+taskFields+` } } pageInfo { hasNextPage endCursor } } }`, "procurementInbox", map[string]any{"status": status})
	if err != nil {
		return nil, err
	}
	var out []task
	for _, t := range all {
		if _, ok := mine[t.ID]; ok {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b task) int { return a.Line*100 + a.Attempt - b.Line*100 - b.Attempt })
	return out, nil
}

// procure plays the suppliers and the receiving factory until everything is
// received: supplier B rejects its first offer, supplier A leaves its first
// offer unanswered until the SLA lapses (when the SLA is short enough to wait
// for), every other offer is accepted and shipped, and the factory confirms
// receipts (the first one in two parts).
func (d *demo) procure(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for d.seen["PROCUREMENT_DONE"] == 0 {
		if err := d.procurementRound(ctx); err != nil {
			return err
		}
		// Act again on the next event, or within a second.
		if _, _, err := d.next(ctx, tick.C); err != nil {
			return err
		}
	}
	return nil
}

func (d *demo) procurementRound(ctx context.Context) error {
	mine, err := d.orderTasks(ctx)
	if err != nil {
		return err
	}
	for _, msg := range d.held {
		material, _, _ := strings.Cut(msg, ":")
		line := 0
		for _, t := range mine {
			if t.Material == material {
				line = t.Line
			}
		}
		if line == 0 {
			return fmt.Errorf("a material line is on hold and none of the order's tasks is of it: %s", msg)
		}
		d.out.act(d.operator, "resumes the sourcing of %s (line %d), held because no supplier was left", material, line)
		if err := d.operator.mutateSoon(ctx, "resumeSourcing", "ResumeSourcingInput", "order { id }",
			map[string]any{"orderId": d.orderID, "line": line, "reason": "the supplier that let its offer lapse may answer again"}, nil); err != nil {
			return err
		}
	}
	d.held = nil
	for _, s := range []*party{d.supplierA, d.supplierB} {
		offers, err := d.inbox(ctx, s, "OFFERED", mine)
		if err != nil {
			return err
		}
		for _, t := range offers {
			if d.answered[t.ID] {
				continue
			}
			d.answered[t.ID] = true
			if err := d.answer(ctx, s, t); err != nil {
				return err
			}
		}
		accepted, err := d.inbox(ctx, s, "ACCEPTED", mine)
		if err != nil {
			return err
		}
		for _, t := range accepted {
			if d.shipped[t.ID] {
				continue
			}
			d.shipped[t.ID] = true
			d.out.act(s, "ships %s %s of %s", t.Quantity, d.unit(t.Material), t.Material)
			if err := s.mutate(ctx, "reportMaterialShipped", "MaterialMovementInput", "task { id }",
				map[string]any{"taskId": t.ID, "quantity": t.Quantity.String()}, nil); err != nil {
				return err
			}
		}
	}
	return d.receive(ctx)
}

// answer is a simulated supplier's answer to an offer.
func (d *demo) answer(ctx context.Context, s *party, t task) error {
	sla := t.Deadline.Sub(t.OfferedAt).Round(time.Second)
	// Only a first offer of the material's whole quantity is declined or left
	// to lapse: the other supplier can then take all of it. (Of a split part,
	// or of an offer made again, nobody would be left for the rest.)
	whole := t.Attempt == 1 && t.Quantity.Equal(d.bom[t.Material].Quantity)
	switch {
	case s == d.supplierB && !d.rejected && whole:
		d.rejected = true
		d.out.act(s, "rejects the offer of %s %s of %s", t.Quantity, d.unit(t.Material), t.Material)
		return d.unlessLapsed(s, t, s.mutate(ctx, "rejectProcurementTask", "RejectProcurementTaskInput", "task { id }",
			map[string]any{"taskId": t.ID, "reason": "our line is fully booked this week"}, nil))
	case s == d.supplierA && d.silent == "" && !d.lapseOff && whole:
		if sla > d.maxWait {
			d.lapseOff = true
			d.out.note("the suppliers' SLA on this gateway is %s, too long to wait for an offer to lapse: every offer is answered.", sla)
			d.out.note("to see one lapse, start the platform with %s", shortDurations)
			break
		}
		d.silent = t.ID
		d.out.act(s, "does not answer the offer of %s %s of %s: it lapses at %s (an SLA of %s) and goes to the next supplier",
			t.Quantity, d.unit(t.Material), t.Material, t.Deadline.Local().Format(time.TimeOnly), sla)
		return nil
	}
	price := quote(d.bom[t.Material].Unit, s == d.supplierB)
	lead := 5
	if s == d.supplierB {
		lead = 3
	}
	promised := time.Now().AddDate(0, 0, lead)
	part := ""
	if !t.Quantity.Equal(d.bom[t.Material].Quantity) {
		part = fmt.Sprintf(" (%s of the %s needed: a split)", t.Quantity, d.bom[t.Material].Quantity)
	}
	d.out.act(s, "accepts %s %s of %s%s at %s, delivery %s", t.Quantity, d.unit(t.Material), t.Material, part, price, promised.Format(time.DateOnly))
	err := s.mutateSoon(ctx, "acceptProcurementTask", "AcceptProcurementTaskInput", "task { id }", map[string]any{
		"taskId": t.ID, "unitPrice": price, "quantity": t.Quantity.String(), "promisedDate": promised.UTC().Format(time.RFC3339),
	}, nil)
	return d.unlessLapsed(s, t, err)
}

// unlessLapsed is err, unless it says the offer lapsed while the supplier
// answered (a slow platform, a short SLA): then the sourcing offers it to the
// next supplier, and the journey goes on.
func (d *demo) unlessLapsed(s *party, t task, err error) error {
	if lapsedRefusal(err) {
		d.out.note("the offer of %s lapsed before %s's answer arrived", t.Material, s.who)
		return nil
	}
	return err
}

// lapsedRefusal reports a refusal because an offer is no longer open.
func lapsedRefusal(err error) bool {
	var r *refusal
	return errors.As(err, &r) && r.code() == "ILLEGAL_STATE" && (strings.Contains(r.Error(), "no longer open") || strings.Contains(r.Error(), "lapsed at"))
}

// quote is a simulated supplier's unit price: a supplier quotes its own
// terms (the offer does not show the list price).
func quote(unit string, b bool) string {
	price := map[string]string{"pcs": "120.00", "kg": "48.00", "m": "15.00", "m2": "36.00", "set": "25.00"}[unit]
	if price == "" {
		price = "20.00"
	}
	if b {
		return decimal.RequireFromString(price).Mul(decimal.RequireFromString("1.05")).StringFixed(2)
	}
	return price
}

func (d *demo) unit(material string) string { return d.bom[material].Unit }

// receive: the factory confirms what arrived; the first shipment in two parts.
func (d *demo) receive(ctx context.Context) error {
	var o struct {
		Order *struct{ ProcurementTasks []task }
	}
	if err := d.factory.query(ctx, `query($id: ID!) { order(id: $id) { procurementTasks { `+taskFields+` } } }`, map[string]any{"id": d.orderID}, &o); err != nil {
		return err
	}
	if o.Order == nil {
		return errors.New("the factory does not see the order it produces")
	}
	for _, t := range o.Order.ProcurementTasks {
		left := t.ShippedQuantity.Sub(t.ReceivedQuantity)
		if !left.IsPositive() {
			continue
		}
		q := left
		if d.partial == "" && t.ShippedQuantity.Equal(t.Quantity) && t.Quantity.GreaterThanOrEqual(decimal.NewFromInt(2)) {
			d.partial = t.ID
			q = t.Quantity.Div(decimal.NewFromInt(2)).Floor()
			d.out.act(d.factory, "receives %s of the %s %s of %s shipped (the rest is on the next truck)", q, t.Quantity, d.unit(t.Material), t.Material)
		} else {
			d.out.act(d.factory, "receives %s %s of %s", q, d.unit(t.Material), t.Material)
		}
		if err := d.factory.mutate(ctx, "confirmMaterialReceipt", "MaterialMovementInput", "task { id }",
			map[string]any{"taskId": t.ID, "quantity": q.String()}, nil); err != nil {
			return err
		}
		d.pause(ctx)
	}
	return nil
}

type productionOrder struct {
	ID     string
	Status string
	Order  *struct{ ID string }
	Stages []struct {
		Seq  int
		Code string
		Name string
	}
}

// produce: the factory reports every routing stage, in order, then QA.
func (d *demo) produce(ctx context.Context) error {
	list, err := connection[productionOrder](ctx, d.factory, `query($after: String) { productionInbox(first: 50, after: $after) {
		edges { node { id status order { id } stages { seq code name } } } pageInfo { hasNextPage endCursor } } }`, "productionInbox", nil)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(list, func(po productionOrder) bool { return po.Order != nil && po.Order.ID == d.orderID })
	if i < 0 {
		return errors.New("the demo factory has no production order for the order: was it assigned to another factory?")
	}
	for _, st := range list[i].Stages {
		d.out.act(d.factory, "starts stage %d, %s", st.Seq, st.Name)
		if err := d.factory.mutateSoon(ctx, "reportProductionStage", "ReportProductionStageInput", "order { id }",
			map[string]any{"orderId": d.orderID, "seq": st.Seq, "finished": false}, nil); err != nil {
			return err
		}
		d.pause(ctx)
		d.out.act(d.factory, "finishes stage %d: %d good, none scrapped", st.Seq, d.quantity)
		if err := d.factory.mutateSoon(ctx, "reportProductionStage", "ReportProductionStageInput", "order { id }",
			map[string]any{"orderId": d.orderID, "seq": st.Seq, "finished": true, "good": d.quantity, "scrap": 0}, nil); err != nil {
			return err
		}
		d.pause(ctx)
	}
	d.out.act(d.factory, "passes QA")
	return d.factory.mutateSoon(ctx, "recordQA", "RecordQAInput", "order { id }",
		map[string]any{"orderId": d.orderID, "passed": true, "notes": "run test, leak test and noise test passed"}, nil)
}

// deliver: the booked carrier reports the shipment until its delivery.
func (d *demo) deliver(ctx context.Context) error {
	type shipment struct {
		TrackingNumber string
		Order          *struct{ ID string }
	}
	list, err := connection[shipment](ctx, d.carrier, `query($after: String) { shipmentInbox(first: 50, after: $after) {
		edges { node { trackingNumber order { id } } } pageInfo { hasNextPage endCursor } } }`, "shipmentInbox", nil)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(list, func(s shipment) bool { return s.Order != nil && s.Order.ID == d.orderID })
	if i < 0 {
		return errors.New("the demo carrier has no shipment for the order: was it booked with another carrier?")
	}
	tracking := list[i].TrackingNumber
	for _, step := range []struct{ kind, location, say string }{
		{"PICKED_UP", "Foshan, Guangdong", "picks up %s at the factory"},
		{"IN_TRANSIT", "Wuhan hub", "scans %s in transit at Wuhan"},
		{"IN_TRANSIT", "Qingdao hub", "scans %s in transit at Qingdao"},
		{"OUT_FOR_DELIVERY", "Qingdao, Laoshan", "sends %s out for delivery"},
	} {
		d.out.act(d.carrier, step.say, tracking)
		if err := d.carrier.mutateSoon(ctx, "trackShipment", "TrackShipmentInput", "order { id }",
			map[string]any{"orderId": d.orderID, "kind": step.kind, "location": step.location}, nil); err != nil {
			return err
		}
		d.pause(ctx)
	}
	d.out.act(d.carrier, "delivers %s, signed by Zhang Min", tracking)
	return d.carrier.mutateSoon(ctx, "trackShipment", "TrackShipmentInput", "order { id }", map[string]any{
		"orderId": d.orderID, "kind": "DELIVERED", "receivedBy": "Zhang Min", "signatureRef": "sig/" + tracking, "photoRef": "pod/" + tracking + ".jpg",
	}, nil)
}

// service: the customer confirms receipt, opens a ticket during the warranty,
// the operator dispatches it to the factory, which resolves it; the order
// completes when the warranty ends.
func (d *demo) service(ctx context.Context) error {
	if err := d.waitFor(ctx, "SHIPMENT_DELIVERED", time.Minute, ""); err != nil {
		return err
	}
	d.out.act(d.customer, "confirms the delivery")
	if err := d.customer.mutateSoon(ctx, "confirmDelivery", "ConfirmDeliveryInput", "order { id }", map[string]any{"orderId": d.orderID}, nil); err != nil {
		return err
	}
	if err := d.waitFor(ctx, "WARRANTY_STARTED", time.Minute, ""); err != nil {
		return err
	}
	var started struct {
		EndsAt time.Time `json:"endsAt"`
	}
	_ = json.Unmarshal(d.last.Data, &started)

	d.out.act(d.customer, "opens a service ticket: the indoor unit rattles at low fan speed")
	var opened struct {
		Order struct {
			ServiceTickets []struct{ ID, Status string }
		}
	}
	if err := d.customer.mutateSoon(ctx, "openServiceTicket", "OpenServiceTicketInput", "order { serviceTickets { id status } }", map[string]any{
		"orderId": d.orderID, "category": "NOISE", "description": "the indoor unit rattles at low fan speed", "key": "demo-noise",
	}, &opened); err != nil {
		return err
	}
	if len(opened.Order.ServiceTickets) == 0 {
		return errors.New("the ticket opened does not show on the order")
	}
	ticket := opened.Order.ServiceTickets[len(opened.Order.ServiceTickets)-1].ID
	d.pause(ctx)
	d.out.act(d.operator, "dispatches the ticket to %s", d.factory.name)
	if err := d.operator.mutate(ctx, "dispatchServiceTicket", "DispatchServiceTicketInput", "order { id }",
		map[string]any{"ticketId": ticket, "assigneeId": d.factory.id}, nil); err != nil {
		return err
	}
	d.pause(ctx)
	d.out.act(d.factory, "resolves the ticket on site")
	if err := d.factory.mutate(ctx, "resolveServiceTicket", "ResolveServiceTicketInput", "order { id }",
		map[string]any{"ticketId": ticket, "resolution": "fan blade re-seated and balanced on site"}, nil); err != nil {
		return err
	}
	if err := d.waitFor(ctx, "TICKET_RESOLVED", time.Minute, ""); err != nil {
		return err
	}
	if d.recall {
		if err := d.identifiers(ctx); err != nil {
			return err
		}
	}

	left := time.Until(started.EndsAt)
	if started.EndsAt.IsZero() || left > d.maxWait {
		d.out.note("the warranty runs until %s: the order completes then, the demo does not wait that long", started.EndsAt.Local().Format(time.DateTime))
		d.out.note("to see it complete, start the platform with %s", shortDurations)
		return nil
	}
	d.out.note("the warranty ends at %s; waiting for it", started.EndsAt.Local().Format(time.TimeOnly))
	return d.waitFor(ctx, "ORDER_COMPLETED", left+time.Minute, "")
}

// pause lets a reader follow; the journey does not need it.
func (d *demo) pause(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(d.pace):
	}
}
