package e2e

import (
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"byokd.dev/byok/control"
	"byokd.dev/byok/internal/fakeprovider"
	"byokd.dev/byok/teamsync"
)

// Hub faults caused for real against the real binaries: the hub killed,
// gone for a minute (out of disk: diskfull_linux_test.go).
// docs/RELIABILITY.md names each test.

// syncedMember is a member joined to h with a personal OpenAI key and an
// app token, its event stream open.
type syncedMember struct {
	*member
	tok    string
	events <-chan control.Event
}

func joinWithKey(t *testing.T, h *teamHub, upstream, email string, extra ...string) *syncedMember {
	t.Helper()
	m := newMember(t, upstream, extra...)
	for _, kv := range extra {
		if home, ok := strings.CutPrefix(kv, "BYOKD_HOME="); ok {
			m.home = home
		}
	}
	m.mustStart()
	sm := &syncedMember{member: m, events: m.watchEvents()}
	code := strings.TrimSpace(h.cli("", "invite", email))
	m.mustCLI(code, "join", h.url)
	sm.until(t, 30*time.Second, "the daemon to connect to the hub", func() bool {
		return strings.Contains(m.mustCLI("", "status"), ", connected,")
	})
	m.mustCLI(openaiKey, "key", "add", "openai", "--name", "work")
	sm.tok = strings.TrimSpace(m.mustCLI("", "token", "create", "load"))
	return sm
}

// until checks cond after every event of the daemon and at least every
// second (the daemon drops events for a subscriber that falls behind, and
// one may have passed before the subscription), and fails after bound.
func (m *syncedMember) until(t *testing.T, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	guard := time.After(bound)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for !cond() {
		select {
		case <-m.events:
		case <-tick.C:
		case <-guard:
			t.Fatalf("waited %s for %s", bound, what)
		}
	}
}

// callMany makes n calls, 8 at a time, and returns how many completed
// (200 and the whole body); onDone, if set, runs as each completes.
func (m *syncedMember) callMany(n int, onDone func()) int {
	var wg sync.WaitGroup
	var completed atomic.Int64
	sem := make(chan struct{}, 8)
	for range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if status, _, err := post(m.proxy, m.tok, "gpt-4o-mini"); status == 200 && err == nil {
				completed.Add(1)
				if onDone != nil {
					onDone()
				}
			}
		}()
	}
	wg.Wait()
	return int(completed.Load())
}

// waitSynced waits until the daemon's outbox is empty. A daemon retries a
// hub at least every teamsync.DefaultBackoffCap, so once the hub is back
// the wait is bounded by that plus the time to send what is queued; it
// fails past that bound rather than hang.
func (m *syncedMember) waitSynced(t *testing.T, queued time.Duration) {
	t.Helper()
	m.until(t, teamsync.DefaultBackoffCap+queued, "the outbox to empty once the hub was back (the daemon retries within its backoff cap)",
		func() bool { return m.unsynced() == 0 })
}

// assertHubHoldsEachOnce compares every member's ledger with the hub's
// usage by id: each completed call on the hub exactly once, nothing else.
func assertHubHoldsEachOnce(t *testing.T, h *teamHub, completed int, ms ...*syncedMember) {
	t.Helper()
	onHub := map[string]int{}
	rows := h.usage()
	for _, r := range rows {
		onHub[r.ID]++
	}
	local := 0
	for _, m := range ms {
		for _, r := range m.usage() {
			local++
			if onHub[r.ID] != 1 {
				t.Errorf("row %s of %s is on the hub %d times, want once", r.ID, m.home, onHub[r.ID])
			}
		}
	}
	if local != completed || len(rows) != completed || len(onHub) != completed {
		t.Errorf("completed calls %d, daemon rows %d, hub rows %d (%d distinct): want all equal", completed, local, len(rows), len(onHub))
	}
}

// TestE2E_HubKilledMidSync: two daemons sync 300 calls each while the hub
// is killed with SIGKILL and restarted on the same port and data. Both
// reconnect, catch up, and the hub holds every completed call once.
func TestE2E_HubKilledMidSync(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	h := startHub(t, fake.URL)
	ms := []*syncedMember{joinWithKey(t, h, fake.URL, "sam@example.com"), joinWithKey(t, h, fake.URL, "kim@example.com")}

	// Kill the hub once a third of the calls are done: rows are being
	// recorded and synced at that moment.
	var done, completed atomic.Int64
	kill := make(chan struct{})
	onDone := func() {
		if done.Add(1) == 200 {
			close(kill)
		}
	}
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			completed.Add(int64(m.callMany(300, onDone)))
		}()
	}
	<-kill
	h.cmd.Process.Signal(syscall.SIGKILL)
	h.cmd.Wait()
	wg.Wait()
	if completed.Load() != 600 {
		t.Fatalf("%d of 600 calls completed; the hub is not on a personal call's path", completed.Load())
	}
	h.serveAgain()
	for _, m := range ms {
		m.waitSynced(t, 30*time.Second)
	}
	assertHubHoldsEachOnce(t, h, 600, ms...)
}

// hubGone is how long TestE2E_HubGoneForAMinute keeps the hub away: long
// enough for the daemon's waits to reach teamsync.DefaultBackoffCap.
const hubGone = time.Minute

// TestE2E_HubGoneForAMinute stops the hub (its port closed) for a minute
// while the member keeps making calls on a personal key. The calls work,
// their rows wait in the daemon's outbox (`byokd status` counts them),
// and once the hub is back they all arrive, once.
func TestE2E_HubGoneForAMinute(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	h := startHub(t, fake.URL)
	m := joinWithKey(t, h, fake.URL, "sam@example.com")
	completed := m.callMany(20, nil)
	m.waitSynced(t, 30*time.Second)

	h.cmd.Process.Signal(syscall.SIGTERM)
	h.cmd.Wait()
	// A call every 50 ms, as a busy member would make them, not a flood.
	gone := 0
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(hubGone); time.Now().Before(end); <-tick.C {
		if status, body, err := post(m.proxy, m.tok, "gpt-4o-mini"); status != 200 || err != nil {
			t.Fatalf("call with the hub gone: %d %v %s; personal calls do not need the hub", status, err, body)
		}
		gone++
	}
	completed += gone
	if n := m.unsynced(); n != gone {
		t.Errorf("byokd status: %d rows unsynced after %d calls with the hub gone, want all of them", n, gone)
	}
	h.serveAgain()
	m.waitSynced(t, 30*time.Second)
	assertHubHoldsEachOnce(t, h, completed, m)
	t.Logf("%d calls while the hub was gone for %s", gone, hubGone)
}
