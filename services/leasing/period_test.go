package leasing

import (
	"errors"
	"testing"
)

func TestPeriodAt(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name             string
		unit             PeriodUnit
		anchor           Anchor
		start, end       string // contract term
		at               string
		key, from, until string
	}{
		{"calendar month", PeriodMonthly, AnchorCalendar, "2026-01-01T00:00:00Z", "2027-06-01T00:00:00Z",
			"2026-11-23T15:00:00Z", "2026-11", "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"},
		{"calendar month in a leap February", PeriodMonthly, AnchorCalendar, "2028-01-01T00:00:00Z", "2029-01-01T00:00:00Z",
			"2028-02-29T23:59:59Z", "2028-02", "2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z"},
		{"calendar day", PeriodDaily, AnchorCalendar, "2026-01-01T00:00:00Z", "2027-06-01T00:00:00Z",
			"2026-11-23T15:00:00Z", "2026-11-23", "2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z"},
		{"calendar ISO week", PeriodWeekly, AnchorCalendar, "2026-01-01T00:00:00Z", "2027-06-01T00:00:00Z",
			"2026-11-26T15:00:00Z", "2026-W48", "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z"},
		// 2026 starts on a Thursday, so it has 53 ISO weeks and Jan 1 2027 belongs to its last.
		{"ISO week across new year", PeriodWeekly, AnchorCalendar, "2026-01-01T00:00:00Z", "2027-06-01T00:00:00Z",
			"2027-01-01T12:00:00Z", "2026-W53", "2026-12-28T00:00:00Z", "2027-01-04T00:00:00Z"},
		{"calendar week cut by the contract start", PeriodWeekly, AnchorCalendar, "2026-01-01T00:00:00Z", "2027-06-01T00:00:00Z",
			"2026-01-02T00:00:00Z", "2026-W01", "2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z"},
		{"calendar month cut by the contract start", PeriodMonthly, AnchorCalendar, "2026-11-15T09:00:00Z", "2027-06-01T00:00:00Z",
			"2026-11-20T00:00:00Z", "2026-11", "2026-11-15T09:00:00Z", "2026-12-01T00:00:00Z"},
		{"calendar month cut by the contract end", PeriodMonthly, AnchorCalendar, "2026-01-01T00:00:00Z", "2027-06-10T00:00:00Z",
			"2027-06-05T00:00:00Z", "2027-06", "2027-06-01T00:00:00Z", "2027-06-10T00:00:00Z"},
		{"anniversary month", PeriodMonthly, AnchorAnniversary, "2026-01-15T10:30:00Z", "2027-06-01T00:00:00Z",
			"2026-11-15T10:29:59Z", "2026-10-15", "2026-10-15T10:30:00Z", "2026-11-15T10:30:00Z"},
		{"anniversary month from the 31st clamps to February's end", PeriodMonthly, AnchorAnniversary, "2026-01-31T10:00:00Z", "2027-06-01T00:00:00Z",
			"2026-03-01T00:00:00Z", "2026-02-28", "2026-02-28T10:00:00Z", "2026-03-31T10:00:00Z"},
		{"anniversary month from the 31st in a leap year", PeriodMonthly, AnchorAnniversary, "2028-01-31T10:00:00Z", "2029-06-01T00:00:00Z",
			"2028-03-01T00:00:00Z", "2028-02-29", "2028-02-29T10:00:00Z", "2028-03-31T10:00:00Z"},
		{"anniversary month from the 31st in April", PeriodMonthly, AnchorAnniversary, "2026-01-31T10:00:00Z", "2027-06-01T00:00:00Z",
			"2026-05-31T09:00:00Z", "2026-04-30", "2026-04-30T10:00:00Z", "2026-05-31T10:00:00Z"},
		{"anniversary from Feb 29 in a common year", PeriodMonthly, AnchorAnniversary, "2028-02-29T00:00:00Z", "2030-01-01T00:00:00Z",
			"2029-02-28T00:00:00Z", "2029-02-28", "2029-02-28T00:00:00Z", "2029-03-29T00:00:00Z"},
		{"anniversary week", PeriodWeekly, AnchorAnniversary, "2026-11-18T08:30:00Z", "2027-06-01T00:00:00Z",
			"2026-11-25T08:29:00Z", "2026-11-18", "2026-11-18T08:30:00Z", "2026-11-25T08:30:00Z"},
		{"anniversary week at its boundary", PeriodWeekly, AnchorAnniversary, "2026-11-18T08:30:00Z", "2027-06-01T00:00:00Z",
			"2026-11-25T08:30:00Z", "2026-11-25", "2026-11-25T08:30:00Z", "2026-12-02T08:30:00Z"},
		{"anniversary day before the clock time", PeriodDaily, AnchorAnniversary, "2026-11-18T22:00:00Z", "2027-06-01T00:00:00Z",
			"2026-12-01T21:00:00Z", "2026-11-30", "2026-11-30T22:00:00Z", "2026-12-01T22:00:00Z"},
		{"anniversary day into a leap day", PeriodDaily, AnchorAnniversary, "2028-02-01T22:00:00Z", "2028-06-01T00:00:00Z",
			"2028-03-01T01:00:00Z", "2028-02-29", "2028-02-29T22:00:00Z", "2028-03-01T22:00:00Z"},
		{"non-UTC input is read in UTC", PeriodDaily, AnchorCalendar, "2026-01-01T00:00:00Z", "2027-06-01T00:00:00Z",
			"2026-11-24T01:00:00+08:00", "2026-11-23", "2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := contract()
			c.Period = BillingPeriod{Unit: tc.unit, Anchor: tc.anchor}
			c.Start, c.End = at(tc.start), at(tc.end)
			p, err := PeriodAt(c, at(tc.at))
			if err != nil {
				t.Fatal(err)
			}
			if p.Key != tc.key || !p.Start.Equal(at(tc.from)) || !p.End.Equal(at(tc.until)) {
				t.Errorf("PeriodAt = %s [%s, %s), want %s [%s, %s)", p.Key, p.Start, p.End, tc.key, tc.from, tc.until)
			}
			if p.Start.Location().String() != "UTC" {
				t.Errorf("period start in %s, want UTC", p.Start.Location())
			}
		})
	}
}

func TestPeriodsWalkAnniversaryMonthsWithoutDrift(t *testing.T) {
	t.Parallel()
	c := contract()
	c.Period = BillingPeriod{Unit: PeriodMonthly, Anchor: AnchorAnniversary}
	c.Start, c.End = at("2028-01-31T10:00:00Z"), at("2028-06-15T00:00:00Z")
	ps, err := Periods(c, c.Start, c.End)
	if err != nil {
		t.Fatal(err)
	}
	// Jan 31 → Feb 29 (leap) → Mar 31, not Mar 29: each start is computed from the anchor.
	want := []struct{ key, start, end string }{
		{"2028-01-31", "2028-01-31T10:00:00Z", "2028-02-29T10:00:00Z"},
		{"2028-02-29", "2028-02-29T10:00:00Z", "2028-03-31T10:00:00Z"},
		{"2028-03-31", "2028-03-31T10:00:00Z", "2028-04-30T10:00:00Z"},
		{"2028-04-30", "2028-04-30T10:00:00Z", "2028-05-31T10:00:00Z"},
		{"2028-05-31", "2028-05-31T10:00:00Z", "2028-06-15T00:00:00Z"}, // cut by the contract end
	}
	if len(ps) != len(want) {
		t.Fatalf("periods = %+v", ps)
	}
	for i, w := range want {
		if ps[i].Key != w.key || !ps[i].Start.Equal(at(w.start)) || !ps[i].End.Equal(at(w.end)) {
			t.Errorf("period %d = %s [%s, %s), want %s [%s, %s)", i, ps[i].Key, ps[i].Start, ps[i].End, w.key, w.start, w.end)
		}
	}
}

func TestPeriodsAreContiguousAndKeysUnique(t *testing.T) {
	t.Parallel()
	for _, unit := range []PeriodUnit{PeriodDaily, PeriodWeekly, PeriodMonthly} {
		for _, anchor := range []Anchor{AnchorCalendar, AnchorAnniversary} {
			c := contract()
			c.Period = BillingPeriod{Unit: unit, Anchor: anchor}
			c.Start, c.End = at("2027-12-31T13:45:00Z"), at("2029-03-03T07:00:00Z")
			ps, err := Periods(c, at("2000-01-01T00:00:00Z"), at("2100-01-01T00:00:00Z"))
			if err != nil {
				t.Fatal(err)
			}
			keys := map[string]bool{}
			for i, p := range ps {
				if keys[p.Key] {
					t.Fatalf("%s/%s: key %s repeats", unit, anchor, p.Key)
				}
				keys[p.Key] = true
				if !p.End.After(p.Start) || (i > 0 && !ps[i-1].End.Equal(p.Start)) {
					t.Fatalf("%s/%s: period %d %+v does not follow %+v", unit, anchor, i, p, ps[max(i-1, 0)])
				}
			}
			if !ps[0].Start.Equal(c.Start) || !ps[len(ps)-1].End.Equal(c.End) {
				t.Errorf("%s/%s: periods cover [%s, %s)", unit, anchor, ps[0].Start, ps[len(ps)-1].End)
			}
		}
	}
}

func TestPeriodAtRefusesInstantsOutsideTheContract(t *testing.T) {
	t.Parallel()
	c := contract()
	for _, s := range []string{"2025-12-31T23:59:59Z", "2027-01-01T00:00:00Z"} {
		if _, err := PeriodAt(c, at(s)); !errors.Is(err, ErrOutsideContract) {
			t.Errorf("PeriodAt(%s): err = %v", s, err)
		}
	}
	c.Period.Unit = "FORTNIGHTLY"
	if _, err := PeriodAt(c, at("2026-05-01T00:00:00Z")); !errors.Is(err, ErrInvalidContract) {
		t.Errorf("unknown unit: err = %v", err)
	}
	if _, err := Periods(contract(), at("2026-05-01T00:00:00Z"), at("2026-04-01T00:00:00Z")); err == nil {
		t.Error("reversed range accepted")
	}
}
