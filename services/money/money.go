// Package money holds the platform's rules for amounts: decimal arithmetic end to
// end, one rounding per line to the currency's minor unit (half away from zero),
// and splits by largest remainder so that the parts always sum to the whole.
package money

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/shopspring/decimal"
)

// ErrUnknownCurrency is returned for a currency code the platform does not settle in.
var ErrUnknownCurrency = errors.New("unknown currency")

// minorUnits is the number of decimal places of each currency's minor unit (ISO 4217).
var minorUnits = map[string]int32{
	"CNY": 2, "USD": 2, "EUR": 2, "GBP": 2, "CHF": 2, "HKD": 2, "SGD": 2,
	"JPY": 0, "KRW": 0,
	"KWD": 3, "BHD": 3,
}

// MinorUnit returns the number of decimal places of the currency's minor unit.
func MinorUnit(currency string) (int32, error) {
	p, ok := minorUnits[strings.ToUpper(currency)]
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrUnknownCurrency, currency)
	}
	return p, nil
}

// ValidCurrency reports whether the platform settles in the currency.
func ValidCurrency(currency string) bool {
	_, err := MinorUnit(currency)
	return err == nil
}

// Round rounds an amount once to the currency's minor unit, half away from zero.
func Round(amount decimal.Decimal, currency string) (decimal.Decimal, error) {
	p, err := MinorUnit(currency)
	if err != nil {
		return decimal.Decimal{}, err
	}
	// decimal.Round rounds half away from zero.
	return amount.Round(p), nil
}

// Split divides total (already in minor units of currency) into parts proportional
// to weights using the largest-remainder method: every part is floored to the minor
// unit, and the minor units left over go one each to the parts with the largest
// remainders (ties to the earlier part). The parts always sum exactly to total.
// Weights must be non-negative and not all zero.
func Split(total decimal.Decimal, weights []decimal.Decimal, currency string) ([]decimal.Decimal, error) {
	p, err := MinorUnit(currency)
	if err != nil {
		return nil, err
	}
	if len(weights) == 0 {
		return nil, errors.New("split: no weights")
	}
	sum := decimal.Zero
	for _, w := range weights {
		if w.IsNegative() {
			return nil, errors.New("split: negative weight")
		}
		sum = sum.Add(w)
	}
	if sum.IsZero() {
		return nil, errors.New("split: weights sum to zero")
	}
	if !total.Equal(total.Round(p)) {
		return nil, fmt.Errorf("split: total %s is not in minor units of %s", total, currency)
	}
	neg := total.IsNegative()
	abs := total.Abs()
	unit := decimal.New(1, -p)
	units := abs.Shift(p) // integral number of minor units

	type rem struct {
		i int
		r decimal.Decimal
	}
	parts := make([]decimal.Decimal, len(weights))
	rems := make([]rem, len(weights))
	allocated := decimal.Zero
	for i, w := range weights {
		exact := units.Mul(w).DivRound(sum, 24)
		floor := exact.Floor()
		parts[i] = floor
		allocated = allocated.Add(floor)
		rems[i] = rem{i: i, r: exact.Sub(floor)}
	}
	left := units.Sub(allocated).IntPart()
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].r.GreaterThan(rems[b].r) })
	for k := int64(0); k < left; k++ {
		parts[rems[int(k)%len(rems)].i] = parts[rems[int(k)%len(rems)].i].Add(decimal.NewFromInt(1))
	}
	for i := range parts {
		parts[i] = parts[i].Mul(unit)
		if neg {
			parts[i] = parts[i].Neg()
		}
	}
	return parts, nil
}
