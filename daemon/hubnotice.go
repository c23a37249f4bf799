package daemon

import (
	"fmt"
	"sync"
	"time"

	"byokd.dev/byok/control"
	"byokd.dev/byok/teamsync"
)

// hubOutage is how long the hub may be unreachable before the member is
// told: a hub restart or a laptop waking up is routine, and the usage
// waits in the outbox either way.
const hubOutage = 2 * time.Minute

// hubNotices turns the hub link's status changes into events. Every change
// refreshes the fronts (an event without a title, which no notification
// shows); a person is told only of what matters: the device was refused
// (at once), an outage past hubOutage, and the end of an outage they were
// told of.
type hubNotices struct {
	publish func(control.Event)
	now     func() time.Time
	after   func(time.Duration, func()) *time.Timer

	mu        sync.Mutex
	downSince time.Time
	told      bool
	timer     *time.Timer
}

func (h *hubNotices) status(st teamsync.Status) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ev := control.Event{Kind: control.EventHub, Body: st.LastError}
	switch {
	case st.Connected:
		if h.told {
			ev.Title = "Connected to the team hub again"
			ev.Body = "The usage kept while it was unreachable is being sent."
		}
		h.downSince, h.told = time.Time{}, false
		if h.timer != nil {
			h.timer.Stop()
			h.timer = nil
		}
	case st.Revoked:
		if !h.told {
			ev.Title = "The team hub refused this device"
			ev.Body = "It was revoked or is unknown to the hub: join again with `byokd join HUB`. Your own keys work meanwhile; the team's shared key does not."
			h.told = true
		}
	case h.downSince.IsZero():
		h.downSince = h.now()
		h.timer = h.after(hubOutage, h.outage)
	}
	h.publish(ev)
}

// outage tells the member, once, that the hub has been unreachable for a
// while.
func (h *hubNotices) outage() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.downSince.IsZero() || h.told {
		return
	}
	h.told = true
	h.publish(control.Event{Kind: control.EventHub,
		Title: fmt.Sprintf("The team hub has been unreachable since %s", clock(h.downSince, h.now())),
		Body:  "Calls on your own keys go on and their usage is kept to send later; the team's shared key cannot be used until it is back."})
}
