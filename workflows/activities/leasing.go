package activities

import (
	"context"
	"time"

	"github.com/masscustom/orchestrator/services/leasing"
)

// PeriodInfo is the billing period of a contract that contains a time.
type PeriodInfo struct {
	Key   string
	Start time.Time
	End   time.Time
	// Last is the contract's final period; Done means the contract has no
	// period at or after the time asked.
	Last bool
	Done bool
}

// NextPeriod returns the period of the contract that contains `after` (the
// contract's first period when after is zero).
func (a *Activities) NextPeriod(ctx context.Context, contractID string, after time.Time) (PeriodInfo, error) {
	id, err := parse(contractID)
	if err != nil {
		return PeriodInfo{}, err
	}
	c, err := a.Leasing.ContractByID(ctx, id)
	if err != nil {
		return PeriodInfo{}, err
	}
	if after.IsZero() {
		after = c.Terms.Start
	}
	if !after.Before(c.Terms.End) || c.Status != "ACTIVE" {
		return PeriodInfo{Done: true}, nil
	}
	p, err := leasing.PeriodAt(c.Terms, after)
	if err != nil {
		return PeriodInfo{}, err
	}
	return PeriodInfo{Key: p.Key, Start: p.Start, End: p.End, Last: !p.End.Before(c.Terms.End)}, nil
}

// InvoiceRef names an issued invoice.
type InvoiceRef struct {
	ID     string
	Number int64
	Total  string
	// Status is DRAFT or FINALIZED (empty in histories from before drafts).
	Status string
}

func invoiceRef(inv *leasing.StoredInvoice) InvoiceRef {
	return InvoiceRef{ID: inv.ID.String(), Number: inv.Number, Total: inv.Total.String(), Status: inv.Status}
}

// ClosePeriod issues the period invoice (idempotent per period).
func (a *Activities) ClosePeriod(ctx context.Context, contractID string, periodStart time.Time) (InvoiceRef, error) {
	id, err := parse(contractID)
	if err != nil {
		return InvoiceRef{}, err
	}
	inv, err := a.Leasing.ClosePeriod(ctx, id, periodStart)
	if err != nil {
		return InvoiceRef{}, err
	}
	return invoiceRef(inv), nil
}

// DraftPeriod closes the period into a draft open for review (idempotent per
// period).
func (a *Activities) DraftPeriod(ctx context.Context, contractID string, periodStart time.Time, review time.Duration) (InvoiceRef, error) {
	id, err := parse(contractID)
	if err != nil {
		return InvoiceRef{}, err
	}
	inv, err := a.Leasing.DraftPeriod(ctx, id, periodStart, review)
	if err != nil {
		return InvoiceRef{}, err
	}
	return invoiceRef(inv), nil
}

// FinalizeDraft ends a draft's review (idempotent: a final invoice is
// returned as it is, finance may have finalized it early).
func (a *Activities) FinalizeDraft(ctx context.Context, invoiceID string) (InvoiceRef, error) {
	id, err := parse(invoiceID)
	if err != nil {
		return InvoiceRef{}, err
	}
	inv, err := a.Leasing.FinalizeDraft(ctx, id)
	if err != nil {
		return InvoiceRef{}, err
	}
	return invoiceRef(inv), nil
}
