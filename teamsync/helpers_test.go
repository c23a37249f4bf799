package teamsync_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
	"byokd.dev/byok/hub/sqlitestore"
	"byokd.dev/byok/keystore"
	"byokd.dev/byok/ledger"
	"byokd.dev/byok/teamsync"
)

// runningHub is a real hub on a data folder; stop ends it and closes its
// store, so another can start on the same folder and port.
type runningHub struct {
	*hub.Server
	admin *hub.AdminClient
	store *sqlitestore.DB
	stop  func()
}

func startHub(t *testing.T, dir, listen string) *runningHub {
	t.Helper()
	if err := hub.PrepareData(dir); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, hub.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := hub.Start(ctx, hub.Config{Data: dir, Listen: listen, Store: st, Keys: keystore.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(rctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("hub Run: %v", err)
			}
			st.Close()
		})
	}
	t.Cleanup(stop)
	admin, err := hub.DialAdmin(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &runningHub{Server: srv, admin: admin, store: st, stop: stop}
}

func (h *runningHub) join(t *testing.T, email string) teamsync.Enrollment {
	t.Helper()
	inv, err := h.admin.Invite(context.Background(), email, 0)
	if err != nil {
		t.Fatal(err)
	}
	en, err := teamsync.Join(context.Background(), h.URL(), inv.Code, "laptop", false)
	if err != nil {
		t.Fatal(err)
	}
	return en
}

// hubIDs returns the hub's rows by id, and fails on a row of another member.
func (h *runningHub) hubIDs(t *testing.T, member string) map[string]int {
	t.Helper()
	evs, err := h.store.Usage(context.Background(), hub.UsageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range evs {
		if e.Member != member {
			t.Errorf("row %s belongs to %q, want %q", e.ID, e.Member, member)
		}
		out[e.ID]++
	}
	return out
}

// watchedOutbox is the real ledger, watched: it signals every MarkSynced,
// counts how often each id was handed out, and can fail MarkSynced to
// simulate an ack lost between the hub's commit and the daemon.
type watchedOutbox struct {
	*ledger.DB
	marked chan struct{}
	mu     sync.Mutex
	sent   map[string]int
	fail   int // MarkSynced calls still to fail
}

func newOutbox(t *testing.T) *watchedOutbox {
	t.Helper()
	db, err := ledger.Open(context.Background(), filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &watchedOutbox{DB: db, marked: make(chan struct{}, 1), sent: map[string]int{}}
}

func (o *watchedOutbox) Outbox(ctx context.Context, limit int) ([]byok.UsageEvent, error) {
	evs, err := o.DB.Outbox(ctx, limit)
	o.mu.Lock()
	for _, e := range evs {
		o.sent[e.ID]++
	}
	o.mu.Unlock()
	return evs, err
}

func (o *watchedOutbox) MarkSynced(ctx context.Context, ids []string) error {
	o.mu.Lock()
	failing := o.fail > 0
	if failing {
		o.fail--
	}
	o.mu.Unlock()
	if failing {
		return fmt.Errorf("disk hiccup")
	}
	err := o.DB.MarkSynced(ctx, ids)
	select {
	case o.marked <- struct{}{}:
	default:
	}
	return err
}

func (o *watchedOutbox) timesSent(id string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.sent[id]
}

// record adds n calls with ids prefix-0000 …
func (o *watchedOutbox) record(t *testing.T, prefix string, n int) []string {
	t.Helper()
	var ids []string
	base := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for i := range n {
		id := fmt.Sprintf("%s-%04d", prefix, i)
		ev := byok.UsageEvent{
			ID: id, Time: base.Add(time.Duration(i) * time.Millisecond), Service: byok.OpenAI, Model: "gpt-4o-mini",
			App: "editor", Project: "acme", Credential: byok.PersonalKey("work"), Payer: byok.PayerPersonal, Status: 200,
			Usage: byok.Usage{Model: "gpt-4o-mini", InputTokens: 10, OutputTokens: 5, Complete: true}, Cost: 9, CostKnown: true,
		}
		if err := o.Record(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// waitDrained waits, marking after marking, until the outbox is empty.
func (o *watchedOutbox) waitDrained(t *testing.T) {
	t.Helper()
	guard := time.After(60 * time.Second)
	for {
		n, err := o.Unsynced(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		select {
		case <-o.marked:
		case <-guard:
			t.Fatalf("outbox still holds %d rows", n)
		}
	}
}

// runClient runs c until the test ends.
func runClient(t *testing.T, c *teamsync.Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("client Run: %v", err)
		}
	})
}

// fastBackoff keeps reconnects quick in tests that restart the hub.
var fastBackoff = teamsync.Backoff{Base: 5 * time.Millisecond, Cap: 50 * time.Millisecond}

func checkExactlyOnce(t *testing.T, got map[string]int, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("hub holds %d rows, want %d", len(got), len(want))
	}
	for _, id := range want {
		if got[id] != 1 {
			t.Errorf("row %s: hub holds it %d times, want once", id, got[id])
		}
	}
}
