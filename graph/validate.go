package graph

import (
	"context"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/graph/model"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/procurement"
	"github.com/masscustom/orchestrator/services/validate"
)

// invalidText checks text that the gateway hands to a workflow update, which
// writes it to Postgres from an activity: a NUL there would fail the activity
// instead of refusing the request. It returns the payload errors, or nil.
func invalidText(fields ...validate.Field) []*model.UserError {
	problems := validate.Texts(fields...)
	if len(problems) == 0 {
		return nil
	}
	ue, _ := userErrors(problems)
	return ue
}

// selectionTexts lists the strings of selections for invalidText; the
// configurator judges their meaning.
func selectionTexts(in []*model.SelectionInput) []validate.Field {
	var out []validate.Field
	for i, s := range in {
		if s == nil {
			continue
		}
		at := func(field string) []string { return []string{"input", "selections", fmt.Sprint(i), field} }
		out = append(out, validate.Field{Path: at("option"), Value: s.Option, Kind: validate.Key},
			validate.Field{Path: at("choice"), Value: deref(s.Choice), Kind: validate.Key},
			validate.Field{Path: at("text"), Value: deref(s.Text), Kind: validate.Note})
		for j, c := range s.Choices {
			out = append(out, validate.Field{Path: []string{"input", "selections", fmt.Sprint(i), "choices", fmt.Sprint(j)}, Value: c, Kind: validate.Key})
		}
	}
	return out
}

// quantityCheck checks a quantity answered on a task against its material's
// unit before the answer goes to the sourcing workflow.
func (r *Resolver) quantityCheck(q decimal.Decimal) func(ctx context.Context, t *procurement.Task) (errs.List, error) {
	return func(ctx context.Context, t *procurement.Task) (errs.List, error) {
		return r.Procurement.CheckQuantity(ctx, t, []string{"input", "quantity"}, q)
	}
}
