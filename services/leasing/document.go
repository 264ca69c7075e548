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
	f := fpdf.New("P", "mm", "A4", "")
	f.SetCreationDate(inv.IssuedAt)
	f.SetModificationDate(inv.IssuedAt)
	f.SetCatalogSort(true)
	f.SetTitle(fmt.Sprintf("Invoice %d", inv.Number), false)
	f.SetAutoPageBreak(true, 15)
	tr := f.UnicodeTranslatorFromDescriptor("")
	text := func(s string) string { return tr(s) }
	b := inv.Body
	money := func(d decimal.Decimal) string { return d.StringFixed(2) }

	f.AddPage()
	f.SetFont("Helvetica", "B", 16)
	title := fmt.Sprintf("Invoice %d", inv.Number)
	if inv.Status == InvoiceDraft {
		title = fmt.Sprintf("DRAFT invoice %d", inv.Number)
	}
	f.CellFormat(0, 10, text(title), "", 1, "L", false, 0, "")
	f.SetFont("Helvetica", "", 10)
	row := func(label, value string) {
		f.CellFormat(40, 6, text(label), "", 0, "L", false, 0, "")
		f.CellFormat(0, 6, text(value), "", 1, "L", false, 0, "")
	}
	row("Kind", strings.ToLower(inv.Kind))
	row("Status", inv.Status)
	row("Contract", fmt.Sprintf("no. %d (%s)", parties.ContractNumber, inv.ContractID))
	row("Lessor", parties.Lessor)
	row("Lessee", parties.Lessee)
	row("Period", fmt.Sprintf("%s, %s to %s", inv.PeriodKey, b.PeriodStart.UTC().Format("2006-01-02"), b.PeriodEnd.UTC().Format("2006-01-02")))
	row("Issued", inv.IssuedAt.UTC().Format(time.RFC3339))
	switch {
	case inv.FinalizedAt != nil:
		row("Finalized", inv.FinalizedAt.UTC().Format(time.RFC3339))
	case inv.ReviewUntil != nil:
		row("In review until", inv.ReviewUntil.UTC().Format(time.RFC3339))
	}
	row("Currency", inv.Currency)
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
	for _, l := range b.Lines {
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
		f.CellFormat(30, 6, money(v)+" "+inv.Currency, "", 1, "R", false, 0, "")
	}
	total("Net total", b.Total)
	total(fmt.Sprintf("VAT %s%%", b.VATRatePercent.String()), b.Tax)
	total("Gross total (due)", b.Gross)
	f.SetFont("Helvetica", "", 9)
	total(fmt.Sprintf("of the net: platform fee %s%%", b.PlatformFeePercent.String()), b.PlatformFee)
	total("of the net: lessor share", b.LessorShare)
	if inv.Status == InvoiceDraft {
		f.Ln(4)
		f.MultiCell(0, 5, "This is a draft under review: usage that arrives before its review ends is rated into it, and only the finalized invoice is due.", "", "L", false)
	}
	var buf bytes.Buffer
	if err := f.Output(&buf); err != nil {
		return nil, fmt.Errorf("invoice %d pdf: %w", inv.Number, err)
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
