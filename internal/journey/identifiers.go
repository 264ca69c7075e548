package journey

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// identifiers prints what the journey minted for the delivered order (its
// units, their lots and machines, the package) as the operator traces it,
// and has the supplier of one lot recall it: the units are marked, the
// delivered order gets a service ticket and a RECALL on its timeline.
func (d *demo) identifiers(ctx context.Context) error {
	type node struct{ Handle string }
	var data struct {
		EpcisEvents struct {
			Result struct {
				Events []struct {
					BizStep string
					Event   map[string]any
				}
			}
		}
	}
	if err := d.operator.query(ctx, `query($f: EpcisEventFilter!) { epcisEvents(filter: $f) { result { events { bizStep event } } errors { message } } }`,
		map[string]any{"f": map[string]any{"orderId": d.orderID}}, &data); err != nil {
		return err
	}
	events := data.EpcisEvents
	var pkg string
	var units []string
	steps := map[string]int{}
	for _, e := range events.Result.Events {
		steps[e.BizStep]++
		if e.BizStep == "packing" {
			pkg, _ = e.Event["parentID"].(string)
			for _, c := range e.Event["childEPCs"].([]any) {
				units = append(units, strings.TrimPrefix(c.(string), "info:hdl/"))
			}
		}
	}
	if len(units) == 0 {
		return fmt.Errorf("the order's genealogy has no packed units (events by step: %v)", steps)
	}
	d.out.note("the order's genealogy: %d EPCIS events (%d commissioning, %d shipping, %d receiving, %d production stages, QA, packing, pick-up, delivery, proof of delivery)",
		len(events.Result.Events), steps["commissioning"], steps["shipping"], steps["receiving"], steps["assembling"])
	d.out.note("the package %s holds the %d delivered units:", strings.TrimPrefix(pkg, "info:hdl/"), len(units))
	for _, u := range units {
		d.out.note("  %s   (GET /api/handles/%s)", u, u)
	}
	var upData struct {
		Trace struct {
			Trace struct {
				Lots, Machines []node
			}
		}
	}
	if err := d.operator.query(ctx, `query($id: String!) { trace(identifier: $id, direction: UPSTREAM) { trace { lots { handle } machines { handle } } errors { message } } }`,
		map[string]any{"id": units[0]}, &upData); err != nil {
		return err
	}
	up := upData.Trace
	if len(up.Trace.Lots) == 0 {
		return fmt.Errorf("unit %s has no lots upstream", units[0])
	}
	var lots, machines []string
	for _, l := range up.Trace.Lots {
		lots = append(lots, l.Handle)
	}
	for _, m := range up.Trace.Machines {
		machines = append(machines, m.Handle)
	}
	d.out.note("each is made of the lots %s, on %s", strings.Join(lots, ", "), strings.Join(machines, ", "))

	lot := lots[0]
	var owner *party
	for _, s := range []*party{d.supplierA, d.supplierB} {
		var t struct {
			Trace struct {
				Trace *struct{ Summary bool }
			}
		}
		if err := s.query(ctx, `query($id: String!) { trace(identifier: $id, direction: DOWNSTREAM) { trace { summary } errors { message } } }`,
			map[string]any{"id": lot}, &t); err != nil {
			return err
		}
		if t.Trace.Trace != nil {
			owner = s
		}
	}
	if owner == nil {
		return fmt.Errorf("neither demo supplier owns lot %s", lot)
	}
	d.out.act(owner, "recalls its lot %s: a batch out of tolerance", lot)
	var rc struct {
		Recall struct {
			AffectedCount, TicketsOpened int
		}
	}
	if err := owner.mutate(ctx, "startRecall", "StartRecallInput", "recall { affectedCount ticketsOpened }",
		map[string]any{"identifier": lot, "reason": "batch out of tolerance", "key": "demo-recall-" + d.orderID}, &rc); err != nil {
		return err
	}
	if err := d.waitFor(ctx, "RECALL", time.Minute, ""); err != nil {
		return err
	}
	d.out.note("the recall marked %d identifiers (the lot, the units, the package) and opened %d service ticket on the delivered order; its customer sees RECALL on the timeline",
		rc.Recall.AffectedCount, rc.Recall.TicketsOpened)
	return nil
}
