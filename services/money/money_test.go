package money

import (
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestRoundIsHalfAwayFromZeroToMinorUnit(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, cur, want string }{
		{"2.345", "CNY", "2.35"},
		{"-2.345", "CNY", "-2.35"},
		{"2.344", "CNY", "2.34"},
		{"10.5", "JPY", "11"},
		{"-10.5", "JPY", "-11"},
		{"1.0005", "KWD", "1.001"},
	}
	for _, c := range cases {
		got, err := Round(d(c.in), c.cur)
		if err != nil {
			t.Fatalf("Round(%s,%s): %v", c.in, c.cur, err)
		}
		if !got.Equal(d(c.want)) {
			t.Errorf("Round(%s,%s)=%s want %s", c.in, c.cur, got, c.want)
		}
	}
	if _, err := Round(d("1"), "XXX"); err == nil {
		t.Error("unknown currency accepted")
	}
}

func TestSplitByLargestRemainder(t *testing.T) {
	t.Parallel()
	got, err := Split(d("100.00"), []decimal.Decimal{d("1"), d("1"), d("1")}, "CNY")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"33.34", "33.33", "33.33"}
	for i := range want {
		if !got[i].Equal(d(want[i])) {
			t.Errorf("part %d = %s want %s", i, got[i], want[i])
		}
	}
	neg, err := Split(d("-0.05"), []decimal.Decimal{d("0.9"), d("0.1")}, "CNY")
	if err != nil {
		t.Fatal(err)
	}
	if !neg[0].Equal(d("-0.05")) || !neg[1].Equal(d("0")) {
		t.Errorf("negative split = %v", neg)
	}
}

func TestSplitPartsAlwaysSumToWhole(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 2000; n++ {
		total := decimal.New(r.Int64N(2_000_000)-1_000_000, -2)
		k := 1 + r.IntN(7)
		ws := make([]decimal.Decimal, k)
		for i := range ws {
			ws[i] = decimal.New(r.Int64N(10000), -r.Int32N(4))
		}
		ws[0] = ws[0].Add(decimal.New(1, -3)) // never all zero
		parts, err := Split(total, ws, "CNY")
		if err != nil {
			t.Fatal(err)
		}
		sum := decimal.Zero
		for _, p := range parts {
			sum = sum.Add(p)
			if !p.Equal(p.Round(2)) {
				t.Fatalf("part %s not in minor units", p)
			}
		}
		if !sum.Equal(total) {
			t.Fatalf("split of %s by %v summed to %s", total, ws, sum)
		}
	}
}

func TestSplitRefusesBadInput(t *testing.T) {
	t.Parallel()
	if _, err := Split(d("1.005"), []decimal.Decimal{d("1")}, "CNY"); err == nil {
		t.Error("total with sub-minor precision accepted")
	}
	if _, err := Split(d("1"), []decimal.Decimal{d("0")}, "CNY"); err == nil {
		t.Error("zero weights accepted")
	}
	if _, err := Split(d("1"), []decimal.Decimal{d("-1"), d("2")}, "CNY"); err == nil {
		t.Error("negative weight accepted")
	}
}
