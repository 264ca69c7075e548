// Package validate holds the platform's one set of rules for raw input: how
// large and how fine a decimal may be, and what text may contain. Services
// call it for what they store, and the gateway for what it hands to a
// workflow update, so a refusal reads the same wherever the input came in.
//
// Every check returns nil when the value passes, or an INVALID_INPUT error on
// the given field path that says what is wrong.
package validate

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/money"
)

// Sign says which side of zero a decimal may lie on.
type Sign int

// The signs a decimal input may be required to have.
const (
	Positive    Sign = iota // > 0
	NonNegative             // ≥ 0
)

// MaxAmount bounds the magnitude of every money amount (prices, payments,
// lane prices): a trillion in any currency is far beyond any real charge, and
// a bound keeps a typing mistake or a hostile "1e400" out of NUMERIC columns
// and balances.
var MaxAmount = decimal.New(1, 12)

// MaxQuantity bounds every quantity of material or capacity.
var MaxQuantity = decimal.New(1, 9)

// MaxQuantityScale is the finest quantity the platform keeps (a millionth of
// a unit), for units it does not know more precisely.
const MaxQuantityScale int32 = 6

// unitScales are the decimal places a quantity in a unit of measure may have:
// counted things are whole, weights and lengths go to a thousandth (a gram, a
// millimetre), areas and volumes likewise.
var unitScales = map[string]int32{
	"pcs": 0, "pc": 0, "piece": 0, "pieces": 0, "set": 0, "sets": 0, "unit": 0, "units": 0, "ea": 0, "holes": 0,
	"kg": 3, "g": 0, "t": 3,
	"m": 3, "cm": 1, "mm": 0, "dm": 2,
	"m2": 3, "m3": 3, "l": 3,
	"kw": 3, "kwh": 3, "h": 3,
}

// UnitScale returns the decimal places a quantity in unit may have:
// MaxQuantityScale for a unit the platform does not know.
func UnitScale(unit string) int32 {
	if s, ok := unitScales[strings.ToLower(strings.TrimSpace(unit))]; ok {
		return s
	}
	return MaxQuantityScale
}

// scale is the number of decimal places d is written with once trailing zeros
// are dropped ("2.50" has 1).
func scale(d decimal.Decimal) int32 {
	e := d.Exponent()
	if e >= 0 || d.IsZero() {
		return 0
	}
	digits := d.Coefficient().String() // d = coefficient · 10^exponent
	zeros := int32(0)
	for zeros < -e && digits[len(digits)-1-int(zeros)] == '0' {
		zeros++
	}
	return -e - zeros
}

func signOK(d decimal.Decimal, s Sign) (bool, string) {
	switch s {
	case Positive:
		return d.IsPositive(), "positive"
	default:
		return !d.IsNegative(), "zero or more"
	}
}

// Amount checks a money amount in currency: its sign, a magnitude up to
// MaxAmount, and no more decimals than the currency's minor unit. An unknown
// currency is the currency field's fault, so only the bound is checked then.
func Amount(path []string, d decimal.Decimal, currency string, s Sign) *errs.Error {
	if ok, want := signOK(d, s); !ok {
		return errs.Invalid(path, "the amount must be %s", want)
	}
	if d.Abs().GreaterThan(MaxAmount) {
		return errs.Invalid(path, "the amount must be at most %s", MaxAmount)
	}
	if p, err := money.MinorUnit(currency); err == nil && scale(d) > p {
		return errs.Invalid(path, "the amount must be in minor units of %s (at most %d decimal places)", strings.ToUpper(currency), p)
	}
	return nil
}

// Quantity checks a quantity in unit: positive, at most MaxQuantity, and no
// finer than the unit allows (UnitScale).
func Quantity(path []string, d decimal.Decimal, unit string) *errs.Error {
	if !d.IsPositive() {
		return errs.Invalid(path, "the quantity must be positive")
	}
	if d.GreaterThan(MaxQuantity) {
		return errs.Invalid(path, "the quantity must be at most %s", MaxQuantity)
	}
	if p := UnitScale(unit); scale(d) > p {
		if p == 0 {
			return errs.Invalid(path, "the quantity must be a whole number of %s", unitName(unit))
		}
		return errs.Invalid(path, "the quantity must have at most %d decimal places in %s", p, unitName(unit))
	}
	return nil
}

func unitName(unit string) string {
	if u := strings.TrimSpace(unit); u != "" {
		return u
	}
	return "units"
}

// TextKind is the kind of a text field: its longest length in characters and
// whether it may span lines.
type TextKind struct {
	Max       int
	Multiline bool // \n and \t are allowed (and \r before \n)
}

// The kinds of text fields of the platform.
var (
	// Name is a name or label: enterprises, users, tokens, recipients.
	Name = TextKind{Max: 200}
	// Line is one line of an address or a short single-line value.
	Line = TextKind{Max: 200}
	// Key is an identifier the client chooses: idempotency keys, references,
	// serials, event keys.
	Key = TextKind{Max: 200}
	// Note is free text people write: comments, reasons, descriptions.
	Note = TextKind{Max: 2000, Multiline: true}
)

// Text checks that s is valid UTF-8 without NUL or other control characters
// (a Multiline kind allows line breaks and tabs) and at most k.Max characters
// long. Whether it may be empty is the caller's rule.
func Text(path []string, s string, k TextKind) *errs.Error {
	if !utf8.ValidString(s) {
		return errs.Invalid(path, "the text is not valid UTF-8")
	}
	for i, r := range s {
		if r == 0 {
			return errs.Invalid(path, "the text must not contain NUL characters")
		}
		if k.Multiline && (r == '\n' || r == '\t' || (r == '\r' && strings.HasPrefix(s[i+1:], "\n"))) {
			continue
		}
		if unicode.IsControl(r) {
			if k.Multiline {
				return errs.Invalid(path, "the text must not contain control characters other than line breaks and tabs")
			}
			return errs.Invalid(path, "the text must be a single line without control characters")
		}
	}
	if n := utf8.RuneCountInString(s); n > k.Max {
		return errs.Invalid(path, "the text must be at most %d characters, not %d", k.Max, n)
	}
	return nil
}

// Field is one text input to check with Texts.
type Field struct {
	Path  []string
	Value string
	Kind  TextKind
}

// Texts checks several text fields and returns every fault, or nil.
func Texts(fields ...Field) errs.List {
	var out errs.List
	for _, f := range fields {
		if e := Text(f.Path, f.Value, f.Kind); e != nil {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
