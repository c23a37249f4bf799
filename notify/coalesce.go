package notify

import (
	"fmt"
	"sort"
	"time"

	"byokd.dev/byok/control"
)

// DefaultWindow is how often at most one kind of notification is shown
// for one service.
const DefaultWindow = time.Minute

// Coalescer limits notifications to one per kind and service per window:
// the first is shown at once, the rest of the window are counted and shown
// as one summary when it ends. It takes the time from its caller, so tests
// drive it with any clock. It is not safe for concurrent use.
type Coalescer struct {
	window time.Duration
	groups map[groupKey]*group
}

type groupKey struct{ kind, service string }

type group struct {
	shown      time.Time     // when the last notification of the group was shown
	suppressed int           // events counted since then
	last       control.Event // the latest of them
}

// NewCoalescer returns a Coalescer with the given window (DefaultWindow if
// window <= 0).
func NewCoalescer(window time.Duration) *Coalescer {
	if window <= 0 {
		window = DefaultWindow
	}
	return &Coalescer{window: window, groups: map[groupKey]*group{}}
}

// Add reports whether ev should be shown now; if not, it is counted for
// the group's summary.
func (c *Coalescer) Add(ev control.Event, now time.Time) bool {
	k := groupKey{ev.Kind, string(ev.Service)}
	g, ok := c.groups[k]
	if !ok || (!now.Before(g.shown.Add(c.window)) && g.suppressed == 0) {
		c.groups[k] = &group{shown: now}
		return true
	}
	g.suppressed++
	g.last = ev
	return false
}

// Next is when Due will next have a summary to give: the earliest end of
// a window with events counted. ok is false when none waits, so that a
// daemon with nothing to say sets no timer and stays asleep.
func (c *Coalescer) Next() (at time.Time, ok bool) {
	for _, g := range c.groups {
		if end := g.shown.Add(c.window); g.suppressed > 0 && (!ok || end.Before(at)) {
			at, ok = end, true
		}
	}
	return at, ok
}

// Due returns one summary per group whose window ended with events
// counted, and starts the group's next window: the summary counts as that
// window's one notification. Summaries come in kind, service order.
func (c *Coalescer) Due(now time.Time) []control.Event {
	var out []control.Event
	for k, g := range c.groups {
		if now.Before(g.shown.Add(c.window)) {
			continue
		}
		if g.suppressed == 0 {
			delete(c.groups, k)
			continue
		}
		ev := g.last
		ev.Body = fmt.Sprintf("%s (%d more like this since %s.)", ev.Body, g.suppressed, g.shown.Format("15:04"))
		out = append(out, ev)
		c.groups[k] = &group{shown: now}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Service < out[j].Service
	})
	return out
}
