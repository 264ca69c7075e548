package production_test

import (
	"github.com/masscustom/orchestrator/services/production"
	"testing"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/catalog"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func ip(n int) *int { return &n }

func kinds(kv ...string) map[catalog.WorkCentreKind]decimal.Decimal {
	m := map[catalog.WorkCentreKind]decimal.Decimal{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[catalog.WorkCentreKind(kv[i])] = d(kv[i+1])
	}
	return m
}

func TestDecideAppliesTheReworkRule(t *testing.T) {
	t.Parallel()
	tol := d("0.02")
	cases := []struct {
		name string
		in   production.Outcome
		want production.Decision
	}{
		{"no scrap", production.Outcome{Target: 100, Tolerance: tol, Round: 0, Entering: 100, Good: 100, GoodSoFar: 100},
			production.Decision{Action: production.ActionNone, ScrapRate: d("0")}},
		{"scrap exactly at the tolerance is accepted", production.Outcome{Target: 100, Tolerance: tol, Entering: 100, Good: 98, Scrap: 2, GoodSoFar: 98},
			production.Decision{Action: production.ActionNone, ScrapRate: d("0.02")}},
		{"scrap beyond the tolerance at a later stage is reworked for the missing quantity", production.Outcome{Target: 100, Tolerance: tol, Entering: 100, Good: 97, Scrap: 3, GoodSoFar: 97},
			production.Decision{Exceeded: true, Action: production.ActionRework, ScrapRate: d("0.03"), Round: 1, Quantity: 3}},
		{"scrap beyond the tolerance at the first stage re-procures the lost material", production.Outcome{Target: 2, Tolerance: tol, FirstStage: true, Entering: 2, Good: 1, Scrap: 1, GoodSoFar: 1},
			production.Decision{Exceeded: true, Action: production.ActionReprocure, ScrapRate: d("0.5"), Round: 1, Quantity: 1}},
		{"units neither good nor scrap count as missing", production.Outcome{Target: 10, Tolerance: tol, Entering: 10, Good: 5, Scrap: 1, GoodSoFar: 5},
			production.Decision{Exceeded: true, Action: production.ActionRework, ScrapRate: d("0.1"), Round: 1, Quantity: 5}},
		{"a rework round counts the good of earlier rounds", production.Outcome{Target: 10, Tolerance: tol, Round: 1, Entering: 3, Good: 2, Scrap: 1, GoodSoFar: 9},
			production.Decision{Exceeded: true, Action: production.ActionRework, ScrapRate: d("0.3333"), Round: 2, Quantity: 1}},
		{"nothing missing: no rework even beyond the tolerance", production.Outcome{Target: 5, Tolerance: tol, Entering: 6, Good: 5, Scrap: 1, GoodSoFar: 5},
			production.Decision{Exceeded: true, Action: production.ActionNone, ScrapRate: d("0.1667")}},
		{"after the last allowed round the operator decides", production.Outcome{Target: 2, Tolerance: tol, Round: production.MaxReworkRounds, Entering: 1, Scrap: 1, GoodSoFar: 1},
			production.Decision{Exceeded: true, Action: production.ActionEscalate, ScrapRate: d("1")}},
		{"nothing entered", production.Outcome{Target: 2, Tolerance: tol, Entering: 0, GoodSoFar: 0},
			production.Decision{Action: production.ActionNone, ScrapRate: d("0")}},
		{"losses accepted upstream are not made up downstream", production.Outcome{Target: 98, Tolerance: tol, Entering: 98, Good: 95, Scrap: 3, GoodSoFar: 95},
			production.Decision{Exceeded: true, Action: production.ActionRework, ScrapRate: d("0.0306"), Round: 1, Quantity: 3}},
		{"zero tolerance makes any scrap exceed", production.Outcome{Target: 1000, Tolerance: d("0"), Entering: 1000, Good: 999, Scrap: 1, GoodSoFar: 999},
			production.Decision{Exceeded: true, Action: production.ActionRework, ScrapRate: d("0.001"), Round: 1, Quantity: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := production.Decide(c.in)
			if got.Exceeded != c.want.Exceeded || got.Action != c.want.Action || !got.ScrapRate.Equal(c.want.ScrapRate) ||
				got.Round != c.want.Round || got.Quantity != c.want.Quantity {
				t.Fatalf("Decide(%+v) = %+v, want %+v", c.in, got, c.want)
			}
		})
	}
}

func TestComputeProgressWeighsStagesByPlannedMinutes(t *testing.T) {
	t.Parallel()
	st := func(seq, round int, minutes, status string) production.Stage {
		return production.Stage{Seq: seq, Round: round, PlannedMinutes: d(minutes), Status: status}
	}
	cases := []struct {
		name              string
		stages            []production.Stage
		percent           string
		done, total       int
		currentSeq, round int // -1: none
	}{
		{"nothing started", []production.Stage{st(10, 0, "7", production.StagePending), st(20, 0, "14", production.StagePending)}, "0", 0, 2, 10, 0},
		{"one of three minutes done rounds to one decimal", []production.Stage{st(10, 0, "1", production.StageDone), st(20, 0, "1", production.StageStarted), st(30, 0, "1", production.StagePending)}, "33.3", 1, 3, 20, 0},
		{"two thirds round half away from zero", []production.Stage{st(10, 0, "2", production.StageDone), st(20, 0, "1", production.StagePending)}, "66.7", 1, 2, 20, 0},
		{"weighted by minutes", []production.Stage{st(10, 0, "7", production.StageDone), st(20, 0, "41.6", production.StageStarted), st(30, 0, "24", production.StagePending)}, "9.6", 1, 3, 20, 0},
		{"rework adds planned minutes and keeps the stage open",
			[]production.Stage{st(10, 0, "10", production.StageDone), st(10, 1, "5", production.StagePending), st(20, 0, "10", production.StagePending)}, "40", 0, 2, 10, 1},
		{"all done", []production.Stage{st(10, 0, "10", production.StageDone), st(10, 1, "5", production.StageDone), st(20, 0, "10", production.StageDone)}, "100", 2, 2, -1, -1},
		{"no planned minutes counts rounds", []production.Stage{st(10, 0, "0", production.StageDone), st(20, 0, "0", production.StagePending), st(30, 0, "0", production.StagePending), st(40, 0, "0", production.StagePending)}, "25", 1, 4, 20, 0},
		{"no stages", nil, "0", 0, 0, -1, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := production.ComputeProgress(c.stages)
			if !p.Percent.Equal(d(c.percent)) || p.StagesDone != c.done || p.StagesTotal != c.total {
				t.Fatalf("progress = %s%% (%d/%d stages), want %s%% (%d/%d)", p.Percent, p.StagesDone, p.StagesTotal, c.percent, c.done, c.total)
			}
			switch {
			case c.currentSeq < 0 && p.Current != nil:
				t.Fatalf("current = %+v, want none", *p.Current)
			case c.currentSeq >= 0 && (p.Current == nil || p.Current.Seq != c.currentSeq || p.Current.Round != c.round):
				t.Fatalf("current = %+v, want stage %d round %d", p.Current, c.currentSeq, c.round)
			}
		})
	}
}

func TestChooseTakesTheMostHeadroomAmongCapableFactories(t *testing.T) {
	t.Parallel()
	a := uuid.MustParse("00000000-0000-0000-0000-00000000000a")
	b := uuid.MustParse("00000000-0000-0000-0000-00000000000b")
	c := uuid.MustParse("00000000-0000-0000-0000-00000000000c")
	need := kinds("ASSEMBLY", "100", "TEST", "50")
	cases := []struct {
		name     string
		cands    []production.Candidate
		want     uuid.UUID
		headroom string
		ok       bool
	}{
		{"nobody", nil, uuid.Nil, "0", false},
		{"a factory lacking a kind is not capable",
			[]production.Candidate{{FactoryID: a, Capacity: kinds("ASSEMBLY", "10000")}}, uuid.Nil, "0", false},
		{"the only capable one, even when overbooked",
			[]production.Candidate{{FactoryID: a, Capacity: kinds("ASSEMBLY", "10000")}, {FactoryID: b, Capacity: kinds("ASSEMBLY", "100", "TEST", "10"), Load: kinds("TEST", "30")}},
			b, "-70", true},
		{"the tightest work centre decides",
			[]production.Candidate{
				{FactoryID: a, Capacity: kinds("ASSEMBLY", "1000", "TEST", "100")},                                // headroom min(900, 50) = 50
				{FactoryID: b, Capacity: kinds("ASSEMBLY", "500", "TEST", "500"), Load: kinds("ASSEMBLY", "200")}, // min(200, 450) = 200
			}, b, "200", true},
		{"open load takes capacity",
			[]production.Candidate{
				{FactoryID: a, Capacity: kinds("ASSEMBLY", "1000", "TEST", "1000"), Load: kinds("ASSEMBLY", "800")},
				{FactoryID: b, Capacity: kinds("ASSEMBLY", "600", "TEST", "600")},
			}, b, "500", true},
		{"ties go to the smallest id",
			[]production.Candidate{
				{FactoryID: c, Capacity: kinds("ASSEMBLY", "600", "TEST", "550")},
				{FactoryID: a, Capacity: kinds("ASSEMBLY", "600", "TEST", "550")},
				{FactoryID: b, Capacity: kinds("ASSEMBLY", "600", "TEST", "550")},
			}, a, "500", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, h, ok := production.Choose(tc.cands, need)
			if ok != tc.ok || id != tc.want || (ok && !h.Equal(d(tc.headroom))) {
				t.Fatalf("Choose = %s %s %v, want %s %s %v", id, h, ok, tc.want, tc.headroom, tc.ok)
			}
		})
	}
}

func TestNeedSumsPlannedMinutesPerKind(t *testing.T) {
	t.Parallel()
	got := production.Need([]catalog.Stage{
		{Seq: 10, WorkCentreKind: catalog.WorkCentreTest, MinutesPerUnit: d("6")},
		{Seq: 20, WorkCentreKind: catalog.WorkCentreAssembly, MinutesPerUnit: d("1.5")},
		{Seq: 30, WorkCentreKind: catalog.WorkCentreTest, MinutesPerUnit: d("12")},
	}, 3)
	if len(got) != 2 || !got[catalog.WorkCentreTest].Equal(d("54")) || !got[catalog.WorkCentreAssembly].Equal(d("4.5")) {
		t.Fatalf("Need = %v", got)
	}
}

func TestOrderHelpersFollowRounds(t *testing.T) {
	t.Parallel()
	o := &production.Order{Quantity: 4, Stages: []production.Stage{
		{Seq: 10, Round: 0, Status: production.StageDone, InputQuantity: ip(4), GoodQuantity: ip(3), ScrapQuantity: ip(1)},
		{Seq: 10, Round: 1, Status: production.StageDone, InputQuantity: ip(1), GoodQuantity: ip(1), ScrapQuantity: ip(0)},
		{Seq: 20, Round: 0, Status: production.StagePending},
	}}
	if got := o.GoodOut(10, 1); got != 4 {
		t.Fatalf("goodOut = %d, want 4", got)
	}
	if got := o.GoodOut(10, 0); got != 3 {
		t.Fatalf("goodOut up to round 0 = %d, want 3", got)
	}
	if prev := o.Previous(20); prev == nil || prev.Seq != 10 || prev.Round != 1 {
		t.Fatalf("previous(20) = %+v", prev)
	}
	if o.Previous(10) != nil || o.AllDone() {
		t.Fatal("stage 10 has no predecessor, and stage 20 is not done")
	}
}
