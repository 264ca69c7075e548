package leasing

import (
	"errors"
	"fmt"
	"time"
)

// ErrOutsideContract is returned for an instant outside the lease's [Start, End).
var ErrOutsideContract = errors.New("outside the contract's term")

// ErrNotAPeriod is returned when a Period passed in is not exactly one of the
// contract's billing periods.
var ErrNotAPeriod = errors.New("not a billing period of the contract")

// Period is one billing period of a contract, [Start, End) in UTC. The first and
// last periods are cut to the contract's start and end; Key names the whole
// period and is unique within a contract: "2026-11" (calendar month),
// "2026-W48" (calendar ISO week), "2026-11-23" (calendar day), and for
// anniversary periods the date the whole period starts on.
type Period struct {
	Key   string    `json:"key"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// PeriodAt returns the billing period of c that contains t.
func PeriodAt(c Contract, t time.Time) (Period, error) {
	if err := checkTerm(c); err != nil {
		return Period{}, err
	}
	t = t.UTC()
	start, end := c.Start.UTC(), c.End.UTC()
	if t.Before(start) || !t.Before(end) {
		return Period{}, fmt.Errorf("leasing: period at %s: %w", t.Format(time.RFC3339), ErrOutsideContract)
	}
	s, e, key, err := fullPeriod(c.Period, start, t)
	if err != nil {
		return Period{}, err
	}
	if s.Before(start) {
		s = start
	}
	if e.After(end) {
		e = end
	}
	return Period{Key: key, Start: s, End: e}, nil
}

// Periods returns the billing periods of c that overlap [from, to), in order and
// cut to the contract's term.
func Periods(c Contract, from, to time.Time) ([]Period, error) {
	if err := checkTerm(c); err != nil {
		return nil, err
	}
	if to.Before(from) {
		return nil, fmt.Errorf("leasing: periods: %s is before %s", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	from, to = from.UTC(), to.UTC()
	if s := c.Start.UTC(); from.Before(s) {
		from = s
	}
	if e := c.End.UTC(); to.After(e) {
		to = e
	}
	var ps []Period
	for t := from; t.Before(to); {
		p, err := PeriodAt(c, t)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
		t = p.End
	}
	return ps, nil
}

// canonicalPeriod makes sure p is exactly one of c's billing periods, so that a
// caller cannot rate a made-up window, and returns it in UTC.
func canonicalPeriod(c Contract, p Period) (Period, error) {
	want, err := PeriodAt(c, p.Start)
	if err != nil {
		return Period{}, err
	}
	if want.Key != p.Key || !want.Start.Equal(p.Start) || !want.End.Equal(p.End) {
		return Period{}, fmt.Errorf("leasing: period %s [%s, %s) of contract %s: %w (want %s [%s, %s))",
			p.Key, p.Start.Format(time.RFC3339), p.End.Format(time.RFC3339), c.ID, ErrNotAPeriod,
			want.Key, want.Start.Format(time.RFC3339), want.End.Format(time.RFC3339))
	}
	return want, nil
}

// checkTerm validates just what period arithmetic needs, so that PeriodAt works
// on a contract still being drafted.
func checkTerm(c Contract) error {
	if c.Start.IsZero() || !c.End.After(c.Start) {
		return fmt.Errorf("leasing: contract %s has no valid term: %w", c.ID, ErrInvalidContract)
	}
	return nil
}

// fullPeriod returns the uncut period containing t. anchor is the contract's
// start in UTC.
func fullPeriod(bp BillingPeriod, anchor, t time.Time) (start, end time.Time, key string, err error) {
	switch bp.Anchor {
	case AnchorCalendar:
		day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		switch bp.Unit {
		case PeriodDaily:
			return day, day.AddDate(0, 0, 1), day.Format(time.DateOnly), nil
		case PeriodWeekly:
			monday := day.AddDate(0, 0, -daysSince(day.Weekday(), time.Monday))
			y, w := monday.ISOWeek()
			return monday, monday.AddDate(0, 0, 7), fmt.Sprintf("%04d-W%02d", y, w), nil
		case PeriodMonthly:
			first := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
			return first, first.AddDate(0, 1, 0), first.Format("2006-01"), nil
		}
	case AnchorAnniversary:
		// Same clock time as the anchor, on t's date.
		atClock := time.Date(t.Year(), t.Month(), t.Day(), anchor.Hour(), anchor.Minute(), anchor.Second(), anchor.Nanosecond(), time.UTC)
		switch bp.Unit {
		case PeriodDaily:
			start = atClock
			if start.After(t) {
				start = start.AddDate(0, 0, -1)
			}
			end = start.AddDate(0, 0, 1)
		case PeriodWeekly:
			start = atClock.AddDate(0, 0, -daysSince(atClock.Weekday(), anchor.Weekday()))
			if start.After(t) {
				start = start.AddDate(0, 0, -7)
			}
			end = start.AddDate(0, 0, 7)
		case PeriodMonthly:
			k := (t.Year()-anchor.Year())*12 + int(t.Month()) - int(anchor.Month())
			start = addMonthsClamped(anchor, k)
			if start.After(t) {
				k--
				start = addMonthsClamped(anchor, k)
			}
			end = addMonthsClamped(anchor, k+1)
		default:
			return time.Time{}, time.Time{}, "", fmt.Errorf("leasing: unknown period unit %q: %w", bp.Unit, ErrInvalidContract)
		}
		return start, end, start.Format(time.DateOnly), nil
	default:
		return time.Time{}, time.Time{}, "", fmt.Errorf("leasing: unknown period anchor %q: %w", bp.Anchor, ErrInvalidContract)
	}
	return time.Time{}, time.Time{}, "", fmt.Errorf("leasing: unknown period unit %q: %w", bp.Unit, ErrInvalidContract)
}

// daysSince returns how many days back from weekday d the latest weekday w is (0..6).
func daysSince(d, w time.Weekday) int {
	return (int(d) - int(w) + 7) % 7
}

// addMonthsClamped moves a k months on, keeping its clock time and its day of
// month, clamped to the target month's last day. Always computed from the
// anchor, never step by step, so that Jan 31 gives Feb 28 and then Mar 31, not
// Mar 28.
func addMonthsClamped(a time.Time, k int) time.Time {
	first := time.Date(a.Year(), a.Month()+time.Month(k), 1, a.Hour(), a.Minute(), a.Second(), a.Nanosecond(), time.UTC)
	day := min(a.Day(), daysIn(first.Year(), first.Month()))
	return first.AddDate(0, 0, day-1)
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
