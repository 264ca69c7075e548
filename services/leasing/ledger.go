package leasing

import (
	"errors"
	"fmt"

	"github.com/shopspring/decimal"
)

// ErrUnbalanced is returned by Ledger for an invoice whose figures do not add up.
var ErrUnbalanced = errors.New("invoice does not balance")

// Entry is one posting of the double-entry ledger. Amount is signed: positive
// debits the account, negative credits it, and an invoice's entries sum to zero.
type Entry struct {
	Account    string          `json:"account"`
	Amount     decimal.Decimal `json:"amount"`
	Currency   string          `json:"currency"`
	ContractID string          `json:"contractId"`
	PeriodKey  string          `json:"periodKey"`
}

// Ledger posts an invoice: the lessee owes the gross, the lessor earns the net
// total less the platform's fee, and the VAT is the lessor's to pay to the tax
// authority (vat-payable), since the lessor is the one supplying the service. A negative total (a credit note) posts the same
// entries with the signs reversed; zero postings are left out. It refuses an
// invoice whose lines, total and split disagree, since posting one would
// unbalance the books.
func Ledger(inv Invoice) ([]Entry, error) {
	if !sumAmounts(inv.Lines).Equal(inv.Total) {
		return nil, fmt.Errorf("leasing: invoice %s/%s: lines sum to %s, total is %s: %w",
			inv.ContractID, inv.PeriodKey, sumAmounts(inv.Lines), inv.Total, ErrUnbalanced)
	}
	if !inv.PlatformFee.Add(inv.LessorShare).Equal(inv.Total) {
		return nil, fmt.Errorf("leasing: invoice %s/%s: fee %s and lessor share %s do not make total %s: %w",
			inv.ContractID, inv.PeriodKey, inv.PlatformFee, inv.LessorShare, inv.Total, ErrUnbalanced)
	}
	var lineTax decimal.Decimal
	for _, l := range inv.Lines {
		lineTax = lineTax.Add(l.Tax)
	}
	if !lineTax.Equal(inv.Tax) || !inv.Total.Add(inv.Tax).Equal(inv.Gross) {
		return nil, fmt.Errorf("leasing: invoice %s/%s: lines' tax %s, tax %s, total %s and gross %s disagree: %w",
			inv.ContractID, inv.PeriodKey, lineTax, inv.Tax, inv.Total, inv.Gross, ErrUnbalanced)
	}
	if inv.LesseeID == "" || inv.LessorID == "" {
		return nil, fmt.Errorf("leasing: invoice %s/%s names no lessee or lessor: %w", inv.ContractID, inv.PeriodKey, ErrUnbalanced)
	}
	postings := []struct {
		account string
		amount  decimal.Decimal
	}{
		{"lessee:" + inv.LesseeID + ":receivable", inv.Gross},
		{"lessor:" + inv.LessorID + ":revenue", inv.LessorShare.Neg()},
		{"platform:fees", inv.PlatformFee.Neg()},
		{"lessor:" + inv.LessorID + ":vat-payable", inv.Tax.Neg()},
	}
	var entries []Entry
	for _, p := range postings {
		if p.amount.IsZero() {
			continue
		}
		entries = append(entries, Entry{
			Account:    p.account,
			Amount:     p.amount,
			Currency:   inv.Currency,
			ContractID: inv.ContractID,
			PeriodKey:  inv.PeriodKey,
		})
	}
	return entries, nil
}
