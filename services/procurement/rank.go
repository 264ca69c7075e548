package procurement

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// Candidate is a supplier able to supply a material, as ranked for one quantity.
type Candidate struct {
	SupplierID  uuid.UUID       `json:"supplierId"`
	Material    string          `json:"material"`
	UnitPrice   decimal.Decimal `json:"unitPrice"`
	Currency    string          `json:"currency"`
	LeadDays    int             `json:"leadDays"`
	MaxQuantity decimal.Decimal `json:"maxQuantity"`
	Score       decimal.Decimal `json:"score"`
	// Filled in by RankCandidates.
	Coverage decimal.Decimal `json:"coverage"` // share of the quantity it can cover, 0..1
	Merit    decimal.Decimal `json:"merit"`    // score, price and lead time weighed, 0..1
}

// Weights of a candidate's merit. They sum to 1, so merit is in 0..1.
var (
	weightScore = decimal.RequireFromString("0.5")
	weightPrice = decimal.RequireFromString("0.3")
	weightSpeed = decimal.RequireFromString("0.2")
)

// rankPlaces is the precision of the ratios below: enough to tell any two
// realistic prices apart, and fixed so that a ranking is reproducible.
const rankPlaces = 8

var hundred = decimal.NewFromInt(100)

// RankCandidates orders the candidates for a quantity, best first, and fills
// in their Coverage and Merit. It does not change its argument.
//
// The order is, in this priority:
//
//  1. Coverage, more first: min(MaxQuantity, quantity) / quantity. A supplier
//     that covers the whole quantity saves a split (another offer, another SLA
//     wait, another shipment), so coverage is never traded for merit.
//  2. Merit, higher first: 0.5·score/100 + 0.3·cheapest/price + 0.2·(fastest+1)/(lead+1),
//     where cheapest is the lowest unit price among the candidates of the same
//     currency (prices in different currencies are not compared: there is no
//     exchange rate here) and fastest the shortest lead time of all. Each term
//     is in 0..1 and equals 1 for the best candidate on that criterion.
//  3. Ties: lower unit price, then shorter lead time, then supplier id, so the
//     order is total and the same on every run.
//
// All arithmetic is decimal, ratios rounded to 8 places. A quantity that is
// not positive counts as fully covered by everybody.
func RankCandidates(cands []Candidate, quantity decimal.Decimal) []Candidate {
	out := slices.Clone(cands)
	if len(out) == 0 {
		return out
	}
	cheapest := map[string]decimal.Decimal{}
	fastest := -1
	for _, c := range out {
		if c.UnitPrice.IsPositive() {
			if p, ok := cheapest[c.Currency]; !ok || c.UnitPrice.LessThan(p) {
				cheapest[c.Currency] = c.UnitPrice
			}
		}
		if lead := max(c.LeadDays, 0); fastest < 0 || lead < fastest {
			fastest = lead
		}
	}
	for i := range out {
		c := &out[i]
		c.Coverage = coverage(c.MaxQuantity, quantity)
		reliability := clampScore(c.Score).DivRound(hundred, rankPlaces)
		price := decimal.Zero
		if c.UnitPrice.IsPositive() {
			price = cheapest[c.Currency].DivRound(c.UnitPrice, rankPlaces)
		}
		speed := decimal.NewFromInt(int64(fastest+1)).DivRound(decimal.NewFromInt(int64(max(c.LeadDays, 0)+1)), rankPlaces)
		c.Merit = weightScore.Mul(reliability).Add(weightPrice.Mul(price)).Add(weightSpeed.Mul(speed)).Round(rankPlaces)
	}
	slices.SortStableFunc(out, func(a, b Candidate) int {
		if c := b.Coverage.Cmp(a.Coverage); c != 0 {
			return c
		}
		if c := b.Merit.Cmp(a.Merit); c != 0 {
			return c
		}
		if a.Currency == b.Currency {
			if c := a.UnitPrice.Cmp(b.UnitPrice); c != 0 {
				return c
			}
		}
		if c := cmp.Compare(a.LeadDays, b.LeadDays); c != 0 {
			return c
		}
		return cmp.Compare(a.SupplierID.String(), b.SupplierID.String())
	})
	return out
}

func coverage(maxQty, quantity decimal.Decimal) decimal.Decimal {
	if !quantity.IsPositive() {
		return decimal.NewFromInt(1)
	}
	if !maxQty.IsPositive() {
		return decimal.Zero
	}
	return decimal.Min(maxQty, quantity).DivRound(quantity, rankPlaces)
}

func clampScore(s decimal.Decimal) decimal.Decimal {
	return decimal.Max(decimal.Zero, decimal.Min(hundred, s))
}

// Rank returns the suppliers able to supply material, best first for
// quantity (see RankCandidates), leaving out those in exclude.
func (s *Service) Rank(ctx context.Context, material string, quantity decimal.Decimal, exclude []uuid.UUID) ([]Candidate, error) {
	if exclude == nil {
		exclude = []uuid.UUID{}
	}
	rows, err := s.db.Query(ctx, `SELECT supplier_id, material, unit_price, currency, lead_days, max_quantity, score
		FROM supplier_capabilities WHERE material = $1 AND max_quantity > 0 AND NOT (supplier_id = ANY($2))`, material, exclude)
	if err != nil {
		return nil, fmt.Errorf("rank suppliers: %w", err)
	}
	cands, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Candidate, error) {
		var c Candidate
		err := r.Scan(&c.SupplierID, &c.Material, &c.UnitPrice, &c.Currency, &c.LeadDays, &c.MaxQuantity, &c.Score)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("rank suppliers: %w", err)
	}
	return RankCandidates(cands, quantity), nil
}
