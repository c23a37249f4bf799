// Package testclock is a clock tests set and move by hand, for code that
// takes its time from an injected Now. It is safe for concurrent use: the
// code under test reads it from its own goroutines.
package testclock

import (
	"sync"
	"time"
)

// Clock reads the time it was set to until Add moves it.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a clock at t.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
