package workflows_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/workflows"
	"github.com/masscustom/orchestrator/workflows/activities"
	"github.com/masscustom/orchestrator/workflows/refusal"
)

// goldenHistory is a real history of the order workflow (a refused change, a
// change, a stale and a current approval, the factory assigned and two
// Sourcing children started, a cancellation that cancels them, stops
// production and compensates), recorded from a Temporal dev server by
// TestOrderOnDevServer_HistoryReplays.
var goldenHistory = filepath.Join("testdata", "order_history.json")

var updateGolden = flag.Bool("update-golden", false, "rewrite "+goldenHistory+" from a run on the dev server at TEMPORAL_ADDRESS")

func newReplayer(t *testing.T) worker.WorkflowReplayer {
	t.Helper()
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(workflows.Order, workflow.RegisterOptions{Name: workflows.OrderWorkflow})
	return r
}

// An incompatible change to the workflow code (commands added, removed or
// reordered for the same history) fails here, without a server. When the
// change is meant to be incompatible and no order in production runs the old
// code, record the history again: UPDATE_GOLDEN=1 with the test stack up
// (see TestOrderOnDevServer_HistoryReplays).
func TestReplayRecordedHistory(t *testing.T) {
	t.Parallel()
	if err := newReplayer(t).ReplayWorkflowHistoryFromJSONFile(testLogger(t), goldenHistory); err != nil {
		t.Fatalf("replay %s: %v", goldenHistory, err)
	}
}

// stubActivities stands in for activities.Activities on the dev server, under
// the same activity names, without Postgres.
type stubActivities struct {
	mu      sync.Mutex
	seq     int64
	version int
}

func (s *stubActivities) next() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return s.seq
}

func (s *stubActivities) Record(_ context.Context, _ activities.Transition) (int64, error) {
	return s.next(), nil
}

func (s *stubActivities) PrepareDesign(_ context.Context, _ string) (activities.Design, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return activities.Design{ConfigVersion: s.version, Materials: 4, Stages: 3}, nil
}

// ApplyDesignChange refuses the choice "plaid", as the catalog refuses an
// option it does not offer.
func (s *stubActivities) ApplyDesignChange(_ context.Context, c activities.Change) (activities.ChangeResult, error) {
	for _, sel := range c.Selections {
		if sel.Choice == "plaid" {
			return activities.ChangeResult{}, refusal.Violations([]catalog.Violation{{Code: "UNKNOWN_CHOICE", Path: []string{"selections", "0"}, Message: "color plaid is not offered"}})
		}
	}
	seq := s.next()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version++
	return activities.ChangeResult{ConfigVersion: s.version, Seq: seq}, nil
}

func (s *stubActivities) Compensate(_ context.Context, _ activities.Compensation) (int64, error) {
	return s.next(), nil
}

func (s *stubActivities) AssignProduction(_ context.Context, _ string) (activities.Production, error) {
	return activities.Production{ID: productionOrder, FactoryID: assignedFactory, Stages: 3, Quantity: 2}, nil
}

func (s *stubActivities) PlanProcurement(_ context.Context, _ string) ([]activities.MaterialLine, error) {
	return []activities.MaterialLine{
		{Line: 1, Material: "steel-sheet-1.2mm", Unit: "kg", Quantity: decimal.RequireFromString("4")},
		{Line: 2, Material: "powder-coat-red", Unit: "kg", Quantity: decimal.RequireFromString("0.5")},
	}, nil
}

func (s *stubActivities) CancelProduction(_ context.Context, _ string) error { return nil }

// stubSourcing stands in for the Sourcing child on the dev server: like a
// line waiting for its suppliers, it runs until the order cancels it.
func stubSourcing(ctx workflow.Context, _ workflows.SourcingInput) (workflows.SourcingResult, error) {
	err := workflow.Await(ctx, func() bool { return false })
	return workflows.SourcingResult{}, err
}

// The order workflow on a real Temporal server: updates go through the
// frontend, the history that results replays against the code, and with
// -update-golden (or UPDATE_GOLDEN=1) it becomes the golden history.
// Runs where TEMPORAL_ADDRESS is set (`make test`); skipped elsewhere unless
// ORCH_REQUIRE_STACK=1.
func TestOrderOnDevServer_HistoryReplays(t *testing.T) {
	addr := os.Getenv("TEMPORAL_ADDRESS")
	if addr == "" {
		if os.Getenv("ORCH_REQUIRE_STACK") == "1" {
			t.Fatal("TEMPORAL_ADDRESS is unset but ORCH_REQUIRE_STACK=1")
		}
		t.Skip("no Temporal server: TEMPORAL_ADDRESS is unset (`make test` sets it)")
	}
	namespace := os.Getenv("TEMPORAL_NAMESPACE")
	if namespace == "" {
		namespace = "default"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	c, err := client.Dial(client.Options{HostPort: addr, Namespace: namespace, Identity: "orders-replay-test", Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()

	suffix := randomHex(t)
	taskQueue := "orders-replay-test-" + suffix
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(workflows.Order, workflow.RegisterOptions{Name: workflows.OrderWorkflow})
	w.RegisterWorkflowWithOptions(stubSourcing, workflow.RegisterOptions{Name: workflows.SourcingWorkflow})
	stub := &stubActivities{version: 1}
	for name, fn := range map[string]any{
		"Record":            stub.Record,
		"PrepareDesign":     stub.PrepareDesign,
		"ApplyDesignChange": stub.ApplyDesignChange,
		"Compensate":        stub.Compensate,
		"AssignProduction":  stub.AssignProduction,
		"PlanProcurement":   stub.PlanProcurement,
		"CancelProduction":  stub.CancelProduction,
	} {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	if err := w.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	defer w.Stop()

	orderID := "5b0e7a52-3c1d-4b8e-9f4a-" + suffix + "00"
	id := workflows.OrderWorkflowID(orderID)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: taskQueue},
		workflows.OrderWorkflow, workflows.OrderInput{OrderID: orderID, DesignApprovalTimeout: time.Hour})
	if err != nil {
		t.Fatalf("start %s: %v", id, err)
	}

	awaitDesign := func(round int) {
		t.Helper()
		for {
			var s workflows.OrderState
			v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryState)
			if err == nil {
				err = v.Get(&s)
			}
			if err == nil && s.Stage == workflows.StageDesign && s.Status == workflows.StatusActive && s.DesignRound == round {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("design round %d never awaited approval (last state %+v, err %v)", round, s, err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	update := func(name string, arg any) (workflows.OrderState, error) {
		t.Helper()
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
			WorkflowID: id, UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
		})
		var s workflows.OrderState
		if err == nil {
			err = h.Get(ctx, &s)
		}
		return s, err
	}
	mustUpdate := func(name string, arg any) workflows.OrderState {
		t.Helper()
		s, err := update(name, arg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return s
	}
	refusedWith := func(typ, name string, arg any) {
		t.Helper()
		if _, err := update(name, arg); errType(err) != typ {
			t.Fatalf("%s: got %v, want a refusal coded %s", name, err, typ)
		}
	}

	awaitDesign(1)
	refusedWith(workflows.ErrInvalidInput, workflows.UpdateRequestDesignChange, change([]catalog.Selection{{Option: "color", Choice: "plaid"}}))
	if s := mustUpdate(workflows.UpdateRequestDesignChange, change(redDoor)); s.ConfigVersion != 2 {
		t.Fatalf("after the change the configuration version is %d, want 2", s.ConfigVersion)
	}
	awaitDesign(2)
	refusedWith(workflows.ErrIllegalState, workflows.UpdateApproveDesign, approve(1))
	if s := mustUpdate(workflows.UpdateApproveDesign, approve(2)); s.Stage != workflows.StageProcurement {
		t.Fatalf("after approval the order is in %s, want PROCUREMENT", s.Stage)
	}
	// Cancel once both lines' Sourcing children run.
	children := []string{workflows.SourcingWorkflowID(orderID, 1), workflows.SourcingWorkflowID(orderID, 2)}
	childStatus := func(childID string) enumspb.WorkflowExecutionStatus {
		d, err := c.DescribeWorkflowExecution(ctx, childID, "")
		if err != nil {
			return enumspb.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED
		}
		return d.GetWorkflowExecutionInfo().GetStatus()
	}
	for _, child := range children {
		for childStatus(child) != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			select {
			case <-ctx.Done():
				t.Fatalf("sourcing child %s never ran", child)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	if s := mustUpdate(workflows.UpdateCancel, cancelByCustomer); s.Status != workflows.StatusCancelled {
		t.Fatalf("after cancellation the order is %s, want CANCELLED", s.Status)
	}
	// The order ends once its children are cancelled: seconds, not the test's limit.
	ended, cancelEnded := context.WithTimeout(ctx, 20*time.Second)
	defer cancelEnded()
	if err := run.Get(ended, nil); err != nil {
		t.Fatalf("workflow after its cancellation: %v", err)
	}
	for _, child := range children {
		if st := childStatus(child); st != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
			t.Errorf("sourcing child %s is %s after the order's cancellation, want CANCELED", child, st)
		}
	}

	hist := &historypb.History{}
	it := c.GetWorkflowHistory(ctx, id, run.GetRunID(), false, 0)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		hist.Events = append(hist.Events, ev)
	}
	if err := newReplayer(t).ReplayWorkflowHistory(testLogger(t), hist); err != nil {
		t.Fatalf("replay the history of %s: %v", id, err)
	}

	if *updateGolden || os.Getenv("UPDATE_GOLDEN") == "1" {
		raw, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
		if err != nil {
			t.Fatalf("marshal history: %v", err)
		}
		if err := os.MkdirAll(filepath.Dir(goldenHistory), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenHistory, append(raw, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d events)", goldenHistory, len(hist.Events))
		if err := newReplayer(t).ReplayWorkflowHistoryFromJSONFile(testLogger(t), goldenHistory); err != nil {
			t.Fatalf("replay the written %s: %v", goldenHistory, err)
		}
	}
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
