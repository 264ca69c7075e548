package identifiers

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/masscustom/orchestrator/services/errs"
)

// Published GS1 examples: an EAN-13, a UPC-A (GTIN-12), an EAN-8 and the
// SSCC of GS1's General Specifications.
func TestCheckDigitOfPublishedKeys(t *testing.T) {
	for _, key := range []string{"4006381333931", "036000291452", "96385074", "106141411234567897", "00614141000418"} {
		if got := CheckDigit(key[:len(key)-1]); got != key[len(key)-1] {
			t.Errorf("check digit of %s: %c, want %c", key, got, key[len(key)-1])
		}
	}
}

// The mod-10 check catches every single wrong digit and every swap of two
// neighbouring digits that differ by other than 5.
func TestCheckDigitCatchesSingleErrorsAndMostSwaps(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for range 2000 {
		n := 7 + r.IntN(11)
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + r.IntN(10))
		}
		key := string(b) + string(CheckDigit(string(b)))
		if err := digitsWithCheck("key", key, len(key)); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		i := r.IntN(len(key))
		wrong := []byte(key)
		wrong[i] = byte('0' + (int(wrong[i]-'0')+1+r.IntN(9))%10)
		if digitsWithCheck("key", string(wrong), len(key)) == nil {
			t.Fatalf("a wrong digit at %d of %s went unseen: %s", i, key, wrong)
		}
		if j := r.IntN(len(key) - 1); key[j] != key[j+1] && absDiff(key[j], key[j+1]) != 5 {
			swapped := []byte(key)
			swapped[j], swapped[j+1] = swapped[j+1], swapped[j]
			if digitsWithCheck("key", string(swapped), len(key)) == nil {
				t.Fatalf("a swap at %d of %s went unseen: %s", j, key, swapped)
			}
		}
	}
}

func absDiff(a, b byte) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

func TestParseGS1(t *testing.T) {
	for _, tc := range []struct {
		kind          GS1Kind
		value, serial string
		want          string // element string, or "" for a refusal
		reason        Reason
	}{
		{KindSGTIN, "4006381333931", "AC-0001", "(01)04006381333931(21)AC-0001", ""},
		{KindSGTIN, "96385074", "1", "(01)00000096385074(21)1", ""},
		{KindSGTIN, "4006381333932", "AC-0001", "", ReasonCheckDigit},
		{KindSGTIN, "400638133393", "AC-0001", "", ReasonCheckDigit},
		{KindSGTIN, "40063813339", "AC-0001", "", ReasonLength},
		{KindSGTIN, "4006381333931", "", "", ReasonEmpty},
		{KindSGTIN, "4006381333931", strings.Repeat("9", 21), "", ReasonTooLong},
		{KindSGTIN, "4006381333931", "AC 0001", "", ReasonCharacter},
		{KindSGTIN, "4006381333931", "序列", "", ReasonCharacter},
		{KindSGTIN, "40063813339x1", "A", "", ReasonDigits},
		{KindSSCC, "106141411234567897", "", "(00)106141411234567897", ""},
		{KindSSCC, "106141411234567898", "", "", ReasonCheckDigit},
		{KindSSCC, "106141411234567897", "x", "", ReasonCharacter},
		{KindGIAI, "0614141VMC-850-0001", "", "(8004)0614141VMC-850-0001", ""},
		{KindGIAI, "06141A-1", "", "", ReasonDigits},
		{KindGIAI, "0614141" + strings.Repeat("A", 24), "", "", ReasonTooLong},
		{KindGIAI, "", "", "", ReasonEmpty},
		{"EPC", "1", "", "", ReasonCharacter},
	} {
		k, err := ParseGS1(tc.kind, tc.value, tc.serial)
		if tc.want != "" {
			if err != nil || k.ElementString() != tc.want {
				t.Errorf("%s %q %q: %q, %v; want %s", tc.kind, tc.value, tc.serial, k.ElementString(), err, tc.want)
			}
			continue
		}
		if ReasonOf(err) != tc.reason || !errors.Is(err, errs.ErrInvalidInput) {
			t.Errorf("%s %q %q: %v, want INVALID_INPUT for %s", tc.kind, tc.value, tc.serial, err, tc.reason)
		}
	}
}
