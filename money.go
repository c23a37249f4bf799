package byok

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Micros is an amount of money in integer micro-USD (1 USD = 1,000,000).
// Integers keep sums exact across millions of ledger rows.
type Micros int64

// USD converts whole dollars, rounding to the nearest micro-dollar.
func USD(dollars float64) Micros { return Micros(math.Round(dollars * 1e6)) }

// Dollars returns the amount as a float, for display and JSON only.
func (m Micros) Dollars() float64 { return float64(m) / 1e6 }

// String formats as dollars with two decimals, or more when needed to show
// a non-zero amount below a cent ("$0.000150").
func (m Micros) String() string {
	sign := ""
	v := int64(m)
	if v < 0 {
		sign, v = "-", -v
	}
	whole, frac := v/1e6, v%1e6
	s := fmt.Sprintf("%06d", frac)
	s = strings.TrimRight(s, "0")
	for len(s) < 2 {
		s += "0"
	}
	return fmt.Sprintf("%s$%d.%s", sign, whole, s)
}

// ParseUSD reads an amount such as "50", "12.5" or "$0.10".
func ParseUSD(s string) (Micros, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "$")
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) || f > 1e9 {
		return 0, fmt.Errorf("invalid amount %q: give US dollars, such as 50 or 12.50", s)
	}
	return USD(f), nil
}

// Spend is a sum of calls' costs that says what it does not know: Known
// is the sum over the calls whose cost is known, Unknown counts the others
// (a model without a price, an endpoint byokd does not meter). Shown, an
// unknown cost is never "$0.00".
type Spend struct {
	Known   Micros `json:"known_micros"`
	Unknown int64  `json:"unknown_calls"`
}

// IsZero reports whether s counts nothing.
func (s Spend) IsZero() bool { return s == Spend{} }

// Add counts one call.
func (s *Spend) Add(cost Micros, known bool) {
	if known {
		s.Known += cost
	} else {
		s.Unknown++
	}
}

// Plus is s and o together.
func (s Spend) Plus(o Spend) Spend { return Spend{s.Known + o.Known, s.Unknown + o.Unknown} }

// String is "$1.23", "$1.23 + 2 calls of unknown cost", or, when nothing
// is known, "unknown (2 calls)".
func (s Spend) String() string {
	switch {
	case s.Unknown == 0:
		return s.Known.String()
	case s.Known == 0:
		return fmt.Sprintf("unknown (%d %s)", s.Unknown, plural(s.Unknown, "call"))
	}
	return fmt.Sprintf("%s + %d %s of unknown cost", s.Known, s.Unknown, plural(s.Unknown, "call"))
}

func plural(n int64, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
