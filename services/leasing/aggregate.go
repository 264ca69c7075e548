package leasing

import (
	"fmt"
	"math"

	"github.com/shopspring/decimal"
)

// Aggregate combines a meter's readings into one quantity: SUM and COUNT add
// them (COUNT refuses fractional counts), MAX keeps the largest. No readings
// aggregate to zero. The result is exact.
func Aggregate(agg Aggregation, values []decimal.Decimal) (decimal.Decimal, error) {
	switch agg {
	case AggregationSum, AggregationCount, AggregationMax:
	default:
		return decimal.Decimal{}, fmt.Errorf("leasing: unknown aggregation %q", agg)
	}
	a := accumulator{max: agg == AggregationMax}
	for i, v := range values {
		s, fast := scaled(v)
		if agg == AggregationCount && !isIntegral(v, s, fast) {
			return decimal.Decimal{}, fmt.Errorf("leasing: value %d (%s) is not a whole count", i, v)
		}
		a.add(v, s, fast)
	}
	return a.result(), nil
}

// The fast path. Adding shopspring decimals allocates a big.Int per addition,
// which is what makes a million readings slow. Nearly every reading a machine
// sends has a short decimal expansion, so it is carried as an int64 count of
// 10^-fastScale units and added with plain integer instructions; a reading with
// more decimals or too many digits takes the exact decimal path instead, and
// an int64 about to overflow is spilled into the decimal part first. The two
// parts combine at the end, so the result is exact either way.
const fastScale = 9

var pow10 = [...]int64{
	1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
}

// scaled returns v as a count of 10^-fastScale units, or false when that does
// not fit an int64 exactly.
func scaled(v decimal.Decimal) (int64, bool) {
	shift := int(v.Exponent()) + fastScale
	if shift < 0 || shift >= len(pow10) {
		return 0, false
	}
	// NumDigits looks at the coefficient without copying it; 18 digits always
	// fit an int64.
	if v.NumDigits() > 18 {
		return 0, false
	}
	c, m := v.CoefficientInt64(), pow10[shift]
	if c > math.MaxInt64/m || c < -math.MaxInt64/m {
		return 0, false
	}
	return c * m, true
}

// isIntegral reports whether v is a whole number, using its scaled form when there is one.
func isIntegral(v decimal.Decimal, s int64, fast bool) bool {
	if fast {
		return s%pow10[fastScale] == 0
	}
	return v.IsInteger()
}

// accumulator aggregates one meter's readings exactly: the readings that fit
// go into fast, the others (and spilled overflows) into slow.
type accumulator struct {
	max     bool
	n       int // readings seen
	fast    int64
	hasFast bool
	slow    decimal.Decimal
	hasSlow bool
}

// add takes one reading together with its scaled form from scaled.
func (a *accumulator) add(v decimal.Decimal, s int64, fast bool) {
	a.n++
	if a.max {
		switch {
		case fast && (!a.hasFast || s > a.fast):
			a.fast, a.hasFast = s, true
		case !fast && (!a.hasSlow || v.GreaterThan(a.slow)):
			a.slow, a.hasSlow = v, true
		}
		return
	}
	if !fast {
		a.slow, a.hasSlow = a.slow.Add(v), true
		return
	}
	if (s > 0 && a.fast > math.MaxInt64-s) || (s < 0 && a.fast < math.MinInt64-s) {
		a.slow, a.hasSlow = a.slow.Add(decimal.New(a.fast, -fastScale)), true
		a.fast = 0
	}
	a.fast += s
	a.hasFast = true
}

// result is the aggregated quantity, without trailing zeros so that it prints
// and stores the way it was measured.
func (a *accumulator) result() decimal.Decimal {
	f := decimal.New(a.fast, -fastScale)
	switch {
	case a.max && a.hasFast && a.hasSlow:
		return decimal.Max(f, a.slow).Normalize()
	case a.max && a.hasSlow:
		return a.slow.Normalize()
	case a.max && a.hasFast:
		return f.Normalize()
	case a.max:
		return decimal.Zero
	}
	return f.Add(a.slow).Normalize()
}
