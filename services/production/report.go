package production

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/genealogy"
	"github.com/masscustom/orchestrator/services/identity"
	input "github.com/masscustom/orchestrator/services/validate"
)

// command runs fn on the production order locked for update, in one
// transaction, after checking that p may see it (else NOT_FOUND) and report on
// it (else FORBIDDEN). A coded refusal from fn rolls everything back. It
// returns the production order as committed.
func (s *Service) command(ctx context.Context, p *identity.Principal, id uuid.UUID, fn func(tx pgx.Tx, o *Order) error) (*Order, error) {
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		o, err := fetch(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if p != nil {
			if !canRead(p, o) {
				return errs.ErrNotFound
			}
			if !canReport(p, o) {
				return errs.New(errs.Forbidden, nil, "only the assigned factory's admins and members (or the operator) may report on this production order")
			}
		}
		return fn(tx, o)
	})
	if err != nil {
		if _, ok := errs.As(err); ok {
			return nil, err
		}
		return nil, fmt.Errorf("production order %s: %w", id, err)
	}
	s.invalidate(ctx, id)
	// Read the committed state from Postgres, not through the cache, which a
	// concurrent reader may have just refilled with the state before.
	return fetch(ctx, s.db, id, false)
}

// invalidate drops the cached production order; best effort, Postgres has the truth.
func (s *Service) invalidate(ctx context.Context, id uuid.UUID) {
	if err := s.cache.Invalidate(ctx, cacheKey(id)); err != nil {
		slog.WarnContext(ctx, "production cache invalidation failed", "production_order_id", id, "err", err)
	}
}

// open refuses reports on a production order that no longer takes them.
func open(o *Order) error {
	if o.Status == StatusAssigned || o.Status == StatusInProgress {
		return nil
	}
	return errs.New(errs.IllegalState, nil, "the production order is %s and takes no stage reports", o.Status)
}

func seqPath() []string { return []string{"input", "seq"} }

// StartStage records that the factory started the current round of stage seq.
// The stage before must be done (its newest round); starting a started round
// again changes nothing. The first start moves the production order to
// IN_PROGRESS. The quantity entering round 0 of a later stage is the good
// output of the stage before, over all its rounds.
func (s *Service) StartStage(ctx context.Context, p *identity.Principal, id uuid.UUID, seq int) (*Order, error) {
	if p == nil {
		return nil, unauthenticated()
	}
	return s.command(ctx, p, id, func(tx pgx.Tx, o *Order) error {
		if err := o.CheckStart(seq); err != nil {
			return err
		}
		cur, prev := o.Latest(seq), o.Previous(seq)
		if cur.Status == StageStarted {
			return nil // a repeated report
		}
		input := cur.InputQuantity
		if input == nil {
			n := o.Quantity
			if prev != nil {
				n = o.GoodOut(prev.Seq, prev.Round)
			}
			input = &n
		}
		if _, err := tx.Exec(ctx, `UPDATE production_stages SET status = $4, started_at = now(), started_by = $5, input_quantity = $6
			WHERE production_order_id = $1 AND seq = $2 AND rework_round = $3`, id, seq, cur.Round, StageStarted, identity.ActorID(p), *input); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE production_orders SET status = $2, updated_at = now() WHERE id = $1`, id, StatusInProgress)
		return err
	})
}

// StageReport is the answer to a finished stage round.
type StageReport struct {
	Order *Order `json:"order"`
	// Stage is the round just finished.
	Stage Stage `json:"stage"`
	// Decision is the rework rule's verdict (Decide); for REWORK and REPROCURE
	// the new round is already in Order.Stages, PENDING.
	Decision Decision `json:"decision"`
}

// FinishStage records that the factory finished the started round of stage seq
// with good and scrap units (good + scrap ≤ the units that entered; the rest
// counts as missing). It applies the rework rule (Decide): scrap beyond the
// tolerance adds a new round of the stage for the missing quantity. When the
// newest round of every stage is done, the production order moves to QA.
//
// Reporting the same quantities again for the round just finished (while the
// round it caused, if any, has not started) changes nothing and returns the
// same decision.
func (s *Service) FinishStage(ctx context.Context, p *identity.Principal, id uuid.UUID, seq, good, scrap int) (*StageReport, error) {
	if p == nil {
		return nil, unauthenticated()
	}
	var report StageReport
	o, err := s.command(ctx, p, id, func(tx pgx.Tx, o *Order) error {
		done, err := o.CheckFinish(seq, good, scrap)
		if err != nil {
			return err
		}
		if done != nil {
			report = StageReport{Stage: *done, Decision: Decide(o.outcome(done))}
			return nil // a repeated report
		}
		rounds := o.Rounds(seq)
		cur := rounds[len(rounds)-1]
		if _, err := tx.Exec(ctx, `UPDATE production_stages SET status = $4, finished_at = now(), finished_by = $5, good_quantity = $6, scrap_quantity = $7
			WHERE production_order_id = $1 AND seq = $2 AND rework_round = $3`, id, seq, cur.Round, StageDone, identity.ActorID(p), good, scrap); err != nil {
			return err
		}
		cur.Status, cur.GoodQuantity, cur.ScrapQuantity = StageDone, &good, &scrap
		d := Decide(o.outcome(cur))
		if err := s.Genealogy.StageFinished(ctx, tx, genealogy.StageReport{ProductionOrderID: o.ID, OrderID: o.OrderID, FactoryID: o.FactoryID,
			Seq: seq, Round: cur.Round, Code: cur.Code, WorkCentreKind: string(cur.WorkCentreKind), Input: deref(cur.InputQuantity),
			Good: good, Scrap: scrap, First: seq == o.Seqs()[0], PrevSeq: prevSeq(o.Seqs(), seq), Reprocured: cur.Reason == ReasonReprocure, Reworked: d.Action == ActionRework,
			At: time.Now().UTC()}); err != nil {
			return err
		}
		report = StageReport{Stage: *cur, Decision: d}
		if d.Action == ActionRework || d.Action == ActionReprocure {
			if _, err := tx.Exec(ctx, `INSERT INTO production_stages (production_order_id, seq, rework_round, code, name, work_centre_kind,
				minutes_per_unit, planned_minutes, reason, status, input_quantity) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`,
				id, seq, d.Round, cur.Code, cur.Name, cur.WorkCentreKind, cur.MinutesPerUnit, cur.MinutesPerUnit.Mul(decimal.NewFromInt(int64(d.Quantity))),
				d.Action, StagePending, d.Quantity); err != nil {
				return err
			}
			return touch(ctx, tx, id, StatusInProgress)
		}
		if o.AllDone() {
			return touch(ctx, tx, id, StatusQA)
		}
		return touch(ctx, tx, id, StatusInProgress)
	})
	if err != nil {
		return nil, err
	}
	report.Order = o
	for _, st := range o.Stages {
		if st.Seq == report.Stage.Seq && st.Round == report.Stage.Round {
			report.Stage = st // as committed
		}
	}
	return &report, nil
}

// prevSeq is the stage before seq in the routing, 0 for the first.
func prevSeq(seqs []int, seq int) int {
	prev := 0
	for _, s := range seqs {
		if s == seq {
			return prev
		}
		prev = s
	}
	return prev
}

func touch(ctx context.Context, tx pgx.Tx, id uuid.UUID, status string) error {
	_, err := tx.Exec(ctx, `UPDATE production_orders SET status = $2, updated_at = now() WHERE id = $1`, id, status)
	return err
}

// CheckStart refuses a start of stage seq that the production order does not
// take now: a stage not in the routing, a closed production order, a stage
// finished already or whose stage before is not. Starting a started round
// again is a repeat, and not refused. StartStage applies it; the order's
// workflow applies it in its update validator, on its copy of the order.
func (o *Order) CheckStart(seq int) error {
	cur := o.Latest(seq)
	if cur == nil {
		return errs.Invalid(seqPath(), "the routing has no stage %d", seq)
	}
	if cur.Status == StageStarted {
		return nil
	}
	if err := open(o); err != nil {
		return err
	}
	if cur.Status == StageDone {
		return errs.New(errs.IllegalState, seqPath(), "stage %d (%s) is already finished", seq, cur.Code)
	}
	if prev := o.Previous(seq); prev != nil && prev.Status != StageDone {
		return errs.New(errs.IllegalState, seqPath(), "stage %d (%s) starts after stage %d (%s) is finished", seq, cur.Code, prev.Seq, prev.Code)
	}
	return nil
}

// CheckFinish refuses a finish of the started round of stage seq with good
// and scrap units that the production order does not take now; for the same
// quantities reported again for the round just finished it returns that
// round (a repeat). FinishStage applies it, and the order's workflow in its
// update validator.
func (o *Order) CheckFinish(seq, good, scrap int) (repeat *Stage, err error) {
	var problems errs.List
	if good < 0 {
		problems = append(problems, errs.Invalid([]string{"input", "goodQuantity"}, "good quantity must not be negative"))
	}
	if scrap < 0 {
		problems = append(problems, errs.Invalid([]string{"input", "scrapQuantity"}, "scrap quantity must not be negative"))
	}
	if len(problems) > 0 {
		return nil, problems
	}
	rounds := o.Rounds(seq)
	if len(rounds) == 0 {
		return nil, errs.Invalid(seqPath(), "the routing has no stage %d", seq)
	}
	cur := rounds[len(rounds)-1]
	if done := lastDone(rounds); done != nil && done.GoodQuantity != nil && done.ScrapQuantity != nil &&
		*done.GoodQuantity == good && *done.ScrapQuantity == scrap &&
		(done == cur || (cur.Status == StagePending && cur.Round == done.Round+1)) {
		return done, nil
	}
	if err := open(o); err != nil {
		return nil, err
	}
	switch cur.Status {
	case StageDone:
		return nil, errs.New(errs.IllegalState, seqPath(), "stage %d (%s) is already finished with %d good and %d scrap", seq, cur.Code, deref(cur.GoodQuantity), deref(cur.ScrapQuantity))
	case StagePending:
		what := fmt.Sprintf("stage %d (%s)", seq, cur.Code)
		if cur.Round > 0 {
			what = fmt.Sprintf("rework round %d of stage %d (%s)", cur.Round, seq, cur.Code)
		}
		return nil, errs.New(errs.IllegalState, seqPath(), "%s is not started", what)
	}
	if entering := deref(cur.InputQuantity); good+scrap > entering {
		return nil, errs.Invalid([]string{"input", "goodQuantity"}, "%d good and %d scrap exceed the %d units that entered stage %d (%s)", good, scrap, entering, seq, cur.Code)
	}
	return nil, nil
}

// CheckQA refuses a QA verdict the production order does not take now: one
// before the newest round of every stage is finished, or one that differs
// from the verdict recorded. The same verdict again is a repeat (true).
func (o *Order) CheckQA(passed bool) (repeat bool, err error) {
	if o.QA != nil {
		if o.QA.Passed == passed {
			return true, nil
		}
		return false, errs.New(errs.IllegalState, []string{"input", "passed"}, "QA is already recorded as %s", o.Status)
	}
	if o.Status != StatusQA {
		if err := open(o); err != nil {
			return false, err
		}
		for _, q := range o.Seqs() {
			if st := o.Latest(q); st.Status != StageDone {
				return false, errs.New(errs.IllegalState, nil, "QA follows the last stage; stage %d (%s) is not finished", st.Seq, st.Code)
			}
		}
	}
	return false, nil
}

// ValidateQANotes trims a QA verdict's notes and refuses ones too long, or
// none for a failed inspection.
func ValidateQANotes(passed bool, notes string) (string, error) {
	notes = strings.TrimSpace(notes)
	if e := input.Text([]string{"input", "notes"}, notes, input.Note); e != nil {
		return "", e
	}
	if n := utf8.RuneCountInString(notes); n > 2000 {
		return "", errs.Invalid([]string{"input", "notes"}, "notes are at most 2000 characters")
	} else if n == 0 && !passed {
		return "", errs.Invalid([]string{"input", "notes"}, "a failed inspection says why")
	}
	return notes, nil
}

// CanReport reports whether p may report on a production order of factory:
// the operator, or the factory's admins and members.
func CanReport(p *identity.Principal, factory uuid.UUID) bool {
	return canReport(p, &Order{FactoryID: factory})
}

// Checkable is the part of the order that CheckStart, CheckFinish and
// CheckQA read, for the order's workflow to keep as its copy.
func (o *Order) Checkable() *Order {
	c := &Order{ID: o.ID, FactoryID: o.FactoryID, Status: o.Status, Quantity: o.Quantity, ScrapTolerance: o.ScrapTolerance, QA: o.QA}
	for _, st := range o.Stages {
		c.Stages = append(c.Stages, Stage{Seq: st.Seq, Round: st.Round, Code: st.Code, Status: st.Status,
			InputQuantity: st.InputQuantity, GoodQuantity: st.GoodQuantity, ScrapQuantity: st.ScrapQuantity})
	}
	if c.QA != nil {
		c.QA = &QAResult{Passed: c.QA.Passed}
	}
	return c
}

func deref(n *int) int {
	if n == nil {
		return 0
	}
	return *n
}

// lastDone returns the newest finished round, or nil.
func lastDone(rounds []*Stage) *Stage {
	for i := len(rounds) - 1; i >= 0; i-- {
		if rounds[i].Status == StageDone {
			return rounds[i]
		}
	}
	return nil
}

// outcome describes a finished round for the rework rule.
func (o *Order) outcome(r *Stage) Outcome {
	seqs := o.Seqs()
	target := o.Quantity
	if first := o.Rounds(r.Seq)[0]; first.InputQuantity != nil {
		target = *first.InputQuantity
	}
	return Outcome{
		Target: target, Tolerance: o.ScrapTolerance, FirstStage: len(seqs) > 0 && seqs[0] == r.Seq, Round: r.Round,
		Entering: *r.InputQuantity, Good: *r.GoodQuantity, Scrap: *r.ScrapQuantity, GoodSoFar: o.GoodOut(r.Seq, r.Round),
	}
}

// RecordQA records the verdict that closes production: PASSED or FAILED. It
// comes after the newest round of every stage is done (status QA); a failed
// verdict says why (notes). Recording the same verdict again changes nothing;
// a different one is refused.
func (s *Service) RecordQA(ctx context.Context, p *identity.Principal, id uuid.UUID, passed bool, notes string) (*Order, error) {
	if p == nil {
		return nil, unauthenticated()
	}
	notes, err := ValidateQANotes(passed, notes)
	if err != nil {
		return nil, err
	}
	return s.command(ctx, p, id, func(tx pgx.Tx, o *Order) error {
		if repeat, err := o.CheckQA(passed); err != nil || repeat {
			return err
		}
		seqs := o.Seqs()
		last := o.Latest(seqs[len(seqs)-1])
		if _, err := tx.Exec(ctx, `INSERT INTO qa_results (production_order_id, passed, notes, quantity, recorded_by) VALUES ($1,$2,$3,$4,$5)`,
			id, passed, notes, o.GoodOut(last.Seq, last.Round), identity.ActorID(p)); err != nil {
			return err
		}
		if err := s.Genealogy.Inspected(ctx, tx, genealogy.Inspection{ProductionOrderID: o.ID, OrderID: o.OrderID, FactoryID: o.FactoryID,
			Passed: passed, At: time.Now().UTC()}); err != nil {
			return err
		}
		status := StatusFailed
		if passed {
			status = StatusPassed
		}
		return touch(ctx, tx, id, status)
	})
}

// Cancel cancels a production order that is not closed (the order's
// cancellation compensates with it); cancelling again changes nothing. A
// PASSED or FAILED production order is not cancelled (ILLEGAL_STATE); an order
// that never reached production has none (NOT_FOUND: nothing to cancel).
func (s *Service) Cancel(ctx context.Context, id uuid.UUID, key string) (*Order, error) {
	return s.command(ctx, nil, id, func(tx pgx.Tx, o *Order) error {
		switch o.Status {
		case StatusCancelled:
			return nil
		case StatusPassed, StatusFailed:
			return errs.New(errs.IllegalState, nil, "the production order is closed (%s)", o.Status)
		}
		_, err := tx.Exec(ctx, `UPDATE production_orders SET status = $2, cancel_key = $3, updated_at = now() WHERE id = $1`, id, StatusCancelled, key)
		return err
	})
}
