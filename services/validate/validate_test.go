package validate

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/errs"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

var path = []string{"input", "field"}

// refused requires an INVALID_INPUT on path with a message, or nil when ok.
func refused(t *testing.T, name string, e *errs.Error, ok bool) {
	t.Helper()
	if ok {
		if e != nil {
			t.Errorf("%s: refused with %v, want accepted", name, e)
		}
		return
	}
	if e == nil {
		t.Errorf("%s: accepted, want INVALID_INPUT", name)
		return
	}
	if e.Code != errs.InvalidInput || strings.Join(e.Field, ".") != "input.field" || e.Message == "" {
		t.Errorf("%s: %+v, want INVALID_INPUT on input.field with a message", name, e)
	}
}

func TestAmountIsBoundedAndInMinorUnits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, amount, currency string
		sign                   Sign
		ok                     bool
	}{
		{"a cent amount", "12.34", "CNY", Positive, true},
		{"trailing zeros beyond the minor unit are the same amount", "12.3400", "CNY", Positive, true},
		{"the largest amount", "1000000000000", "CNY", Positive, true},
		{"above the largest amount", "1000000000000.01", "CNY", Positive, false},
		{"an astronomic exponent", "1e400", "CNY", Positive, false},
		{"a negative astronomic exponent", "-1e400", "CNY", NonNegative, false},
		{"below the minor unit", "0.001", "CNY", Positive, false},
		{"a tiny exponent", "1e-30", "CNY", Positive, false},
		{"yen has no decimals", "10.5", "JPY", Positive, false},
		{"dinar has three", "10.125", "KWD", Positive, true},
		{"zero is not positive", "0", "CNY", Positive, false},
		{"zero is non-negative", "0", "CNY", NonNegative, true},
		{"negative", "-1", "CNY", NonNegative, false},
		{"an unknown currency leaves the scale to the currency check", "1.23456", "XXX", Positive, true},
		{"an unknown currency keeps the bound", "1e13", "XXX", Positive, false},
	}
	for _, c := range cases {
		refused(t, c.name, Amount(path, d(c.amount), c.currency, c.sign), c.ok)
	}
}

func TestQuantityIsBoundedAndNoFinerThanItsUnit(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, qty, unit string
		ok              bool
	}{
		{"whole pieces", "4", "pcs", true},
		{"written with zeros", "4.000", "pcs", true},
		{"a fraction of a piece", "0.5", "pcs", false},
		{"a thirtieth decimal", "1e-30", "pcs", false},
		{"grams of a kilogram", "1.234", "kg", true},
		{"below a gram", "1.2345", "kg", false},
		{"an unknown unit up to a millionth", "0.000001", "widgets", true},
		{"an unknown unit beyond a millionth", "0.0000001", "widgets", false},
		{"the largest quantity", "1000000000", "kg", true},
		{"above the largest", "1000000001", "kg", false},
		{"an astronomic exponent", "1e400", "kg", false},
		{"zero", "0", "kg", false},
		{"negative", "-2", "pcs", false},
	}
	for _, c := range cases {
		refused(t, c.name, Quantity(path, d(c.qty), c.unit), c.ok)
	}
}

func TestTextRefusesNULControlCharactersBadUTF8AndOverlongValues(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, s string
		kind    TextKind
		ok      bool
	}{
		{"plain", "Zhang Min", Name, true},
		{"unicode", "青岛市 海尔路 88号", Line, true},
		{"empty is the caller's rule", "", Name, true},
		{"NUL in a name", "Zhang\x00Min", Name, false},
		{"NUL in a note", "too\x00loud", Note, false},
		{"a line break in a name", "Zhang\nMin", Name, false},
		{"a tab in a line", "88\tHaier Road", Line, false},
		{"line breaks and tabs in a note", "line one\r\nline two\tindented", Note, true},
		{"a lone carriage return in a note", "one\rtwo", Note, false},
		{"escape in a note", "bell\x1b[31m", Note, false},
		{"DEL", "a\x7fb", Key, false},
		{"a C1 control", "a\u0085b", Line, false},
		{"invalid UTF-8", "caf\xe9", Key, false},
		{"at the limit", strings.Repeat("é", 200), Name, true},
		{"over the limit", strings.Repeat("é", 201), Name, false},
		{"a long note", strings.Repeat("x", 2001), Note, false},
	}
	for _, c := range cases {
		refused(t, c.name, Text(path, c.s, c.kind), c.ok)
	}
}

func TestTextsReportsEveryFaultyField(t *testing.T) {
	t.Parallel()
	got := Texts(
		Field{Path: []string{"input", "a"}, Value: "fine", Kind: Name},
		Field{Path: []string{"input", "b"}, Value: "bad\x00", Kind: Name},
		Field{Path: []string{"input", "c"}, Value: "bad\x01", Kind: Note},
	)
	if len(got) != 2 || got[0].Field[1] != "b" || got[1].Field[1] != "c" {
		t.Fatalf("Texts = %v, want faults on b and c", got)
	}
	if Texts(Field{Path: path, Value: "ok", Kind: Note}) != nil {
		t.Fatal("Texts of good fields is not nil")
	}
}
