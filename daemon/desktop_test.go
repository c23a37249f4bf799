package daemon

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
	"byokd.dev/byok/notify"
)

// notifierFront runs a notify.Notifier as the daemon's Front.
type notifierFront struct{ n *notify.Notifier }

func (f notifierFront) Run(ctx context.Context, b control.Backend) error { return f.n.Run(ctx, b) }

// watchNotify returns every Notify call made on the session bus from now
// on, as the notification server receives it.
func watchNotify(t *testing.T) <-chan *dbus.Message {
	t.Helper()
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		t.Fatal("no session bus: run the tests through scripts/test (scripts/desktop-session)")
	}
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatal(err)
	}
	rule := "type='method_call',interface='org.freedesktop.Notifications',member='Notify'"
	if err := conn.BusObject().Call("org.freedesktop.DBus.Monitoring.BecomeMonitor", 0, []string{rule}, uint32(0)).Err; err != nil {
		t.Fatalf("monitor the session bus: %v", err)
	}
	raw := make(chan *dbus.Message, 16)
	conn.Eavesdrop(raw)
	t.Cleanup(func() { conn.Close() })
	// A new monitor also receives the bus's own NameAcquired/NameLost
	// signals; keep only the Notify calls.
	ch := make(chan *dbus.Message, 16)
	go func() {
		defer close(ch)
		for m := range raw {
			if member, _ := m.Headers[dbus.FieldMember].Value().(string); member == "Notify" {
				ch <- m
			}
		}
	}()
	return ch
}

// TestDaemon_FallbackSpellNotifications: on the real session bus, calls
// the team pays while the member's key is skipped make one notification
// when the spell begins and one when the member's key pays again, with the
// count; none for the calls between.
func TestDaemon_FallbackSpellNotifications(t *testing.T) {
	calls := watchNotify(t)
	d := runDaemon(t, Config{Notifier: notifierFront{notify.New(notify.Config{Poster: notify.Beeep{}})}})
	ctx := context.Background()

	// Calls as the proxy records them: the first left the member's key
	// for the team's, the next two went to the team's while it cooled.
	for i, reason := range []string{"over quota", "cooling down: over quota", "cooling down: over quota"} {
		err := d.router.Record(ctx, byok.UsageEvent{
			ID: "call-" + string(rune('1'+i)), Time: time.Now(), Service: byok.OpenAI, Model: "gpt-4o-mini", App: "my-editor",
			Credential: byok.TeamKey("openai"), Payer: byok.PayerTeam, Status: 200, FallbackReason: reason, Cost: 2000, CostKnown: true,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if st, err := (backend{d}).Status(ctx); err != nil || len(st.TeamPaying) != 1 || st.TeamPaying[0].Calls != 3 {
		t.Errorf("status team paying %+v (%v), want OpenAI's spell of 3 calls", st.TeamPaying, err)
	}
	err := d.router.Record(ctx, byok.UsageEvent{ID: "call-4", Time: time.Now(), Service: byok.OpenAI, Model: "gpt-4o-mini",
		Credential: byok.PersonalKey("work"), Payer: byok.PayerPersonal, Status: 200, Cost: 2000, CostKnown: true})
	if err != nil {
		t.Fatal(err)
	}
	// Notify(app_name, replaces_id, app_icon, summary, body, actions, hints, expire_timeout)
	shown := func() [2]any {
		t.Helper()
		select {
		case msg := <-calls:
			return [2]any{msg.Body[3], msg.Body[4]}
		case <-time.After(30 * time.Second):
			t.Fatal("no notification")
			return [2]any{}
		}
	}
	if got := shown(); got[0] != "The team is paying for your OpenAI calls" ||
		got[1] != "Your OpenAI key could not pay (over quota), so the team's shared key pays until it can." {
		t.Errorf("first notification %q", got)
	}
	if got := shown(); got[0] != "Your OpenAI key pays again" || !strings.HasPrefix(got[1].(string), "The team paid for 3 calls ($0.006) from ") {
		t.Errorf("second notification %q, want the spell's end", got)
	}
	select {
	case msg := <-calls:
		t.Errorf("a third notification: %v", msg.Body)
	case <-time.After(500 * time.Millisecond):
	}
}
