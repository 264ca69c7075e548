package leasing

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
)

// EventContractAmended is the lease timeline event of an amendment.
const EventContractAmended = "CONTRACT_AMENDED"

// AmendResult is a contract after an amendment, and whether the amendment was
// already part of it (a repeated request changes nothing).
type AmendResult struct {
	Contract *StoredContract
	Repeated bool
}

// AmendContract adds an amendment to a running contract: the lessor's staff who
// may manage its leases, or the operator. Plans and the minimum commitment
// change at EffectiveAt, splitting the period it falls in (RatePeriod prorates
// each part); the platform fee and the VAT rate change from the first period
// that starts at or after it.
//
// The period EffectiveAt falls in must still be open: an amendment cannot reach
// into an invoiced period (ILLEGAL_STATE; a correction of usage is a
// CorrectUsage). Repeating an amendment already made (same instant, same
// terms) returns the contract unchanged; a different amendment at the same
// instant is refused. Nothing is written on refusal.
func (s *Store) AmendContract(ctx context.Context, p *identity.Principal, contractID uuid.UUID, a Amendment) (*AmendResult, error) {
	c, err := s.Contract(ctx, p, contractID)
	if err != nil {
		return nil, err
	}
	if err := identity.Authorize(p, identity.ActLeasingManage, identity.Scope{EnterpriseID: c.LessorID}); err != nil {
		return nil, err
	}
	a.EffectiveAt = a.EffectiveAt.UTC()
	if len(a.Plans) == 0 && a.MinimumCommitment == nil && a.PlatformFeePercent == nil && a.VATRatePercent == nil {
		return nil, errs.Invalid([]string{"input", "amendment"}, "an amendment must change plans, the minimum commitment, the platform fee or the VAT rate")
	}
	out := &AmendResult{}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var raw []byte
		if err := tx.QueryRow(ctx, `SELECT terms FROM lease_contracts WHERE id = $1 FOR UPDATE`, c.ID).Scan(&raw); err != nil {
			return err
		}
		var terms Contract
		if err := json.Unmarshal(raw, &terms); err != nil {
			return fmt.Errorf("contract %s terms: %w", c.ID, err)
		}
		for _, old := range terms.Amendments {
			if !old.EffectiveAt.Equal(a.EffectiveAt) {
				continue
			}
			if sameAmendment(old, a) {
				c.Terms, out.Repeated = terms, true
				return nil
			}
			return errs.New(errs.AlreadyExists, []string{"input", "amendment", "effectiveAt"},
				"%s: another amendment takes effect at %s", ProblemDuplicateAmendment, a.EffectiveAt.Format(time.RFC3339))
		}
		next := terms
		next.Amendments = append(slices.Clone(terms.Amendments), a)
		index := len(next.Amendments) - 1
		if problems := amendmentProblems(next, index); len(problems) > 0 {
			return problems
		}
		per, err := PeriodAt(next, a.EffectiveAt)
		if err != nil {
			return errs.Invalid([]string{"input", "amendment", "effectiveAt"}, "%s", err)
		}
		// An invoice (draft or final) of this period or a later one closes it to amendments.
		var closed string
		err = tx.QueryRow(ctx, `SELECT period_key FROM invoices WHERE contract_id = $1 AND kind = $2 AND (body->>'periodEnd')::timestamptz > $3
			ORDER BY number LIMIT 1`, c.ID, InvoicePeriod, per.Start).Scan(&closed)
		if err == nil {
			return errs.New(errs.IllegalState, []string{"input", "amendment", "effectiveAt"},
				"period %s is invoiced; an amendment can take effect only in a period that is still open", closed)
		} else if err != pgx.ErrNoRows {
			return err
		}
		body, err := json.Marshal(next)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE lease_contracts SET terms = $2 WHERE id = $1`, c.ID, body); err != nil {
			return err
		}
		c.Terms = next
		meters := make([]string, 0, len(a.Plans))
		for m := range a.Plans {
			meters = append(meters, string(m))
		}
		slices.Sort(meters)
		what := []string{}
		if len(meters) > 0 {
			what = append(what, "plans of "+strings.Join(meters, ", "))
		}
		if a.MinimumCommitment != nil {
			what = append(what, fmt.Sprintf("minimum commitment %s %s", a.MinimumCommitment, terms.Currency))
		}
		if a.PlatformFeePercent != nil {
			what = append(what, fmt.Sprintf("platform fee %s%%", a.PlatformFeePercent))
		}
		if a.VATRatePercent != nil {
			what = append(what, fmt.Sprintf("VAT %s%%", a.VATRatePercent))
		}
		return appendEvent(ctx, tx, c.ID, EventContractAmended,
			fmt.Sprintf("contract amended from %s UTC: %s", a.EffectiveAt.Format("2006-01-02 15:04"), strings.Join(what, "; ")),
			map[string]any{"effectiveAt": a.EffectiveAt, "meters": meters, "periodKey": per.Key})
	})
	if err != nil {
		if _, ok := errs.As(err); ok {
			return nil, err
		}
		return nil, fmt.Errorf("amend contract: %w", err)
	}
	out.Contract = c
	if !out.Repeated {
		s.poke(ctx, c.ID)
	}
	return out, nil
}

// amendmentProblems validates a contract with a new amendment at index and
// reports the problems of that amendment under input.amendment.
func amendmentProblems(c Contract, index int) errs.List {
	prefix := fmt.Sprintf("amendments[%d]", index)
	var problems errs.List
	for _, pr := range ValidateContract(c) {
		field := pr.Field
		if rest, ok := strings.CutPrefix(field, prefix); ok {
			field = "amendment" + rest
		}
		problems = append(problems, errs.Invalid(append([]string{"input"}, strings.Split(field, ".")...), "%s: %s", pr.Code, pr.Message))
	}
	return problems
}

// sameAmendment compares two amendments by their JSON, in which decimals
// print as they were given; a restatement with other trailing zeros is a
// different request and refused as a duplicate instant.
func sameAmendment(a, b Amendment) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}
