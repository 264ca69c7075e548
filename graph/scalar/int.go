package scalar

import (
	"encoding/json"
	"io"
	"math"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// GraphQL's Int is a signed 32-bit integer. gqlgen's own Int accepts numeric
// strings and any 64-bit value; this one refuses both, so "20" or 2^40 given
// as a page size is a coded input error, not a silent conversion.

// MarshalInt writes an Int.
func MarshalInt(i int) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Itoa(i))
	})
}

// UnmarshalInt accepts an integer (a literal or a JSON number without fraction
// or exponent) between -2^31 and 2^31-1, and nothing else.
func UnmarshalInt(v any) (int, error) {
	var n int64
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int32:
		n = int64(x)
	case int64:
		n = x
	case json.Number:
		i, err := strconv.ParseInt(x.String(), 10, 64)
		if err != nil {
			return 0, intError("Int cannot represent %s: not a 32-bit integer", truncated(x.String()))
		}
		n = i
	case float64:
		if x != math.Trunc(x) || math.IsInf(x, 0) || math.IsNaN(x) {
			return 0, intError("Int cannot represent %v: not an integer", x)
		}
		if x < math.MinInt32 || x > math.MaxInt32 {
			return 0, intError("Int cannot represent %v: not a 32-bit integer", x)
		}
		n = int64(x)
	case string:
		return 0, intError("Int cannot represent the string %q: give a number", truncated(x))
	default:
		return 0, intError("Int cannot represent a %T value", v)
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, intError("Int cannot represent %d: not a 32-bit integer", n)
	}
	return int(n), nil
}

// truncated keeps error messages short whatever the client sent.
func truncated(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// intError is a GraphQL error of the caller's (gqlgen keeps a *gqlerror.Error
// as it is, so the error presenter codes it BAD_USER_INPUT, not INTERNAL).
func intError(format string, args ...any) error {
	return gqlerror.Errorf(format, args...)
}
