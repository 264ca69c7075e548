package scalar

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/vektah/gqlparser/v2/gqlerror"
)

func TestUnmarshalDecimalAcceptsExactNumbers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   any
		want string
	}{
		{"a string", "12.50", "12.5"},
		{"a negative string", "-3", "-3"},
		{"an explicit plus", "+7.25", "7.25"},
		{"an exponent", "1.5e3", "1500"},
		{"a leading point", ".5", "0.5"},
		{"an integer literal", 42, "42"},
		{"an int64", int64(-9), "-9"},
		{"a JSON number", json.Number("3.5"), "3.5"},
	}
	for _, c := range cases {
		got, err := UnmarshalDecimal(c.in)
		if err != nil || got.String() != c.want {
			t.Errorf("%s: UnmarshalDecimal(%#v) = %s, %v; want %s", c.name, c.in, got, err, c.want)
		}
	}
}

func TestUnmarshalDecimalRefusesMalformedInputAsInvalidInput(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   any
	}{
		{"NaN", "NaN"},
		{"Infinity", "Infinity"},
		{"empty", ""},
		{"a trailing space", "3.5 "},
		{"a leading space", " 3.5"},
		{"hexadecimal", "0x10"},
		{"letters", "abc"},
		{"a lone point", "."},
		{"a lone sign", "-"},
		{"an exponent without digits", "1e"},
		{"two points", "1.2.3"},
		{"a comma", "1,5"},
		{"too long", "1234567890123456789012345678901234567890123456789012345678901234567890"},
		{"a JSON number that is not a decimal", json.Number("NaN")},
		{"a float literal", 3.5},
		{"a boolean", true},
		{"an object", map[string]any{"amount": "1"}},
		{"a list", []any{"1"}},
		{"null", nil},
	}
	for _, c := range cases {
		_, err := UnmarshalDecimal(c.in)
		var ge *gqlerror.Error
		if !errors.As(err, &ge) {
			t.Errorf("%s: UnmarshalDecimal(%#v) = %v, want a GraphQL error", c.name, c.in, err)
			continue
		}
		if ge.Extensions["code"] != "INVALID_INPUT" || ge.Message == "" {
			t.Errorf("%s: error %+v, want INVALID_INPUT with a message", c.name, ge)
		}
	}
}
