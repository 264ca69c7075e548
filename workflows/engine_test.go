package workflows_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/masscustom/orchestrator/workflows"
)

// An order that started before ChangeLocalWrites (no version marker in its
// history) goes on to completion on this code with every effect an activity,
// as it began; one that starts now runs every short write as a local activity
// and only the leased-usage settlement, which may be long, as an activity.
// The golden histories show that the old runs replay; this shows that their
// branch still completes the whole journey.
func TestOrder_RunsOfEitherVersionCompleteOnTheirOwnShape(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		version workflow.Version
		remote  []string // activities dispatched through the server
	}{
		{"started before local writes", workflow.DefaultVersion, nil},
		{"started on local writes", 1, []string{"SettleProductionUsage"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, 72*time.Hour)
			h.env.OnGetVersion(workflows.ChangeLocalWrites, workflow.DefaultVersion, 1).Return(tc.version)
			if tc.version == workflow.DefaultVersion { // the whole previous release
				h.env.OnGetVersion(workflows.ChangeSourcingReports, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
				h.env.OnGetVersion(workflows.ChangeSettleAfterQA, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
			}
			var mu sync.Mutex
			remote, local := map[string]int{}, map[string]int{}
			h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
				mu.Lock()
				defer mu.Unlock()
				remote[info.ActivityType.Name]++
			})
			h.env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, _ []any) {
				mu.Lock()
				defer mu.Unlock()
				local[info.ActivityType.Name]++
			})
			newJourney(h).whole()
			h.run()
			h.requireTimeline(fulfilled()...)

			mu.Lock()
			defer mu.Unlock()
			if tc.version == workflow.DefaultVersion {
				if len(local) > 0 {
					t.Errorf("a run from before local writes ran local activities %v", local)
				}
				if remote["Record"] == 0 || remote["SettleProductionUsage"] != 1 {
					t.Errorf("a run from before local writes ran activities %v, want Record and SettleProductionUsage among them", remote)
				}
				return
			}
			names := make([]string, 0, len(remote))
			for n := range remote {
				names = append(names, n)
			}
			slices.Sort(names)
			if !slices.Equal(names, tc.remote) || remote["SettleProductionUsage"] != 1 {
				t.Errorf("activities through the server %v, want only %v once", remote, tc.remote)
			}
			if local["Record"] == 0 || local["ReportStage"] == 0 || local["Track"] == 0 {
				t.Errorf("local activities %v, want the short writes (Record, ReportStage, Track, ...)", local)
			}
		})
	}
}

// The QA update answers as soon as the verdict is recorded: the job's
// leased-usage settlement, an activity that rates usage and may be long, runs
// on the main line after it (from ChangeSettleAfterQA), once; runs started
// before settle inside the update, as they did.
func TestOrder_QAAnswersBeforeTheLeasedUsageIsSettled(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		version workflow.Version
		before  int // settlements made before the QA update answered
	}{
		{"started before settle-after-qa", workflow.DefaultVersion, 1},
		{"started on settle-after-qa", 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, 72*time.Hour)
			h.env.OnGetVersion(workflows.ChangeSettleAfterQA, workflow.DefaultVersion, 1).Return(tc.version)
			newJourney(h).whole()
			h.run()
			h.requireTimeline(fulfilled()...)
			h.succeeded("qa")
			if n := h.got("qa").callsBefore["SettleProductionUsage"]; n != tc.before {
				t.Errorf("%d settlements before the QA update answered, want %d", n, tc.before)
			}
			if n := h.callCount("SettleProductionUsage"); n != 1 {
				t.Errorf("the job's usage was settled %d times, want once", n)
			}
		})
	}
}
