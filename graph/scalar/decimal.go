// Package scalar holds the custom GraphQL scalars.
package scalar

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/99designs/gqlgen/graphql"

	"github.com/shopspring/decimal"
)

// MarshalDecimal writes a decimal as a JSON string, so no client reads it as a float.
func MarshalDecimal(d decimal.Decimal) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(d.String()))
	})
}

// UnmarshalDecimal accepts a string ("12.50") or, leniently, an integer literal.
// Floats are refused: a binary float cannot carry an exact amount.
func UnmarshalDecimal(v any) (decimal.Decimal, error) {
	switch x := v.(type) {
	case string:
		d, err := decimal.NewFromString(x)
		if err != nil {
			return decimal.Decimal{}, fmt.Errorf("invalid Decimal %q: expected a decimal number as a string", x)
		}
		return d, nil
	case int:
		return decimal.NewFromInt(int64(x)), nil
	case int64:
		return decimal.NewFromInt(x), nil
	case json.Number: // a JSON number in variables, parsed from its text, so exact
		d, err := decimal.NewFromString(x.String())
		if err != nil {
			return decimal.Decimal{}, fmt.Errorf("invalid Decimal %q", x.String())
		}
		return d, nil
	default:
		return decimal.Decimal{}, fmt.Errorf("invalid Decimal: expected a string, got %T", v)
	}
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
