package production_test

import (
	"context"
	"github.com/masscustom/orchestrator/services/production"
	"slices"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
)

func maxNeed(routing []catalog.Stage, qty int) decimal.Decimal {
	m := decimal.Zero
	for _, v := range production.Need(routing, qty) {
		m = decimal.Max(m, v)
	}
	return m
}

func TestAssignPicksTheCapableFactoryWithTheMostHeadroom(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	first := e.place(t, nil)
	if maxNeed(first.routing, 2).LessThanOrEqual(decimal.NewFromInt(1)) {
		t.Fatal("the routing needs more than a minute at its busiest work centre")
	}
	// big lacks a work centre; b and c run everything, c one minute more a day.
	big, _ := e.factory(t, first.routing, 1_000_000, first.routing[0].WorkCentreKind)
	b, _ := e.factory(t, first.routing, 1000)
	c, _ := e.factory(t, first.routing, 1001)
	cands := []uuid.UUID{big.Enterprise.ID, b.Enterprise.ID, c.Enterprise.ID}

	o, created, err := e.svc.Assign(ctx, production.AssignInput{OrderID: first.order.ID, Key: "assign", Quantity: 2, Stages: first.routing, ScrapTolerance: first.tolerance, Candidates: cands})
	if err != nil || !created {
		t.Fatalf("assign: %v (created %v)", err, created)
	}
	if o.FactoryID != c.Enterprise.ID || o.Status != production.StatusAssigned || o.CustomerID != first.customer.EnterpriseID || o.ID != production.IDFor(first.order.ID) {
		t.Fatalf("assigned %+v, want factory c %s", o, c.Enterprise.ID)
	}
	if len(o.Stages) != len(first.routing) || o.Stages[0].InputQuantity == nil || *o.Stages[0].InputQuantity != 2 || o.Stages[1].InputQuantity != nil {
		t.Fatalf("stages %+v", o.Stages)
	}
	for i, s := range o.Stages {
		if s.Seq != first.routing[i].Seq || s.Status != production.StagePending || s.Reason != production.ReasonPlan || !s.PlannedMinutes.Equal(first.routing[i].MinutesPerUnit.Mul(decimal.NewFromInt(2))) {
			t.Fatalf("stage %d = %+v, want %+v", i, s, first.routing[i])
		}
	}

	// The same order again: the same production order, whatever changed since.
	again, created, err := e.svc.Assign(ctx, production.AssignInput{OrderID: first.order.ID, Key: "assign", Quantity: 2, Stages: first.routing, ScrapTolerance: first.tolerance, Candidates: []uuid.UUID{b.Enterprise.ID}})
	if err != nil || created || again.ID != o.ID || again.FactoryID != c.Enterprise.ID {
		t.Fatalf("repeated assign: %v created=%v %+v", err, created, again)
	}

	// c now carries the first order's load: the next order goes to b.
	second := e.place(t, nil)
	if o2 := e.assign(t, second, cands...); o2.FactoryID != b.Enterprise.ID {
		t.Fatalf("second order went to %s, want b %s", o2.FactoryID, b.Enterprise.ID)
	}

	// Refusals change nothing.
	third := e.place(t, nil)
	_, _, err = e.svc.Assign(ctx, production.AssignInput{OrderID: third.order.ID, Key: "assign", Quantity: 2, Stages: third.routing, ScrapTolerance: third.tolerance, Candidates: []uuid.UUID{big.Enterprise.ID}})
	wantCode(t, err, errs.IllegalState)
	_, _, err = e.svc.Assign(ctx, production.AssignInput{OrderID: third.order.ID, Key: "assign", Quantity: 2, Stages: third.routing, ScrapTolerance: third.tolerance, PreferredFactory: &big.Enterprise.ID})
	wantCode(t, err, errs.InvalidInput)
	_, _, err = e.svc.Assign(ctx, production.AssignInput{OrderID: third.order.ID, Key: "", Quantity: 0, Stages: nil, ScrapTolerance: decimal.NewFromInt(1)})
	if l, ok := err.(errs.List); !ok || len(l) != 4 {
		t.Fatalf("invalid input: %v, want 4 refusals", err)
	}
	_, _, err = e.svc.Assign(ctx, production.AssignInput{OrderID: uuid.New(), Key: "assign", Quantity: 2, Stages: third.routing, ScrapTolerance: third.tolerance, Candidates: cands})
	wantCode(t, err, errs.NotFound)
	_, err = e.svc.ByOrder(ctx, third.order.ID)
	wantCode(t, err, errs.NotFound)

	// A preferred factory that runs everything is taken, however loaded.
	o3, _, err := e.svc.Assign(ctx, production.AssignInput{OrderID: third.order.ID, Key: "assign", Quantity: 2, Stages: third.routing, ScrapTolerance: third.tolerance, PreferredFactory: &c.Enterprise.ID})
	if err != nil || o3.FactoryID != c.Enterprise.ID {
		t.Fatalf("preferred: %v %+v", err, o3)
	}
}

func TestSetCapabilityIsTheFactoryAdminsOrTheOperators(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	f, admin := e.account(t, identity.KindFactory, identity.RoleAdmin)
	member := e.principal(t, e.member(t, f, identity.RoleMember))
	_, other := e.account(t, identity.KindFactory, identity.RoleAdmin)
	_, op := e.account(t, identity.KindPlatform, identity.RoleAdmin)
	_, customer := e.account(t, identity.KindCustomer, identity.RoleAdmin)
	id := f.Enterprise.ID

	c, err := e.svc.SetCapability(ctx, admin, id, catalog.WorkCentreAssembly, 480)
	if err != nil || c.MinutesPerDay != 480 {
		t.Fatalf("set: %v %+v", err, c)
	}
	again, err := e.svc.SetCapability(ctx, admin, id, catalog.WorkCentreAssembly, 480)
	if err != nil || !again.UpdatedAt.Equal(c.UpdatedAt) {
		t.Fatalf("same value again changed the record: %v %+v", err, again)
	}
	if _, err := e.svc.SetCapability(ctx, op, id, catalog.WorkCentreTest, 960); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.SetCapability(ctx, member, id, catalog.WorkCentreTest, 1)
	wantCode(t, err, errs.Forbidden)
	_, err = e.svc.SetCapability(ctx, other, id, catalog.WorkCentreTest, 1)
	wantCode(t, err, errs.Forbidden)
	_, err = e.svc.SetCapability(ctx, op, customer.EnterpriseID, catalog.WorkCentreTest, 1)
	wantCode(t, err, errs.InvalidInput)
	_, err = e.svc.SetCapability(ctx, admin, id, "WELDING", -1)
	if l, ok := err.(errs.List); !ok || len(l) != 2 {
		t.Fatalf("bad kind and minutes: %v", err)
	}
	_, err = e.svc.SetCapability(ctx, nil, id, catalog.WorkCentreTest, 1)
	wantCode(t, err, errs.Unauthenticated)

	if gone, err := e.svc.SetCapability(ctx, admin, id, catalog.WorkCentreTest, 0); err != nil || gone != nil {
		t.Fatalf("withdraw: %v %+v", err, gone)
	}
	caps := must[[]production.Capability](t)(e.svc.Capabilities(ctx, member, id))
	if len(caps) != 1 || caps[0].WorkCentreKind != catalog.WorkCentreAssembly {
		t.Fatalf("capabilities %+v", caps)
	}
	_, err = e.svc.Capabilities(ctx, other, id)
	wantCode(t, err, errs.Forbidden)
}

func TestStagesAreReportedInOrderAndQACloses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pl := e.place(t, nil)
	f, fp := e.factory(t, pl.routing, 100_000)
	o := e.assign(t, pl, f.Enterprise.ID)
	seqs := o.Seqs()

	_, err := e.svc.FinishStage(ctx, fp, o.ID, seqs[0], 2, 0)
	wantCode(t, err, errs.IllegalState) // not started
	_, err = e.svc.StartStage(ctx, fp, o.ID, seqs[1])
	wantCode(t, err, errs.IllegalState) // the first is not done
	_, err = e.svc.StartStage(ctx, fp, o.ID, 9999)
	wantCode(t, err, errs.InvalidInput)
	_, err = e.svc.RecordQA(ctx, fp, o.ID, true, "")
	wantCode(t, err, errs.IllegalState)

	started := must[*production.Order](t)(e.svc.StartStage(ctx, fp, o.ID, seqs[0]))
	if started.Status != production.StatusInProgress || started.Stages[0].Status != production.StageStarted || started.Stages[0].StartedAt == nil {
		t.Fatalf("after start: %+v", started)
	}
	if again := must[*production.Order](t)(e.svc.StartStage(ctx, fp, o.ID, seqs[0])); !again.Stages[0].StartedAt.Equal(*started.Stages[0].StartedAt) {
		t.Fatal("starting again moved the start time")
	}
	_, err = e.svc.FinishStage(ctx, fp, o.ID, seqs[0], 2, 1)
	wantCode(t, err, errs.InvalidInput) // 3 > 2 entered
	_, err = e.svc.FinishStage(ctx, fp, o.ID, seqs[0], -1, 0)
	wantCode(t, err, errs.InvalidInput)

	r := must[*production.StageReport](t)(e.svc.FinishStage(ctx, fp, o.ID, seqs[0], 2, 0))
	if r.Decision.Action != production.ActionNone || r.Decision.Exceeded || r.Stage.Status != production.StageDone || *r.Stage.GoodQuantity != 2 {
		t.Fatalf("finish: %+v", r)
	}
	again := must[*production.StageReport](t)(e.svc.FinishStage(ctx, fp, o.ID, seqs[0], 2, 0))
	if !sameDecision(again.Decision, r.Decision) || !again.Stage.FinishedAt.Equal(*r.Stage.FinishedAt) || len(again.Order.Stages) != len(r.Order.Stages) {
		t.Fatalf("a repeated finish changed something: %+v vs %+v", again, r)
	}
	_, err = e.svc.FinishStage(ctx, fp, o.ID, seqs[0], 1, 1)
	wantCode(t, err, errs.IllegalState)
	_, err = e.svc.StartStage(ctx, fp, o.ID, seqs[2])
	wantCode(t, err, errs.IllegalState) // skipping a stage

	prog := must[production.Progress](t)(e.svc.Progress(ctx, pl.customer, o.ID))
	want := o.Stages[0].PlannedMinutes.Mul(decimal.NewFromInt(100)).Div(prog.PlannedMinutes).Round(1)
	if !prog.Percent.Equal(want) || prog.StagesDone != 1 || prog.StagesTotal != len(seqs) || prog.Current == nil || prog.Current.Seq != seqs[1] {
		t.Fatalf("progress %+v, want %s%%", prog, want)
	}

	for _, q := range seqs[1:] {
		st := must[*production.Order](t)(e.svc.StartStage(ctx, fp, o.ID, q))
		if in := st.Latest(q).InputQuantity; in == nil || *in != 2 {
			t.Fatalf("stage %d entered %v, want 2", q, in)
		}
		must[*production.StageReport](t)(e.svc.FinishStage(ctx, fp, o.ID, q, 2, 0))
	}
	last := must[*production.StageReport](t)(e.svc.FinishStage(ctx, fp, o.ID, seqs[len(seqs)-1], 2, 0)) // repeated after the move to QA
	if last.Order.Status != production.StatusQA {
		t.Fatalf("after the last stage: %s, want QA", last.Order.Status)
	}
	_, err = e.svc.StartStage(ctx, fp, o.ID, seqs[0])
	wantCode(t, err, errs.IllegalState)
	if p := must[production.Progress](t)(e.svc.Progress(ctx, fp, o.ID)); !p.Percent.Equal(decimal.NewFromInt(100)) || p.Current != nil {
		t.Fatalf("progress at QA %+v", p)
	}

	_, err = e.svc.RecordQA(ctx, fp, o.ID, false, "  ")
	wantCode(t, err, errs.InvalidInput)
	passed := must[*production.Order](t)(e.svc.RecordQA(ctx, fp, o.ID, true, "all units within spec"))
	if passed.Status != production.StatusPassed || passed.QA == nil || !passed.QA.Passed || passed.QA.Quantity != 2 || passed.QA.RecordedBy == nil {
		t.Fatalf("QA: %+v %+v", passed, passed.QA)
	}
	if again := must[*production.Order](t)(e.svc.RecordQA(ctx, fp, o.ID, true, "")); !again.QA.At.Equal(passed.QA.At) {
		t.Fatal("a repeated verdict changed the record")
	}
	_, err = e.svc.RecordQA(ctx, fp, o.ID, false, "dents")
	wantCode(t, err, errs.IllegalState)
	_, err = e.svc.Cancel(ctx, o.ID, "cancelled")
	wantCode(t, err, errs.IllegalState)
}

func TestScrapBeyondToleranceStartsARoundForTheMissingQuantity(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.svc.Genealogy = e.p.Genealogy // and its genealogy, checked at the end
	ctx := context.Background()
	pl := e.place(t, nil)
	f, fp := e.factory(t, pl.routing, 100_000)
	o := e.assign(t, pl, f.Enterprise.ID)
	seqs := o.Seqs()
	before := must[production.Progress](t)(e.svc.Progress(ctx, fp, o.ID))

	// The first stage scraps 1 of 2 (50% > 2%): its material is bought again.
	must[*production.Order](t)(e.svc.StartStage(ctx, fp, o.ID, seqs[0]))
	r := must[*production.StageReport](t)(e.svc.FinishStage(ctx, fp, o.ID, seqs[0], 1, 1))
	if !r.Decision.Exceeded || r.Decision.Action != production.ActionReprocure || r.Decision.Round != 1 || r.Decision.Quantity != 1 || !r.Decision.ScrapRate.Equal(decimal.RequireFromString("0.5")) {
		t.Fatalf("decision %+v", r.Decision)
	}
	rework := r.Order.Latest(seqs[0])
	if rework.Round != 1 || rework.Reason != production.ReasonReprocure || rework.Status != production.StagePending || *rework.InputQuantity != 1 ||
		!rework.PlannedMinutes.Equal(rework.MinutesPerUnit) {
		t.Fatalf("rework round %+v", rework)
	}
	again := must[*production.StageReport](t)(e.svc.FinishStage(ctx, fp, o.ID, seqs[0], 1, 1))
	if !sameDecision(again.Decision, r.Decision) || len(again.Order.Stages) != len(r.Order.Stages) {
		t.Fatalf("a repeated report made another round: %+v", again)
	}
	after := must[production.Progress](t)(e.svc.Progress(ctx, fp, o.ID))
	if !after.PlannedMinutes.Equal(before.PlannedMinutes.Add(rework.PlannedMinutes)) || after.Current.Seq != seqs[0] || after.Current.Round != 1 {
		t.Fatalf("progress after rework %+v", after)
	}

	// The next stage waits for the rework round.
	_, err := e.svc.StartStage(ctx, fp, o.ID, seqs[1])
	wantCode(t, err, errs.IllegalState)
	_, err = e.svc.FinishStage(ctx, fp, o.ID, seqs[0], 1, 0)
	wantCode(t, err, errs.IllegalState) // the round is not started
	must[*production.Order](t)(e.svc.StartStage(ctx, fp, o.ID, seqs[0]))
	if r := must[*production.StageReport](t)(e.svc.FinishStage(ctx, fp, o.ID, seqs[0], 1, 0)); r.Decision.Action != production.ActionNone || r.Stage.Round != 1 {
		t.Fatalf("rework finish %+v", r)
	}

	// The second stage gets both good units, scraps one: rework at that stage.
	st := must[*production.Order](t)(e.svc.StartStage(ctx, fp, o.ID, seqs[1]))
	if in := st.Latest(seqs[1]).InputQuantity; *in != 2 {
		t.Fatalf("second stage entered %d, want 2", *in)
	}
	r2 := must[*production.StageReport](t)(e.svc.FinishStage(ctx, fp, o.ID, seqs[1], 1, 1))
	if r2.Decision.Action != production.ActionRework || r2.Decision.Round != 1 || r2.Decision.Quantity != 1 {
		t.Fatalf("decision %+v", r2.Decision)
	}

	// Three more failed rounds: then the operator decides, production goes on.
	for round := 1; round <= production.MaxReworkRounds; round++ {
		must[*production.Order](t)(e.svc.StartStage(ctx, fp, o.ID, seqs[1]))
		r := must[*production.StageReport](t)(e.svc.FinishStage(ctx, fp, o.ID, seqs[1], 0, 1))
		want := production.ActionRework
		if round == production.MaxReworkRounds {
			want = production.ActionEscalate
		}
		if r.Decision.Action != want || r.Stage.Round != round {
			t.Fatalf("round %d: %+v, want %s", round, r.Decision, want)
		}
	}
	st = must[*production.Order](t)(e.svc.StartStage(ctx, fp, o.ID, seqs[2]))
	if in := st.Latest(seqs[2]).InputQuantity; *in != 1 {
		t.Fatalf("third stage entered %d, want the 1 good unit", *in)
	}

	// The genealogy: 2 units, and 1 more from the material bought again;
	// the first stage's reject destroyed, the second stage's held and
	// reworked 3 times, then destroyed when the operator takes over.
	var minted, destroyed, alive int
	if err := e.p.DB.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE scrapped_seq IS NOT NULL), count(*) FILTER (WHERE scrapped_seq IS NULL AND done_seq = $2)
		FROM production_units WHERE production_order_id = $1`, o.ID, seqs[1]).Scan(&minted, &destroyed, &alive); err != nil {
		t.Fatal(err)
	}
	if minted != 3 || destroyed != 2 || alive != 1 {
		t.Fatalf("units: %d minted, %d destroyed, %d through the second stage; want 3, 2, 1", minted, destroyed, alive)
	}
	steps := map[string]int{}
	rows, err := e.p.DB.Query(ctx, `SELECT event_type || '/' || biz_step || '/' || coalesce(body->>'disposition', '') FROM epcis_events WHERE order_id = $1`, pl.order.ID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		steps[s]++
	}
	rows.Close()
	want := map[string]int{
		"TransformationEvent/assembling/in_progress": 2 + 1 + production.MaxReworkRounds,
		"ObjectEvent/destroying/destroyed":           2,
		"ObjectEvent/inspecting/non_conformant":      production.MaxReworkRounds,
	}
	for k, n := range want {
		if steps[k] != n {
			t.Errorf("%s: %d events, want %d (all: %v)", k, steps[k], n, steps)
		}
	}
}

func TestOwnershipHidesOthersProductionOrders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pl := e.place(t, nil)
	f, fp := e.factory(t, pl.routing, 100_000)
	o := e.assign(t, pl, f.Enterprise.ID)
	first := o.Seqs()[0]

	_, otherFactory := e.factory(t, pl.routing, 100_000)
	_, otherCustomer := e.account(t, identity.KindCustomer, identity.RoleAdmin)
	_, carrier := e.account(t, identity.KindCarrier, identity.RoleAdmin)
	viewer := e.principal(t, e.member(t, f, identity.RoleViewer))
	_, opMember := e.account(t, identity.KindPlatform, identity.RoleMember)
	_, opViewer := e.account(t, identity.KindPlatform, identity.RoleViewer)

	for name, p := range map[string]*identity.Principal{"another factory": otherFactory, "another customer": otherCustomer, "a carrier": carrier} {
		_, err := e.svc.ProductionOrder(ctx, p, o.ID)
		wantCode(t, err, errs.NotFound)
		_, err = e.svc.ForOrder(ctx, p, pl.order.ID)
		wantCode(t, err, errs.NotFound)
		_, err = e.svc.Progress(ctx, p, o.ID)
		wantCode(t, err, errs.NotFound)
		_, err = e.svc.StartStage(ctx, p, o.ID, first)
		if code(err) != errs.NotFound {
			t.Fatalf("%s starting a stage: %v", name, err)
		}
	}
	for name, p := range map[string]*identity.Principal{"the customer": pl.customer, "the factory's viewer": viewer, "a platform viewer": opViewer} {
		if _, err := e.svc.ProductionOrder(ctx, p, o.ID); err != nil {
			t.Fatalf("%s reading: %v", name, err)
		}
		_, err := e.svc.StartStage(ctx, p, o.ID, first)
		if code(err) != errs.Forbidden {
			t.Fatalf("%s starting a stage: %v", name, err)
		}
		_, err = e.svc.RecordQA(ctx, p, o.ID, true, "")
		if code(err) != errs.Forbidden {
			t.Fatalf("%s recording QA: %v", name, err)
		}
	}
	_, err := e.svc.ProductionOrder(ctx, nil, o.ID)
	wantCode(t, err, errs.Unauthenticated)
	_, err = e.svc.ProductionOrder(ctx, fp, uuid.New())
	wantCode(t, err, errs.NotFound)

	// The operator reports on the factory's behalf.
	if st := must[*production.Order](t)(e.svc.StartStage(ctx, opMember, o.ID, first)); st.Status != production.StatusInProgress {
		t.Fatalf("operator start: %s", st.Status)
	}
	_, err = e.svc.Inbox(ctx, pl.customer, nil, 10, "")
	wantCode(t, err, errs.Forbidden)
	page := must[pageOf](t)(e.svc.Inbox(ctx, otherFactory, nil, 100, ""))
	if slices.ContainsFunc(page.Items, func(x production.Order) bool { return x.ID == o.ID }) {
		t.Fatal("another factory's inbox lists the production order")
	}
}

func TestInboxPagesThroughTheFactorysOrders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pl := e.place(t, nil)
	f, fp := e.factory(t, pl.routing, 100_000)
	ids := []uuid.UUID{e.assign(t, pl, f.Enterprise.ID).ID}
	for range 2 {
		ids = append(ids, e.assign(t, e.place(t, pl.customer), f.Enterprise.ID).ID)
	}
	must[*production.Order](t)(e.svc.StartStage(ctx, fp, ids[1], pl.routing[0].Seq))

	p1 := must[pageOf](t)(e.svc.Inbox(ctx, fp, nil, 2, ""))
	if len(p1.Items) != 2 || !p1.HasNext || p1.Items[0].ID != ids[0] || p1.Items[1].ID != ids[1] || len(p1.Items[0].Stages) == 0 {
		t.Fatalf("first page %+v", p1)
	}
	p2 := must[pageOf](t)(e.svc.Inbox(ctx, fp, nil, 2, p1.Cursors[1]))
	if len(p2.Items) != 1 || p2.HasNext || p2.Items[0].ID != ids[2] {
		t.Fatalf("second page %+v", p2)
	}
	status := production.StatusInProgress
	busy := must[pageOf](t)(e.svc.Inbox(ctx, fp, &status, 10, ""))
	if len(busy.Items) != 1 || busy.Items[0].ID != ids[1] {
		t.Fatalf("in progress %+v", busy)
	}
	bad := "DONE"
	_, err := e.svc.Inbox(ctx, fp, &bad, 10, "")
	wantCode(t, err, errs.InvalidInput)
	_, err = e.svc.Inbox(ctx, fp, nil, 10, "not-a-cursor")
	wantCode(t, err, errs.InvalidInput)
	_, op := e.account(t, identity.KindPlatform, identity.RoleViewer)
	all := must[pageOf](t)(e.svc.Inbox(ctx, op, nil, 100, ""))
	if len(all.Items) == 0 {
		t.Fatal("the operator's inbox is empty")
	}
}

func TestCancelClosesAndFreesCapacity(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pl := e.place(t, nil)
	f, fp := e.factory(t, pl.routing, 100_000)
	o := e.assign(t, pl, f.Enterprise.ID)

	c := must[*production.Order](t)(e.svc.Cancel(ctx, o.ID, "cancelled"))
	if c.Status != production.StatusCancelled {
		t.Fatalf("status %s", c.Status)
	}
	if again := must[*production.Order](t)(e.svc.Cancel(ctx, o.ID, "cancelled")); again.Status != production.StatusCancelled || !again.UpdatedAt.Equal(c.UpdatedAt) {
		t.Fatal("cancelling again changed the record")
	}
	_, err := e.svc.StartStage(ctx, fp, o.ID, o.Seqs()[0])
	wantCode(t, err, errs.IllegalState)
	_, err = e.svc.Cancel(ctx, uuid.New(), "cancelled")
	wantCode(t, err, errs.NotFound)

	// A cancelled production order no longer loads its factory.
	var load decimal.Decimal
	if err := e.p.DB.QueryRow(ctx, `SELECT coalesce(sum(s.planned_minutes), 0) FROM production_orders o JOIN production_stages s ON s.production_order_id = o.id
		WHERE o.factory_id = $1 AND o.status IN ('ASSIGNED','IN_PROGRESS') AND s.status <> 'DONE'`, f.Enterprise.ID).Scan(&load); err != nil || !load.IsZero() {
		t.Fatalf("open load %s (%v)", load, err)
	}
}

func sameDecision(a, b production.Decision) bool {
	return a.Exceeded == b.Exceeded && a.ScrapRate.Equal(b.ScrapRate) && a.Action == b.Action && a.Round == b.Round && a.Quantity == b.Quantity
}

func TestConcurrentRepeatsApplyOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pl := e.place(t, nil)
	f, fp := e.factory(t, pl.routing, 100_000)

	var wg sync.WaitGroup
	made := make(chan uuid.UUID, 5)
	for range 5 {
		wg.Go(func() {
			o, created, err := e.svc.Assign(ctx, production.AssignInput{OrderID: pl.order.ID, Key: "assign", Quantity: 2, Stages: pl.routing, ScrapTolerance: pl.tolerance, Candidates: []uuid.UUID{f.Enterprise.ID}})
			if err != nil {
				t.Error(err)
				return
			}
			if created {
				made <- o.ID
			}
		})
	}
	wg.Wait()
	close(made)
	if n := len(made); n != 1 {
		t.Fatalf("%d assignments created a production order, want 1", n)
	}
	id := production.IDFor(pl.order.ID)
	first := pl.routing[0].Seq
	must[*production.Order](t)(e.svc.StartStage(ctx, fp, id, first))
	reports := make(chan *production.StageReport, 5)
	for range 5 {
		wg.Go(func() {
			r, err := e.svc.FinishStage(ctx, fp, id, first, 1, 1)
			if err != nil {
				t.Error(err)
				return
			}
			reports <- r
		})
	}
	wg.Wait()
	close(reports)
	for r := range reports {
		if r.Decision.Action != production.ActionReprocure || r.Decision.Round != 1 {
			t.Fatalf("decision %+v", r.Decision)
		}
	}
	o := must[*production.Order](t)(e.svc.ProductionOrder(ctx, fp, id))
	if n := len(o.Rounds(first)); n != 2 {
		t.Fatalf("stage %d has %d rounds, want 2", first, n)
	}
}

func TestFailedQAClosesProduction(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pl := e.place(t, nil)
	f, fp := e.factory(t, pl.routing, 100_000)
	o := e.assign(t, pl, f.Enterprise.ID)
	for _, q := range o.Seqs() {
		must[*production.Order](t)(e.svc.StartStage(ctx, fp, o.ID, q))
		must[*production.StageReport](t)(e.svc.FinishStage(ctx, fp, o.ID, q, 2, 0))
	}
	failed := must[*production.Order](t)(e.svc.RecordQA(ctx, fp, o.ID, false, "refrigerant leak on unit 2"))
	if failed.Status != production.StatusFailed || failed.QA == nil || failed.QA.Passed || failed.QA.Notes != "refrigerant leak on unit 2" {
		t.Fatalf("failed QA %+v", failed)
	}
	_, err := e.svc.RecordQA(ctx, fp, o.ID, true, "")
	wantCode(t, err, errs.IllegalState)
	_, err = e.svc.Cancel(ctx, o.ID, "cancelled")
	wantCode(t, err, errs.IllegalState)
	if got := must[*production.Order](t)(e.svc.ByOrder(ctx, pl.order.ID)); got.Status != production.StatusFailed {
		t.Fatalf("by order: %s", got.Status)
	}
}
