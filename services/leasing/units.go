package leasing

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	input "github.com/masscustom/orchestrator/services/validate"
)

// InvoicePrepaid is the kind of the invoice that sells prepaid meter units.
const InvoicePrepaid = "PREPAID"

// LinePrepaidPurchase is the line of a PREPAID invoice: the units sold.
const LinePrepaidPurchase LineKind = "PREPAID_PURCHASE"

// Prepaid-unit events on the lease's timeline.
const (
	EventUnitsToppedUp = "UNITS_TOPPED_UP"
	EventUnitsLow      = "UNITS_80_PERCENT_USED"
	EventUnitsUsedUp   = "UNITS_USED_UP"
)

// UnitWallet is one meter's prepaid units on a contract.
type UnitWallet struct {
	Meter       Meter
	ToppedUp    decimal.Decimal
	Used        decimal.Decimal
	Left        decimal.Decimal
	UsedPercent decimal.Decimal
}

// drawnSQL sums, per meter, the prepaid units the contract's documents drew:
// each period invoice as it now stands (its latest note's re-rating, if it
// has one), and each instant charge of a period that has no period invoice
// yet (a period invoice rates its period's instant charges again and
// supersedes them). $2 selects the periods: ” all, otherwise those other
// than $2 (mode 'other') or only $2 (mode 'only', $3).
const drawnSQL = `WITH docs AS (
	SELECT i.period_key, coalesce((SELECT n.body->'rerated'->'lines' FROM invoice_notes n WHERE n.invoice_id = i.id ORDER BY n.number DESC LIMIT 1),
		i.body->'lines') AS lines
	FROM invoices i
	WHERE i.contract_id = $1 AND (i.kind = 'PERIOD' OR i.kind = 'INSTANT' AND NOT EXISTS (
		SELECT 1 FROM invoices p WHERE p.contract_id = $1 AND p.kind = 'PERIOD' AND p.period_key = i.period_key))
	AND ($2 = '' OR ($3 = 'other') = (i.period_key <> $2)))
SELECT l->>'meter', sum((l->>'quantity')::numeric)
FROM docs CROSS JOIN LATERAL jsonb_array_elements(docs.lines) l
WHERE l->>'kind' = 'PREPAID_UNITS' GROUP BY 1`

// unitTotals reads the units topped up per meter (nil without any), and the
// units drawn by the documents drawnSQL selects.
func unitTotals(ctx context.Context, q querier, contractID uuid.UUID, period, mode string) (topped, drawn Units, err error) {
	rows, err := q.Query(ctx, `SELECT meter, sum(units) FROM unit_topups WHERE contract_id = $1 GROUP BY meter`, contractID)
	if err != nil {
		return nil, nil, err
	}
	topped, err = collectUnits(rows)
	if err != nil || len(topped) == 0 {
		return nil, nil, err
	}
	rows, err = q.Query(ctx, drawnSQL, contractID, period, mode)
	if err != nil {
		return nil, nil, err
	}
	drawn, err = collectUnits(rows)
	return topped, drawn, err
}

func collectUnits(rows pgx.Rows) (Units, error) {
	out := Units{}
	var m string
	var u decimal.Decimal
	_, err := pgx.ForEachRow(rows, []any{&m, &u}, func() error {
		out[Meter(m)] = u
		return nil
	})
	return out, err
}

// unitsAvailable is what period may draw: the units topped up less what the
// other periods' documents drew. Nil when the contract has none.
func unitsAvailable(ctx context.Context, q querier, c *StoredContract, period string) (Units, error) {
	if !c.HasUnits {
		return nil, nil
	}
	topped, drawn, err := unitTotals(ctx, q, c.ID, period, "other")
	if err != nil || topped == nil {
		return nil, err
	}
	out := Units{}
	for m, t := range topped {
		if left := t.Sub(drawn[m]); left.IsPositive() {
			out[m] = left
		}
	}
	return out, nil
}

// unitsDrawnBy is what period's own documents drew (the cap on what its late
// usage may draw again).
func unitsDrawnBy(ctx context.Context, q querier, c *StoredContract, period string) (Units, error) {
	if !c.HasUnits {
		return nil, nil
	}
	topped, drawn, err := unitTotals(ctx, q, c.ID, period, "only")
	if err != nil || topped == nil {
		return nil, err
	}
	return drawn, nil
}

// UnitWallets reads a contract's prepaid units per meter, in meter order.
// It always asks Postgres (HasUnits spares ratings the query, not reads).
func (s *Store) UnitWallets(ctx context.Context, c *StoredContract) ([]UnitWallet, error) {
	return unitWallets(ctx, s.db, c.ID)
}

func unitWallets(ctx context.Context, q querier, contractID uuid.UUID) ([]UnitWallet, error) {
	topped, drawn, err := unitTotals(ctx, q, contractID, "", "")
	if err != nil {
		return nil, err
	}
	var out []UnitWallet
	for _, m := range knownMeters {
		t, ok := topped[m]
		if !ok {
			continue
		}
		used := drawn[m] // never more than t: each rating draws at most what the others left
		if used.IsZero() {
			used = decimal.Zero
		}
		w := UnitWallet{Meter: m, ToppedUp: t, Used: used, Left: t.Sub(used)}
		w.UsedPercent = used.Mul(hundred).Div(t).Round(2)
		out = append(out, w)
	}
	return out, nil
}

// TopUpUnits records prepaid units of a meter on a contract (the lessor's
// admins and finance staff, or the operator), idempotent on reference: usage
// of the meter beyond its free allowance draws them before it is billed, in
// every period from now on. A price above zero is invoiced at once (a
// PREPAID invoice with the contract's VAT, paid like any other); zero is a
// grant. 80% and 100% used are announced on the timeline, once per filling.
// It returns the PREPAID invoice, nil for a grant or a repeated reference.
func (s *Store) TopUpUnits(ctx context.Context, p *identity.Principal, contractID uuid.UUID, meter Meter, units, price decimal.Decimal, reference string) (*StoredInvoice, error) {
	c, err := s.Contract(ctx, p, contractID)
	if err != nil {
		return nil, err
	}
	if err := identity.Authorize(p, identity.ActPaymentRecord, identity.Scope{EnterpriseID: c.LessorID}); err != nil {
		return nil, err
	}
	reference = strings.TrimSpace(reference)
	if problems := checkUnitTopUp(c, meter, units, price, reference); len(problems) > 0 {
		return nil, problems
	}
	now := time.Now().UTC()
	at := now
	if at.Before(c.Terms.Start) {
		at = c.Terms.Start
	}
	per, err := PeriodAt(c.Terms, at)
	if err != nil {
		return nil, errs.New(errs.IllegalState, []string{"input", "contractId"}, "the lease has ended; prepaid units would never be used")
	}
	var out *StoredInvoice
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM lease_contracts WHERE id = $1 FOR UPDATE`, c.ID); err != nil {
			return err
		}
		id := uuid.New()
		tag, err := tx.Exec(ctx, `INSERT INTO unit_topups (id, contract_id, reference, meter, units, price) VALUES ($1,$2,$3,$4,$5,$6)
			ON CONFLICT (contract_id, reference) DO NOTHING`, id, c.ID, reference, meter, units, price)
		if err != nil || tag.RowsAffected() == 0 {
			return err // a repeated reference is the same top-up
		}
		if price.IsPositive() {
			unit := price.DivRound(units, 6)
			line := InvoiceLine{Kind: LinePrepaidPurchase, Meter: meter, Start: now, End: c.Terms.End, Quantity: units, UnitPrice: unit, Amount: price,
				Description: fmt.Sprintf("%s %s prepaid (%s)", units, meter, reference)}
			tm := c.Terms.termsAt(per.Start)
			fee, share, err := splitFee(price, tm.feePercent, c.Terms.Currency)
			if err != nil {
				return err
			}
			inv, err := TaxLines(Invoice{PeriodKey: per.Key, PeriodStart: per.Start, PeriodEnd: per.End, Currency: c.Terms.Currency,
				Lines: []InvoiceLine{line}, Subtotal: price, Total: price, PlatformFeePercent: tm.feePercent, PlatformFee: fee, LessorShare: share}, tm.vatPercent)
			if err != nil {
				return err
			}
			if out, err = s.issue(ctx, tx, c, InvoicePrepaid, per.Key, "units:"+reference, inv,
				`UPDATE unit_topups SET invoice_id = $1 WHERE id = $2`, id); err != nil {
				return err
			}
		}
		ws, err := unitWallets(ctx, tx, c.ID)
		if err != nil {
			return err
		}
		w := walletOfMeter(ws, meter)
		// A new filling: the thresholds are announced again from here on.
		if err := setUnitsAlerted(ctx, tx, c.ID, meter, alertLevel(w.UsedPercent)); err != nil {
			return err
		}
		return appendEvent(ctx, tx, c.ID, EventUnitsToppedUp, fmt.Sprintf("%s %s prepaid (%s): %s left", units, meter, reference, w.Left),
			map[string]any{"meter": meter, "units": units, "price": price, "reference": reference, "left": w.Left})
	})
	if err != nil {
		if _, ok := errs.As(err); ok {
			return nil, err
		}
		return nil, fmt.Errorf("top up units: %w", err)
	}
	s.poke(ctx, c.ID)
	c.HasUnits = true
	if err := s.checkCredit(ctx, c); err != nil {
		return nil, err
	}
	return out, nil
}

func walletOfMeter(ws []UnitWallet, m Meter) UnitWallet {
	for _, w := range ws {
		if w.Meter == m {
			return w
		}
	}
	return UnitWallet{Meter: m}
}

// checkUnitTopUp validates a top-up of prepaid units.
func checkUnitTopUp(c *StoredContract, meter Meter, units, price decimal.Decimal, reference string) errs.List {
	var problems errs.List
	priced := false
	if _, ok := c.Terms.Plans[meter]; ok {
		priced = true
	}
	for _, a := range c.Terms.Amendments {
		if _, ok := a.Plans[meter]; ok {
			priced = true
		}
	}
	switch {
	case meter.index() < 0:
		problems = append(problems, errs.Invalid([]string{"input", "meter"}, "unknown meter %q", meter))
	case !meter.Prepaid():
		problems = append(problems, errs.Invalid([]string{"input", "meter"}, "%s is a peak, not a quantity that prepaid units can pay for", meter))
	case !priced:
		problems = append(problems, errs.Invalid([]string{"input", "meter"}, "the contract does not bill %s", meter))
	}
	if e := input.Quantity([]string{"input", "units"}, units, string(meter)); e != nil {
		problems = append(problems, e)
	} else if agg, _ := meter.Aggregation(); agg == AggregationCount && !units.Equal(units.Truncate(0)) {
		problems = append(problems, errs.Invalid([]string{"input", "units"}, "%s are counted whole", meter))
	}
	if e := input.Amount([]string{"input", "price"}, price, c.Terms.Currency, input.NonNegative); e != nil {
		problems = append(problems, e)
	}
	if e := checkReference(reference); e != nil {
		problems = append(problems, e)
	}
	return problems
}

// announceUnits puts UNITS_80_PERCENT_USED and UNITS_USED_UP on the timeline
// when a meter's prepaid units cross them, once per filling; it runs under
// the contract's lock inside the credit check and reports whether it
// appended events.
func announceUnits(ctx context.Context, tx pgx.Tx, c *StoredContract) (bool, error) {
	if !c.HasUnits {
		return false, nil
	}
	ws, err := unitWallets(ctx, tx, c.ID)
	if err != nil || len(ws) == 0 {
		return false, err
	}
	var raw []byte
	if err := tx.QueryRow(ctx, `SELECT units_alerted FROM lease_contracts WHERE id = $1`, c.ID).Scan(&raw); err != nil {
		return false, err
	}
	alerted := map[string]int{}
	if err := json.Unmarshal(raw, &alerted); err != nil {
		return false, err
	}
	appended := false
	for _, w := range ws {
		level := alertLevel(w.UsedPercent)
		if level <= alerted[string(w.Meter)] {
			continue
		}
		typ, msg := EventUnitsLow, fmt.Sprintf("%s%% of the prepaid %s used: %s left of %s", w.UsedPercent, w.Meter, w.Left, w.ToppedUp)
		if level == 100 {
			typ, msg = EventUnitsUsedUp, fmt.Sprintf("the prepaid %s are used up (%s topped up); usage is billed again", w.Meter, w.ToppedUp)
		}
		if err := appendEvent(ctx, tx, c.ID, typ, msg, map[string]any{"meter": w.Meter, "left": w.Left, "toppedUp": w.ToppedUp, "usedPercent": w.UsedPercent}); err != nil {
			return false, err
		}
		if err := setUnitsAlerted(ctx, tx, c.ID, w.Meter, level); err != nil {
			return false, err
		}
		appended = true
	}
	return appended, nil
}

// setUnitsAlerted records the threshold (0, 80 or 100) last announced for a
// meter's prepaid units.
func setUnitsAlerted(ctx context.Context, tx pgx.Tx, contractID uuid.UUID, m Meter, level int) error {
	_, err := tx.Exec(ctx, `UPDATE lease_contracts SET units_alerted = units_alerted || jsonb_build_object($2::text, $3::int) WHERE id = $1`,
		contractID, string(m), level)
	return err
}
