package leasing

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
)

// InvoiceParties are the names an invoice's document shows; the store does
// not hold enterprises' names, the identity service does.
type InvoiceParties struct {
	Lessor, Lessee string
	ContractNumber int64
}

// InvoicePDF renders an invoice as the document finance files: its number and
// status, the parties, the period, every line with its net, VAT and gross,
// the totals and the platform fee split. The same invoice always renders the
// same bytes (the document's dates are the invoice's). Text is set in the
// PDF core fonts, which cover Latin-1: other characters print as '?'.
func InvoicePDF(inv *StoredInvoice, parties InvoiceParties) ([]byte, error) {
	b := inv.Body
	d := pdfDocument{
		title:    fmt.Sprintf("Invoice %d", inv.Number),
		issuedAt: inv.IssuedAt,
		currency: inv.Currency,
		lines:    b.Lines,
		net:      b.Total, vatPercent: b.VATRatePercent, tax: b.Tax, gross: b.Gross,
		feePercent: b.PlatformFeePercent, fee: b.PlatformFee, lessorShare: b.LessorShare,
		grossLabel: "Gross total (due)",
	}
	if inv.Status == InvoiceDraft {
		d.title = fmt.Sprintf("DRAFT invoice %d", inv.Number)
		d.closing = "This is a draft under review: usage that arrives before its review ends is rated into it, and only the finalized invoice is due."
	}
	d.rows = [][2]string{
		{"Kind", strings.ToLower(inv.Kind)},
		{"Status", inv.Status},
		{"Contract", fmt.Sprintf("no. %d (%s)", parties.ContractNumber, inv.ContractID)},
		{"Lessor", parties.Lessor},
		{"Lessee", parties.Lessee},
		{"Period", fmt.Sprintf("%s, %s to %s", inv.PeriodKey, b.PeriodStart.UTC().Format("2006-01-02"), b.PeriodEnd.UTC().Format("2006-01-02"))},
		{"Issued", inv.IssuedAt.UTC().Format(time.RFC3339)},
	}
	switch {
	case inv.FinalizedAt != nil:
		d.rows = append(d.rows, [2]string{"Finalized", inv.FinalizedAt.UTC().Format(time.RFC3339)})
	case inv.ReviewUntil != nil:
		d.rows = append(d.rows, [2]string{"In review until", inv.ReviewUntil.UTC().Format(time.RFC3339)})
	}
	d.rows = append(d.rows, [2]string{"Currency", inv.Currency})
	return d.render()
}

// NotePDF renders a credit or debit note as finance files it: its number and
// kind, the invoice it corrects, the parties, the reason, every changed line
// (the difference, with its VAT), the change of the totals and of the fee
// split, and what the invoice now stands at. Deterministic like InvoicePDF.
func NotePDF(n *Note, parties InvoiceParties) ([]byte, error) {
	b := n.Body
	label := "Credit note"
	due := "Gross credited"
	if n.Kind == NoteDebit {
		label, due = "Debit note", "Gross total (due)"
	}
	d := pdfDocument{
		title:    fmt.Sprintf("%s %d", label, n.Number),
		issuedAt: n.IssuedAt,
		currency: n.Currency,
		lines:    b.Lines,
		net:      n.Total, vatPercent: b.Rerated.VATRatePercent, tax: n.Tax, gross: n.Gross,
		feePercent: b.Rerated.PlatformFeePercent, fee: b.PlatformFee, lessorShare: b.LessorShare,
		grossLabel: due,
		closing: fmt.Sprintf("With this note, invoice %d stands at %s %s net, %s VAT, %s gross.", b.InvoiceNumber,
			b.Rerated.Total.StringFixed(2), n.Currency, b.Rerated.Tax.StringFixed(2), b.Rerated.Gross.StringFixed(2)),
	}
	d.rows = [][2]string{
		{"Corrects", fmt.Sprintf("invoice %d, period %s", b.InvoiceNumber, b.PeriodKey)},
		{"Contract", fmt.Sprintf("no. %d (%s)", parties.ContractNumber, n.ContractID)},
		{"Lessor", parties.Lessor},
		{"Lessee", parties.Lessee},
		{"Reason", b.Reason},
		{"Issued", n.IssuedAt.UTC().Format(time.RFC3339)},
		{"Currency", n.Currency},
	}
	return d.render()
}

// pdfDocument is what an invoice and a note print: a title, labelled rows,
// the lines, the totals and a closing sentence.
type pdfDocument struct {
	title                        string
	issuedAt                     time.Time
	currency                     string
	rows                         [][2]string
	lines                        []InvoiceLine
	net, vatPercent, tax, gross  decimal.Decimal
	feePercent, fee, lessorShare decimal.Decimal
	grossLabel, closing          string
}

func (d pdfDocument) render() ([]byte, error) {
	f := fpdf.New("P", "mm", "A4", "")
	f.SetCreationDate(d.issuedAt)
	f.SetModificationDate(d.issuedAt)
	f.SetCatalogSort(true)
	f.SetTitle(d.title, false)
	f.SetAutoPageBreak(true, 15)
	tr := f.UnicodeTranslatorFromDescriptor("")
	text := func(s string) string { return tr(s) }
	money := func(v decimal.Decimal) string { return v.StringFixed(2) }

	f.AddPage()
	f.SetFont("Helvetica", "B", 16)
	f.CellFormat(0, 10, text(d.title), "", 1, "L", false, 0, "")
	f.SetFont("Helvetica", "", 10)
	for _, r := range d.rows {
		f.CellFormat(40, 6, text(r[0]), "", 0, "L", false, 0, "")
		f.CellFormat(0, 6, text(r[1]), "", 1, "L", false, 0, "")
	}
	f.Ln(4)

	widths := []float64{30, 30, 30, 30, 30, 40}
	f.SetFont("Helvetica", "B", 9)
	for i, h := range []string{"Quantity", "Unit price", "Net", "VAT", "Gross", "Kind"} {
		align := "R"
		if i == 5 {
			align = "L"
		}
		f.CellFormat(widths[i], 6, h, "B", 0, align, false, 0, "")
	}
	f.Ln(-1)
	for _, l := range d.lines {
		f.SetFont("Helvetica", "", 9)
		desc := l.Description
		if l.Meter != "" {
			desc = string(l.Meter) + ": " + desc
		}
		f.MultiCell(0, 5, text(desc), "", "L", false)
		for i, v := range []string{l.Quantity.String(), l.UnitPrice.String(), money(l.Amount), money(l.Tax), money(l.Gross), string(l.Kind)} {
			align := "R"
			if i == 5 {
				align = "L"
			}
			f.CellFormat(widths[i], 5, text(v), "", 0, align, false, 0, "")
		}
		f.Ln(7)
	}
	f.Ln(2)
	f.SetFont("Helvetica", "B", 10)
	total := func(label string, v decimal.Decimal) {
		f.CellFormat(120, 6, text(label), "", 0, "R", false, 0, "")
		f.CellFormat(30, 6, money(v)+" "+d.currency, "", 1, "R", false, 0, "")
	}
	total("Net total", d.net)
	total(fmt.Sprintf("VAT %s%%", d.vatPercent.String()), d.tax)
	total(d.grossLabel, d.gross)
	f.SetFont("Helvetica", "", 9)
	total(fmt.Sprintf("of the net: platform fee %s%%", d.feePercent.String()), d.fee)
	total("of the net: lessor share", d.lessorShare)
	if d.closing != "" {
		f.Ln(4)
		f.MultiCell(0, 5, text(d.closing), "", "L", false)
	}
	var buf bytes.Buffer
	if err := f.Output(&buf); err != nil {
		return nil, fmt.Errorf("%s pdf: %w", d.title, err)
	}
	return buf.Bytes(), nil
}

// UsageCSV is a period's usage of a contract as finance files it: one row per
// machine and meter, with the readings' count, the meter's aggregated
// quantity (sum, or max for max_load), the first and last reading, and how
// many readings are already billed. Voided readings are left out. Parties of the contract and the operator
// may read it; others get NOT_FOUND, as for the contract.
func (s *Store) UsageCSV(ctx context.Context, p *identity.Principal, contractID uuid.UUID, periodKey string) ([]byte, error) {
	c, err := s.Contract(ctx, p, contractID)
	if err != nil {
		return nil, err
	}
	if !validPeriodKey(periodKey) {
		return nil, errs.Invalid([]string{"period"}, "a period is named by its key, such as 2026-01 or 2026-01-15")
	}
	rows, err := s.db.Query(ctx, `SELECT u.equipment_id, e.serial, u.meter, array_agg(u.value ORDER BY u.at, u.seq), min(u.at), max(u.at),
			count(*) FILTER (WHERE u.invoice_id IS NOT NULL)
		FROM usage_events u JOIN equipment e ON e.id = u.equipment_id
		WHERE u.contract_id = $1 AND u.period_key = $2 AND u.voided_at IS NULL
		GROUP BY u.equipment_id, e.serial, u.meter ORDER BY e.serial, u.meter`, c.ID, periodKey)
	if err != nil {
		return nil, fmt.Errorf("usage csv: %w", err)
	}
	defer rows.Close()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"contract_number", "period", "equipment_serial", "equipment_id", "meter", "aggregation", "readings", "quantity", "first_reading_at", "last_reading_at", "billed_readings"})
	for rows.Next() {
		var eq uuid.UUID
		var serial, meter string
		var vals []decimal.Decimal
		var first, last time.Time
		var billed int64
		if err := rows.Scan(&eq, &serial, &meter, &vals, &first, &last, &billed); err != nil {
			return nil, fmt.Errorf("usage csv: %w", err)
		}
		agg, ok := Meter(meter).Aggregation()
		if !ok {
			return nil, fmt.Errorf("usage csv: stored reading of unknown meter %q", meter)
		}
		q, err := Aggregate(agg, vals)
		if err != nil {
			return nil, fmt.Errorf("usage csv: %w", err)
		}
		_ = w.Write([]string{strconv.FormatInt(c.Number, 10), periodKey, csvSafe(serial), eq.String(), meter, string(agg), strconv.Itoa(len(vals)), q.String(),
			first.UTC().Format(time.RFC3339Nano), last.UTC().Format(time.RFC3339Nano), strconv.FormatInt(billed, 10)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("usage csv: %w", err)
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// csvSafe keeps a spreadsheet from reading a cell as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// validPeriodKey accepts the keys PeriodAt gives: YYYY-MM for calendar
// months, YYYY-MM-DD for the others (the period's first day).
func validPeriodKey(k string) bool {
	for _, layout := range []string{"2006-01", time.DateOnly} {
		if t, err := time.Parse(layout, k); err == nil && t.Format(layout) == k {
			return true
		}
	}
	return false
}
