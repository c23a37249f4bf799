package daemon

import (
	"testing"
	"time"

	"byokd.dev/byok/control"
	"byokd.dev/byok/internal/testclock"
	"byokd.dev/byok/teamsync"
)

// A hub that drops and comes back within hubOutage is no notification;
// one that stays away is told once, and so is its return; a refused
// device is told at once. Every change still reaches the fronts.
func TestHubNotices(t *testing.T) {
	clock := testclock.New(time.Date(2026, 3, 15, 12, 0, 0, 0, time.Local)) // shown on the local clock
	var got []control.Event
	var fire func()
	h := &hubNotices{publish: func(ev control.Event) { got = append(got, ev) }, now: clock.Now,
		after: func(d time.Duration, f func()) *time.Timer {
			if d != hubOutage {
				t.Errorf("outage timer %v, want %v", d, hubOutage)
			}
			fire = f
			return time.NewTimer(time.Hour)
		}}
	titles := func() []string {
		var out []string
		for _, ev := range got {
			out = append(out, ev.Title)
		}
		got = nil
		return out
	}
	same := func(what string, a, b []string) {
		t.Helper()
		if len(a) != len(b) {
			t.Fatalf("%s: titles %q, want %q", what, a, b)
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s: titles %q, want %q", what, a, b)
			}
		}
	}

	h.status(teamsync.Status{Connected: true})
	h.status(teamsync.Status{LastError: "connection refused"})
	h.status(teamsync.Status{LastError: "connection refused"})
	h.status(teamsync.Status{Connected: true})
	same("a reconnect", titles(), []string{"", "", "", ""})

	h.status(teamsync.Status{LastError: "connection refused"})
	clock.Add(hubOutage)
	fire()
	same("an outage", titles(), []string{"", "The team hub has been unreachable since 12:00"})
	fire() // a late second firing says nothing more
	h.status(teamsync.Status{LastError: "connection refused"})
	h.status(teamsync.Status{Connected: true})
	same("its end", titles(), []string{"", "Connected to the team hub again"})

	h.status(teamsync.Status{Revoked: true, LastError: "refused"})
	h.status(teamsync.Status{Revoked: true, LastError: "refused"})
	same("a refused device", titles(), []string{"The team hub refused this device", ""})
}
