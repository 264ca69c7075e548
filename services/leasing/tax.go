package leasing

import (
	"errors"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/money"
)

// ErrInvalidTaxRate is returned for a VAT rate outside [0, 100].
var ErrInvalidTaxRate = errors.New("invalid VAT rate")

// lineTax is the VAT of one line's net amount: net × rate / 100, rounded
// once, half away from zero, to the currency's minor unit. A negative line (a
// credit) gets the negative of the tax its positive would get, so a credit
// note mirrors the invoice it corrects cent for cent.
func lineTax(net, ratePercent decimal.Decimal, currency string) (decimal.Decimal, error) {
	if ratePercent.IsNegative() || ratePercent.GreaterThan(hundred) {
		return decimal.Decimal{}, fmt.Errorf("leasing: VAT rate %s%%: %w", ratePercent, ErrInvalidTaxRate)
	}
	if ratePercent.IsZero() || net.IsZero() {
		return decimal.Zero, nil
	}
	t, err := money.Round(net.Abs().Mul(ratePercent).Div(hundred), currency)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("leasing: VAT: %w", err)
	}
	if net.IsNegative() {
		t = t.Neg()
	}
	return t, nil
}

// TaxLines computes the VAT of every line of inv at ratePercent, each line
// rounded once, and the invoice's tax (the sum of the lines' tax, never a
// rounding of the total) and gross (net total plus tax). Lines whose tax is
// fixed (a credit for tax already invoiced, see withCredit) keep it.
func TaxLines(inv Invoice, ratePercent decimal.Decimal) (Invoice, error) {
	lines, tax, err := taxed(inv.Lines, ratePercent, inv.Currency)
	if err != nil {
		return Invoice{}, err
	}
	inv.Lines, inv.VATRatePercent, inv.Tax, inv.Gross = lines, ratePercent, tax, inv.Total.Add(tax)
	return inv, nil
}

// taxed returns a copy of lines with their tax and gross, and the sum of
// their tax.
func taxed(in []InvoiceLine, ratePercent decimal.Decimal, currency string) ([]InvoiceLine, decimal.Decimal, error) {
	lines := make([]InvoiceLine, len(in))
	tax := decimal.Zero
	for i, l := range in {
		if !l.taxFixed {
			t, err := lineTax(l.Amount, ratePercent, currency)
			if err != nil {
				return nil, decimal.Decimal{}, err
			}
			l.Tax = t
		}
		l.Gross = l.Amount.Add(l.Tax)
		tax = tax.Add(l.Tax)
		lines[i] = l
	}
	return lines, tax, nil
}
