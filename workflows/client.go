package workflows

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// Client is the typed way to the platform's workflows: every start, update
// and query with its payload and answer types, by business id. The gateway's
// resolvers, cmd tools and tests use it; none names an update by its string.
// A refused update returns the refusal (package refusal decodes it).
type Client struct {
	c     client.Client
	queue string
}

// NewClient returns a Client that starts workflows on taskQueue.
func NewClient(c client.Client, taskQueue string) *Client { return &Client{c: c, queue: taskQueue} }

// start starts workflow id, or attaches to it when it runs already (a retried
// command gets the same workflow, never a second one); a finished one is not
// run again. It reports whether this call started it.
func (c *Client) start(ctx context.Context, id, workflow string, in any) (bool, error) {
	_, err := c.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                c.queue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, workflow, in)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		return false, nil // it ran already: nothing to start
	}
	return err == nil, err
}

// update sends update name to workflow id and waits until it completed.
//
// When ctx carries a request key (WithRequestKey), the update's id is derived
// from it, the update's name and its argument, so a request sent again after
// a timeout or a lost answer is the same update: Temporal answers it with the
// first one's outcome instead of running it twice (within the workflow's
// current run). Without one, every call is a new update: two equal requests
// may both be meant (receiving 1 unit, then 1 more).
func update[R any](ctx context.Context, c *Client, id, name string, arg any) (R, error) {
	var out R
	uid := ""
	if key, _ := ctx.Value(requestKey{}).(string); key != "" {
		var err error
		if uid, err = UpdateID(key, name, arg); err != nil {
			return out, err
		}
	}
	h, err := c.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: name, UpdateID: uid, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, &out)
	}
	return out, err
}

type requestKey struct{}

// WithRequestKey marks ctx as one client request that the client may send
// again under the same key (the gateway takes it from the Idempotency-Key
// header, scoped to the caller's token): the updates it sends get ids from
// UpdateID.
func WithRequestKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, requestKey{}, key)
}

// UpdateID is the id of update name with argument arg sent under request key:
// the name and a digest of the key and the argument's JSON (struct fields in
// order, map keys sorted), so the same request sent again has the same id and
// another request under a reused key does not.
func UpdateID(key, name string, arg any) (string, error) {
	raw, err := json.Marshal(arg)
	if err != nil {
		return "", fmt.Errorf("update %s: %w", name, err)
	}
	h := sha256.New()
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write(raw)
	return name + ":" + hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// query asks workflow id the query name.
func query[R any](ctx context.Context, c *Client, id, name string) (R, error) {
	var out R
	v, err := c.c.QueryWorkflow(ctx, id, "", name)
	if err == nil {
		err = v.Get(&out)
	}
	return out, err
}

// --- Order ---

// StartOrder starts order/<in.OrderID>.
func (c *Client) StartOrder(ctx context.Context, in OrderInput) error {
	_, err := c.start(ctx, OrderWorkflowID(in.OrderID), OrderWorkflow, in)
	return err
}

// AwaitOrder waits until the order's workflow ends (through its continued
// runs) and returns how it ended.
func (c *Client) AwaitOrder(ctx context.Context, orderID string) error {
	return c.c.GetWorkflow(ctx, OrderWorkflowID(orderID), "").Get(ctx, nil)
}

// ApproveDesign approves the order's design (the customer).
func (c *Client) ApproveDesign(ctx context.Context, orderID string, a ApproveDesign) (OrderState, error) {
	return update[OrderState](ctx, c, OrderWorkflowID(orderID), UpdateApproveDesign, a)
}

// RequestDesignChange replaces the configuration of a design awaiting approval.
func (c *Client) RequestDesignChange(ctx context.Context, orderID string, d DesignChange) (OrderState, error) {
	return update[OrderState](ctx, c, OrderWorkflowID(orderID), UpdateRequestDesignChange, d)
}

// CancelOrder cancels the order, which compensates.
func (c *Client) CancelOrder(ctx context.Context, orderID string, x Cancel) (OrderState, error) {
	return update[OrderState](ctx, c, OrderWorkflowID(orderID), UpdateCancel, x)
}

// ResumeOrder resumes an order on hold (the operator).
func (c *Client) ResumeOrder(ctx context.Context, orderID string, r Resume) (OrderState, error) {
	return update[OrderState](ctx, c, OrderWorkflowID(orderID), UpdateResume, r)
}

// ReportStage reports a routing stage started or finished (the factory).
func (c *Client) ReportStage(ctx context.Context, orderID string, r StageReport) (OrderState, error) {
	return update[OrderState](ctx, c, OrderWorkflowID(orderID), UpdateReportStage, r)
}

// RecordQA records the QA verdict that closes production (the factory).
func (c *Client) RecordQA(ctx context.Context, orderID string, v QAVerdict) (OrderState, error) {
	return update[OrderState](ctx, c, OrderWorkflowID(orderID), UpdateRecordQA, v)
}

// TrackShipment reports a tracking event or the delivery (the carrier).
func (c *Client) TrackShipment(ctx context.Context, orderID string, r TrackingReport) (OrderState, error) {
	return update[OrderState](ctx, c, OrderWorkflowID(orderID), UpdateTrackShipment, r)
}

// ConfirmDelivery confirms receipt (the customer).
func (c *Client) ConfirmDelivery(ctx context.Context, orderID string, d ConfirmDelivery) (OrderState, error) {
	return update[OrderState](ctx, c, OrderWorkflowID(orderID), UpdateConfirmDelivery, d)
}

// OpenTicket opens a service ticket during the warranty (the customer).
func (c *Client) OpenTicket(ctx context.Context, orderID string, t TicketRequest) (OrderState, error) {
	return update[OrderState](ctx, c, OrderWorkflowID(orderID), UpdateOpenTicket, t)
}

// DispatchTicket assigns a ticket (the operator).
func (c *Client) DispatchTicket(ctx context.Context, orderID string, t TicketRequest) (OrderState, error) {
	return update[OrderState](ctx, c, OrderWorkflowID(orderID), UpdateDispatchTicket, t)
}

// ResolveTicket resolves a ticket (its assignee, or the operator).
func (c *Client) ResolveTicket(ctx context.Context, orderID string, t TicketRequest) (OrderState, error) {
	return update[OrderState](ctx, c, OrderWorkflowID(orderID), UpdateResolveTicket, t)
}

// OrderState asks the order's workflow where the order stands.
func (c *Client) OrderState(ctx context.Context, orderID string) (OrderState, error) {
	return query[OrderState](ctx, c, OrderWorkflowID(orderID), QueryState)
}

// --- Sourcing (one per order line; started by the order) ---

// AcceptOffer takes the line's open offer, or part of it (the supplier).
func (c *Client) AcceptOffer(ctx context.Context, orderID string, line int, a AcceptOffer) (SourcingState, error) {
	return update[SourcingState](ctx, c, SourcingWorkflowID(orderID, line), UpdateAcceptOffer, a)
}

// RejectOffer refuses the line's open offer (the supplier).
func (c *Client) RejectOffer(ctx context.Context, orderID string, line int, r RejectOffer) (SourcingState, error) {
	return update[SourcingState](ctx, c, SourcingWorkflowID(orderID, line), UpdateRejectOffer, r)
}

// ReportShipment reports material shipped on an accepted task (the supplier).
func (c *Client) ReportShipment(ctx context.Context, orderID string, line int, r ReportShipment) (SourcingState, error) {
	return update[SourcingState](ctx, c, SourcingWorkflowID(orderID, line), UpdateReportShipment, r)
}

// ConfirmReceipt confirms material received (the factory, or the operator).
func (c *Client) ConfirmReceipt(ctx context.Context, orderID string, line int, r ConfirmReceipt) (SourcingState, error) {
	return update[SourcingState](ctx, c, SourcingWorkflowID(orderID, line), UpdateConfirmReceipt, r)
}

// ResumeSourcing resumes a line held for want of a supplier (the operator).
func (c *Client) ResumeSourcing(ctx context.Context, orderID string, line int, r ResumeSourcing) (SourcingState, error) {
	return update[SourcingState](ctx, c, SourcingWorkflowID(orderID, line), UpdateResumeSourcing, r)
}

// SourcingState asks a line's sourcing where it stands.
func (c *Client) SourcingState(ctx context.Context, orderID string, line int) (SourcingState, error) {
	return query[SourcingState](ctx, c, SourcingWorkflowID(orderID, line), QueryState)
}

// --- Lease ---

// StartLease starts lease/<in.ContractID>, the contract's settlement.
func (c *Client) StartLease(ctx context.Context, in LeaseInput) error {
	_, err := c.start(ctx, LeaseWorkflowID(in.ContractID), LeaseWorkflow, in)
	return err
}

// LeaseState asks the settlement which period it closes next.
func (c *Client) LeaseState(ctx context.Context, contractID string) (LeaseState, error) {
	return query[LeaseState](ctx, c, LeaseWorkflowID(contractID), QueryLease)
}
