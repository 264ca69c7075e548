package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/masscustom/orchestrator/workflows/activities"
)

// WorkerOptions adds to o what every worker of these workflows needs: the
// activities' interceptor (refusals are never retried, and logged at INFO).
func WorkerOptions(o worker.Options) worker.Options {
	o.Interceptors = append(o.Interceptors, activities.Interceptor())
	return o
}

// Register registers the workflows and activities on a worker.
func Register(w worker.Registry, a *activities.Activities) {
	w.RegisterWorkflowWithOptions(Order, workflow.RegisterOptions{Name: OrderWorkflow})
	w.RegisterWorkflowWithOptions(Lease, workflow.RegisterOptions{Name: LeaseWorkflow})
	w.RegisterWorkflowWithOptions(Sourcing, workflow.RegisterOptions{Name: SourcingWorkflow})
	w.RegisterActivity(a)
	if a.Procurement != nil {
		w.RegisterActivity(a.Procurement)
	}
}
