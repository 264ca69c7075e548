package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/masscustom/orchestrator/workflows/activities"
)

// LeaseWorkflow is the settlement workflow of one lease contract.
const LeaseWorkflow = "Lease"

// QueryLease answers LeaseState.
const QueryLease = "state"

// LeaseWorkflowID is the workflow id of a contract's settlement.
func LeaseWorkflowID(contractID string) string { return "lease/" + contractID }

// LeaseInput starts (or continues) a contract's settlement.
type LeaseInput struct {
	ContractID string
	// From is where the next period starts; zero means the contract's start.
	From time.Time
	// Grace is how long after the contract's end its final period waits for
	// late usage before it is closed.
	Grace time.Duration
	// PeriodsPerRun bounds the history: after that many closes the workflow
	// continues as new.
	PeriodsPerRun int
	// Review is how long a closed period's invoice stays a DRAFT, taking late
	// usage, before it is finalized; zero finalizes at close (as every
	// contract started before drafts existed does).
	Review time.Duration
}

// LeaseState is what QueryLease answers.
type LeaseState struct {
	Period   string
	ClosesAt time.Time
	Invoices []activities.InvoiceRef
	// Draft is the invoice in review, if any.
	Draft *activities.InvoiceRef `json:",omitempty"`
}

// Lease closes each billing period of a contract on a durable timer: one
// invoice per period, until the contract ends.
func Lease(ctx workflow.Context, in LeaseInput) error {
	if in.PeriodsPerRun <= 0 {
		in.PeriodsPerRun = 24
	}
	fx := newEffects(ctx)
	sdkWay := version(ctx, ChangeHandlersAndSuggestedContinue, 1) >= 1
	// Closing a period rates all its usage: an activity, which may be long;
	// finding the next period is a short read.
	ctx = writeOptions(ctx, 2*time.Minute, time.Minute, 0)
	var st LeaseState
	if err := workflow.SetQueryHandler(ctx, QueryLease, func() (LeaseState, error) { return st, nil }); err != nil {
		return err
	}
	after := in.From
	for closed := 0; ; closed++ {
		// Continue as new every PeriodsPerRun closes, or sooner when the
		// server finds the history long.
		if closed == in.PeriodsPerRun || sdkWay && closed > 0 && workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return workflow.NewContinueAsNewError(ctx, LeaseWorkflow, LeaseInput{
				ContractID: in.ContractID, From: after, Grace: in.Grace, PeriodsPerRun: in.PeriodsPerRun, Review: in.Review,
			})
		}
		var per activities.PeriodInfo
		if err := fx.write(ctx, acts.NextPeriod, in.ContractID, after).Get(ctx, &per); err != nil {
			return err
		}
		if per.Done {
			return nil
		}
		closeAt := per.End
		if per.Last {
			closeAt = closeAt.Add(in.Grace) // the final invoice waits for stragglers
		}
		st.Period, st.ClosesAt = per.Key, closeAt
		if wait := closeAt.Sub(workflow.Now(ctx)); wait > 0 {
			if err := workflow.Sleep(ctx, wait); err != nil {
				return err
			}
		}
		var inv activities.InvoiceRef
		if in.Review > 0 {
			// A draft first: late usage is rated into it until the review
			// ends (finance may end it sooner; finalizing is idempotent).
			if err := workflow.ExecuteActivity(ctx, acts.DraftPeriod, in.ContractID, per.Start, in.Review).Get(ctx, &inv); err != nil {
				return err
			}
			st.Draft = &inv
			if err := workflow.Sleep(ctx, in.Review); err != nil {
				return err
			}
			if err := workflow.ExecuteActivity(ctx, acts.FinalizeDraft, inv.ID).Get(ctx, &inv); err != nil {
				return err
			}
			st.Draft = nil
		} else if err := workflow.ExecuteActivity(ctx, acts.ClosePeriod, in.ContractID, per.Start).Get(ctx, &inv); err != nil {
			return err
		}
		st.Invoices = append(st.Invoices, inv)
		if per.Last {
			return nil
		}
		after = per.End
	}
}
