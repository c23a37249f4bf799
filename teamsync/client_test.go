package teamsync_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"byokd.dev/byok"
	"byokd.dev/byok/teamsync"
)

func TestClient_EveryRowArrivesOnce(t *testing.T) {
	h := startHub(t, filepath.Join(t.TempDir(), "hub"), "127.0.0.1:0")
	en := h.join(t, "ann@example.com")
	ob := newOutbox(t)
	ids := ob.record(t, "a", 1200)
	wake := make(chan struct{}, 1)
	inv := teamsync.InventoryOf([]byok.KeyInfo{{Service: byok.OpenAI, Name: "work", Budget: byok.USD(50), Primary: true}})
	c := &teamsync.Client{HubURL: en.HubURL, Credential: en.Credential, DeviceName: "laptop", Outbox: ob, Wake: wake,
		Inventory: func(context.Context) (teamsync.Inventory, error) { return inv, nil }}
	runClient(t, c)
	ob.waitDrained(t)
	// More calls while connected: Wake sends them without waiting for a poll.
	ids = append(ids, ob.record(t, "b", 30)...)
	wake <- struct{}{}
	ob.waitDrained(t)
	checkExactlyOnce(t, h.hubIDs(t, "ann@example.com"), ids)
	if st := c.Status(); !st.Connected || st.Member != "ann@example.com" || st.DeviceID != en.DeviceID || st.LastSync.IsZero() {
		t.Errorf("status = %+v, want connected as ann with a last sync", st)
	}
	got, err := h.admin.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Member != "ann@example.com" {
		t.Fatalf("inventory = %+v, want ann's device", got)
	}
	if d := cmp.Diff(inv, got[0].Inventory); d != "" {
		t.Errorf("inventory (-sent +stored):\n%s", d)
	}
}

func TestClient_HubRestartMidSync(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hub")
	h := startHub(t, dir, "127.0.0.1:0")
	addr := h.Addr()
	en := h.join(t, "ann@example.com")
	ob := newOutbox(t)
	ids := ob.record(t, "a", 1000)
	wake := make(chan struct{}, 1)
	c := &teamsync.Client{HubURL: en.HubURL, Credential: en.Credential, Outbox: ob, Wake: wake, BatchSize: 50, Backoff: fastBackoff}
	runClient(t, c)
	<-ob.marked // some batches are through
	h.stop()
	// Calls keep being recorded while the hub is away.
	ids = append(ids, ob.record(t, "b", 100)...)
	wake <- struct{}{}
	h2 := startHub(t, dir, addr)
	ob.waitDrained(t)
	checkExactlyOnce(t, h2.hubIDs(t, "ann@example.com"), ids)
}

func TestClient_LostAckIsResentNotDoubled(t *testing.T) {
	h := startHub(t, filepath.Join(t.TempDir(), "hub"), "127.0.0.1:0")
	en := h.join(t, "ann@example.com")
	ob := newOutbox(t)
	ob.fail = 1 // the hub commits the first batch, the daemon never marks it
	ids := ob.record(t, "a", 120)
	c := &teamsync.Client{HubURL: en.HubURL, Credential: en.Credential, Outbox: ob, BatchSize: 100, Backoff: fastBackoff}
	runClient(t, c)
	ob.waitDrained(t)
	if n := ob.timesSent(ids[0]); n != 2 {
		t.Errorf("first row sent %d times, want 2 (once, then again after the lost ack)", n)
	}
	checkExactlyOnce(t, h.hubIDs(t, "ann@example.com"), ids)
}

func TestClient_PolicyPushedWhileConnected(t *testing.T) {
	h := startHub(t, filepath.Join(t.TempDir(), "hub"), "127.0.0.1:0")
	en := h.join(t, "ann@example.com")
	connected := make(chan struct{}, 1)
	policies := make(chan byok.Policy, 4)
	c := &teamsync.Client{HubURL: en.HubURL, Credential: en.Credential, Outbox: newOutbox(t),
		OnPolicy: func(p byok.Policy) { policies <- p },
		OnStatus: func(s teamsync.Status) {
			if s.Connected {
				select {
				case connected <- struct{}{}:
				default:
				}
			}
		}}
	runClient(t, c)
	<-connected
	want := byok.Policy{SharedServices: []byok.Service{byok.OpenAI}, MemberMonthlyCap: byok.USD(20), AllowFallback: true,
		DefaultPreference: byok.PreferShared}
	set, err := h.admin.SetPolicy(context.Background(), want)
	if err != nil {
		t.Fatal(err)
	}
	want.Version = 1
	if set.Version != 1 {
		t.Errorf("stored version %d, want 1", set.Version)
	}
	select {
	case got := <-policies:
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("pushed policy (-want +got):\n%s", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no policy pushed")
	}
}

func TestClient_RevokedDeviceReportsWhy(t *testing.T) {
	h := startHub(t, filepath.Join(t.TempDir(), "hub"), "127.0.0.1:0")
	en := h.join(t, "ann@example.com")
	statuses := make(chan teamsync.Status, 64)
	c := &teamsync.Client{HubURL: en.HubURL, Credential: en.Credential, Outbox: newOutbox(t), Backoff: fastBackoff,
		OnStatus: func(s teamsync.Status) {
			select {
			case statuses <- s:
			default:
			}
		}}
	runClient(t, c)
	for s := range statuses {
		if s.Connected {
			break
		}
	}
	if err := h.admin.Revoke(context.Background(), en.DeviceID); err != nil {
		t.Fatal(err)
	}
	guard := time.After(10 * time.Second)
	for {
		select {
		case s := <-statuses:
			if !s.Connected && strings.Contains(s.LastError, "byokd join") {
				return
			}
		case <-guard:
			t.Fatalf("status = %+v, want disconnected, telling the member to join again", c.Status())
		}
	}
}

func TestBackoff_FullJitterCapped(t *testing.T) {
	b := teamsync.Backoff{Base: 100 * time.Millisecond, Cap: 30 * time.Second, Rand: func() float64 { return 0.5 }}
	for _, c := range []struct {
		n    int
		want time.Duration
	}{
		{0, 50 * time.Millisecond}, {1, 100 * time.Millisecond}, {3, 400 * time.Millisecond},
		{8, 12800 * time.Millisecond}, {9, 15 * time.Second}, {40, 15 * time.Second}, {100, 15 * time.Second},
	} {
		if got := b.Delay(c.n); got != c.want {
			t.Errorf("Delay(%d) = %v, want %v", c.n, got, c.want)
		}
	}
	zero := teamsync.Backoff{Rand: func() float64 { return 0 }}
	if got := zero.Delay(5); got != 0 {
		t.Errorf("full jitter can wait 0: got %v", got)
	}
}

// TestClient_RetriesWithBackoff runs the client against a hub that is not
// there, with the wait injected: each retry asks for the next delay.
func TestClient_RetriesWithBackoff(t *testing.T) {
	b := teamsync.Backoff{Base: time.Second, Cap: 4 * time.Second, Rand: func() float64 { return 0.5 }}
	asked := make(chan time.Duration)
	fire := make(chan time.Time)
	c := &teamsync.Client{HubURL: "http://127.0.0.1:1", Credential: byok.NewSecret("byokd_dev_x"), Outbox: newOutbox(t),
		Backoff: b, After: func(d time.Duration) <-chan time.Time { asked <- d; return fire }}
	runClient(t, c)
	var got []time.Duration
	for range 5 {
		got = append(got, <-asked)
		fire <- time.Time{}
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("waits (-want +got):\n%s", d)
	}
	if st := c.Status(); st.Connected || !strings.Contains(st.LastError, "connect to the hub") {
		t.Errorf("status = %+v, want disconnected with the connect error", st)
	}
	// Let Run see the cancel rather than block in After.
	go func() {
		for range asked {
		}
	}()
}

func TestHubURL_RefusesPlainHTTPOffThisMachine(t *testing.T) {
	for _, c := range []struct {
		raw      string
		insecure bool
		want     string // "" means refused
	}{
		{"https://hub.example:8443/", false, "https://hub.example:8443"},
		{"http://127.0.0.1:8443", false, "http://127.0.0.1:8443"},
		{"http://localhost:8443", false, "http://localhost:8443"},
		{"http://hub.example:8443", false, ""},
		{"ws://10.0.0.5:8443", false, ""},
		{"http://hub.example:8443", true, "http://hub.example:8443"},
		{"ftp://hub.example", false, ""},
		{"https://user:pw@hub.example", false, ""},
	} {
		u, err := teamsync.HubURL(c.raw, c.insecure)
		got := ""
		if err == nil {
			got = u.String()
		}
		if got != c.want {
			t.Errorf("HubURL(%q, %v) = %q, %v; want %q", c.raw, c.insecure, got, err, c.want)
		}
	}
	c := &teamsync.Client{HubURL: "http://hub.example:8443", Credential: byok.NewSecret("x"), Outbox: newOutbox(t)}
	if err := c.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "--insecure") {
		t.Errorf("Run with a plain-http remote hub = %v, want a refusal naming --insecure", err)
	}
	_, err := teamsync.Join(context.Background(), "http://hub.example:8443", "CODE", "laptop", false)
	if err == nil || errors.Is(err, teamsync.ErrInvite) || !strings.Contains(err.Error(), "--insecure") {
		t.Errorf("Join over plain http = %v, want a refusal naming --insecure", err)
	}
}
