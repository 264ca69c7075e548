package workflows_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/leasing"
	"github.com/masscustom/orchestrator/workflows"
)

// Golden histories: real histories of every workflow type, recorded from a
// Temporal dev server by TestJourneyOnDevServer_GoldenHistories and kept in
// testdata/golden as <workflow type>-<code version>.json. A file is never
// rewritten once committed: it stands for the orders, sourcings and leases
// that still run on the code that wrote it (an order runs through its
// warranty, a lease for years), and TestReplayGoldenHistories replays every
// one of them against the current code. A change to workflow code that
// replays them unchanged is compatible; one that does not must be guarded
// with workflow.GetVersion (see docs/architecture.md, "Evolving workflows").
var (
	goldenDir = filepath.Join("testdata", "golden")
	// goldenTag names the code version recorded with -update-golden: record
	// new histories whenever the code takes a new versioned branch.
	goldenTag = flag.String("golden.tag", "", "with -update-golden: record the journey's histories as testdata/golden/<type>-<tag>.json")
)

// newFullReplayer replays histories of all three workflow types.
func newFullReplayer() worker.WorkflowReplayer {
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(workflows.Order, workflow.RegisterOptions{Name: workflows.OrderWorkflow})
	r.RegisterWorkflowWithOptions(workflows.Sourcing, workflow.RegisterOptions{Name: workflows.SourcingWorkflow})
	r.RegisterWorkflowWithOptions(workflows.Lease, workflow.RegisterOptions{Name: workflows.LeaseWorkflow})
	return r
}

// Every golden history, of whichever code version, replays against the
// current code: an order, a sourcing or a lease started on that code
// completes on this one. The golden set must hold a history of each type.
func TestReplayGoldenHistories(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, f := range files {
		typ, _, _ := strings.Cut(filepath.Base(f), "-")
		seen[typ]++
		t.Run(filepath.Base(f), func(t *testing.T) {
			if err := newFullReplayer().ReplayWorkflowHistoryFromJSONFile(testLogger(t), f); err != nil {
				t.Fatalf("replay %s with the current code: %v", f, err)
			}
		})
	}
	for _, typ := range []string{workflows.OrderWorkflow, workflows.SourcingWorkflow, workflows.LeaseWorkflow} {
		if seen[typ] == 0 {
			t.Errorf("no golden history of %s in %s", typ, goldenDir)
		}
	}
}

// One order's whole journey (placement to completion, every party acting,
// real activities on Postgres) and one lease's settlement run on the dev
// server; the histories that result (the order's, one of its Sourcing
// children's, the lease's) replay against the code. With -update-golden
// -golden.tag=vN they are written to testdata/golden.
func TestJourneyOnDevServer_GoldenHistories(t *testing.T) {
	j := newBenchJourney(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := j.p.Temporal

	orderWF, err := j.order(ctx)
	if err != nil {
		t.Fatalf("journey: %v", err)
	}
	orderHist := history(ctx, t, c, orderWF)
	var childWF string
	for _, ev := range orderHist.Events {
		if a := ev.GetChildWorkflowExecutionStartedEventAttributes(); a != nil {
			childWF = a.GetWorkflowExecution().GetWorkflowId()
			break
		}
	}
	if childWF == "" {
		t.Fatalf("%s started no Sourcing child", orderWF)
	}
	leaseWF := j.settledLease(ctx, t)

	recorded := map[string]*historypb.History{
		workflows.OrderWorkflow:    orderHist,
		workflows.SourcingWorkflow: history(ctx, t, c, childWF),
		workflows.LeaseWorkflow:    history(ctx, t, c, leaseWF),
	}
	for typ, h := range recorded {
		if err := newFullReplayer().ReplayWorkflowHistory(testLogger(t), h); err != nil {
			t.Errorf("replay the %s history just recorded: %v", typ, err)
		}
	}
	if !*updateGolden && os.Getenv("UPDATE_GOLDEN") != "1" {
		return
	}
	if *goldenTag == "" {
		t.Fatal("-update-golden needs -golden.tag=vN (the code version these histories stand for)")
	}
	if err := os.MkdirAll(goldenDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for typ, h := range recorded {
		f := filepath.Join(goldenDir, fmt.Sprintf("%s-%s.json", typ, *goldenTag))
		if _, err := os.Stat(f); err == nil {
			t.Fatalf("%s exists: golden histories are never rewritten; choose a new -golden.tag", f)
		}
		raw, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, append(raw, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d events)", f, len(h.Events))
	}
}

// settledLease registers a machine and a monthly contract whose three
// periods lie in the past, runs its settlement workflow on the journey's
// worker until it has closed them all, and returns the workflow's id.
func (j *benchJourney) settledLease(ctx context.Context, t *testing.T) string {
	t.Helper()
	lessor := testenv.Account(t, j.p, identity.KindLessor, identity.RoleAdmin)
	lp := &identity.Principal{UserID: lessor.User.ID, EnterpriseID: lessor.Enterprise.ID, Kind: identity.KindLessor, Role: identity.RoleAdmin}
	m, err := j.p.Leasing.RegisterEquipment(ctx, lp, lessor.Enterprise.ID, "VMC-"+testenv.Suffix(), "CNC_MILL", []leasing.Meter{leasing.MeterSpindleHours})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k, err := j.p.Leasing.CreateContract(ctx, lp, leasing.Contract{
		LessorID: lessor.Enterprise.ID.String(), LesseeID: j.factory.Enterprise.ID.String(),
		EquipmentIDs: []string{m.ID.String()}, Currency: "CNY",
		Plans:              map[leasing.Meter]leasing.RatePlan{leasing.MeterSpindleHours: {Model: leasing.ModelPerUnit, UnitPrice: decimal.RequireFromString("100")}},
		PlatformFeePercent: decimal.RequireFromString("10"), CreditLimit: decimal.RequireFromString("1000"),
		Period: leasing.BillingPeriod{Unit: leasing.PeriodMonthly, Anchor: leasing.AnchorCalendar},
		Start:  start, End: start.AddDate(0, 3, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	id := workflows.LeaseWorkflowID(k.ID.String())
	run, err := j.p.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: j.queue, WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, workflows.LeaseWorkflow, workflows.LeaseInput{ContractID: k.ID.String(), Grace: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, nil); err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	return id
}

// history reads the latest run's history of a workflow.
func history(ctx context.Context, t *testing.T, c client.Client, id string) *historypb.History {
	t.Helper()
	h := &historypb.History{}
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		h.Events = append(h.Events, ev)
	}
	return h
}
