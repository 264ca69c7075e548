package workflows

import "go.temporal.io/sdk/workflow"

// OrderAsBefore and SourcingAsBefore run Order and Sourcing as the release
// before the versioned changes (engine.go) did: every versioned branch at
// DefaultVersion and no version marker, so that a worker running the current
// code later replays their histories as those of orders started before it.
func OrderAsBefore(ctx workflow.Context, in OrderInput) error {
	return Order(workflow.WithValue(ctx, beforeKey{}, true), in)
}

// SourcingAsBefore: see OrderAsBefore.
func SourcingAsBefore(ctx workflow.Context, in SourcingInput) (SourcingResult, error) {
	return Sourcing(workflow.WithValue(ctx, beforeKey{}, true), in)
}
