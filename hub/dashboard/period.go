package dashboard

import (
	"fmt"
	"strconv"
	"time"
)

// period is a calendar month or quarter, in UTC.
type period struct {
	Key      string // "2026-03" or "2026-Q1"
	Label    string // "March 2026" or "Q1 2026"
	From, To time.Time
	quarter  bool
}

func month(t time.Time) period {
	from := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return period{Key: from.Format("2006-01"), Label: from.Format("January 2006"), From: from, To: from.AddDate(0, 1, 0)}
}

func quarter(t time.Time) period {
	q := (int(t.Month()) - 1) / 3
	from := time.Date(t.Year(), time.Month(q*3+1), 1, 0, 0, 0, 0, time.UTC)
	return period{Key: fmt.Sprintf("%d-Q%d", t.Year(), q+1), Label: fmt.Sprintf("Q%d %d", q+1, t.Year()),
		From: from, To: from.AddDate(0, 3, 0), quarter: true}
}

// parsePeriod reads ?period=; empty means the month of now.
func parsePeriod(s string, now time.Time) (period, error) {
	if s == "" {
		return month(now.UTC()), nil
	}
	if t, err := time.Parse("2006-01", s); err == nil {
		return month(t), nil
	}
	if len(s) == 7 && s[4:6] == "-Q" {
		y, err1 := strconv.Atoi(s[:4])
		q, err2 := strconv.Atoi(s[6:])
		if err1 == nil && err2 == nil && q >= 1 && q <= 4 {
			return quarter(time.Date(y, time.Month(q*3-2), 1, 0, 0, 0, 0, time.UTC)), nil
		}
	}
	return period{}, fmt.Errorf("period %q: give a month such as 2026-03 or a quarter such as 2026-Q1", s)
}

// prev is the period of the same length just before p.
func (p period) prev() period {
	if p.quarter {
		return quarter(p.From.AddDate(0, -3, 0))
	}
	return month(p.From.AddDate(0, -1, 0))
}

// Days is the number of days p spans.
func (p period) Days() int { return int(p.To.Sub(p.From) / (24 * time.Hour)) }

// choices are the periods the selector offers: the last twelve months and
// the last four quarters.
func choices(now time.Time) []period {
	var out []period
	for i := range 12 {
		out = append(out, month(now.UTC().AddDate(0, -i, 0).AddDate(0, 0, 1-now.UTC().Day())))
	}
	for i := range 4 {
		out = append(out, quarter(quarter(now.UTC()).From.AddDate(0, -3*i, 0)))
	}
	return out
}
