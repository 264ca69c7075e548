package workflows_test

import (
	"context"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/masscustom/orchestrator/internal/platform"
	"github.com/masscustom/orchestrator/workflows"
)

// An order started on the previous release completes on this code: a worker
// runs Order and Sourcing as the release before the versioned changes did
// (no version marker, every short write an activity, holds recorded by the
// children) through placement, design, procurement and the first stage
// report; it stops, a worker of the current code takes over the same task
// queue, replays the history and carries the order to completion on the
// shape it started with.
func TestOrderStartedOnThePreviousReleaseCompletesOnThisCode(t *testing.T) {
	j := newBenchJourneyOn(t, func(w worker.Worker, p *platform.Platform) {
		w.RegisterWorkflowWithOptions(workflows.OrderAsBefore, workflow.RegisterOptions{Name: workflows.OrderWorkflow})
		w.RegisterWorkflowWithOptions(workflows.SourcingAsBefore, workflow.RegisterOptions{Name: workflows.SourcingWorkflow})
		w.RegisterWorkflowWithOptions(workflows.Lease, workflow.RegisterOptions{Name: workflows.LeaseWorkflow})
		a := p.Activities()
		w.RegisterActivity(a)
		w.RegisterActivity(a.Procurement)
	})
	handedOver := false
	j.midway = func() {
		j.stopWorker()
		w := worker.New(j.p.Temporal, j.queue, workflows.WorkerOptions(worker.Options{WorkerStopTimeout: 10 * time.Second}))
		workflows.Register(w, j.p.Activities())
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
		handedOver = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	id, err := j.order(ctx)
	if err != nil {
		t.Fatalf("journey: %v", err)
	}
	if !handedOver {
		t.Fatal("the journey never reached the hand-over")
	}
	h := history(ctx, t, j.p.Temporal, id)
	var activities, markers int
	for _, ev := range h.Events {
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			activities++
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			markers++
		}
	}
	if last := h.Events[len(h.Events)-1].GetEventType(); last != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED {
		t.Fatalf("%s ended with %s, want completed", id, last)
	}
	// The old shape to the end: every effect an activity, no version marker,
	// no local activity (each would be a marker).
	if markers != 0 || activities < 30 {
		t.Errorf("%s ran %d activities and recorded %d markers; an order of the previous release keeps its activities and records none", id, activities, markers)
	}
	if err := newFullReplayer().ReplayWorkflowHistory(testLogger(t), h); err != nil {
		t.Errorf("replay %s on this code: %v", id, err)
	}
}
