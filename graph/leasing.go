package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/masscustom/orchestrator/graph/model"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/leasing"
	"github.com/masscustom/orchestrator/workflows"
)

const (
	typeEquipment = "Equipment"
	typeContract  = "LeaseContract"
	typeInvoice   = "Invoice"
)

func toEquipment(e *leasing.Equipment) *model.Equipment {
	meters := make([]string, len(e.Meters))
	for i, m := range e.Meters {
		meters[i] = string(m)
	}
	return &model.Equipment{ID: GlobalID(typeEquipment, e.ID), Serial: e.Serial, Kind: e.Kind, Meters: meters,
		Locked: e.LockedAt != nil, LockedAt: e.LockedAt, CreatedAt: e.CreatedAt, LessorUUID: e.LessorID}
}

// toContract shows the terms with global ids, as clients send them.
func toContract(c *leasing.StoredContract) *model.LeaseContract {
	terms := c.Terms
	terms.ID = GlobalID(typeContract, c.ID)
	terms.LessorID = GlobalID(typeEnterprise, c.LessorID)
	terms.LesseeID = GlobalID(typeEnterprise, c.LesseeID)
	eq := make([]string, 0, len(terms.EquipmentIDs))
	for _, raw := range terms.EquipmentIDs {
		if u, err := uuid.Parse(raw); err == nil {
			eq = append(eq, GlobalID(typeEquipment, u))
		}
	}
	terms.EquipmentIDs = eq
	raw, _ := json.Marshal(terms)
	return &model.LeaseContract{ID: GlobalID(typeContract, c.ID), Number: int(c.Number), Status: c.Status, Currency: c.Terms.Currency,
		Terms: raw, StartsAt: c.Terms.Start, EndsAt: c.Terms.End, CreditLimit: c.Terms.CreditLimit,
		UUID: c.ID, LessorUUID: c.LessorID, LesseeUUID: c.LesseeID, Stored: c}
}

func toInvoice(i *leasing.StoredInvoice) *model.Invoice {
	return &model.Invoice{ID: GlobalID(typeInvoice, i.ID), Number: int(i.Number), Kind: i.Kind, PeriodKey: i.PeriodKey, Currency: i.Currency,
		Lines: i.Body.Lines, Total: i.Total, VatRatePercent: i.Body.VATRatePercent, Tax: i.Body.Tax, Gross: i.Body.Gross,
		PlatformFee: i.PlatformFee, LessorShare: i.LessorShare, IssuedAt: i.IssuedAt,
		Status: i.Status, ReviewUntil: i.ReviewUntil, FinalizedAt: i.FinalizedAt,
		DocumentURL: "/invoices/" + GlobalID(typeInvoice, i.ID) + ".pdf", UUID: i.ID}
}

const typeNote = "InvoiceNote"

func toNote(n leasing.Note) *model.InvoiceNote {
	lines := make([]*leasing.InvoiceLine, len(n.Body.Lines))
	for i := range n.Body.Lines {
		lines[i] = &n.Body.Lines[i]
	}
	return &model.InvoiceNote{ID: GlobalID(typeNote, n.ID), Number: int(n.Number), Kind: n.Kind, InvoiceNumber: int(n.Body.InvoiceNumber),
		PeriodKey: n.Body.PeriodKey, Reason: n.Body.Reason, Lines: lines, Total: n.Total, Tax: n.Tax, Gross: n.Gross,
		PlatformFee: n.Body.PlatformFee, LessorShare: n.Body.LessorShare, IssuedAt: n.IssuedAt,
		DocumentURL: "/notes/" + GlobalID(typeNote, n.ID) + ".pdf"}
}

// contractTerms decodes the terms a client sent, turning global ids into ids.
func contractTerms(raw json.RawMessage) (leasing.Contract, error) {
	var c leasing.Contract
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, errs.Invalid([]string{"input", "terms"}, "not contract terms: %v", err)
	}
	var problems errs.List
	conv := func(s, typ string, path ...string) string {
		u, err := idOf(s, typ, path...)
		if err != nil {
			problems = append(problems, err.(*errs.Error))
			return ""
		}
		return u.String()
	}
	c.LessorID = conv(c.LessorID, typeEnterprise, "input", "terms", "lessorId")
	c.LesseeID = conv(c.LesseeID, typeEnterprise, "input", "terms", "lesseeId")
	for i, e := range c.EquipmentIDs {
		c.EquipmentIDs[i] = conv(e, typeEquipment, "input", "terms", "equipmentIds")
	}
	if len(problems) > 0 {
		return c, problems
	}
	return c, nil
}

// amendmentOf decodes an amendment a client sent; unknown fields are refused
// so that a misspelt term is not silently ignored.
func amendmentOf(raw json.RawMessage) (leasing.Amendment, error) {
	var a leasing.Amendment
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return a, errs.Invalid([]string{"input", "amendment"}, "not an amendment: %v", err)
	}
	if a.EffectiveAt.IsZero() {
		return a, errs.Invalid([]string{"input", "amendment", "effectiveAt"}, "effectiveAt is required (RFC 3339)")
	}
	return a, nil
}

// startLease starts the contract's settlement workflow (once).
func (r *Resolver) startLease(ctx context.Context, id uuid.UUID) error {
	err := r.Workflows.StartLease(ctx, workflows.LeaseInput{ContractID: id.String(), Grace: r.LeaseGrace, Review: r.LeaseReview})
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	if r.WorkflowStarts != nil {
		r.WorkflowStarts.WithLabelValues(workflows.LeaseWorkflow, outcome).Inc()
	}
	return err
}

// contractFor loads a contract the viewer may read, by global id.
func (r *Resolver) contractFor(ctx context.Context, id string, path ...string) (*leasing.StoredContract, error) {
	cid, err := idOf(id, typeContract, path...)
	if err != nil {
		return nil, err
	}
	c, err := r.Leasing.Contract(ctx, identity.FromContext(ctx), cid)
	if errors.Is(err, errs.ErrNotFound) {
		return nil, errs.New(errs.NotFound, path, "no such lease contract")
	}
	return c, err
}

func timeArg(t time.Time) time.Time { return t.UTC() }

// enterpriseOf shows an enterprise that takes part in an object the viewer
// may already see (the lessor of a visible machine, the parties of a visible
// contract); reading the object is what authorizes this hop.
func (r *Resolver) enterpriseOf(ctx context.Context, id uuid.UUID) (*model.Enterprise, error) {
	e, err := r.loaders(ctx).Enterprise.Load(ctx, id)
	if err != nil || e == nil {
		return nil, orNotFound(err)
	}
	return toEnterprise(e), nil
}
