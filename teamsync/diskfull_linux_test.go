package teamsync_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"byokd.dev/byok/internal/smalldisk"
	"byokd.dev/byok/teamsync"
)

// TestClient_HubDiskFullBacksOffThenCatchesUp puts a real hub's data on a
// small filesystem and fills it. Each session is welcomed and then its
// batch refused; the client counts that as a failed try, so its waits grow
// instead of reconnecting every half second, and the rows stay in its
// outbox. Once space is freed they all arrive, once.
func TestClient_HubDiskFullBacksOffThenCatchesUp(t *testing.T) {
	disk := smalldisk.Mount(t, 4<<20)
	h := startHub(t, filepath.Join(disk, "hub"), "127.0.0.1:0")
	en := h.join(t, "ann@example.com")
	free := smalldisk.Fill(t, disk)
	ob := newOutbox(t)
	ids := ob.record(t, "a", 300)
	asked := make(chan time.Duration)
	fire := make(chan time.Time)
	c := &teamsync.Client{HubURL: en.HubURL, Credential: en.Credential, Outbox: ob,
		Backoff: teamsync.Backoff{Base: time.Second, Cap: 8 * time.Second, Rand: func() float64 { return 0.5 }},
		After:   func(d time.Duration) <-chan time.Time { asked <- d; return fire }}
	runClient(t, c)
	defer func() {
		go func() { // let Run see the cancel rather than block in After
			for range asked {
			}
		}()
	}()

	var got []time.Duration
	for i := range 3 {
		if i > 0 {
			fire <- time.Time{}
		}
		got = append(got, <-asked)
		if st := c.Status(); st.Connected || !strings.Contains(st.LastError, "usage not stored") {
			t.Errorf("status while the hub's disk is full = %+v, want disconnected saying usage was not stored", st)
		}
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("waits while the hub's disk is full (-want +got):\n%s", d)
	}
	if n, err := ob.Unsynced(context.Background()); err != nil || n != len(ids) {
		t.Errorf("outbox holds %d rows (%v), want all %d kept", n, err, len(ids))
	}
	if n := len(h.hubIDs(t, "ann@example.com")); n != 0 {
		t.Errorf("hub holds %d rows on a full disk", n)
	}

	free()
	fire <- time.Time{}
	ob.waitDrained(t)
	checkExactlyOnce(t, h.hubIDs(t, "ann@example.com"), ids)
}
