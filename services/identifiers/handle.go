// Package identifiers holds the grammar of the platform's industrial
// identifiers: Handle-style names `<prefix>/<suffix>` under the platform's
// node prefix, the limits of a record's value types and data, and the GS1
// keys (GTIN with serial, SSCC, GIAI) that may be attached to a record as
// validated alias values. It is pure: no database, no network.
//
// # Handle syntax
//
//	handle  = prefix "/" suffix
//	prefix  = segment *( "." segment )       ; e.g. 88.500.1304
//	segment = "0" / ( %x31-39 *DIGIT )        ; decimal, no leading zeros
//	suffix  = 1*safe                          ; not "." nor ".."
//	safe    = ALPHA / DIGIT / "-" / "." / "_" / "~" / ":" / ";" / "=" /
//	          "+" / "*" / "!" / "(" / ")" / "$" / "@" / ","
//
// The safe set is RFC 3986's unreserved characters plus the sub-delimiters
// and ":" "@" that a URL path segment carries unescaped, less "&" and "'"
// (which trip up shells, query strings and SQL written by hand). So a handle
// is its own URL path: `GET /api/handles/88.500.1304/UNIT-42` needs no
// escaping, and "/" is only ever the separator. There is no percent-encoding
// inside a handle: "%" is refused, and the HTTP layer decodes a request path
// before it parses (so `%41` in a URL is the letter A, but a handle never
// contains "%"). The suffixes "." and ".." are refused because HTTP clients
// rewrite them as dot segments.
//
// # Limits
//
// All counts are in characters (handles are ASCII, so also in bytes):
// MaxHandle for the whole identifier, MaxPrefix for a prefix (an enterprise
// prefix is one), MaxValueType for a value's type and MaxValueData for its
// data. Length is checked before syntax, so an over-long input is refused as
// TOO_LONG whatever else is wrong with it.
//
// # Case
//
// Uniqueness is case-insensitive and the original case is kept: String gives
// the handle as written, Key its lower-case form, which is what a store
// indexes and compares.
//
// # Errors
//
// Every refusal is an *Error: an errs INVALID_INPUT (so errs.As and the
// gateway's mapping see it as any other refusal) with a Reason that says
// which rule was broken, for callers that branch (the Handle REST answer 102
// "invalid handle", a batch report). Errors carry no field path: the caller
// knows where the text came from and sets it with At.
package identifiers

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/masscustom/orchestrator/services/errs"
)

// The limits of the identifier grammar, in characters.
const (
	MaxHandle    = 255 // a whole identifier, prefix "/" suffix
	MaxPrefix    = 64  // a node or enterprise prefix
	MaxValueType = 128 // the type of a record value
	MaxValueData = 255 // the data of a record value
)

// SuffixAlphabet is every character a suffix may contain.
const SuffixAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" + suffixPunct

const suffixPunct = "-._~:;=+*!()$@,"

// Reason says which rule of the grammar an input broke.
type Reason string

// The reasons an identifier, a value or a GS1 key is refused.
const (
	ReasonEmpty        Reason = "EMPTY"         // nothing where something is required
	ReasonTooLong      Reason = "TOO_LONG"      // over one of the limits
	ReasonNoSeparator  Reason = "NO_SEPARATOR"  // a handle without "/"
	ReasonPrefixSyntax Reason = "PREFIX_SYNTAX" // a prefix that is not dot-separated decimal segments
	ReasonCharacter    Reason = "CHARACTER"     // a character outside the allowed set
	ReasonEncoding     Reason = "ENCODING"      // invalid UTF-8, or percent-encoding in a handle
	ReasonDotSegment   Reason = "DOT_SEGMENT"   // a suffix "." or ".."
	ReasonDigits       Reason = "DIGITS"        // a GS1 number with a character other than 0-9
	ReasonLength       Reason = "LENGTH"        // a GS1 number of a length its kind does not have
	ReasonCheckDigit   Reason = "CHECK_DIGIT"   // a GS1 number whose check digit does not match
)

// Error is a refusal of the grammar: an INVALID_INPUT with its Reason.
type Error struct {
	Reason Reason
	Err    *errs.Error
}

func (e *Error) Error() string { return e.Err.Error() + " [" + string(e.Reason) + "]" }

// Unwrap lets errs.As and errors.Is(err, errs.ErrInvalidInput) see the coded error.
func (e *Error) Unwrap() error { return e.Err }

// At returns a copy of e about the input field at path.
func (e *Error) At(path []string) *Error {
	c := *e.Err
	c.Field = append([]string(nil), path...)
	return &Error{Reason: e.Reason, Err: &c}
}

// At sets the field path of a refusal of this package and returns it; any
// other error is returned unchanged.
func At(err error, path []string) error {
	var e *Error
	if errors.As(err, &e) {
		return e.At(path)
	}
	return err
}

// ReasonOf returns the Reason of a refusal of this package, or "" for any
// other error (and for nil).
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func fault(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Err: errs.Invalid(nil, format, args...)}
}

// Handle is a parsed identifier. Its zero value is no handle (IsZero).
type Handle struct {
	prefix, suffix string
}

// Parse checks s against the grammar and the limits and returns its Handle.
func Parse(s string) (Handle, error) {
	if s == "" {
		return Handle{}, fault(ReasonEmpty, "the identifier is empty")
	}
	if n := runeCount(s); n > MaxHandle {
		return Handle{}, fault(ReasonTooLong, "the identifier must be at most %d characters, not %d", MaxHandle, n)
	}
	prefix, suffix, ok := strings.Cut(s, "/")
	if !ok {
		return Handle{}, fault(ReasonNoSeparator, "the identifier must be <prefix>/<suffix>, with a \"/\" after the prefix")
	}
	if e := checkPrefix(prefix); e != nil {
		return Handle{}, e
	}
	if e := checkSuffix(suffix); e != nil {
		return Handle{}, e
	}
	return Handle{prefix: prefix, suffix: suffix}, nil
}

// Join builds the handle prefix/suffix, as Parse of the joined text.
func Join(prefix, suffix string) (Handle, error) {
	if e := checkPrefix(prefix); e != nil {
		return Handle{}, e
	}
	if e := checkSuffix(suffix); e != nil {
		return Handle{}, e
	}
	if n := len(prefix) + 1 + len(suffix); n > MaxHandle {
		return Handle{}, fault(ReasonTooLong, "the identifier must be at most %d characters, not %d", MaxHandle, n)
	}
	return Handle{prefix: prefix, suffix: suffix}, nil
}

// String is the handle as it was written.
func (h Handle) String() string {
	if h.IsZero() {
		return ""
	}
	return h.prefix + "/" + h.suffix
}

// Key is the case-insensitive form of the handle (lower case), which
// uniqueness and look-ups go by.
func (h Handle) Key() string { return strings.ToLower(h.String()) }

// Prefix is the node or enterprise prefix, e.g. 88.500.1304.
func (h Handle) Prefix() string { return h.prefix }

// Suffix is the part after "/", in its original case.
func (h Handle) Suffix() string { return h.suffix }

// IsZero reports whether h is the zero Handle.
func (h Handle) IsZero() bool { return h.prefix == "" && h.suffix == "" }

// Under reports whether h belongs to the node prefix p: its prefix is p or
// lies below it, segment by segment (88.500.1304 is under 88.500 and 88, but
// 88.50 is not under 88.5). An invalid p has nothing under it.
func (h Handle) Under(p string) bool {
	if h.IsZero() || checkPrefix(p) != nil {
		return false
	}
	return h.prefix == p || strings.HasPrefix(h.prefix, p+".")
}

// ValidatePrefix checks a node or enterprise prefix: dot-separated decimal
// segments without leading zeros, at most MaxPrefix characters.
func ValidatePrefix(p string) error {
	if e := checkPrefix(p); e != nil {
		return e
	}
	return nil
}

// EnterprisePrefix builds the prefix <node>.<code> the operator assigns to an
// enterprise under the platform's node prefix: code is one decimal segment.
func EnterprisePrefix(node, code string) (string, error) {
	if e := checkPrefix(node); e != nil {
		return "", e
	}
	if code == "" {
		return "", fault(ReasonEmpty, "the enterprise code is empty")
	}
	if e := checkSegment(code, "the enterprise code"); e != nil {
		return "", e
	}
	p := node + "." + code
	if len(p) > MaxPrefix {
		return "", fault(ReasonTooLong, "the enterprise prefix %s.%s must be at most %d characters, not %d", node, code, MaxPrefix, len(p))
	}
	return p, nil
}

func checkPrefix(p string) *Error {
	if p == "" {
		return fault(ReasonPrefixSyntax, "the prefix is empty: an identifier starts with a node prefix such as 88.500")
	}
	if n := runeCount(p); n > MaxPrefix {
		return fault(ReasonTooLong, "the prefix must be at most %d characters, not %d", MaxPrefix, n)
	}
	for i, seg := range strings.Split(p, ".") {
		if e := checkSegment(seg, fmt.Sprintf("segment %d of the prefix", i+1)); e != nil {
			return e
		}
	}
	return nil
}

func checkSegment(seg, what string) *Error {
	if seg == "" {
		return fault(ReasonPrefixSyntax, "%s is empty: a prefix is decimal segments separated by single dots", what)
	}
	for _, c := range []byte(seg) {
		if c < '0' || c > '9' {
			return fault(ReasonPrefixSyntax, "%s (%q) must be decimal digits", what, seg)
		}
	}
	if len(seg) > 1 && seg[0] == '0' {
		return fault(ReasonPrefixSyntax, "%s (%q) must not have a leading zero", what, seg)
	}
	return nil
}

func checkSuffix(s string) *Error {
	if s == "" {
		return fault(ReasonEmpty, "the suffix after \"/\" is empty")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < utf8.RuneSelf && safe[c] {
			continue
		}
		switch {
		case c == '%':
			return fault(ReasonEncoding, "the suffix must not contain %% (character %d): a handle is never percent-encoded, decode it first", i+1)
		case c >= utf8.RuneSelf:
			r, _ := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError {
				return fault(ReasonEncoding, "the suffix is not valid UTF-8 at byte %d", i+1)
			}
			return fault(ReasonCharacter, "the suffix must contain only letters A-Z, digits and %s; %q at byte %d is not allowed", suffixPunct, r, i+1)
		case c == '/':
			return fault(ReasonCharacter, "the suffix must not contain a second \"/\" (character %d)", i+1)
		default:
			return fault(ReasonCharacter, "the suffix must contain only letters A-Z, digits and %s; %q at character %d is not allowed", suffixPunct, rune(c), i+1)
		}
	}
	if s == "." || s == ".." {
		return fault(ReasonDotSegment, "the suffix must not be %q", s)
	}
	return nil
}

// safe marks the ASCII characters of SuffixAlphabet.
var safe = func() (t [utf8.RuneSelf]bool) {
	for _, c := range []byte(SuffixAlphabet) {
		t[c] = true
	}
	return t
}()

// ValidateValueType checks the type of a record value (URL, EMAIL,
// GS1.SGTIN, a handle such as 0.TYPE/URL): 1 to MaxValueType printable ASCII
// characters without spaces.
func ValidateValueType(t string) error {
	if t == "" {
		return fault(ReasonEmpty, "the value type is empty")
	}
	if n := runeCount(t); n > MaxValueType {
		return fault(ReasonTooLong, "the value type must be at most %d characters, not %d", MaxValueType, n)
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; c <= ' ' || c >= 0x7f {
			if c >= utf8.RuneSelf && !utf8.ValidString(t) {
				return fault(ReasonEncoding, "the value type is not valid UTF-8")
			}
			return fault(ReasonCharacter, "the value type must be printable ASCII without spaces; character %d is not", i+1)
		}
	}
	return nil
}

// ValidateValueData checks the data of a record value: 1 to MaxValueData
// characters of valid UTF-8 without control characters (a value is one line:
// a URL, a serial, a status).
func ValidateValueData(d string) error {
	if d == "" {
		return fault(ReasonEmpty, "the value data is empty")
	}
	if !utf8.ValidString(d) {
		return fault(ReasonEncoding, "the value data is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(d); n > MaxValueData {
		return fault(ReasonTooLong, "the value data must be at most %d characters, not %d", MaxValueData, n)
	}
	for _, r := range d {
		if unicode.IsControl(r) {
			return fault(ReasonCharacter, "the value data must be a single line without control characters")
		}
	}
	return nil
}

func runeCount(s string) int {
	if utf8.ValidString(s) {
		return utf8.RuneCountInString(s)
	}
	return len(s)
}
