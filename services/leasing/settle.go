package leasing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	input "github.com/masscustom/orchestrator/services/validate"
)

// Invoice kinds as stored.
const (
	InvoicePeriod  = "PERIOD"
	InvoiceInstant = "INSTANT"
)

// Lease timeline event types.
const (
	EventInvoiceIssued   = "INVOICE_ISSUED"
	EventInvoiceDrafted  = "INVOICE_DRAFTED"
	EventEquipmentLocked = "EQUIPMENT_LOCKED"
	EventEquipmentUnlock = "EQUIPMENT_UNLOCKED"
	EventPaymentRecorded = "PAYMENT_RECORDED"
	EventCreditNear      = "CREDIT_LIMIT_NEAR"
)

// StoredInvoice is an issued, immutable invoice.
type StoredInvoice struct {
	ID          uuid.UUID
	Number      int64
	ContractID  uuid.UUID
	Kind        string
	PeriodKey   string
	ChargeKey   string
	Currency    string
	Body        Invoice
	Total       decimal.Decimal
	PlatformFee decimal.Decimal
	LessorShare decimal.Decimal
	IssuedAt    time.Time
	// Status is DRAFT while a period invoice is open for review (until
	// ReviewUntil), FINALIZED once it is immutable and posted.
	Status      string
	ReviewUntil *time.Time
	FinalizedAt *time.Time
}

// Invoice statuses as stored.
const (
	InvoiceDraft     = "DRAFT"
	InvoiceFinalized = "FINALIZED"
)

const invoiceColumns = `id, number, contract_id, kind, period_key, charge_key, currency, body, total, platform_fee, lessor_share, issued_at,
	status, review_until, finalized_at`

func scanInvoice(row pgx.Row) (*StoredInvoice, error) {
	var inv StoredInvoice
	var body []byte
	if err := row.Scan(&inv.ID, &inv.Number, &inv.ContractID, &inv.Kind, &inv.PeriodKey, &inv.ChargeKey, &inv.Currency, &body,
		&inv.Total, &inv.PlatformFee, &inv.LessorShare, &inv.IssuedAt, &inv.Status, &inv.ReviewUntil, &inv.FinalizedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, &inv.Body); err != nil {
		return nil, fmt.Errorf("invoice %s body: %w", inv.ID, err)
	}
	// Invoices issued before VAT was charged carry no tax and no gross: their
	// gross is their net.
	if inv.Body.Gross.IsZero() && inv.Body.Tax.IsZero() {
		inv.Body.Gross = inv.Body.Total
		for i, l := range inv.Body.Lines {
			if l.Gross.IsZero() && l.Tax.IsZero() {
				inv.Body.Lines[i].Gross = l.Amount
			}
		}
	}
	return &inv, nil
}

type querier interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}

func loadEvents(ctx context.Context, q querier, sql string, args ...any) ([]UsageEvent, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []UsageEvent
	for rows.Next() {
		var e UsageEvent
		var eq uuid.UUID
		var meter string
		var voided bool
		if err := rows.Scan(&e.EventID, &eq, &meter, &e.Value, &e.At, &e.Seq, &voided); err != nil {
			return nil, err
		}
		if voided { // a corrected reading counts for nothing
			continue
		}
		e.EquipmentID, e.Meter = eq.String(), Meter(meter)
		out = append(out, e)
	}
	return out, rows.Err()
}

// eventColumns are what loadEvents scans; it leaves voided events out.
const eventColumns = `event_id, equipment_id, meter, value, at, seq, voided_at IS NOT NULL`

// invoiceByKey returns the invoice of a contract under a charge key, if issued.
func invoiceByKey(ctx context.Context, q querier, contractID uuid.UUID, key string) (*StoredInvoice, error) {
	inv, err := scanInvoice(q.QueryRow(ctx, `SELECT `+invoiceColumns+` FROM invoices WHERE contract_id = $1 AND charge_key = $2`, contractID, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return inv, err
}

// withCredit appends a credit line for amounts already invoiced (net credit,
// with the tax those invoices charged on it, kept as it was rather than
// rounded again) and splits the new total again, so lines, total, tax, gross,
// fee and lessor share stay consistent.
func withCredit(inv Invoice, credit, creditTax decimal.Decimal, desc string) (Invoice, error) {
	if credit.IsZero() && creditTax.IsZero() {
		return inv, nil
	}
	inv.Lines = append(inv.Lines, InvoiceLine{Kind: LineAdjustment, Description: desc, Quantity: decimal.NewFromInt(1),
		UnitPrice: credit.Neg(), Amount: credit.Neg(), Tax: creditTax.Neg(), Gross: credit.Add(creditTax).Neg(), taxFixed: true})
	inv.Total = inv.Total.Sub(credit)
	inv.Tax = inv.Tax.Sub(creditTax)
	inv.Gross = inv.Total.Add(inv.Tax)
	var err error
	inv.PlatformFee, inv.LessorShare, err = splitFee(inv.Total, inv.PlatformFeePercent, inv.Currency)
	return inv, err
}

// ClosePeriod issues the period invoice of the contract's period that starts at
// or contains periodAt: usage of the period (instant charges already issued in
// it are credited), late usage of earlier invoiced periods as adjustments, the
// minimum true-up, the fee split, VAT and the ledger postings, in one
// transaction. It is idempotent: closing the same period again returns the
// same invoice.
func (s *Store) ClosePeriod(ctx context.Context, contractID uuid.UUID, periodAt time.Time) (*StoredInvoice, error) {
	return s.closePeriod(ctx, contractID, periodAt, 0)
}

// DraftPeriod closes the period as ClosePeriod does, into a DRAFT invoice
// that stays open for review: nothing is posted to the ledger yet, and
// FinalizeDraft (after review, or finance's FinalizeInvoice before) rates the
// period again with the usage that arrived meanwhile, then posts it. A review
// of zero or less finalizes at once. Closing a period first finalizes an
// earlier period's draft, so a contract has at most one draft, its latest.
func (s *Store) DraftPeriod(ctx context.Context, contractID uuid.UUID, periodAt time.Time, review time.Duration) (*StoredInvoice, error) {
	return s.closePeriod(ctx, contractID, periodAt, review)
}

func (s *Store) closePeriod(ctx context.Context, contractID uuid.UUID, periodAt time.Time, review time.Duration) (*StoredInvoice, error) {
	c, err := s.ContractByID(ctx, contractID)
	if err != nil {
		return nil, err
	}
	p, err := PeriodAt(c.Terms, periodAt)
	if err != nil {
		return nil, fmt.Errorf("close period: %w", err)
	}
	key := "period:" + p.Key
	var out *StoredInvoice
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		// One settlement of a contract at a time (period closes and instant charges).
		if _, err := tx.Exec(ctx, `SELECT 1 FROM lease_contracts WHERE id = $1 FOR UPDATE`, contractID); err != nil {
			return err
		}
		if out, err = invoiceByKey(ctx, tx, contractID, key); err != nil || out != nil {
			return err
		}
		if err := s.finalizeOpenDrafts(ctx, tx, c); err != nil {
			return err
		}
		inv, adjusted, err := s.ratePeriodInvoice(ctx, tx, c, p, uuid.Nil)
		if err != nil {
			return err
		}
		stamp := `UPDATE usage_events SET invoice_id = $1 WHERE contract_id = $2 AND invoice_id IS NULL AND (period_key = $3 OR period_key = ANY($4))`
		if review > 0 {
			out, err = s.draft(ctx, tx, c, p.Key, key, inv, review, stamp, contractID, p.Key, adjusted)
		} else {
			out, err = s.issue(ctx, tx, c, InvoicePeriod, p.Key, key, inv, stamp, contractID, p.Key, adjusted)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("close period %s of %s: %w", p.Key, contractID, err)
	}
	s.poke(ctx, c.ID)
	if err := s.checkCredit(ctx, c); err != nil {
		slog.ErrorContext(ctx, "credit check failed", "contract_id", contractID, "err", err)
	}
	return out, nil
}

// ratePeriodInvoice rates period p as its period invoice: all of its usage,
// less the instant charges already issued in it (net and VAT as charged), with
// the late usage of earlier finalized periods as adjustments. draftID names
// the period's draft when it is rated again (its stamped adjustments count as
// late); uuid.Nil at the first close. It returns the keys of the periods
// adjusted.
func (s *Store) ratePeriodInvoice(ctx context.Context, tx pgx.Tx, c *StoredContract, p Period, draftID uuid.UUID) (Invoice, []string, error) {
	events, err := loadEvents(ctx, tx, `SELECT `+eventColumns+` FROM usage_events WHERE contract_id = $1 AND period_key = $2`, c.ID, p.Key)
	if err != nil {
		return Invoice{}, nil, err
	}
	var instant, instantTax decimal.Decimal
	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(total), 0), coalesce(sum((body->>'tax')::numeric), 0)
		FROM invoices WHERE contract_id = $1 AND kind = 'INSTANT' AND period_key = $2`,
		c.ID, p.Key).Scan(&instant, &instantTax); err != nil {
		return Invoice{}, nil, err
	}
	adjustments, err := s.lateAdjustments(ctx, tx, c, p.Key, draftID)
	if err != nil {
		return Invoice{}, nil, err
	}
	units, err := unitsAvailable(ctx, tx, c, p.Key)
	if err != nil {
		return Invoice{}, nil, err
	}
	inv, err := RatePeriodWithUnits(c.Terms, p, events, adjustments, units)
	if err != nil {
		return Invoice{}, nil, err
	}
	if inv, err = withCredit(inv, instant, instantTax, "instant charges already invoiced in this period"); err != nil {
		return Invoice{}, nil, err
	}
	inv.ContractID, inv.LessorID, inv.LesseeID = c.ID.String(), c.LessorID.String(), c.LesseeID.String()
	return inv, adjustedKeys(adjustments), nil
}

// finalizeOpenDrafts finalizes the contract's drafts (an earlier period's,
// whose review has not ended yet), inside the caller's transaction.
func (s *Store) finalizeOpenDrafts(ctx context.Context, tx pgx.Tx, c *StoredContract) error {
	rows, err := tx.Query(ctx, `SELECT `+invoiceColumns+` FROM invoices WHERE contract_id = $1 AND status = 'DRAFT' ORDER BY number`, c.ID)
	if err != nil {
		return err
	}
	drafts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*StoredInvoice, error) { return scanInvoice(r) })
	if err != nil {
		return err
	}
	for _, d := range drafts {
		if _, err := s.finalize(ctx, tx, c, d); err != nil {
			return err
		}
	}
	return nil
}

// draft inserts a period invoice as DRAFT until now + review, stamps the
// usage it rated (so an instant settlement cannot charge it again) and
// appends an INVOICE_DRAFTED event. Nothing is posted.
func (s *Store) draft(ctx context.Context, tx pgx.Tx, c *StoredContract, periodKey, chargeKey string, inv Invoice, review time.Duration, stampSQL string, stampArgs ...any) (*StoredInvoice, error) {
	_, body, err := postable(inv) // a draft must already balance
	if err != nil {
		return nil, err
	}
	id := uuid.New()
	out, err := scanInvoice(tx.QueryRow(ctx, `INSERT INTO invoices (id, contract_id, kind, period_key, charge_key, currency, body, total, platform_fee, lessor_share,
			status, review_until, finalized_at)
		VALUES ($1,$2,'PERIOD',$3,$4,$5,$6,$7,$8,$9,'DRAFT', now() + $10 * interval '1 microsecond', NULL) RETURNING `+invoiceColumns,
		id, c.ID, periodKey, chargeKey, inv.Currency, body, inv.Total, inv.PlatformFee, inv.LessorShare, review.Microseconds()))
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, stampSQL, append([]any{id}, stampArgs...)...); err != nil {
		return nil, err
	}
	msg := fmt.Sprintf("invoice %d drafted for review until %s: %s %s", out.Number, out.ReviewUntil.UTC().Format(time.RFC3339), inv.Gross.StringFixed(2), out.Currency)
	return out, appendEvent(ctx, tx, c.ID, EventInvoiceDrafted, msg, map[string]any{"invoiceId": id, "number": out.Number, "total": out.Total,
		"tax": inv.Tax, "gross": inv.Gross, "periodKey": periodKey, "reviewUntil": out.ReviewUntil})
}

// finalize rates a draft's period again (usage that arrived during review
// included), makes it FINALIZED with that body, stamps the new usage, posts
// it and appends INVOICE_ISSUED. A draft already finalized is returned as is.
func (s *Store) finalize(ctx context.Context, tx pgx.Tx, c *StoredContract, d *StoredInvoice) (*StoredInvoice, error) {
	if d.Status != InvoiceDraft {
		return d, nil
	}
	p, err := PeriodAt(c.Terms, d.Body.PeriodStart)
	if err != nil {
		return nil, err
	}
	inv, adjusted, err := s.ratePeriodInvoice(ctx, tx, c, p, d.ID)
	if err != nil {
		return nil, err
	}
	entries, body, err := postable(inv)
	if err != nil {
		return nil, err
	}
	out, err := scanInvoice(tx.QueryRow(ctx, `UPDATE invoices SET body = $2, total = $3, platform_fee = $4, lessor_share = $5, status = 'FINALIZED', finalized_at = now()
		WHERE id = $1 AND status = 'DRAFT' RETURNING `+invoiceColumns, d.ID, body, inv.Total, inv.PlatformFee, inv.LessorShare))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("finalize invoice %s: no longer a draft", d.ID)
	}
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `UPDATE usage_events SET invoice_id = $1 WHERE contract_id = $2 AND invoice_id IS NULL AND (period_key = $3 OR period_key = ANY($4))`,
		d.ID, c.ID, p.Key, adjusted); err != nil {
		return nil, err
	}
	if err := postLedger(ctx, tx, c.ID, d.ID, entries); err != nil {
		return nil, err
	}
	msg := fmt.Sprintf("invoice %d finalized: %s %s", out.Number, inv.Gross.StringFixed(2), out.Currency)
	if !inv.Tax.IsZero() {
		msg += fmt.Sprintf(", of which VAT %s", inv.Tax.StringFixed(2))
	}
	if !inv.Gross.Equal(d.Body.Gross) {
		msg += fmt.Sprintf(" (drafted at %s; late usage rated into it)", d.Body.Gross.StringFixed(2))
	}
	return out, appendEvent(ctx, tx, c.ID, EventInvoiceIssued, msg, map[string]any{"invoiceId": d.ID, "number": out.Number, "total": out.Total,
		"tax": inv.Tax, "gross": inv.Gross, "periodKey": p.Key, "draftedGross": d.Body.Gross})
}

// FinalizeDraft finalizes a draft invoice (the lease workflow, when its
// review ends). It is idempotent: a final invoice is returned as it is.
func (s *Store) FinalizeDraft(ctx context.Context, invoiceID uuid.UUID) (*StoredInvoice, error) {
	return s.finalizeByID(ctx, invoiceID, nil)
}

// FinalizeInvoice is finance ending a draft's review early: the lessor's
// admins and finance staff, or the operator. A final invoice cannot be
// finalized again (ILLEGAL_STATE); an invoice the caller cannot see is
// NOT_FOUND.
func (s *Store) FinalizeInvoice(ctx context.Context, p *identity.Principal, invoiceID uuid.UUID) (*StoredInvoice, error) {
	inv, err := s.Invoice(ctx, p, invoiceID)
	if errors.Is(err, errs.ErrNotFound) {
		return nil, errs.New(errs.NotFound, []string{"input", "invoiceId"}, "no such invoice")
	}
	if err != nil {
		return nil, err
	}
	c, err := s.ContractByID(ctx, inv.ContractID)
	if err != nil {
		return nil, err
	}
	if err := identity.Authorize(p, identity.ActInvoiceFinalize, identity.Scope{EnterpriseID: c.LessorID}); err != nil {
		return nil, err
	}
	return s.finalizeByID(ctx, invoiceID, func(cur *StoredInvoice) error {
		if cur.Status != InvoiceDraft {
			return errs.New(errs.IllegalState, []string{"input", "invoiceId"}, "invoice %d is already final (finalized at %s)",
				cur.Number, cur.FinalizedAt.UTC().Format(time.RFC3339))
		}
		return nil
	})
}

func (s *Store) finalizeByID(ctx context.Context, invoiceID uuid.UUID, check func(*StoredInvoice) error) (*StoredInvoice, error) {
	var out *StoredInvoice
	var c *StoredContract
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var contractID uuid.UUID
		if err := tx.QueryRow(ctx, `SELECT contract_id FROM invoices WHERE id = $1`, invoiceID).Scan(&contractID); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return errs.New(errs.NotFound, []string{"input", "invoiceId"}, "no such invoice")
			}
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM lease_contracts WHERE id = $1 FOR UPDATE`, contractID); err != nil {
			return err
		}
		cur, err := scanInvoice(tx.QueryRow(ctx, `SELECT `+invoiceColumns+` FROM invoices WHERE id = $1`, invoiceID))
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(cur); err != nil {
				return err
			}
		}
		if c, err = s.ContractByID(ctx, contractID); err != nil {
			return err
		}
		out, err = s.finalize(ctx, tx, c, cur)
		return err
	})
	if err != nil {
		if _, ok := errs.As(err); ok {
			return nil, err
		}
		return nil, fmt.Errorf("finalize invoice %s: %w", invoiceID, err)
	}
	s.poke(ctx, c.ID)
	if err := s.checkCredit(ctx, c); err != nil {
		slog.ErrorContext(ctx, "credit check failed", "contract_id", c.ID, "err", err)
	}
	return out, nil
}

func adjustedKeys(adj []Adjustment) []string {
	keys := make([]string, 0, len(adj))
	for _, a := range adj {
		keys = append(keys, a.Period.Key)
	}
	return keys
}

// lateAdjustments gathers unbilled usage of periods that already have their
// final period invoice (other than current), with what those periods billed.
// Usage stamped with draftID (the current period's draft, being rated again)
// counts as unbilled.
func (s *Store) lateAdjustments(ctx context.Context, q querier, c *StoredContract, current string, draftID uuid.UUID) ([]Adjustment, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT u.period_key FROM usage_events u
		JOIN invoices i ON i.contract_id = u.contract_id AND i.kind = 'PERIOD' AND i.period_key = u.period_key AND i.status = 'FINALIZED'
		WHERE u.contract_id = $1 AND (u.invoice_id IS NULL OR u.invoice_id = $3) AND u.period_key <> $2 AND u.voided_at IS NULL ORDER BY 1`, c.ID, current, draftID)
	if err != nil {
		return nil, err
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	var out []Adjustment
	for _, k := range keys {
		late, err := loadEvents(ctx, q, `SELECT `+eventColumns+` FROM usage_events WHERE contract_id = $1 AND period_key = $2
			AND (invoice_id IS NULL OR invoice_id = $3)`, c.ID, k, draftID)
		if err != nil {
			return nil, err
		}
		billed, err := loadEvents(ctx, q, `SELECT `+eventColumns+` FROM usage_events WHERE contract_id = $1 AND period_key = $2
			AND invoice_id IS NOT NULL AND invoice_id <> $3`, c.ID, k, draftID)
		if err != nil {
			return nil, err
		}
		p, err := PeriodAt(c.Terms, late[0].At)
		if err != nil {
			return nil, err
		}
		drawn, err := unitsDrawnBy(ctx, q, c, p.Key)
		if err != nil {
			return nil, err
		}
		out = append(out, Adjustment{Period: p, Billed: billed, Late: late, Drawn: drawn})
	}
	return out, nil
}

// issue inserts an invoice with its ledger postings, stamps the usage it rated
// (stampSQL gets the invoice id as $1 followed by stampArgs) and appends an
// INVOICE_ISSUED event.
func (s *Store) issue(ctx context.Context, tx pgx.Tx, c *StoredContract, kind, periodKey, chargeKey string, inv Invoice, stampSQL string, stampArgs ...any) (*StoredInvoice, error) {
	inv.ContractID, inv.LessorID, inv.LesseeID = c.ID.String(), c.LessorID.String(), c.LesseeID.String()
	entries, body, err := postable(inv)
	if err != nil {
		return nil, err
	}
	id := uuid.New()
	out, err := scanInvoice(tx.QueryRow(ctx, `INSERT INTO invoices (id, contract_id, kind, period_key, charge_key, currency, body, total, platform_fee, lessor_share)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) RETURNING `+invoiceColumns,
		id, c.ID, kind, periodKey, chargeKey, inv.Currency, body, inv.Total, inv.PlatformFee, inv.LessorShare))
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, stampSQL, append([]any{id}, stampArgs...)...); err != nil {
		return nil, err
	}
	if err := postLedger(ctx, tx, c.ID, id, entries); err != nil {
		return nil, err
	}
	msg := fmt.Sprintf("invoice %d issued: %s %s (%s)", out.Number, inv.Gross.StringFixed(2), out.Currency, strings.ToLower(kind))
	if !inv.Tax.IsZero() {
		msg = fmt.Sprintf("invoice %d issued: %s %s, of which VAT %s (%s)", out.Number, inv.Gross.StringFixed(2), out.Currency, inv.Tax.StringFixed(2), strings.ToLower(kind))
	}
	return out, appendEvent(ctx, tx, c.ID, EventInvoiceIssued, msg, map[string]any{"invoiceId": id, "number": out.Number, "total": out.Total,
		"tax": inv.Tax, "gross": inv.Gross, "periodKey": periodKey})
}

// postable returns an invoice's ledger entries (refusing one that does not
// balance) and its stored body.
func postable(inv Invoice) ([]Entry, []byte, error) {
	entries, err := Ledger(inv)
	if err != nil {
		return nil, nil, err
	}
	body, err := json.Marshal(inv)
	return entries, body, err
}

// postLedger inserts an invoice's entries under one posting.
func postLedger(ctx context.Context, tx pgx.Tx, contractID, invoiceID uuid.UUID, entries []Entry) error {
	for _, e := range entries {
		if _, err := tx.Exec(ctx, `INSERT INTO ledger_entries (posting_key, account, amount, currency, contract_id, invoice_id) VALUES ($1,$2,$3,$4,$5,$6)`,
			"invoice:"+invoiceID.String(), e.Account, e.Amount, e.Currency, contractID, invoiceID); err != nil {
			return err
		}
	}
	return nil
}

func appendEvent(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, contractID uuid.UUID, typ, msg string, data map[string]any) error {
	raw, _ := json.Marshal(data)
	// Under the contract's lock (a no-op where the caller holds it), so that a
	// contract's events commit in the order of their seq and a subscriber
	// reading after the last seq it saw never misses one.
	if _, err := q.Exec(ctx, `SELECT 1 FROM lease_contracts WHERE id = $1 FOR UPDATE`, contractID); err != nil {
		return err
	}
	_, err := q.Exec(ctx, `INSERT INTO lease_events (contract_id, type, message, data) VALUES ($1,$2,$3,$4)`, contractID, typ, msg, raw)
	return err
}

// InstantSettle rates at once the unbilled usage of the given machines between
// from and to (a finished production job, or the lessee's request) and charges
// it against the lessee's balance. jobKey makes it idempotent. Only usage of the
// period containing `to` is charged; earlier usage waits for its period close.
func (s *Store) InstantSettle(ctx context.Context, p *identity.Principal, contractID uuid.UUID, jobKey string, equipment []uuid.UUID, from, to time.Time) (*StoredInvoice, error) {
	c, err := s.Contract(ctx, p, contractID)
	if err != nil {
		return nil, err
	}
	if !identity.Can(p, identity.ActLeasingRead, identity.Scope{EnterpriseID: c.LesseeID}) && !identity.Can(p, identity.ActLeasingManage, identity.Scope{EnterpriseID: c.LessorID}) {
		return nil, errs.New(errs.Forbidden, nil, "only the lessee, the lessor or the operator may settle usage")
	}
	jobKey = strings.TrimSpace(jobKey)
	if e := input.Text([]string{"input", "jobKey"}, jobKey, input.Key); e != nil {
		return nil, e
	}
	if jobKey == "" || len(jobKey) > 200 {
		return nil, errs.Invalid([]string{"input", "jobKey"}, "job key must be 1 to 200 characters")
	}
	if !to.After(from) {
		return nil, errs.Invalid([]string{"input", "to"}, "the job must end after it starts")
	}
	per, err := PeriodAt(c.Terms, to.Add(-time.Nanosecond))
	if err != nil {
		return nil, errs.Invalid([]string{"input", "to"}, "outside the contract: %v", err)
	}
	key := "job:" + jobKey
	var out *StoredInvoice
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM lease_contracts WHERE id = $1 FOR UPDATE`, contractID); err != nil {
			return err
		}
		if out, err = invoiceByKey(ctx, tx, contractID, key); err != nil || out != nil {
			return err
		}
		// A closed period's late usage is its next invoice's adjustment.
		if closed, err := invoiceByKey(ctx, tx, contractID, "period:"+per.Key); err != nil {
			return err
		} else if closed != nil {
			return errs.New(errs.IllegalState, []string{"input", "to"},
				"period %s is closed (invoice %d); its late usage is billed on the next period's invoice", per.Key, closed.Number)
		}
		events, err := loadEvents(ctx, tx, `SELECT `+eventColumns+` FROM usage_events WHERE contract_id = $1 AND period_key = $2
			AND invoice_id IS NULL AND equipment_id = ANY($3) AND at >= $4 AND at < $5 ORDER BY at, seq`, contractID, per.Key, equipment, from, to)
		if err != nil {
			return err
		}
		if len(events) == 0 {
			return errs.New(errs.IllegalState, []string{"input"}, "no unbilled usage of those machines in that time")
		}
		// Graduated tiers continue where the period's earlier instant charges left them.
		charged, err := loadEvents(ctx, tx, `SELECT `+eventColumns+` FROM usage_events u WHERE u.contract_id = $1 AND u.period_key = $2
			AND u.invoice_id IN (SELECT id FROM invoices WHERE contract_id = $1 AND kind = 'INSTANT' AND period_key = $2)`, contractID, per.Key)
		if err != nil {
			return err
		}
		units, err := unitsAvailable(ctx, tx, c, per.Key)
		if err != nil {
			return err
		}
		charge, err := InstantChargeWithUnits(c.Terms, charged, events, units)
		if err != nil {
			return err
		}
		inv := Invoice{PeriodKey: per.Key, PeriodStart: per.Start, PeriodEnd: per.End, Currency: charge.Currency, Lines: charge.Lines,
			Subtotal: charge.Total, Total: charge.Total, PlatformFee: charge.PlatformFee, LessorShare: charge.LessorShare,
			PlatformFeePercent: c.Terms.termsAt(per.Start).feePercent, VATRatePercent: charge.VATRatePercent, Tax: charge.Tax, Gross: charge.Gross}
		ids := make([]string, len(events))
		eqs := make([]uuid.UUID, len(events))
		for i, e := range events {
			ids[i] = e.EventID
			eqs[i], _ = uuid.Parse(e.EquipmentID)
		}
		out, err = s.issue(ctx, tx, c, InvoiceInstant, per.Key, key, inv,
			`UPDATE usage_events u SET invoice_id = $1 FROM unnest($2::uuid[], $3::text[]) k(eq, ev) WHERE u.equipment_id = k.eq AND u.event_id = k.ev`, eqs, ids)
		return err
	})
	if err != nil {
		if _, ok := errs.As(err); ok {
			return nil, err
		}
		return nil, fmt.Errorf("instant settle: %w", err)
	}
	s.poke(ctx, c.ID)
	if err := s.checkCredit(ctx, c); err != nil {
		slog.ErrorContext(ctx, "credit check failed", "contract_id", contractID, "err", err)
	}
	return out, nil
}

// Balance is what the lessee owes under the contract: invoices less payments.
func (s *Store) Balance(ctx context.Context, c *StoredContract) (decimal.Decimal, error) {
	var b decimal.Decimal
	err := s.db.QueryRow(ctx, `SELECT coalesce(sum(amount), 0) FROM ledger_entries WHERE contract_id = $1 AND account = $2`,
		c.ID, "lessee:"+c.LesseeID.String()+":receivable").Scan(&b)
	return b, err
}

// RecordPayment records a payment by the lessee (idempotent on reference) and
// unlocks the machines when the balance is back within the credit limit.
func (s *Store) RecordPayment(ctx context.Context, p *identity.Principal, contractID uuid.UUID, amount decimal.Decimal, reference string) (decimal.Decimal, error) {
	c, err := s.Contract(ctx, p, contractID)
	if err != nil {
		return decimal.Zero, err
	}
	if err := identity.Authorize(p, identity.ActPaymentRecord, identity.Scope{EnterpriseID: c.LessorID}); err != nil {
		return decimal.Zero, err
	}
	reference = strings.TrimSpace(reference)
	if problems := checkMoneyReceived(c, amount, reference); len(problems) > 0 {
		return decimal.Zero, problems
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM lease_contracts WHERE id = $1 FOR UPDATE`, c.ID); err != nil {
			return err
		}
		id := uuid.New()
		tag, err := tx.Exec(ctx, `INSERT INTO payments (id, contract_id, amount, currency, reference) VALUES ($1,$2,$3,$4,$5) ON CONFLICT (contract_id, reference) DO NOTHING`,
			id, c.ID, amount, c.Terms.Currency, reference)
		if err != nil || tag.RowsAffected() == 0 {
			return err // a repeated reference is the same payment
		}
		posting := "payment:" + id.String()
		for _, e := range []struct {
			account string
			amount  decimal.Decimal
		}{{"lessee:" + c.LesseeID.String() + ":receivable", amount.Neg()}, {"platform:cash", amount}} {
			if _, err := tx.Exec(ctx, `INSERT INTO ledger_entries (posting_key, account, amount, currency, contract_id) VALUES ($1,$2,$3,$4,$5)`,
				posting, e.account, e.amount, c.Terms.Currency, c.ID); err != nil {
				return err
			}
		}
		return appendEvent(ctx, tx, c.ID, EventPaymentRecorded, fmt.Sprintf("payment %s %s received (%s)", amount.StringFixed(2), c.Terms.Currency, reference),
			map[string]any{"amount": amount, "reference": reference})
	})
	if err != nil {
		return decimal.Zero, fmt.Errorf("record payment: %w", err)
	}
	s.poke(ctx, c.ID)
	if err := s.checkCredit(ctx, c); err != nil {
		return decimal.Zero, err
	}
	return s.Balance(ctx, c)
}

// creditWarnPercent of the credit limit is where the lessee is warned.
var creditWarnPercent = decimal.NewFromInt(80)

// checkMoneyReceived checks a payment's or a top-up's amount (positive, in
// the contract's currency's minor units) and bank reference (1 to 200
// characters of text).
func checkMoneyReceived(c *StoredContract, amount decimal.Decimal, reference string) errs.List {
	var problems errs.List
	if e := input.Amount([]string{"input", "amount"}, amount, c.Terms.Currency, input.Positive); e != nil {
		problems = append(problems, e)
	}
	if e := checkReference(reference); e != nil {
		problems = append(problems, e)
	}
	return problems
}

// checkReference checks an order or bank reference: 1 to 200 characters of text.
func checkReference(reference string) *errs.Error {
	if e := input.Text([]string{"input", "reference"}, reference, input.Key); e != nil {
		return e
	}
	if reference == "" {
		return errs.Invalid([]string{"input", "reference"}, "reference must be 1 to %d characters", input.Key.Max)
	}
	return nil
}

// checkCredit first pays what is owed from the lessee's wallet (drawWallet),
// then locks the contract's machines when the balance exceeds the credit
// limit and unlocks them when it is back within; it warns once
// (CREDIT_LIMIT_NEAR) when the balance reaches 80% of the limit, again only
// after it fell below that. It reads the balance under the contract's lock,
// so concurrent checks agree.
func (s *Store) checkCredit(ctx context.Context, c *StoredContract) error {
	appended := false
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var warned bool
		if err := tx.QueryRow(ctx, `SELECT credit_warned FROM lease_contracts WHERE id = $1 FOR UPDATE`, c.ID).Scan(&warned); err != nil {
			return err
		}
		// The wallet pays first, so the balance checked is what is still owed.
		drew, err := drawWallet(ctx, tx, c)
		if err != nil {
			return err
		}
		announced, err := announceUnits(ctx, tx, c)
		if err != nil {
			return err
		}
		appended = appended || drew || announced
		var bal decimal.Decimal
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(amount), 0) FROM ledger_entries WHERE contract_id = $1 AND account = $2`,
			c.ID, receivableAccount(c)).Scan(&bal); err != nil {
			return err
		}
		limit := c.Terms.CreditLimit
		over := bal.GreaterThan(limit)
		warnAt := limit.Mul(creditWarnPercent).Div(hundred)
		var sql, typ, msg string
		if over {
			sql = `UPDATE equipment SET locked_at = now() WHERE locked_at IS NULL AND id IN (SELECT equipment_id FROM contract_equipment WHERE contract_id = $1)`
			typ, msg = EventEquipmentLocked, fmt.Sprintf("balance %s exceeds the credit limit %s: equipment locked (a job in progress finishes its cycle)", bal.StringFixed(2), limit.StringFixed(2))
		} else {
			sql = `UPDATE equipment SET locked_at = NULL WHERE locked_at IS NOT NULL AND id IN (SELECT equipment_id FROM contract_equipment WHERE contract_id = $1)`
			typ, msg = EventEquipmentUnlock, fmt.Sprintf("balance %s is within the credit limit %s: equipment unlocked", bal.StringFixed(2), limit.StringFixed(2))
		}
		tag, err := tx.Exec(ctx, sql, c.ID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() > 0 {
			appended = true
			if err := appendEvent(ctx, tx, c.ID, typ, msg, map[string]any{"balance": bal, "creditLimit": limit, "machines": tag.RowsAffected()}); err != nil {
				return err
			}
		}
		nowWarned := warned
		switch {
		case !over && limit.IsPositive() && !bal.LessThan(warnAt) && !warned:
			nowWarned, appended = true, true
			if err := appendEvent(ctx, tx, c.ID, EventCreditNear, fmt.Sprintf("balance %s has reached %s%% of the credit limit %s: the machines lock above %s",
				bal.StringFixed(2), creditWarnPercent, limit.StringFixed(2), limit.StringFixed(2)),
				map[string]any{"balance": bal, "creditLimit": limit, "percent": creditWarnPercent}); err != nil {
				return err
			}
		case over:
			nowWarned = true // the lock is the louder warning
		case bal.LessThan(warnAt):
			nowWarned = false
		}
		if nowWarned != warned {
			_, err = tx.Exec(ctx, `UPDATE lease_contracts SET credit_warned = $2 WHERE id = $1`, c.ID, nowWarned)
		}
		return err
	})
	if err == nil && appended {
		s.poke(ctx, c.ID)
	}
	return err
}

// EventsChannel is the Redis channel on which a contract's new lease events
// are announced (the subscriber then reads them from Postgres).
func EventsChannel(contractID uuid.UUID) string { return "lease-events:" + contractID.String() }

// poke announces, after a commit, that the contract's timeline grew; a lost
// announcement costs a subscriber only its next poll.
func (s *Store) poke(ctx context.Context, contractID uuid.UUID) {
	s.cache.Publish(ctx, EventsChannel(contractID), map[string]any{})
}
