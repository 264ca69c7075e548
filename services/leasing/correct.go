package leasing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	input "github.com/masscustom/orchestrator/services/validate"
)

// Note kinds as stored.
const (
	NoteCredit = "CREDIT"
	NoteDebit  = "DEBIT"
)

// EventNoteIssued is the lease event of a credit or debit note.
const EventNoteIssued = "NOTE_ISSUED"

// EventRef names one stored usage event.
type EventRef struct {
	EquipmentID uuid.UUID
	EventID     string
}

// ValueCorrection replaces a stored event's value: the event is voided and a
// new one (same machine, meter and time) records the right value.
type ValueCorrection struct {
	EventRef
	Value decimal.Decimal
}

// Correction is what a lessor (or its finance) corrects on a contract's
// recorded usage, under an idempotency key and with a reason.
type Correction struct {
	Key    string
	Reason string
	Voids  []EventRef
	Values []ValueCorrection
}

// Note is a numbered credit or debit note against a final period invoice:
// what re-rating the invoice's period with the corrected usage changes, line
// by line. Its amounts are signed (negative on a credit note); the invoice
// plus its notes always equals the period rated again.
type Note struct {
	ID           uuid.UUID
	Number       int64
	ContractID   uuid.UUID
	InvoiceID    uuid.UUID
	CorrectionID uuid.UUID
	Kind         string
	Currency     string
	Body         NoteBody
	Total        decimal.Decimal
	Tax          decimal.Decimal
	Gross        decimal.Decimal
	IssuedAt     time.Time
}

// NoteBody is a note's stored content.
type NoteBody struct {
	InvoiceNumber int64  `json:"invoiceNumber"`
	PeriodKey     string `json:"periodKey"`
	Reason        string `json:"reason"`
	// Lines are the changes: for each line of the invoice (as corrected by
	// earlier notes) whose amount the re-rating changes, the difference, with
	// its tax difference; a line the re-rating adds or drops counts in full.
	Lines []InvoiceLine `json:"lines"`
	// PlatformFee and LessorShare are the changes of the fee split.
	PlatformFee decimal.Decimal `json:"platformFee"`
	LessorShare decimal.Decimal `json:"lessorShare"`
	// Rerated is the invoice as it now stands (invoice plus every note so far).
	Rerated Invoice `json:"rerated"`
}

// CorrectionResult is what a correction did.
type CorrectionResult struct {
	CorrectionID uuid.UUID
	Voided       int
	Added        int
	Notes        []Note
	// Repeated is true when the key named a correction already made: nothing
	// was done again, and Notes are the notes it issued then.
	Repeated bool
}

const noteColumns = `id, number, contract_id, invoice_id, correction_id, kind, currency, body, total, tax, gross, issued_at`

func scanNote(row pgx.Row) (Note, error) {
	var n Note
	var body []byte
	if err := row.Scan(&n.ID, &n.Number, &n.ContractID, &n.InvoiceID, &n.CorrectionID, &n.Kind, &n.Currency, &body,
		&n.Total, &n.Tax, &n.Gross, &n.IssuedAt); err != nil {
		return Note{}, err
	}
	return n, json.Unmarshal(body, &n.Body)
}

// CorrectUsage voids events and corrects values of a contract's usage. Usage
// not yet on a final invoice simply stops counting (a draft is rated again
// when it is finalized); each final period invoice whose period it changes
// gets a credit or debit note, posted to the ledger in the same transaction.
// The lessor's admins and finance staff, or the operator, may correct. A
// repeated key returns the correction made under it and changes nothing.
func (s *Store) CorrectUsage(ctx context.Context, p *identity.Principal, contractID uuid.UUID, corr Correction) (*CorrectionResult, error) {
	c, err := s.Contract(ctx, p, contractID)
	if err != nil {
		return nil, err
	}
	if err := identity.Authorize(p, identity.ActUsageCorrect, identity.Scope{EnterpriseID: c.LessorID}); err != nil {
		return nil, err
	}
	corr.Key, corr.Reason = strings.TrimSpace(corr.Key), strings.TrimSpace(corr.Reason)
	if problems := checkCorrection(c, corr); len(problems) > 0 {
		return nil, problems
	}
	var out *CorrectionResult
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM lease_contracts WHERE id = $1 FOR UPDATE`, c.ID); err != nil {
			return err
		}
		var prior uuid.UUID
		err := tx.QueryRow(ctx, `SELECT id FROM usage_corrections WHERE contract_id = $1 AND key = $2`, c.ID, corr.Key).Scan(&prior)
		if err == nil {
			out, err = s.repeatedCorrection(ctx, tx, prior)
			return err
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		out, err = s.correct(ctx, tx, c, p, corr)
		return err
	})
	if err != nil {
		if _, ok := errs.As(err); ok {
			return nil, err
		}
		var list errs.List
		if errors.As(err, &list) {
			return nil, list
		}
		return nil, fmt.Errorf("correct usage of %s: %w", contractID, err)
	}
	if !out.Repeated {
		s.poke(ctx, c.ID)
		if err := s.checkCredit(ctx, c); err != nil {
			slog.ErrorContext(ctx, "credit check failed", "contract_id", c.ID, "err", err)
		}
	}
	return out, nil
}

func checkCorrection(c *StoredContract, corr Correction) errs.List {
	var problems errs.List
	if e := input.Text([]string{"input", "key"}, corr.Key, input.Key); e != nil {
		problems = append(problems, e)
	} else if corr.Key == "" {
		problems = append(problems, errs.Invalid([]string{"input", "key"}, "a correction needs an idempotency key"))
	}
	if e := input.Text([]string{"input", "reason"}, corr.Reason, input.Note); e != nil {
		problems = append(problems, e)
	} else if corr.Reason == "" {
		problems = append(problems, errs.Invalid([]string{"input", "reason"}, "a correction needs a reason"))
	}
	if len(corr.Voids)+len(corr.Values) == 0 {
		problems = append(problems, errs.Invalid([]string{"input"}, "a correction voids or corrects at least one event"))
	}
	if len(corr.Voids)+len(corr.Values) > 1000 {
		problems = append(problems, errs.Invalid([]string{"input"}, "a correction touches at most 1000 events"))
	}
	seen := map[EventRef]bool{}
	for i, v := range corr.Voids {
		if seen[v] {
			problems = append(problems, errs.Invalid([]string{"input", "voids", fmt.Sprint(i)}, "event %q is named twice", v.EventID))
		}
		seen[v] = true
	}
	for i, v := range corr.Values {
		path := []string{"input", "values", fmt.Sprint(i)}
		if seen[v.EventRef] {
			problems = append(problems, errs.Invalid(path, "event %q is named twice", v.EventID))
		}
		seen[v.EventRef] = true
		if neg, _, ok := parseValue(v.Value.String()); !ok || neg {
			problems = append(problems, errs.Invalid(append(path, "value"),
				"a corrected value is a decimal of 0 or more, at most %d digits before the point and %d after", maxIntDigits, maxFracDigits))
		}
	}
	return problems
}

func (s *Store) repeatedCorrection(ctx context.Context, tx pgx.Tx, id uuid.UUID) (*CorrectionResult, error) {
	out := &CorrectionResult{CorrectionID: id, Repeated: true}
	// The readings it added are named after the ones it voided (each by its
	// primary key), so no scan of the usage table is needed.
	if err := tx.QueryRow(ctx, `SELECT count(*), count(n.event_id) FROM usage_events o
		LEFT JOIN usage_events n ON n.equipment_id = o.equipment_id AND n.event_id = o.event_id || '~' || $2
		WHERE o.voided_by = $1`, id, id.String()).Scan(&out.Voided, &out.Added); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `SELECT `+noteColumns+` FROM invoice_notes WHERE correction_id = $1 ORDER BY number`, id)
	if err != nil {
		return nil, err
	}
	out.Notes, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Note, error) { return scanNote(r) })
	return out, err
}

// touched is a stored event a correction names.
type touched struct {
	ref       EventRef
	meter     string
	value     decimal.Decimal
	at        time.Time
	seq       int64
	periodKey string
	invoiceID *uuid.UUID
	billedIn  string // the period of the invoice that billed it, if one has
	voided    bool
}

func (s *Store) correct(ctx context.Context, tx pgx.Tx, c *StoredContract, p *identity.Principal, corr Correction) (*CorrectionResult, error) {
	refs := make([]EventRef, 0, len(corr.Voids)+len(corr.Values))
	paths := make([][]string, 0, cap(refs))
	for i, v := range corr.Voids {
		refs, paths = append(refs, v), append(paths, []string{"input", "voids", fmt.Sprint(i)})
	}
	for i, v := range corr.Values {
		refs, paths = append(refs, v.EventRef), append(paths, []string{"input", "values", fmt.Sprint(i)})
	}
	events := make([]touched, len(refs))
	var problems errs.List
	for i, r := range refs {
		e := touched{ref: r}
		err := tx.QueryRow(ctx, `SELECT meter, value, at, seq, period_key, invoice_id, voided_at IS NOT NULL FROM usage_events
			WHERE equipment_id = $1 AND event_id = $2 AND contract_id = $3 FOR UPDATE`, r.EquipmentID, r.EventID, c.ID).
			Scan(&e.meter, &e.value, &e.at, &e.seq, &e.periodKey, &e.invoiceID, &e.voided)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			problems = append(problems, errs.New(errs.NotFound, paths[i], "no usage event %q of that machine under this contract", r.EventID))
			continue
		case err != nil:
			return nil, err
		case e.voided:
			problems = append(problems, errs.New(errs.IllegalState, paths[i], "usage event %q was already voided", r.EventID))
			continue
		}
		if e.invoiceID != nil {
			if err := tx.QueryRow(ctx, `SELECT period_key FROM invoices WHERE id = $1`, *e.invoiceID).Scan(&e.billedIn); err != nil {
				return nil, err
			}
		}
		if i >= len(corr.Voids) {
			if agg, _ := Meter(e.meter).Aggregation(); agg == AggregationCount && !corr.Values[i-len(corr.Voids)].Value.IsInteger() {
				problems = append(problems, errs.Invalid(append(paths[i], "value"), "%s counts whole units", e.meter))
				continue
			}
		}
		events[i] = e
	}
	if len(problems) > 0 {
		return nil, problems
	}

	out := &CorrectionResult{CorrectionID: uuid.New()}
	if _, err := tx.Exec(ctx, `INSERT INTO usage_corrections (id, contract_id, key, reason, requested_by) VALUES ($1,$2,$3,$4,$5)`,
		out.CorrectionID, c.ID, corr.Key, corr.Reason, p.UserID); err != nil {
		return nil, err
	}
	periods := map[string]bool{}
	// Usage billed late, as an adjustment on a later period's invoice: that
	// invoice's adjustment of the usage's period is what changes.
	late := map[string]map[string]bool{} // invoice's period → adjusted periods
	for i, e := range events {
		if _, err := tx.Exec(ctx, `UPDATE usage_events SET voided_by = $3, voided_at = now() WHERE equipment_id = $1 AND event_id = $2`,
			e.ref.EquipmentID, e.ref.EventID, out.CorrectionID); err != nil {
			return nil, err
		}
		out.Voided++
		if e.billedIn != "" && e.billedIn != e.periodKey {
			if late[e.billedIn] == nil {
				late[e.billedIn] = map[string]bool{}
			}
			late[e.billedIn][e.periodKey] = true
		} else {
			periods[e.periodKey] = true
		}
		if i < len(corr.Voids) {
			continue
		}
		// The corrected value is a new event of the same reading; it is billed
		// where the original was (by the note, when that invoice is final).
		v := corr.Values[i-len(corr.Voids)]
		if _, err := tx.Exec(ctx, `INSERT INTO usage_events (equipment_id, event_id, meter, value, at, seq, contract_id, period_key, invoice_id)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`, e.ref.EquipmentID, e.ref.EventID+"~"+out.CorrectionID.String(), e.meter, v.Value, e.at, e.seq,
			c.ID, e.periodKey, e.invoiceID); err != nil {
			return nil, err
		}
		out.Added++
	}
	// A period's late usage billed on later invoices was rated against the
	// usage that period had billed before: when any of its usage changes, each
	// such adjustment is rated again (its tiers may sit elsewhere now).
	touched := map[string]bool{}
	for _, e := range events {
		touched[e.periodKey] = true
	}
	for q := range touched {
		rows, err := tx.Query(ctx, `SELECT DISTINCT i.period_key FROM usage_events u JOIN invoices i ON i.id = u.invoice_id
			WHERE u.contract_id = $1 AND u.period_key = $2 AND i.period_key <> $2 AND i.kind = 'PERIOD'`, c.ID, q)
		if err != nil {
			return nil, err
		}
		billers, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, err
		}
		for _, b := range billers {
			if late[b] == nil {
				late[b] = map[string]bool{}
			}
			late[b][q] = true
		}
	}
	for period := range late {
		periods[period] = true
	}
	keys := slices.Sorted(maps.Keys(periods)) // notes numbered in period order
	for _, period := range keys {
		inv, err := invoiceByKey(ctx, tx, c.ID, "period:"+period)
		if err != nil {
			return nil, err
		}
		if inv == nil || inv.Status != InvoiceFinalized {
			continue // rated when its period is closed or its draft finalized
		}
		note, err := s.noteFor(ctx, tx, c, inv, out.CorrectionID, corr.Reason, late[period])
		if err != nil {
			return nil, err
		}
		if note != nil {
			out.Notes = append(out.Notes, *note)
		}
	}
	return out, nil
}

// noteFor re-rates a final period invoice's own usage with the corrected
// events, and its adjustments of the periods in adjusted (late usage of
// theirs it billed that the correction touched), and issues the difference
// from the invoice as it stands (with its earlier notes) as a note; nil when
// nothing changes. Its other adjustment lines (late usage of other periods,
// instant charges credited) stand as they were.
func (s *Store) noteFor(ctx context.Context, tx pgx.Tx, c *StoredContract, inv *StoredInvoice, correctionID uuid.UUID, reason string, adjusted map[string]bool) (*Note, error) {
	p, err := PeriodAt(c.Terms, inv.Body.PeriodStart)
	if err != nil {
		return nil, err
	}
	current := inv.Body
	var last []byte
	err = tx.QueryRow(ctx, `SELECT body->'rerated' FROM invoice_notes WHERE invoice_id = $1 ORDER BY number DESC LIMIT 1`, inv.ID).Scan(&last)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	}
	if err == nil {
		// Into a fresh value: decoding into inv.Body would reuse its lines'
		// backing array and keep fields the JSON omits (an adjustment line's
		// adjustsPeriod on the line that now sits at its index).
		current = Invoice{}
		if err := json.Unmarshal(last, &current); err != nil {
			return nil, err
		}
	}
	// What the invoice rated of its own period: the usage it billed and the
	// period's instant charges billed (usage that arrived after it is the
	// next invoice's adjustment, and stays out of this note).
	events, err := loadEvents(ctx, tx, `SELECT `+eventColumns+` FROM usage_events WHERE contract_id = $1 AND period_key = $2
		AND invoice_id IN (SELECT id FROM invoices WHERE contract_id = $1 AND period_key = $2 AND (kind = 'INSTANT' AND number < $4 OR id = $3))`,
		c.ID, p.Key, inv.ID, inv.Number)
	if err != nil {
		return nil, err
	}
	// A final invoice's prepaid draw never grows: a correction that removes
	// prepaid usage gives units back, one that adds usage bills it (units
	// topped up since are for the periods still open).
	units, err := unitsDrawnBy(ctx, tx, c, p.Key)
	if err != nil {
		return nil, err
	}
	own, err := RatePeriodWithUnits(c.Terms, p, events, nil, units)
	if err != nil {
		return nil, err
	}
	// The late usage of other periods this invoice billed and the correction
	// touched: rated again against what those periods had billed before it.
	var again []InvoiceLine
	for _, k := range slices.Sorted(maps.Keys(adjusted)) {
		lines, err := s.adjustmentAgain(ctx, tx, c, inv, p, k)
		if err != nil {
			return nil, err
		}
		again = append(again, lines...)
	}
	rerated, err := rerate(own, current, adjusted, again)
	if err != nil {
		return nil, err
	}
	rerated.ContractID, rerated.LessorID, rerated.LesseeID = current.ContractID, current.LessorID, current.LesseeID
	body := noteBody(inv, current, rerated, reason)
	if len(body.Lines) == 0 && body.PlatformFee.IsZero() {
		return nil, nil
	}
	delta := Invoice{ContractID: current.ContractID, LessorID: current.LessorID, LesseeID: current.LesseeID, PeriodKey: p.Key,
		Currency: current.Currency, Lines: body.Lines, Total: sumAmounts(body.Lines), PlatformFee: body.PlatformFee, LessorShare: body.LessorShare,
		VATRatePercent: current.VATRatePercent}
	for _, l := range body.Lines {
		delta.Tax = delta.Tax.Add(l.Tax)
	}
	delta.Gross = delta.Total.Add(delta.Tax)
	// A credit never takes back more than the invoice, its notes and the
	// period's instant charges (which the invoice credited) billed.
	if delta.Gross.IsNegative() {
		var instant decimal.Decimal
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(total + coalesce((body->>'tax')::numeric, 0)), 0) FROM invoices
			WHERE contract_id = $1 AND kind = 'INSTANT' AND period_key = $2`, c.ID, p.Key).Scan(&instant); err != nil {
			return nil, err
		}
		if billed := current.Gross.Add(instant); delta.Gross.Neg().GreaterThan(billed) {
			return nil, fmt.Errorf("leasing: note on invoice %d would credit %s, more than the %s billed for its period", inv.Number, delta.Gross.Neg(), billed)
		}
	}
	entries, err := Ledger(delta)
	if err != nil {
		return nil, err
	}
	returned := decimal.Zero // prepaid units given back (negative) or drawn more
	for _, l := range body.Lines {
		if l.Kind == LinePrepaidUnits {
			returned = returned.Add(l.Quantity)
		}
	}
	kind := NoteDebit
	if delta.Gross.IsNegative() || delta.Gross.IsZero() && (delta.Total.IsNegative() || delta.Total.IsZero() && returned.IsNegative()) {
		kind = NoteCredit
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	id := uuid.New()
	note, err := scanNote(tx.QueryRow(ctx, `INSERT INTO invoice_notes (id, contract_id, invoice_id, correction_id, kind, currency, body, total, tax, gross)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) RETURNING `+noteColumns,
		id, c.ID, inv.ID, correctionID, kind, inv.Currency, raw, delta.Total, delta.Tax, delta.Gross))
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if _, err := tx.Exec(ctx, `INSERT INTO ledger_entries (posting_key, account, amount, currency, contract_id, invoice_id) VALUES ($1,$2,$3,$4,$5,$6)`,
			"note:"+id.String(), e.Account, e.Amount, e.Currency, c.ID, inv.ID); err != nil {
			return nil, err
		}
	}
	msg := fmt.Sprintf("%s note %d on invoice %d: %s %s (%s)", strings.ToLower(kind), note.Number, inv.Number, delta.Gross.StringFixed(2), inv.Currency, reason)
	return &note, appendEvent(ctx, tx, c.ID, EventNoteIssued, msg, map[string]any{"noteId": id, "number": note.Number, "kind": kind,
		"invoiceId": inv.ID, "invoiceNumber": inv.Number, "gross": delta.Gross, "tax": delta.Tax, "total": delta.Total})
}

// rerate is the invoice of a period as it is rated now: the period's own
// lines from own (usage and minimum true-up), the adjustment lines of the
// periods in adjusted as rated again (again), the current's other adjustment
// lines as they were, and the fee split and VAT of the whole.
func rerate(own, current Invoice, adjusted map[string]bool, again []InvoiceLine) (Invoice, error) {
	out := own
	out.Lines = append([]InvoiceLine(nil), own.Lines...)
	for _, l := range current.Lines {
		if l.Kind == LineAdjustment && !adjusted[l.AdjustsPeriod] {
			l.taxFixed = true // its VAT was charged as it was
			out.Lines = append(out.Lines, l)
		}
	}
	out.Lines = append(out.Lines, again...)
	out.Total = sumAmounts(out.Lines)
	var err error
	if out.PlatformFee, out.LessorShare, err = splitFee(out.Total, out.PlatformFeePercent, out.Currency); err != nil {
		return Invoice{}, err
	}
	return TaxLines(out, own.VATRatePercent)
}

// adjustmentAgain rates again the adjustment invoice inv made of period key:
// the late usage of key it billed that still counts, against the usage of key
// billed before it (key's own invoices and the adjustments of invoices issued
// before inv), with the prepaid units key drew.
func (s *Store) adjustmentAgain(ctx context.Context, tx pgx.Tx, c *StoredContract, inv *StoredInvoice, current Period, key string) ([]InvoiceLine, error) {
	late, err := loadEvents(ctx, tx, `SELECT `+eventColumns+` FROM usage_events WHERE contract_id = $1 AND period_key = $2 AND invoice_id = $3`, c.ID, key, inv.ID)
	if err != nil || len(late) == 0 {
		return nil, err
	}
	billed, err := loadEvents(ctx, tx, `SELECT `+eventColumns+` FROM usage_events WHERE contract_id = $1 AND period_key = $2
		AND invoice_id IN (SELECT id FROM invoices WHERE contract_id = $1 AND number < $3)`, c.ID, key, inv.Number)
	if err != nil {
		return nil, err
	}
	old, err := PeriodAt(c.Terms, late[0].At)
	if err != nil {
		return nil, err
	}
	drawn, err := unitsDrawnBy(ctx, tx, c, key)
	if err != nil {
		return nil, err
	}
	return adjustmentLines(c.Terms, current, Adjustment{Period: old, Billed: billed, Late: late, Drawn: drawn})
}

// lineKey identifies a line across ratings of the same period.
type lineKey struct {
	kind          LineKind
	meter         Meter
	start, end    int64
	adjustsPeriod string
	description   string
}

func keyOf(l InvoiceLine) lineKey {
	k := lineKey{kind: l.Kind, meter: l.Meter, start: l.Start.UnixNano(), end: l.End.UnixNano(), adjustsPeriod: l.AdjustsPeriod}
	if l.Kind == LineAdjustment {
		k.description = l.Description
	}
	return k
}

// noteBody lists, line by line, what changes from current to rerated.
func noteBody(inv *StoredInvoice, current, rerated Invoice, reason string) NoteBody {
	body := NoteBody{InvoiceNumber: inv.Number, PeriodKey: inv.PeriodKey, Reason: reason, Rerated: rerated,
		PlatformFee: rerated.PlatformFee.Sub(current.PlatformFee), LessorShare: rerated.LessorShare.Sub(current.LessorShare)}
	old := map[lineKey]InvoiceLine{}
	for _, l := range current.Lines {
		old[keyOf(l)] = l
	}
	seen := map[lineKey]bool{}
	diff := func(n, o InvoiceLine) {
		// A change of prepaid units drawn is a line of its own, with no amount.
		if n.Amount.Equal(o.Amount) && n.Tax.Equal(o.Tax) && (n.Kind != LinePrepaidUnits && o.Kind != LinePrepaidUnits || n.Quantity.Equal(o.Quantity)) {
			return
		}
		d := n
		if n.Kind == "" {
			d = o
		}
		d.Quantity = n.Quantity.Sub(o.Quantity)
		d.Amount = n.Amount.Sub(o.Amount)
		d.Tax = n.Tax.Sub(o.Tax)
		d.Gross = d.Amount.Add(d.Tax)
		d.Description = "correction of: " + d.Description
		body.Lines = append(body.Lines, d)
	}
	for _, n := range rerated.Lines {
		k := keyOf(n)
		seen[k] = true
		diff(n, old[k])
	}
	for _, o := range current.Lines {
		if !seen[keyOf(o)] {
			diff(InvoiceLine{}, o)
		}
	}
	return body
}

// Note returns a note the viewer may read: the parties of its contract and the
// operator, as for its invoice; others get NOT_FOUND.
func (s *Store) Note(ctx context.Context, p *identity.Principal, id uuid.UUID) (*Note, error) {
	n, err := scanNote(s.db.QueryRow(ctx, `SELECT `+noteColumns+` FROM invoice_notes WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("note: %w", err)
	}
	if _, err := s.Invoice(ctx, p, n.InvoiceID); err != nil {
		return nil, err
	}
	return &n, nil
}

// Notes lists an invoice's notes, oldest first.
func (s *Store) Notes(ctx context.Context, invoiceID uuid.UUID) ([]Note, error) {
	rows, err := s.db.Query(ctx, `SELECT `+noteColumns+` FROM invoice_notes WHERE invoice_id = $1 ORDER BY number`, invoiceID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Note, error) { return scanNote(r) })
}
