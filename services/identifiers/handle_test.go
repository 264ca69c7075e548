package identifiers

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"

	"github.com/masscustom/orchestrator/services/errs"
)

// refusedWith requires err to be an INVALID_INPUT with a message and reason want.
func refusedWith(t *testing.T, name string, err error, want Reason) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Errorf("%s: refused with %v, want accepted", name, err)
		}
		return
	}
	e, ok := errs.As(err)
	if !ok || e.Code != errs.InvalidInput || e.Message == "" {
		t.Errorf("%s: %v, want INVALID_INPUT with a message", name, err)
		return
	}
	if got := ReasonOf(err); got != want {
		t.Errorf("%s: reason %s (%v), want %s", name, got, err, want)
	}
}

func TestParseRefusesEachBrokenRuleWithItsReason(t *testing.T) {
	t.Parallel()
	long := "88.500/" + strings.Repeat("a", MaxHandle-6)
	cases := []struct {
		name, in string
		want     Reason
	}{
		{"a unit serial", "88.500.1304/UNIT-42", ""},
		{"every safe punctuation", "88.500.1304/a-._~:;=+*!()$@,z", ""},
		{"a zero segment", "0.88/x", ""},
		{"exactly the limit", long[:MaxHandle], ""},
		{"empty", "", ReasonEmpty},
		{"one over the limit", long, ReasonTooLong},
		{"no separator", "88.500.1304", ReasonNoSeparator},
		{"empty prefix", "/abc", ReasonPrefixSyntax},
		{"letters in the prefix", "88.abc/x", ReasonPrefixSyntax},
		{"an empty segment", "88..500/x", ReasonPrefixSyntax},
		{"a trailing dot", "88.500./x", ReasonPrefixSyntax},
		{"a leading zero", "88.0500/x", ReasonPrefixSyntax},
		{"prefix over its limit", strings.Repeat("1", MaxPrefix+1) + "/x", ReasonTooLong},
		{"empty suffix", "88.500/", ReasonEmpty},
		{"a second slash", "88.500/a/b", ReasonCharacter},
		{"a space", "88.500/a b", ReasonCharacter},
		{"a control character", "88.500/a\x00b", ReasonCharacter},
		{"an ampersand", "88.500/a&b", ReasonCharacter},
		{"a quote", "88.500/a'b", ReasonCharacter},
		{"a non-ASCII letter", "88.500/caf\u00e9", ReasonCharacter},
		{"percent-encoding", "88.500/a%2Fb", ReasonEncoding},
		{"invalid UTF-8", "88.500/a\xffb", ReasonEncoding},
		{"a dot segment", "88.500/.", ReasonDotSegment},
		{"a double dot segment", "88.500/..", ReasonDotSegment},
	}
	for _, c := range cases {
		h, err := Parse(c.in)
		refusedWith(t, c.name, err, c.want)
		if c.want == "" && h.String() != c.in {
			t.Errorf("%s: String() = %q, want %q", c.name, h.String(), c.in)
		}
		if c.want != "" && !h.IsZero() {
			t.Errorf("%s: refused but returned %v", c.name, h)
		}
	}
}

func TestValueTypeAndDataLimits(t *testing.T) {
	t.Parallel()
	types := []struct {
		name, in string
		want     Reason
	}{
		{"URL", "URL", ""},
		{"a handle type", "0.TYPE/URL", ""},
		{"at the limit", strings.Repeat("T", MaxValueType), ""},
		{"empty", "", ReasonEmpty},
		{"over the limit", strings.Repeat("T", MaxValueType+1), ReasonTooLong},
		{"a space", "GS1 SGTIN", ReasonCharacter},
		{"non-ASCII", "T\u00fcp", ReasonCharacter},
		{"invalid UTF-8", "T\xff", ReasonEncoding},
	}
	for _, c := range types {
		refusedWith(t, "type "+c.name, ValidateValueType(c.in), c.want)
	}
	data := []struct {
		name, in string
		want     Reason
	}{
		{"a URL", "https://example.com/u/42", ""},
		{"at the limit in non-ASCII characters", strings.Repeat("\u6570", MaxValueData), ""},
		{"empty", "", ReasonEmpty},
		{"over the limit", strings.Repeat("d", MaxValueData+1), ReasonTooLong},
		{"a line break", "a\nb", ReasonCharacter},
		{"invalid UTF-8", "\xff", ReasonEncoding},
	}
	for _, c := range data {
		refusedWith(t, "data "+c.name, ValidateValueData(c.in), c.want)
	}
}

func TestEnterprisePrefixAndUnder(t *testing.T) {
	t.Parallel()
	p, err := EnterprisePrefix("88.500", "1304")
	if err != nil || p != "88.500.1304" {
		t.Fatalf("EnterprisePrefix = %q, %v", p, err)
	}
	bad := []struct {
		name, node, code string
		want             Reason
	}{
		{"empty code", "88.500", "", ReasonEmpty},
		{"letters in the code", "88.500", "ab", ReasonPrefixSyntax},
		{"a dotted code", "88.500", "1.2", ReasonPrefixSyntax},
		{"a bad node", "88.x", "1", ReasonPrefixSyntax},
		{"over the limit", "88." + strings.Repeat("5", 58), "1304", ReasonTooLong},
	}
	for _, c := range bad {
		_, err := EnterprisePrefix(c.node, c.code)
		refusedWith(t, c.name, err, c.want)
	}
	h, err := Parse("88.500.1304/U1")
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{"88": true, "88.500": true, "88.500.1304": true, "88.5": false, "88.50": false, "88.500.13": false, "88.500.1304.1": false, "": false, "88.": false} {
		if got := h.Under(p); got != want {
			t.Errorf("Under(%q) = %v, want %v", p, got, want)
		}
	}
	h2, _ := Parse("88.50/U1")
	if h2.Under("88.5") {
		t.Error("88.50/U1 is under 88.5")
	}
}

func TestAtSetsTheFieldPath(t *testing.T) {
	t.Parallel()
	_, err := Parse("nope")
	err = At(err, []string{"input", "identifier"})
	e, ok := errs.As(err)
	if !ok || strings.Join(e.Field, ".") != "input.identifier" || ReasonOf(err) != ReasonNoSeparator {
		t.Fatalf("At: %v", err)
	}
}

// genPrefix makes a valid prefix of at most max characters.
func genPrefix(r *rand.Rand, max int) string {
	var b strings.Builder
	for {
		seg := "0"
		if r.IntN(8) != 0 {
			seg = string(rune('1'+r.IntN(9))) + digits(r, r.IntN(6))
		}
		sep := 0
		if b.Len() > 0 {
			sep = 1
		}
		if b.Len()+sep+len(seg) > max {
			if b.Len() == 0 {
				return "8"
			}
			return b.String()
		}
		if sep == 1 {
			b.WriteByte('.')
		}
		b.WriteString(seg)
		if r.IntN(3) == 0 {
			return b.String()
		}
	}
}

func digits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

func genSuffix(r *rand.Rand, n int) string {
	for {
		b := make([]byte, n)
		for i := range b {
			b[i] = SuffixAlphabet[r.IntN(len(SuffixAlphabet))]
		}
		if s := string(b); s != "." && s != ".." {
			return s
		}
	}
}

func genHandle(r *rand.Rand) string {
	p := genPrefix(r, 1+r.IntN(MaxPrefix))
	return p + "/" + genSuffix(r, 1+r.IntN(MaxHandle-len(p)-1))
}

func flipCase(r *rand.Rand, s string) string {
	b := []rune(s)
	for i, c := range b {
		if r.IntN(2) == 0 {
			if unicode.IsUpper(c) {
				b[i] = unicode.ToLower(c)
			} else {
				b[i] = unicode.ToUpper(c)
			}
		}
	}
	return string(b)
}

func TestPropertyValidHandlesParseAndRoundTrip(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(9, 1))
	for range 5000 {
		s := genHandle(r)
		h, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		if h.String() != s {
			t.Fatalf("String() = %q, want %q", h.String(), s)
		}
		k := h.Key()
		if k != strings.ToLower(s) {
			t.Fatalf("Key(%q) = %q", s, k)
		}
		hk, err := Parse(k)
		if err != nil || hk.Key() != k {
			t.Fatalf("Key not idempotent: %q -> %v, %v", k, hk.Key(), err)
		}
		v := flipCase(r, s)
		hv, err := Parse(v)
		if err != nil || hv.Key() != k || hv.String() != v {
			t.Fatalf("case variant %q of %q: key %q, %v", v, s, hv.Key(), err)
		}
		j, err := Join(h.Prefix(), h.Suffix())
		if err != nil || j != h {
			t.Fatalf("Join(%q, %q) = %v, %v", h.Prefix(), h.Suffix(), j, err)
		}
		if !h.Under(h.Prefix()) {
			t.Fatalf("%q is not under its own prefix", s)
		}
	}
}

// forbidden is every ASCII byte outside the suffix alphabet, and a few non-ASCII letters.
func forbidden() []string {
	var out []string
	for c := 0; c < 0x80; c++ {
		if !safe[c] {
			out = append(out, string(rune(c)))
		}
	}
	return append(out, "\u00e9", "\u6570", "\U0001F600")
}

func TestPropertyOverLimitsAndForbiddenCharactersAreRefused(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(9, 2))
	bad := forbidden()
	for range 3000 {
		// Over the whole limit.
		p := genPrefix(r, 1+r.IntN(MaxPrefix))
		s := p + "/" + genSuffix(r, MaxHandle-len(p)+r.IntN(100))
		_, err := Parse(s)
		refusedWith(t, "over the limit "+s, err, ReasonTooLong)

		// A prefix over its limit, the whole within.
		long := strings.Repeat("1", MaxPrefix+1+r.IntN(100))
		_, err = Parse(long + "/" + genSuffix(r, 1+r.IntN(MaxHandle-len(long)-1)))
		refusedWith(t, "prefix over the limit", err, ReasonTooLong)

		// One forbidden character in a valid suffix, within the limits.
		p = genPrefix(r, 1+r.IntN(MaxPrefix))
		c := bad[r.IntN(len(bad))]
		suf := genSuffix(r, 1+r.IntN(MaxHandle-len(p)-1-len(c)))
		at := r.IntN(len(suf) + 1)
		s = p + "/" + suf[:at] + c + suf[at:]
		want := ReasonCharacter
		if c == "%" {
			want = ReasonEncoding
		}
		_, err = Parse(s)
		refusedWith(t, "forbidden "+s, err, want)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"88.500.1304/UNIT-42", "", "/", "88/..", "88.500/a%2F", "88.0/x", "88.500/\xff", strings.Repeat("9", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := Parse(s)
		if err != nil {
			if ReasonOf(err) == "" {
				t.Fatalf("Parse(%q): refusal without a reason: %v", s, err)
			}
			if e, ok := errs.As(err); !ok || e.Code != errs.InvalidInput {
				t.Fatalf("Parse(%q): %v is not INVALID_INPUT", s, err)
			}
			return
		}
		if h.String() != s || len(s) > MaxHandle {
			t.Fatalf("Parse(%q) accepted as %q", s, h.String())
		}
		again, err := Parse(h.String())
		if err != nil || again != h {
			t.Fatalf("round trip of %q: %v, %v", s, again, err)
		}
		if k, err := Parse(h.Key()); err != nil || k.Key() != h.Key() {
			t.Fatalf("key of %q does not parse to itself: %v", s, err)
		}
	})
}
