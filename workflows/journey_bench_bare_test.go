package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/masscustom/orchestrator/workflows"
)

// The baseline of BenchmarkCompletedOrders: BareJourney is a workflow with
// nothing in it but the Temporal work of an order's journey. It runs a script
// of steps that has the journey's shape (the activities of the main line, the
// updates and the activities each runs, the child workflows and their own
// steps, the timers), with activities that do nothing, so that the ratio of the
// two rates is what the platform's services and the parties' checks cost on
// top of Temporal.

// Names of the baseline's workflow, activity, update and query.
const (
	bareWorkflow = "BareJourney"
	bareActivity = "BareJourneyStep"
	bareUpdate   = "step"
	bareQuery    = "awaiting"
)

// bareStep is one step of a BareJourney script; a step does one thing.
type bareStep struct {
	// Acts is a number of local activities (the workflows' short writes) the
	// main line runs one after the other, then Remote activities.
	Acts   int
	Remote int
	// Update: the main line waits for the next update (numbered from 0 in
	// the order of the script), which runs UpdateActs local activities and
	// then UpdateRemote activities, for at most Timeout (0: no timer).
	Update       bool
	UpdateActs   int
	UpdateRemote int
	Timeout      time.Duration
	// Sleep is a timer that fires: it runs for Sleep from the end of update
	// SleepFrom-1 (SleepFrom 0: from now).
	Sleep     time.Duration
	SleepFrom int
	// Parts child BareJourneys run the input's Part script, all at once; the
	// main line waits for all of them.
	Parts int
}

// bareInput is a BareJourney's script, and its children's.
type bareInput struct {
	Steps []bareStep
	Part  []bareStep
}

// bareScript is an order's journey as BareJourney plays it, for an order of
// lines BOM lines and stages routing stages with the durations of in. Each
// number is what the order and sourcing workflows do at that point (see
// order.go, fulfilment.go and sourcing.go); the benchmark checks the totals
// against the histories of real journeys.
func bareScript(lines, stages int, in workflows.OrderInput) bareInput {
	acts := func(n int) bareStep { return bareStep{Acts: n} }
	update := func(n int, timeout time.Duration) bareStep {
		return bareStep{Update: true, UpdateActs: n, Timeout: timeout}
	}
	var s []bareStep
	s = append(s,
		acts(3),                             // placed; prepare the design, design ready
		update(1, in.DesignApprovalTimeout), // approveDesign: approved
		acts(3),                             // assign production, plan procurement, production assigned
		bareStep{Parts: lines},              // one Sourcing per BOM line
		acts(1),                             // procured
	)
	for range 2 * stages {
		s = append(s, update(2, 0)) // reportStage started or finished: report, record
	}
	s = append(s,
		update(2, 0),        // recordQA: QA, record
		bareStep{Remote: 1}, // settle leased usage (an activity)
		acts(2),             // book the shipment, shipment booked
	)
	for range 4 {
		s = append(s, update(2, 0)) // trackShipment picked up ... delivered: track, record
	}
	delivered := 1 + 2*stages + 1 + 4 // the DELIVERED update's number, from 1: approval, reports, QA, tracking
	s = append(s,
		update(2, in.AutoConfirmAfter), // confirmDelivery: confirm, record
		acts(2),                        // start the warranty, warranty started
		bareStep{Sleep: in.Warranty, SleepFrom: delivered},
		acts(2), // count open tickets, completed
	)
	part := []bareStep{
		acts(2),                    // rank the suppliers, offer
		update(1, in.OfferTimeout), // acceptOffer: accept
		update(1, 0),               // reportShipment: ship
		update(1, 0),               // confirmReceipt: receive
		acts(1),                    // close the sourcing
	}
	return bareInput{Steps: s, Part: part}
}

// localActivityMarker names the marker a local activity records.
const localActivityMarker = "LocalActivity"

// barePartID is the workflow id of a BareJourney's part'th child.
func barePartID(parent string, part int) string { return fmt.Sprintf("%s/part/%d", parent, part) }

// registerBare registers BareJourney and its activity on w.
func registerBare(w worker.Registry) {
	w.RegisterWorkflowWithOptions(bareJourney, workflow.RegisterOptions{Name: bareWorkflow})
	w.RegisterActivityWithOptions(func(context.Context) error { return nil }, activity.RegisterOptions{Name: bareActivity})
}

// bareJourney plays a script: the query answers the number of the update the
// main line waits for (-1 for none), and the update's validator refuses any
// other, as the order's validators refuse an update out of turn.
func bareJourney(ctx workflow.Context, in bareInput) error {
	// The order workflow's options for its activities.
	retry := &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second, RetryPolicy: retry})
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second, RetryPolicy: retry})
	var updateActs [][2]int
	for _, s := range in.Steps {
		if s.Update {
			updateActs = append(updateActs, [2]int{s.UpdateActs, s.UpdateRemote})
		}
	}
	awaiting, handling, done := -1, false, 0
	doneAt := make([]time.Time, len(updateActs))
	run := func(ctx workflow.Context, local, remote int) error {
		for range local {
			if err := workflow.ExecuteLocalActivity(ctx, bareActivity).Get(ctx, nil); err != nil {
				return err
			}
		}
		for range remote {
			if err := workflow.ExecuteActivity(ctx, bareActivity).Get(ctx, nil); err != nil {
				return err
			}
		}
		return nil
	}
	if err := workflow.SetQueryHandler(ctx, bareQuery, func() (int, error) { return awaiting, nil }); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, bareUpdate, func(ctx workflow.Context, k int) error {
		handling = true
		defer func() { handling = false }()
		// The options of the order's update handlers (exclusive in order.go).
		retry := &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Second, MaximumAttempts: 10}
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second, RetryPolicy: retry})
		ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second, RetryPolicy: retry})
		if err := run(ctx, updateActs[k][0], updateActs[k][1]); err != nil {
			return err
		}
		done, doneAt[k] = k+1, workflow.Now(ctx)
		return nil
	}, workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, k int) error {
		if k != awaiting || handling || done > k {
			return temporal.NewApplicationError(fmt.Sprintf("update %d out of turn (awaiting %d)", k, awaiting), workflows.ErrIllegalState)
		}
		return nil
	}}); err != nil {
		return err
	}

	k := 0
	for _, s := range in.Steps {
		if err := run(ctx, s.Acts, s.Remote); err != nil {
			return err
		}
		if s.Sleep > 0 {
			from := workflow.Now(ctx)
			if s.SleepFrom > 0 {
				from = doneAt[s.SleepFrom-1]
			}
			if d := from.Add(s.Sleep).Sub(workflow.Now(ctx)); d > 0 {
				if err := workflow.Sleep(ctx, d); err != nil {
					return err
				}
			}
		}
		if s.Parts > 0 {
			id := workflow.GetInfo(ctx).WorkflowExecution.ID
			futures := make([]workflow.ChildWorkflowFuture, s.Parts)
			for i := range futures {
				cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: barePartID(id, i)})
				futures[i] = workflow.ExecuteChildWorkflow(cctx, bareWorkflow, bareInput{Steps: in.Part})
			}
			for _, f := range futures {
				if err := f.Get(ctx, nil); err != nil {
					return err
				}
			}
		}
		if s.Update {
			awaiting = k
			arrived := func() bool { return done > k }
			if s.Timeout > 0 {
				ok, err := workflow.AwaitWithTimeout(ctx, s.Timeout, arrived)
				if err != nil {
					return err
				}
				if !ok {
					return temporal.NewNonRetryableApplicationError(fmt.Sprintf("update %d did not come within %s", k, s.Timeout), "TIMEOUT", nil)
				}
			} else if err := workflow.Await(ctx, arrived); err != nil {
				return err
			}
			awaiting = -1
			k++
		}
	}
	return nil
}

// bareDriver plays the parties of a BareJourney the way benchJourney plays
// an order's: it waits (polling the query) only where the order's parties
// poll, that is for an update that follows work of the main line; an update
// that follows another is sent as soon as that one completed.
type bareDriver struct {
	c       client.Client
	queue   string
	in      bareInput
	poll    time.Duration
	prefix  string
	started atomic.Int64 // numbers the workflows
}

// run starts one BareJourney, drives it to its end and returns its id. On
// failure the workflow is terminated (its children with it).
func (d *bareDriver) run(ctx context.Context) (id string, err error) {
	id = fmt.Sprintf("%s%d", d.prefix, d.started.Add(1))
	wf, err := d.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                    id,
		TaskQueue:             d.queue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, bareWorkflow, d.in)
	if err != nil {
		return id, fmt.Errorf("start %s: %w", id, err)
	}
	defer func() {
		if err != nil {
			err = terminateAfter(d.c, id, err)
		}
	}()
	if err := d.drive(ctx, id, d.in.Steps); err != nil {
		return id, err
	}
	if err := wf.Get(ctx, nil); err != nil {
		return id, fmt.Errorf("%s did not complete: %w", id, err)
	}
	return id, nil
}

// drive sends the updates of one workflow's script, and its children's.
func (d *bareDriver) drive(ctx context.Context, id string, steps []bareStep) error {
	k := 0
	for i, s := range steps {
		for p := range s.Parts {
			if err := d.drive(ctx, barePartID(id, p), d.in.Part); err != nil {
				return err
			}
		}
		if !s.Update {
			continue
		}
		if i == 0 || !steps[i-1].Update {
			if err := benchPoll(ctx, d.poll, fmt.Sprintf("%s awaits update %d", id, k), func() (bool, error) {
				v, err := d.c.QueryWorkflow(ctx, id, "", bareQuery)
				var notYet *serviceerror.NotFound // a child not started yet
				if errors.As(err, &notYet) {
					return false, nil
				}
				var awaiting int
				if err == nil {
					err = v.Get(&awaiting)
				}
				return awaiting == k, err
			}); err != nil {
				return err
			}
		}
		if err := timed(bareUpdate, func() error {
			h, err := d.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
				WorkflowID: id, UpdateName: bareUpdate, Args: []any{k}, WaitForStage: client.WorkflowUpdateStageCompleted,
			})
			if err == nil {
				err = h.Get(ctx, nil)
			}
			return err
		}); err != nil {
			return err
		}
		k++
	}
	return nil
}

// terminateAfter terminates workflow id, which failed with err, so that it
// is not left running on the shared server, and returns err.
func terminateAfter(c client.Client, id string, err error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var gone *serviceerror.NotFound
	if terr := c.TerminateWorkflow(ctx, id, "", "benchmark failed"); terr != nil && !errors.As(terr, &gone) {
		return fmt.Errorf("%w (and terminating %s: %v)", err, id, terr)
	}
	return err
}

// benchCounts is the Temporal work of one workflow and its children, read
// from their histories.
type benchCounts struct {
	Activities int // activity tasks scheduled (dispatched by the server)
	Local      int // local activities (run inside workflow tasks)
	Tasks      int // workflow tasks completed
	Updates    int // updates accepted
	Children   int // child workflows started
	Timers     int // timers started (fired or cancelled)
	Retries    int // activity attempts after the first of each
}

func (c *benchCounts) add(o benchCounts) {
	c.Activities += o.Activities
	c.Local += o.Local
	c.Tasks += o.Tasks
	c.Updates += o.Updates
	c.Children += o.Children
	c.Timers += o.Timers
	c.Retries += o.Retries
}

// same reports whether two journeys did the same Temporal work. Timers,
// retries and workflow tasks aside (how many tasks a run takes depends on
// what arrives while one runs): the warranty's timer is not started when the warranty has
// ended already (the order's serve, BareJourney's Sleep), which a loaded
// machine can make happen.
func (c benchCounts) same(o benchCounts) bool {
	return c.Activities == o.Activities && c.Local == o.Local && c.Updates == o.Updates && c.Children == o.Children
}

// countHistory counts the work in the history of workflow id and of its
// children, recursively.
func countHistory(ctx context.Context, c client.Client, id string) (benchCounts, error) {
	var n benchCounts
	var children []string
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return n, fmt.Errorf("history of %s: %w", id, err)
		}
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			n.Activities++
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			if e.GetMarkerRecordedEventAttributes().GetMarkerName() == localActivityMarker {
				n.Local++
			}
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			n.Tasks++
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			// Only the last attempt's start is recorded, with its number.
			n.Retries += int(max(0, e.GetActivityTaskStartedEventAttributes().GetAttempt()-1))
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			n.Updates++
		case enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
			n.Children++
		case enumspb.EVENT_TYPE_TIMER_STARTED:
			n.Timers++
		case enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
			children = append(children, e.GetChildWorkflowExecutionStartedEventAttributes().GetWorkflowExecution().GetWorkflowId())
		}
	}
	for _, child := range children {
		cn, err := countHistory(ctx, c, child)
		if err != nil {
			return n, err
		}
		n.add(cn)
	}
	return n, nil
}
