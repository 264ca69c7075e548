package main_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/masscustom/orchestrator/internal/platform"
	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/orders"
	"github.com/masscustom/orchestrator/workflows"
)

// The worker is killed with SIGKILL (no drain, no goodbye to Temporal) while it
// runs orders, twice: once while they are placed and their designs prepared,
// once while customers approve them. Temporal hands the interrupted tasks to the
// next worker process once their timeouts expire (a sticky workflow task after
// 5s, a started workflow task after 10s, a started activity after its 30s
// start-to-close timeout), and every activity is idempotent on its business
// key, so each order must end with exactly the timeline it would have had on a
// worker that never died.

const killOrders = 40

func TestWorkerKilledMidFlightLeavesEveryOrderWithItsExactTimeline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the worker and kills it twice against the real stack")
	}
	p := testenv.Platform(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	bin := buildWorker(t)
	queue := "test-kill-" + testenv.Suffix()
	if err := p.Catalog.EnsureSeeded(ctx, catalog.SeedTemplates()); err != nil {
		t.Fatal(err)
	}
	acct := testenv.Account(t, p, identity.KindCustomer, identity.RoleMember)
	customer, err := p.Identity.Authenticate(ctx, acct.Secret)
	if err != nil {
		t.Fatal(err)
	}
	ids := placeAndStart(ctx, t, p, customer, queue)
	progress := func() (designed, approved int) {
		t.Helper()
		if err := p.DB.QueryRow(ctx, `SELECT count(*) FILTER (WHERE last_seq >= 2), count(*) FILTER (WHERE last_seq >= 3)
			FROM orders WHERE id = ANY($1)`, ids).Scan(&designed, &approved); err != nil {
			t.Fatal(err)
		}
		return designed, approved
	}

	// Phase 1: the first worker takes the queued orders; it dies once a few
	// designs are ready.
	w1 := startWorker(t, bin, queue, "1")
	designed := waitUntil(ctx, t, "a few designs ready before the first kill", func() (int, bool) {
		d, _ := progress()
		return d, d >= 3
	})
	w1.kill(t)
	d, _ := progress()
	t.Logf("kill 1: %d of %d orders in flight (not yet DESIGN_READY); %d ready when the kill was decided, %d once it died",
		killOrders-d, killOrders, designed, d)
	w2 := startWorker(t, bin, queue, "2")

	// Phase 2: each customer approves as soon as its order's workflow waits for
	// the decision; the second worker dies once a few approvals are recorded.
	results := make([]workflows.OrderState, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	var sent atomic.Int32
	for i, id := range ids {
		wg.Go(func() {
			if errs[i] = awaitApprovable(ctx, p, id); errs[i] != nil {
				return
			}
			sent.Add(1)
			// An approval sent as soon as the workflow awaits it must be accepted,
			// also across a takeover by another worker.
			results[i], errs[i] = approve(ctx, p, id, customer.UserID)
		})
	}
	approved := waitUntil(ctx, t, "a few approvals recorded before the second kill", func() (int, bool) {
		_, a := progress()
		return a, a >= 3
	})
	w2.kill(t)
	_, a := progress()
	t.Logf("kill 2: %d of %d orders in flight (not yet DESIGN_APPROVED; %d approvals sent so far); %d approved when the kill was decided, %d once it died",
		killOrders-a, killOrders, sent.Load(), approved, a)
	startWorker(t, bin, queue, "3")
	wg.Wait()

	for i, id := range ids {
		if errs[i] != nil {
			t.Errorf("order %s: approval: %v", id, errs[i])
		} else if results[i].Stage != workflows.StageProcurement || results[i].Status != workflows.StatusActive || results[i].Seq != 3 {
			t.Errorf("order %s: approval returned %+v, want PROCUREMENT ACTIVE at seq 3", id, results[i])
		}
	}
	assertTimelines(ctx, t, p, ids)
}

// placeAndStart places killOrders orders and starts their workflows on queue
// the way the gateway's placeOrder does; no worker polls the queue yet.
func placeAndStart(ctx context.Context, t *testing.T, p *platform.Platform, customer *identity.Principal, queue string) []uuid.UUID {
	t.Helper()
	page, err := p.Catalog.Latest(ctx, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	var tid *uuid.UUID
	for _, tpl := range page.Items {
		if tpl.Code == "AC-SPLIT" {
			tid = &tpl.UUID
		}
	}
	if tid == nil {
		t.Fatal("template AC-SPLIT not seeded")
	}
	capacity := decimal.RequireFromString("3.5")
	ids := make([]uuid.UUID, 0, killOrders)
	for i := range killOrders {
		o, created, err := p.Orders.Place(ctx, customer, orders.PlaceInput{
			IdempotencyKey: fmt.Sprintf("kill-%s-%d", queue, i), TemplateID: tid,
			Selections: []catalog.Selection{{Option: "capacity", Number: &capacity}}, Quantity: 1,
			ShippingAddress: orders.Address{Recipient: "Zhang Min", Line1: "88 Haier Road", City: "Qingdao", PostalCode: "266101", Country: "CN"},
		})
		if err != nil || !created {
			t.Fatalf("place order %d: created %v, %v", i, created, err)
		}
		_, err = p.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID:                       workflows.OrderWorkflowID(o.ID.String()),
			TaskQueue:                queue,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
			WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		}, workflows.OrderWorkflow, workflows.OrderInput{OrderID: o.ID.String(), DesignApprovalTimeout: time.Hour})
		if err != nil {
			t.Fatalf("start workflow of order %d: %v", i, err)
		}
		ids = append(ids, o.ID)
	}
	t.Cleanup(func() {
		// Leave no workflow waiting at procurement for ever.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, id := range ids {
			var done *serviceerror.NotFound
			if err := p.Temporal.TerminateWorkflow(ctx, workflows.OrderWorkflowID(id.String()), "", "kill test finished"); err != nil && !errors.As(err, &done) {
				t.Logf("terminate order %s: %v", id, err)
			}
		}
	})
	return ids
}

// awaitApprovable waits until the order's workflow waits for the customer's
// decision: DESIGN_READY is committed a moment before, and after a kill the
// workflow learns that its activity finished only once a worker retried it.
func awaitApprovable(ctx context.Context, p *platform.Platform, id uuid.UUID) error {
	for {
		var st workflows.OrderState
		v, err := p.Temporal.QueryWorkflow(ctx, workflows.OrderWorkflowID(id.String()), "", workflows.QueryState)
		if err == nil {
			err = v.Get(&st)
		}
		if err == nil && st.Stage == workflows.StageDesign && st.WaitingFor == "customer approval of the design" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("never awaited approval (last state %+v, %v): %w", st, err, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// approve sends the approveDesign update as the gateway does and waits for it to complete.
func approve(ctx context.Context, p *platform.Platform, id, actor uuid.UUID) (workflows.OrderState, error) {
	var st workflows.OrderState
	h, err := p.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflows.OrderWorkflowID(id.String()), UpdateName: workflows.UpdateApproveDesign,
		Args:         []any{workflows.ApproveDesign{ActorID: actor.String(), ConfigVersion: 1}},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, &st)
	}
	return st, err
}

// assertTimelines checks every order's row and timeline: PROCUREMENT, ACTIVE,
// last_seq 3, and exactly ORDER_PLACED, DESIGN_READY, DESIGN_APPROVED at 1, 2, 3.
func assertTimelines(ctx context.Context, t *testing.T, p *platform.Platform, ids []uuid.UUID) {
	t.Helper()
	want := []string{orders.EventPlaced, orders.EventDesignReady, orders.EventDesignApproved}
	for _, id := range ids {
		var stage string
		var lastSeq int64
		if err := p.DB.QueryRow(ctx, `SELECT stage, last_seq FROM orders WHERE id = $1`, id).Scan(&stage, &lastSeq); err != nil {
			t.Fatal(err)
		}
		if stage != workflows.StageProcurement {
			t.Errorf("order %s: stage %s, want PROCUREMENT", id, stage)
		}
		rows, err := p.DB.Query(ctx, `SELECT seq, type, message FROM order_events WHERE order_id = $1 ORDER BY seq`, id)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		seen := map[string]bool{}
		for rows.Next() {
			var seq int64
			var typ, msg string
			if err := rows.Scan(&seq, &typ, &msg); err != nil {
				t.Fatal(err)
			}
			if seq != int64(len(got)+1) {
				t.Errorf("order %s: event %d:%s after %v: sequence has a gap", id, seq, typ, got)
			}
			// After the approval the order goes on (factory, sourcing) as far
			// as the capabilities on the shared stack allow; whatever it
			// recorded, it recorded once.
			if seen[typ+"|"+msg] {
				t.Errorf("order %s: %s %q recorded twice", id, typ, msg)
			}
			seen[typ+"|"+msg] = true
			got = append(got, fmt.Sprintf("%d:%s", seq, typ))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if int64(len(got)) != lastSeq {
			t.Errorf("order %s: %d events, last_seq %d", id, len(got), lastSeq)
		}
		var exp []string
		for i, typ := range want {
			exp = append(exp, fmt.Sprintf("%d:%s", i+1, typ))
		}
		if len(got) < 3 || strings.Join(got[:3], " ") != strings.Join(exp, " ") {
			t.Errorf("order %s timeline %v, want it to begin %v", id, got, exp)
		}
	}
}

// waitUntil polls cond every few milliseconds until it holds, and returns the
// figure it reported then.
func waitUntil(ctx context.Context, t *testing.T, what string, cond func() (int, bool)) int {
	t.Helper()
	for {
		n, ok := cond()
		if ok {
			return n
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v (at %d)", what, ctx.Err(), n)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// workerProc is a worker binary running as a subprocess.
type workerProc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// kill sends SIGKILL and waits for the process to be gone.
func (w *workerProc) kill(t *testing.T) {
	t.Helper()
	select {
	case <-w.done:
		t.Fatalf("worker %s exited by itself before the kill: %s", w.name, tail(w.log))
	default:
	}
	if err := w.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-w.done
}

// startWorker runs the worker binary against the test stack on queue and
// returns once its health endpoint answers (it serves it after it started polling).
func startWorker(t *testing.T, bin, queue, name string) *workerProc {
	t.Helper()
	addr := freeAddr(t)
	logPath := filepath.Join(t.TempDir(), "worker-"+name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"TEMPORAL_TASK_QUEUE="+queue,
		"WORKER_HTTP_ADDR="+addr,
		"ORDER_DESIGN_APPROVAL_TIMEOUT=1h",
		"LOG_LEVEL=warn",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &workerProc{name: name, cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(w.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-w.done
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return w
			}
		}
		select {
		case <-w.done:
			t.Fatalf("worker %s exited at start: %s", name, tail(logPath))
		case <-ctx.Done():
			t.Fatalf("worker %s not healthy: %s", name, tail(logPath))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// buildWorker compiles ./worker into a temporary folder, once per test.
func buildWorker(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "worker")
	cmd := exec.Command(goBin, "build", "-o", bin, "./worker")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./worker: %v\n%s", err, out)
	}
	return bin
}

// repoRoot walks up from the test's folder to the one holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}
