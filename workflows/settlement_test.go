package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/masscustom/orchestrator/workflows"
	"github.com/masscustom/orchestrator/workflows/activities"
)

// monthly is a calendar-month contract from January to the end of April 2026.
func monthly(after time.Time) activities.PeriodInfo {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	if after.IsZero() {
		after = start
	}
	if !after.Before(end) {
		return activities.PeriodInfo{Done: true}
	}
	ps := time.Date(after.Year(), after.Month(), 1, 0, 0, 0, 0, time.UTC)
	pe := ps.AddDate(0, 1, 0)
	return activities.PeriodInfo{Key: ps.Format("2006-01"), Start: ps, End: pe, Last: !pe.Before(end)}
}

type closeCall struct {
	period time.Time
	at     time.Time
}

// leaseTestEnv runs the lease workflow from 2026-01-01 over monthly()'s periods.
func leaseTestEnv() (*testsuite.TestWorkflowEnvironment, *activities.Activities) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	a := &activities.Activities{}
	env.RegisterWorkflowWithOptions(workflows.Lease, workflow.RegisterOptions{Name: workflows.LeaseWorkflow})
	env.RegisterActivity(a)
	env.OnActivity(a.NextPeriod, mock.Anything, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ string, after time.Time) (activities.PeriodInfo, error) {
			return monthly(after), nil
		})
	return env, a
}

func leaseEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *[]closeCall) {
	t.Helper()
	env, a := leaseTestEnv()
	var calls []closeCall
	env.OnActivity(a.ClosePeriod, mock.Anything, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ string, start time.Time) (activities.InvoiceRef, error) {
			calls = append(calls, closeCall{period: start, at: env.Now().UTC()})
			return activities.InvoiceRef{Number: int64(len(calls)), Total: "100"}, nil
		})
	return env, &calls
}

func TestLeaseClosesEveryPeriodAtItsEndAndTheLastAfterTheGrace(t *testing.T) {
	env, calls := leaseEnv(t)
	env.ExecuteWorkflow(workflows.LeaseWorkflow, workflows.LeaseInput{ContractID: "c1", Grace: 72 * time.Hour, PeriodsPerRun: 12})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("completed %v err %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	want := []closeCall{
		{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)},
	}
	if len(*calls) != len(want) {
		t.Fatalf("closed %d periods: %+v", len(*calls), *calls)
	}
	for i, c := range *calls {
		if !c.period.Equal(want[i].period) || c.at.Before(want[i].at) || c.at.After(want[i].at.Add(time.Minute)) {
			t.Fatalf("close %d = period %s at %s, want period %s at %s", i, c.period, c.at, want[i].period, want[i].at)
		}
	}
	var st workflows.LeaseState
	v, err := env.QueryWorkflow(workflows.QueryLease)
	if err != nil || v.Get(&st) != nil || len(st.Invoices) != 4 {
		t.Fatalf("state %+v, %v", st, err)
	}
}

func TestLeaseContinuesAsNewBeforeItsHistoryGrowsLarge(t *testing.T) {
	env, calls := leaseEnv(t)
	env.ExecuteWorkflow(workflows.LeaseWorkflow, workflows.LeaseInput{ContractID: "c1", PeriodsPerRun: 2})
	err := env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	if !errors.As(err, &can) {
		t.Fatalf("want continue-as-new after 2 periods, got %v", err)
	}
	if len(*calls) != 2 {
		t.Fatalf("closed %d periods before continuing", len(*calls))
	}
	var next workflows.LeaseInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if next.ContractID != "c1" || !next.From.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)) || next.PeriodsPerRun != 2 {
		t.Fatalf("continued with %+v", next)
	}
}

// With a review window each period closes into a draft at its end and is
// finalized when the review ends (here two days later); the draft is visible
// in the workflow's state meanwhile, and the window survives continue-as-new.
func TestLeaseDraftsEachPeriodAndFinalizesItAfterTheReview(t *testing.T) {
	env, a := leaseTestEnv()
	review := 48 * time.Hour
	type call struct {
		what   string
		period time.Time
		at     time.Time
	}
	var calls []call
	env.OnActivity(a.DraftPeriod, mock.Anything, mock.Anything, mock.Anything, review).Return(
		func(_ context.Context, _ string, start time.Time, _ time.Duration) (activities.InvoiceRef, error) {
			calls = append(calls, call{"draft", start, env.Now().UTC()})
			return activities.InvoiceRef{ID: start.Format("2006-01"), Status: "DRAFT"}, nil
		})
	env.OnActivity(a.FinalizeDraft, mock.Anything, mock.Anything).Return(
		func(_ context.Context, id string) (activities.InvoiceRef, error) {
			p, _ := time.Parse("2006-01", id)
			calls = append(calls, call{"finalize", p, env.Now().UTC()})
			return activities.InvoiceRef{ID: id, Status: "FINALIZED"}, nil
		})
	// Mid-review of January's invoice, the state names the draft.
	var during workflows.LeaseState
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(workflows.QueryLease)
		if err != nil || v.Get(&during) != nil {
			t.Errorf("query during review: %v", err)
		}
	}, 32*24*time.Hour)
	env.ExecuteWorkflow(workflows.LeaseWorkflow, workflows.LeaseInput{ContractID: "c1", Grace: 72 * time.Hour, PeriodsPerRun: 2, Review: review})
	var can *workflow.ContinueAsNewError
	if !errors.As(env.GetWorkflowError(), &can) {
		t.Fatalf("want continue-as-new after 2 periods, got %v", env.GetWorkflowError())
	}
	jan, feb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	mar := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	want := []call{{"draft", jan, feb}, {"finalize", jan, feb.Add(review)}, {"draft", feb, mar}, {"finalize", feb, mar.Add(review)}}
	if len(calls) != len(want) {
		t.Fatalf("calls %+v", calls)
	}
	for i, c := range calls {
		if c.what != want[i].what || !c.period.Equal(want[i].period) || c.at.Before(want[i].at) || c.at.After(want[i].at.Add(time.Minute)) {
			t.Fatalf("call %d = %+v, want %+v", i, c, want[i])
		}
	}
	if during.Draft == nil || during.Draft.ID != "2026-01" || during.Draft.Status != "DRAFT" {
		t.Fatalf("state during january's review: %+v", during)
	}
	var next workflows.LeaseInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if next.Review != review {
		t.Fatalf("continued with review %s, want %s", next.Review, review)
	}
}
