package daemon

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
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

func TestDaemon_FallbackNotification(t *testing.T) {
	calls := watchNotify(t)
	ctx, cancel := context.WithCancel(context.Background())
	d, err := Start(ctx, Config{
		Home: filepath.Join(t.TempDir(), "home"), Listen: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler),
		Notifier: notifierFront{notify.New(notify.Config{Poster: notify.Beeep{}})},
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// A call that left the member's key for the team's, as the proxy
	// records it.
	err = d.router.Record(ctx, byok.UsageEvent{
		ID: "call-1", Time: time.Now(), Service: byok.OpenAI, Model: "gpt-4o-mini", App: "my-editor",
		Credential: byok.TeamKey("openai"), Payer: byok.PayerTeam, Status: 200, FallbackReason: "insufficient_quota",
	})
	if err != nil {
		t.Fatal(err)
	}
	msg := <-calls
	// Notify(app_name, replaces_id, app_icon, summary, body, actions, hints, expire_timeout)
	if len(msg.Body) < 5 {
		t.Fatalf("Notify call: got %v", msg.Body)
	}
	got := [2]any{msg.Body[3], msg.Body[4]}
	want := [2]any{"Team key used for OpenAI",
		"Your personal OpenAI key could not pay (insufficient_quota) — this call from my-editor used the team key; the team pays."}
	if got != want {
		t.Errorf("notification: got %q, want %q", got, want)
	}
}
