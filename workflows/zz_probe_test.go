package workflows_test

import (
	"testing"
	"time"

	"github.com/masscustom/orchestrator/workflows"
	"go.temporal.io/sdk/testsuite"
)

func TestProbeMinimal(t *testing.T) {
	h := newHarness(t, time.Hour)
	h.at(time.Minute, func() {
		h.env.UpdateWorkflow(workflows.UpdateApproveDesign, "a", &testsuite.TestUpdateCallback{
			OnAccept:   func() { t.Log("accepted") },
			OnReject:   func(err error) { t.Log("rejected", err) },
			OnComplete: func(r any, err error) { t.Log("complete", r, err) },
		}, approve(1))
	})
	h.at(2*time.Minute, func() {
		h.env.UpdateWorkflow(workflows.UpdateCancel, "c", &testsuite.TestUpdateCallback{
			OnComplete: func(r any, err error) { t.Log("complete", r, err) },
		}, cancelByCustomer)
	})
	h.env.ExecuteWorkflow(workflows.OrderWorkflow, h.in)
	t.Logf("completed %v err %v", h.env.IsWorkflowCompleted(), h.env.GetWorkflowError())
	t.Logf("timeline %q", h.timeline())
}
