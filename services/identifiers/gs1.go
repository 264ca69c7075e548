package identifiers

import (
	"strconv"
	"strings"
)

// GS1 keys a platform identifier may carry as validated alias values: a
// trade item's GTIN with its serial (a produced unit), an SSCC (a shipment
// package) and a GIAI (a machine, an individual asset).

// GS1Kind names a kind of GS1 key.
type GS1Kind string

// The GS1 keys the platform accepts.
const (
	KindSGTIN GS1Kind = "SGTIN" // GTIN (AI 01) with a serial (AI 21): one unit of a trade item
	KindSSCC  GS1Kind = "SSCC"  // AI 00: a logistic unit
	KindGIAI  GS1Kind = "GIAI"  // AI 8004: an individual asset
)

// GS1Key is a validated GS1 key: GTIN normalized to 14 digits.
type GS1Key struct {
	Kind   GS1Kind
	Value  string // GTIN-14, SSCC (18 digits) or GIAI
	Serial string // for KindSGTIN
}

// ElementString is the key as GS1 writes it for people: "(01)…(21)…",
// "(00)…", "(8004)…".
func (k GS1Key) ElementString() string {
	switch k.Kind {
	case KindSGTIN:
		return "(01)" + k.Value + "(21)" + k.Serial
	case KindSSCC:
		return "(00)" + k.Value
	case KindGIAI:
		return "(8004)" + k.Value
	}
	return ""
}

// CheckDigit computes the GS1 mod-10 check digit of a string of decimal
// digits (the key without its check digit): weights 3 and 1 alternate from
// the rightmost digit, and the check digit brings the sum to a multiple of 10.
func CheckDigit(body string) byte {
	sum := 0
	for i := len(body) - 1; i >= 0; i-- {
		d := int(body[i] - '0')
		if (len(body)-1-i)%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

// digitsWithCheck checks that s is only decimal digits, of one of the
// lengths, with a correct final check digit.
func digitsWithCheck(what, s string, lengths ...int) *Error {
	if s == "" {
		return fault(ReasonEmpty, "a %s is required", what)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return fault(ReasonDigits, "a %s is decimal digits only", what)
		}
	}
	ok := false
	for _, n := range lengths {
		ok = ok || len(s) == n
	}
	if !ok {
		return fault(ReasonLength, "a %s has %s digits, not %d", what, joinInts(lengths), len(s))
	}
	if want := CheckDigit(s[:len(s)-1]); s[len(s)-1] != want {
		return fault(ReasonCheckDigit, "the %s's check digit is %c, not %c", what, want, s[len(s)-1])
	}
	return nil
}

func joinInts(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = strconv.Itoa(n)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

// gs1Chars is GS1's character set 82, what AI 21 and AI 8004 may hold.
const gs1Chars = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"

func charset82(what, s string, max int) *Error {
	if s == "" {
		return fault(ReasonEmpty, "a %s is required", what)
	}
	if len(s) > max {
		return fault(ReasonTooLong, "a %s has at most %d characters, not %d", what, max, len(s))
	}
	for _, r := range s {
		if r > 127 || !strings.ContainsRune(gs1Chars, r) {
			return fault(ReasonCharacter, "a %s is written in GS1's character set 82 (letters, digits and !\"%%&'()*+,-./:;<=>?_), not %q", what, r)
		}
	}
	return nil
}

// ParseGS1 validates a GS1 key of kind: a GTIN of 8, 12, 13 or 14 digits
// with its check digit and a serial of 1 to 20 characters of set 82
// (SGTIN); 18 digits with a check digit (SSCC); or 1 to 30 characters of
// set 82 that begin with a GS1 company prefix of at least 6 digits (GIAI).
// A GTIN is normalized to 14 digits. Each refusal is an INVALID_INPUT with a
// Reason.
func ParseGS1(kind GS1Kind, value, serial string) (GS1Key, error) {
	switch kind {
	case KindSGTIN:
		if e := digitsWithCheck("GTIN", value, 8, 12, 13, 14); e != nil {
			return GS1Key{}, e
		}
		if e := charset82("serial", serial, 20); e != nil {
			return GS1Key{}, e
		}
		return GS1Key{Kind: kind, Value: strings.Repeat("0", 14-len(value)) + value, Serial: serial}, nil
	case KindSSCC:
		if serial != "" {
			return GS1Key{}, fault(ReasonCharacter, "an SSCC has no serial")
		}
		if e := digitsWithCheck("SSCC", value, 18); e != nil {
			return GS1Key{}, e
		}
		return GS1Key{Kind: kind, Value: value}, nil
	case KindGIAI:
		if serial != "" {
			return GS1Key{}, fault(ReasonCharacter, "a GIAI has no serial")
		}
		if e := charset82("GIAI", value, 30); e != nil {
			return GS1Key{}, e
		}
		for i := 0; i < 6; i++ {
			if i >= len(value) || value[i] < '0' || value[i] > '9' {
				return GS1Key{}, fault(ReasonDigits, "a GIAI begins with its GS1 company prefix, at least 6 digits")
			}
		}
		return GS1Key{Kind: kind, Value: value}, nil
	}
	return GS1Key{}, fault(ReasonCharacter, "a GS1 key is SGTIN, SSCC or GIAI, not %q", string(kind))
}

// ParseError is a refusal of a GS1 key's written form (its element string)
// with the message msg.
func ParseError(msg string) error { return fault(ReasonCharacter, "%s", msg) }
