package teamsync

import (
	"math/rand/v2"
	"time"
)

// The zero Backoff's base and cap: a daemon retries an unreachable hub at
// least every DefaultBackoffCap, so it is back in sync within about that
// long after the hub returns.
const (
	DefaultBackoffBase = 500 * time.Millisecond
	DefaultBackoffCap  = 30 * time.Second
)

// Backoff is exponential backoff with full jitter: the wait before retry n
// (0-based) is uniform in [0, min(Cap, Base·2ⁿ)). The zero value uses
// DefaultBackoffBase, DefaultBackoffCap and math/rand/v2.
type Backoff struct {
	Base, Cap time.Duration
	// Rand returns a number in [0, 1); injected by tests.
	Rand func() float64
}

// Delay returns the wait before retry n.
func (b Backoff) Delay(n int) time.Duration {
	base, limit := b.Base, b.Cap
	if base <= 0 {
		base = DefaultBackoffBase
	}
	if limit <= 0 {
		limit = DefaultBackoffCap
	}
	ceil := limit
	if n < 32 {
		if d := base << n; d > 0 && d < limit {
			ceil = d
		}
	}
	r := rand.Float64
	if b.Rand != nil {
		r = b.Rand
	}
	return time.Duration(r() * float64(ceil))
}
