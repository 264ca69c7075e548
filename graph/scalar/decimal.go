// Package scalar holds the custom GraphQL scalars.
package scalar

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/shopspring/decimal"
)

// MarshalDecimal writes a decimal as a JSON string, so no client reads it as a float.
func MarshalDecimal(d decimal.Decimal) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(d.String()))
	})
}

// maxDecimalText bounds the text of a Decimal: no amount or quantity of the
// platform needs more, and parsing stays cheap for hostile input.
const maxDecimalText = 64

// UnmarshalDecimal accepts a string ("12.50") or, leniently, an integer literal
// or a JSON number in variables (parsed from its text, so exact). Floats in a
// query are refused: a binary float cannot carry an exact amount. What is
// refused is the caller's fault: a GraphQL error with extensions.code
// INVALID_INPUT, which gqlgen places on the argument's path.
func UnmarshalDecimal(v any) (decimal.Decimal, error) {
	switch x := v.(type) {
	case string:
		return parseDecimal(x)
	case int:
		return decimal.NewFromInt(int64(x)), nil
	case int64:
		return decimal.NewFromInt(x), nil
	case json.Number:
		return parseDecimal(x.String())
	case nil:
		return decimal.Decimal{}, invalidDecimal("a Decimal is required")
	default:
		return decimal.Decimal{}, invalidDecimal(fmt.Sprintf("invalid Decimal: expected a decimal number as a string, got %s", kindOf(v)))
	}
}

// parseDecimal accepts plain decimal notation with an optional exponent, and
// nothing around it: no spaces, no hexadecimal, no NaN or Infinity.
func parseDecimal(s string) (decimal.Decimal, error) {
	if len(s) > maxDecimalText {
		return decimal.Decimal{}, invalidDecimal(fmt.Sprintf("invalid Decimal: longer than %d characters", maxDecimalText))
	}
	if !decimalSyntax(s) {
		return decimal.Decimal{}, invalidDecimal(fmt.Sprintf("invalid Decimal %q: expected a decimal number such as \"12.50\"", s))
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, invalidDecimal(fmt.Sprintf("invalid Decimal %q: expected a decimal number such as \"12.50\"", s))
	}
	return d, nil
}

// decimalSyntax reports whether s is [+-]digits[.digits][(e|E)[+-]digits],
// with at least one digit before or after the point.
func decimalSyntax(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, n = i+1, n+1
		}
		return n
	}
	n := digits()
	if i < len(s) && s[i] == '.' {
		i++
		n += digits()
	}
	if n == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

func kindOf(v any) string {
	switch v.(type) {
	case float32, float64:
		return "a float (send the amount as a string)"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}

// invalidDecimal is a refusal of the caller's input, with the code the
// gateway gives every invalid input.
func invalidDecimal(msg string) error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": "INVALID_INPUT"}}
}

// MarshalJSON writes a raw JSON document as it is.
func MarshalJSON(v json.RawMessage) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		if len(v) == 0 {
			_, _ = io.WriteString(w, "null")
			return
		}
		_, _ = w.Write(v)
	})
}

// UnmarshalJSON accepts any JSON value (an object, usually) from a query or variables.
func UnmarshalJSON(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("invalid JSON value: %w", err)
	}
	return b, nil
}
