package procurement

import (
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

var (
	supA = uuid.MustParse("a0000000-0000-4000-8000-00000000000a")
	supB = uuid.MustParse("b0000000-0000-4000-8000-00000000000b")
	supC = uuid.MustParse("c0000000-0000-4000-8000-00000000000c")
)

func cand(id uuid.UUID, maxQty, score, price string, lead int) Candidate {
	return Candidate{SupplierID: id, Material: "steel", UnitPrice: d(price), Currency: "CNY", LeadDays: lead, MaxQuantity: d(maxQty), Score: d(score)}
}

func TestRankCandidatesOrdersByCoverageThenMeritThenTies(t *testing.T) {
	t.Parallel()
	usd := func(c Candidate) Candidate { c.Currency = "USD"; return c }
	tests := []struct {
		name     string
		quantity string
		cands    []Candidate
		want     []uuid.UUID
		coverage []string // of the ranked candidates, when checked
		merit    []string
	}{
		{
			name:     "covering more beats being better at everything else",
			quantity: "100",
			cands:    []Candidate{cand(supA, "50", "100", "1.00", 0), cand(supB, "100", "0", "90.00", 60)},
			want:     []uuid.UUID{supB, supA},
			coverage: []string{"1", "0.5"},
		},
		{
			name:     "coverage is capped at the quantity",
			quantity: "100",
			cands:    []Candidate{cand(supA, "500", "50", "10.00", 5), cand(supB, "100", "60", "10.00", 5)},
			want:     []uuid.UUID{supB, supA},
			coverage: []string{"1", "1"},
		},
		{
			name:     "equal coverage: the higher score wins",
			quantity: "100",
			cands:    []Candidate{cand(supA, "100", "60", "10.00", 5), cand(supB, "100", "80", "10.00", 5)},
			want:     []uuid.UUID{supB, supA},
			merit:    []string{"0.9", "0.8"},
		},
		{
			name:     "price weighs against score by the formula",
			quantity: "100",
			// A: 0.5·0.6 + 0.3·1 + 0.2·1 = 0.8; B: 0.5·0.7 + 0.3·0.66666667 + 0.2·1 = 0.75 (to 8 places)
			cands: []Candidate{cand(supB, "100", "70", "15.00", 5), cand(supA, "100", "60", "10.00", 5)},
			want:  []uuid.UUID{supA, supB},
			merit: []string{"0.8", "0.75"},
		},
		{
			name:     "a shorter lead time wins when score and price are equal",
			quantity: "10",
			// speed of B: (2+1)/(9+1) = 0.3
			cands: []Candidate{cand(supB, "10", "50", "3.00", 9), cand(supA, "10", "50", "3.00", 2)},
			want:  []uuid.UUID{supA, supB},
			merit: []string{"0.75", "0.61"},
		},
		{
			name:     "a full tie is broken by supplier id",
			quantity: "10",
			cands:    []Candidate{cand(supC, "10", "50", "3.00", 2), cand(supA, "10", "50", "3.00", 2), cand(supB, "10", "50", "3.00", 2)},
			want:     []uuid.UUID{supA, supB, supC},
		},
		{
			name:     "prices in different currencies are not compared",
			quantity: "10",
			cands:    []Candidate{cand(supB, "10", "50", "1.00", 2), usd(cand(supA, "10", "50", "9.00", 2))},
			want:     []uuid.UUID{supA, supB},
			merit:    []string{"0.75", "0.75"}, // each the cheapest of its currency
		},
		{
			name:     "scores outside 0..100 count as clamped",
			quantity: "10",
			cands:    []Candidate{cand(supA, "10", "250", "3.00", 2), cand(supB, "10", "100", "3.00", 2), cand(supC, "10", "-5", "3.00", 2)},
			want:     []uuid.UUID{supA, supB, supC},
			merit:    []string{"1", "1", "0.5"},
		},
		{
			name:     "a quantity of zero counts as covered by everybody",
			quantity: "0",
			cands:    []Candidate{cand(supA, "1", "40", "3.00", 2), cand(supB, "500", "50", "3.00", 2)},
			want:     []uuid.UUID{supB, supA},
			coverage: []string{"1", "1"},
		},
		{
			name:     "fractional quantities",
			quantity: "2.5",
			cands:    []Candidate{cand(supA, "1.25", "90", "3.00", 2), cand(supB, "2", "10", "3.00", 2)},
			want:     []uuid.UUID{supB, supA},
			coverage: []string{"0.8", "0.5"},
		},
		{
			name:     "nobody",
			quantity: "10",
			cands:    nil,
			want:     []uuid.UUID{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			input := slices.Clone(tt.cands)
			got := RankCandidates(tt.cands, d(tt.quantity))
			ids := make([]uuid.UUID, len(got))
			for i, c := range got {
				ids[i] = c.SupplierID
			}
			if !slices.Equal(ids, tt.want) {
				t.Fatalf("ranked %v, want %v", ids, tt.want)
			}
			for i, want := range tt.coverage {
				if !got[i].Coverage.Equal(d(want)) {
					t.Errorf("coverage of %v = %s, want %s", got[i].SupplierID, got[i].Coverage, want)
				}
			}
			for i, want := range tt.merit {
				if !got[i].Merit.Equal(d(want)) {
					t.Errorf("merit of %v = %s, want %s", got[i].SupplierID, got[i].Merit, want)
				}
			}
			if !slices.EqualFunc(input, tt.cands, func(a, b Candidate) bool { return a.SupplierID == b.SupplierID && a.Merit.Equal(b.Merit) }) {
				t.Errorf("RankCandidates changed its argument")
			}
		})
	}
}

func TestRankCandidatesIsTheSameWhateverTheInputOrder(t *testing.T) {
	t.Parallel()
	cands := []Candidate{
		cand(supA, "60", "70", "10.00", 3), cand(supB, "100", "40", "9.50", 7), cand(supC, "100", "40", "9.50", 7),
	}
	want := RankCandidates(cands, d("100"))
	for _, perm := range [][]int{{2, 1, 0}, {1, 0, 2}, {0, 2, 1}} {
		in := []Candidate{cands[perm[0]], cands[perm[1]], cands[perm[2]]}
		got := RankCandidates(in, d("100"))
		for i := range got {
			if got[i].SupplierID != want[i].SupplierID {
				t.Fatalf("order %v ranked %v first at %d, want %v", perm, got[i].SupplierID, i, want[i].SupplierID)
			}
		}
	}
}
