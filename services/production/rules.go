package production

import (
	"bytes"
	"slices"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/catalog"
)

// Candidate is a factory considered for a routing: its capacity (minutes per
// day) and its open load (planned minutes of stage rounds not yet done in its
// ASSIGNED and IN_PROGRESS production orders), per work-centre kind.
type Candidate struct {
	FactoryID uuid.UUID
	Capacity  map[catalog.WorkCentreKind]decimal.Decimal
	Load      map[catalog.WorkCentreKind]decimal.Decimal
}

// Headroom is what the candidate has left of a day's capacity after its open
// load and the routing's need, at its tightest work centre:
// min over the routing's kinds of (capacity − load − need). It is negative when
// the factory is already booked beyond a day at some work centre. ok is false
// when the factory lacks one of the kinds.
func Headroom(c Candidate, need map[catalog.WorkCentreKind]decimal.Decimal) (h decimal.Decimal, ok bool) {
	first := true
	for _, k := range sortedKinds(need) {
		capacity, has := c.Capacity[k]
		if !has {
			return decimal.Zero, false
		}
		free := capacity.Sub(c.Load[k]).Sub(need[k])
		if first || free.LessThan(h) {
			h, first = free, false
		}
	}
	return h, !first
}

// Choose picks the factory for a routing whose need is given in planned
// minutes per work-centre kind: among the candidates that run every kind, the
// one with the most headroom (Headroom); ties go to the smallest factory id, so
// the choice is deterministic. ok is false when no candidate runs every kind.
func Choose(cands []Candidate, need map[catalog.WorkCentreKind]decimal.Decimal) (id uuid.UUID, headroom decimal.Decimal, ok bool) {
	for _, c := range cands {
		h, capable := Headroom(c, need)
		if !capable {
			continue
		}
		if !ok || h.GreaterThan(headroom) || (h.Equal(headroom) && bytes.Compare(c.FactoryID[:], id[:]) < 0) {
			id, headroom, ok = c.FactoryID, h, true
		}
	}
	return id, headroom, ok
}

func sortedKinds(m map[catalog.WorkCentreKind]decimal.Decimal) []catalog.WorkCentreKind {
	out := make([]catalog.WorkCentreKind, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Need sums planned minutes (MinutesPerUnit × quantity) per work-centre kind.
func Need(stages []catalog.Stage, quantity int) map[catalog.WorkCentreKind]decimal.Decimal {
	q := decimal.NewFromInt(int64(quantity))
	out := map[catalog.WorkCentreKind]decimal.Decimal{}
	for _, s := range stages {
		out[s.WorkCentreKind] = out[s.WorkCentreKind].Add(s.MinutesPerUnit.Mul(q))
	}
	return out
}

// Rework actions: what follows a finished stage round.
const (
	// ActionNone: scrap within tolerance, or nothing missing; the next stage
	// gets the good units.
	ActionNone = "NONE"
	// ActionRework: the stage runs again in a new round for the missing quantity.
	ActionRework = "REWORK"
	// ActionReprocure: as rework, but the stage is the first of the routing,
	// where the raw material is consumed, so the lost material must be bought
	// again before the new round starts.
	ActionReprocure = "REPROCURE"
	// ActionEscalate: the scrap exceeds the tolerance again after
	// MaxReworkRounds rounds; no further round is made, production goes on with
	// what is good and the operator decides.
	ActionEscalate = "ESCALATE"
)

// MaxReworkRounds bounds the rework rounds of one stage.
const MaxReworkRounds = 3

// Outcome is a finished stage round, as the rework rule sees it.
type Outcome struct {
	Target     int             // the units that entered the stage's first round (the order quantity at the first stage)
	Tolerance  decimal.Decimal // the template's scrap tolerance, a fraction
	FirstStage bool            // the round belongs to the routing's first stage
	Round      int             // the round just finished
	Entering   int             // the units that entered the round
	Good       int
	Scrap      int
	GoodSoFar  int // the stage's good units over all its rounds, this one included
}

// Decision is what the rework rule decided about a finished round.
type Decision struct {
	// Exceeded is true when scrap / entering > tolerance.
	Exceeded bool `json:"exceeded"`
	// ScrapRate is scrap / entering, to 4 decimals (0 when nothing entered).
	ScrapRate decimal.Decimal `json:"scrapRate"`
	Action    string          `json:"action"`
	// Round and Quantity describe the new round, for REWORK and REPROCURE.
	Round    int `json:"round,omitempty"`
	Quantity int `json:"quantity,omitempty"`
}

// Decide applies the rework rule to a finished stage round:
//
//   - the scrap exceeds the tolerance when scrap > tolerance × entering
//     (exactly, in decimals). Within the tolerance the loss is accepted and the
//     next stage gets the good units (ActionNone).
//   - beyond it, the missing quantity is what entered the stage's first round
//     less the stage's good units over all its rounds: a rework round makes up
//     what this stage lost, not what earlier stages lost within their
//     tolerance. With nothing missing, ActionNone.
//   - otherwise, unless MaxReworkRounds rounds of the stage were already made
//     (ActionEscalate), the stage gets round+1 for the missing quantity:
//     ActionReprocure for the routing's first stage (its material is lost and
//     is bought again), ActionRework for later stages.
//
// The stage after waits for the new round: it starts only after the newest
// round of its predecessor is done, with the predecessor's good units over all
// rounds.
func Decide(o Outcome) Decision {
	d := Decision{Action: ActionNone, ScrapRate: decimal.Zero}
	if o.Entering > 0 {
		d.ScrapRate = decimal.NewFromInt(int64(o.Scrap)).Div(decimal.NewFromInt(int64(o.Entering))).Round(4)
	}
	d.Exceeded = decimal.NewFromInt(int64(o.Scrap)).GreaterThan(o.Tolerance.Mul(decimal.NewFromInt(int64(o.Entering))))
	if !d.Exceeded {
		return d
	}
	missing := o.Target - o.GoodSoFar
	if missing <= 0 {
		return d
	}
	if o.Round >= MaxReworkRounds {
		d.Action = ActionEscalate
		return d
	}
	d.Action, d.Round, d.Quantity = ActionRework, o.Round+1, missing
	if o.FirstStage {
		d.Action = ActionReprocure
	}
	return d
}

// Progress is how far production is, for the customer.
type Progress struct {
	// Percent is done planned minutes / all planned minutes × 100, to one
	// decimal (half away from zero). Rework rounds add their planned minutes to
	// both sides, so rework shows as progress lost. With no planned minutes at
	// all it counts rounds instead.
	Percent        decimal.Decimal `json:"percent"`
	DoneMinutes    decimal.Decimal `json:"doneMinutes"`
	PlannedMinutes decimal.Decimal `json:"plannedMinutes"`
	StagesDone     int             `json:"stagesDone"`
	StagesTotal    int             `json:"stagesTotal"`
	// Current is the first round not done, or nil when all are.
	Current *Stage  `json:"current,omitempty"`
	Stages  []Stage `json:"stages"`
}

// ComputeProgress computes progress over stage rounds given by seq then round.
func ComputeProgress(stages []Stage) Progress {
	p := Progress{DoneMinutes: decimal.Zero, PlannedMinutes: decimal.Zero, Stages: stages}
	doneRounds := 0
	latest := map[int]string{}
	var order []int
	for i, s := range stages {
		p.PlannedMinutes = p.PlannedMinutes.Add(s.PlannedMinutes)
		if s.Status == StageDone {
			p.DoneMinutes = p.DoneMinutes.Add(s.PlannedMinutes)
			doneRounds++
		} else if p.Current == nil {
			p.Current = &stages[i]
		}
		if _, seen := latest[s.Seq]; !seen {
			order = append(order, s.Seq)
		}
		latest[s.Seq] = s.Status
	}
	p.StagesTotal = len(order)
	for _, q := range order {
		if latest[q] == StageDone {
			p.StagesDone++
		}
	}
	hundred := decimal.NewFromInt(100)
	switch {
	case p.PlannedMinutes.IsPositive():
		p.Percent = p.DoneMinutes.Mul(hundred).Div(p.PlannedMinutes).Round(1)
	case len(stages) > 0:
		p.Percent = decimal.NewFromInt(int64(doneRounds)).Mul(hundred).Div(decimal.NewFromInt(int64(len(stages)))).Round(1)
	default:
		p.Percent = decimal.Zero
	}
	return p
}

// workCentreKinds are the kinds a factory may declare (catalog's set).
var workCentreKinds = map[catalog.WorkCentreKind]bool{
	catalog.WorkCentreCutting: true, catalog.WorkCentreCNCLathe: true, catalog.WorkCentreCNCMill: true,
	catalog.WorkCentreDrilling: true, catalog.WorkCentreHeatTreat: true, catalog.WorkCentreCoating: true,
	catalog.WorkCentrePaint: true, catalog.WorkCentreInjectionMold: true, catalog.WorkCentreBrazing: true,
	catalog.WorkCentreEngraving: true, catalog.WorkCentreAssembly: true, catalog.WorkCentreTest: true,
	catalog.WorkCentreQA: true, catalog.WorkCentrePacking: true,
}
