package graph

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/graph/model"
	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/orders"
)

type quoteT = orders.Quote

// numberField shows a NUMBER option's bound, and null for other kinds.
func numberField(g *catalog.OptionGroup, d decimal.Decimal) *decimal.Decimal {
	if g.Kind != catalog.OptionKind("NUMBER") {
		return nil
	}
	return &d
}

func (r *Resolver) template(ctx context.Context, id uuid.UUID) (*model.ProductTemplate, error) {
	t, err := r.Catalog.Get(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, errs.New(errs.NotFound, nil, "no such product template")
	}
	if err != nil {
		return nil, err
	}
	return toTemplate(t), nil
}
