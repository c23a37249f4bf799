package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"byokd.dev/byok"
)

// cmpEvents compares times as instants: the ledger returns them in the local
// zone with microsecond precision.
var cmpEvents = cmpopts.EquateApproxTime(0)

func TestRecord_RoundTrip(t *testing.T) {
	ctx := context.Background()
	d, _ := openTemp(t)
	odd := event(2)
	odd.Service, odd.Payer, odd.Credential, odd.Relayed = byok.Anthropic, byok.PayerTeam, byok.TeamKey("shared"), true
	odd.Member, odd.Status, odd.FallbackReason = "ann@example.com", 499, "quota"
	odd.CostKnown, odd.Cost = false, 0
	odd.Usage.Complete = false
	want := []byok.UsageEvent{event(1), odd, event(3)}
	for _, ev := range []byok.UsageEvent{event(3), odd, event(1)} {
		if err := d.Record(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	got, err := d.Events(ctx, base, base.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpEvents); diff != "" {
		t.Errorf("Events (-want +got):\n%s", diff)
	}
}

func TestRecord_RejectsEventWithoutIdentity(t *testing.T) {
	d, _ := openTemp(t)
	for _, ev := range []byok.UsageEvent{
		{Service: byok.OpenAI, Time: base},
		{ID: "x", Time: base},
		{ID: "x", Service: byok.OpenAI},
	} {
		if err := d.Record(context.Background(), ev); err == nil {
			t.Errorf("Record(%+v): got nil error, want one", ev)
		}
	}
}

func TestRecord_IdempotentByID(t *testing.T) {
	ctx := context.Background()
	d, path := openTemp(t)
	first := event(1)
	again := event(1)
	again.Cost = 999999 // same ID, other content: the first row stays
	for _, ev := range []byok.UsageEvent{first, again, first} {
		if err := d.Record(ctx, ev); err != nil {
			t.Fatalf("Record(%s): %v", ev.ID, err)
		}
	}
	d.settle(ctx)
	raw := rawDB(t, path)
	if got := countRows(t, raw, "SELECT count(*) FROM usage"); got != 1 {
		t.Errorf("usage rows: got %d, want 1", got)
	}
	if got := countRows(t, raw, sqlCountOutbox); got != 1 {
		t.Errorf("outbox rows: got %d, want 1", got)
	}
	evs, err := d.Events(ctx, base, base.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]byok.UsageEvent{first}, evs, cmpEvents); diff != "" {
		t.Errorf("Events (-want +got):\n%s", diff)
	}
	if got := d.Stats().Rows; got != 1 {
		t.Errorf("Stats().Rows: got %d, want 1", got)
	}
}

// TestRecord_ConcurrentCallsShareCommits holds the write lock from another
// connection while 200 calls queue up, so the test does not depend on how
// fast the goroutines happen to start.
func TestRecord_ConcurrentCallsShareCommits(t *testing.T) {
	const calls = 200
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	d := openAt(t, path, Options{BusyTimeout: time.Minute})
	release := holdWriteLock(t, path)

	errs := make(chan error, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() { errs <- d.Record(ctx, event(i)) })
	}
	// Each call is journaled or queued behind the transaction that waits
	// for the lock.
	waitFor(t, "all calls journaled or queued", func() bool { st := d.Stats(); return st.Pending+st.Waiting == calls })
	release()
	wg.Wait()
	d.settle(ctx)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Record: %v", err)
		}
	}

	raw := rawDB(t, path)
	if got := countRows(t, raw, "SELECT count(DISTINCT id) FROM usage"); got != calls {
		t.Errorf("distinct ids: got %d, want %d", got, calls)
	}
	if got := countRows(t, raw, "SELECT count(*) FROM usage"); got != calls {
		t.Errorf("usage rows: got %d, want %d", got, calls)
	}
	if got := countRows(t, raw, sqlCountOutbox); got != calls {
		t.Errorf("outbox rows: got %d, want %d", got, calls)
	}
	st := d.Stats()
	if st.Commits >= calls || st.Commits < 1 {
		t.Errorf("commits for %d calls: got %d, want between 1 and %d", calls, st.Commits, calls-1)
	}
	if st.Rows != calls || st.Pending != 0 {
		t.Errorf("Stats: got rows %d pending %d, want %d and 0", st.Rows, st.Pending, calls)
	}
	t.Logf("%d calls, %d commits", calls, st.Commits)
}

// TestRecord_RowsAFewMillisecondsApartShareCommits: rows that come 3 ms
// apart, as a busy proxy's do, wait for company instead of each going
// into SQLite alone (with an idle clock of 1 ms each was its own commit).
func TestRecord_RowsAFewMillisecondsApartShareCommits(t *testing.T) {
	const calls = 20
	ctx := context.Background()
	d, _ := openTemp(t)
	for i := range calls {
		if err := d.Record(ctx, event(i)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Millisecond)
	}
	waitFor(t, "the rows in SQLite", func() bool { return d.Stats().Rows == calls })
	st := d.Stats()
	// Only a stall of the whole process longer than the idle clock ends a
	// batch early; half the calls is far beyond what one can cause.
	if st.Commits >= calls/2 {
		t.Errorf("commits for %d rows 3 ms apart: got %d, want fewer than %d", calls, st.Commits, calls/2)
	}
	t.Logf("%d rows, %d commits", calls, st.Commits)
}

// A row is in every query's answer as soon as Record returns, though it
// reaches SQLite through the journal.
func TestRecord_VisibleWhenItReturns(t *testing.T) {
	ctx := context.Background()
	d, _ := openTemp(t)
	for i := range 50 {
		ev := event(i)
		if err := d.Record(ctx, ev); err != nil {
			t.Fatal(err)
		}
		evs, err := d.Events(ctx, ev.Time, ev.Time.Add(time.Microsecond))
		if err != nil || len(evs) != 1 || evs[0].ID != ev.ID {
			t.Fatalf("Events right after Record(%s): got %v, %v, want the row", ev.ID, evs, err)
		}
		if n, err := d.Unsynced(ctx); err != nil || n != i+1 {
			t.Fatalf("Unsynced right after Record(%s): got %d, %v, want %d", ev.ID, n, err, i+1)
		}
	}
}

func TestWrite_ContextEndsWhileQueued(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	d := openAt(t, path, Options{BusyTimeout: time.Minute})
	release := holdWriteLock(t, path)

	// The first write is taken into a transaction that waits for the lock.
	firstCtx, cancelFirst := context.WithCancel(ctx)
	firstErr := make(chan error, 1)
	go func() { firstErr <- d.SetMeta(firstCtx, "first", "1") }()
	waitFor(t, "first write in a transaction", func() bool { return d.Stats().Writing == 1 })

	// The second waits in the queue behind it.
	queuedCtx, cancelQueued := context.WithCancel(ctx)
	queuedErr := make(chan error, 1)
	go func() { queuedErr <- d.SetMeta(queuedCtx, "second", "2") }()
	waitFor(t, "second write queued", func() bool { return d.Stats().Pending == 2 })

	cancelQueued()
	if err := <-queuedErr; !errors.Is(err, context.Canceled) {
		t.Errorf("write cancelled while queued: got %v, want context.Canceled", err)
	}
	cancelFirst() // too late: the first write is already being written
	release()
	if err := <-firstErr; err != nil {
		t.Errorf("write cancelled during its transaction: got %v, want nil (committed)", err)
	}

	raw := rawDB(t, path)
	for _, tt := range []struct {
		key  string
		want int
	}{{"first", 1}, {"second", 0}} {
		if got := countRows(t, raw, "SELECT count(*) FROM meta WHERE key = ?", tt.key); got != tt.want {
			t.Errorf("meta rows %s: got %d, want %d", tt.key, got, tt.want)
		}
	}
}

func TestRecord_CancelledContextWritesNothing(t *testing.T) {
	d, path := openTemp(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Record(ctx, event(1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Record with a cancelled context: got %v, want context.Canceled", err)
	}
	d.Close()
	if got := countRows(t, rawDB(t, path), "SELECT count(*) FROM usage"); got != 0 {
		t.Errorf("usage rows: got %d, want 0", got)
	}
}

func TestClose_FlushesQueuedRecords(t *testing.T) {
	const calls = 50
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	d, err := Open(ctx, path, Options{BusyTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	release := holdWriteLock(t, path)
	errs := make(chan error, calls)
	var returned atomic.Int64
	for i := range calls {
		go func() {
			err := d.Record(ctx, event(i))
			returned.Add(1)
			errs <- err
		}()
	}
	// Every call has returned (journaled) or waits in the queue. A call
	// leaves Pending just before it returns, so this sum can only count
	// too few, never one call twice (Pending + Waiting can, for a moment).
	waitFor(t, "all calls journaled or queued", func() bool { return returned.Load()+d.Stats().Pending == calls })
	closed := make(chan error, 1)
	go func() { closed <- d.Close() }()
	release()
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	for range calls {
		if err := <-errs; err != nil {
			t.Errorf("Record: %v", err)
		}
	}
	if got := countRows(t, rawDB(t, path), "SELECT count(*) FROM usage"); got != calls {
		t.Errorf("rows after Close: got %d, want %d", got, calls)
	}

	err = d.Record(ctx, event(calls+1))
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrClosed) {
		t.Errorf("Record after Close: got %v, want ErrUnavailable and ErrClosed", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}
}

// With SQLite out of space, rows still reach the journal and no call is
// lost: Health reports the full disk (so the proxy refuses new calls), and
// once there is space again every journaled row lands, once.
func TestRecord_DiskFull(t *testing.T) {
	ctx := context.Background()
	d, path := openTemp(t)
	setMaxPages(t, d, 4)
	recorded := 0
	for ; recorded < 10000 && d.Health() == nil; recorded++ {
		if err := d.Record(ctx, event(recorded)); err != nil {
			t.Fatalf("Record(%d) with the journal writable: %v", recorded, err)
		}
	}
	full := d.Health()
	if !errors.Is(full, ErrUnavailable) || !strings.Contains(full.Error(), "ledger disk full: free space on") ||
		!strings.Contains(full.Error(), path) {
		t.Fatalf("Health on a full ledger: got %v, want ErrUnavailable saying the disk holding %s is full", full, path)
	}
	t.Logf("after %d rows: %v", recorded, full)
	if err := d.Probe(ctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Probe on a full disk: got %v, want ErrUnavailable", err)
	}
	setMaxPages(t, d, 1000000)
	raw := rawDB(t, path)
	if u, o := countRows(t, raw, "SELECT count(*) FROM usage"), countRows(t, raw, sqlCountOutbox); u != recorded || o != recorded {
		t.Errorf("after space came back: %d usage rows and %d outbox rows, want %d of each", u, o, recorded)
	}
	if h := d.Health(); h != nil {
		t.Errorf("Health with space again: got %v, want nil", h)
	}
}

// setMaxPages caps the ledger at its current size plus extra pages, as a
// full disk would (SQLite then fails writes with SQLITE_FULL), or lifts
// the cap. The setting goes first in its transaction, before any row
// waiting in the journal.
func setMaxPages(t *testing.T, d *DB, extra int) {
	t.Helper()
	err := d.write(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
		var pages int
		if err := tx.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages+extra))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Rows recorded while another program holds the ledger's lock wait in the
// journal; Health and Probe say it is locked; released, the rows land.
func TestRecord_LockedByAnotherProgram(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	d := openAt(t, path, Options{BusyTimeout: 50 * time.Millisecond})
	release := holdWriteLock(t, path)
	if err := d.Record(ctx, event(1)); err != nil {
		t.Fatalf("Record while locked: got %v, want nil (the journal holds it)", err)
	}
	err := d.Probe(ctx)
	t.Logf("Probe: %v", err)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "ledger is locked by another program") {
		t.Errorf("Probe while another program holds the lock: got %v, want ErrUnavailable saying it is locked", err)
	}
	release()
	if err := d.Probe(ctx); err != nil {
		t.Fatalf("Probe after the lock is released: %v", err)
	}
	if got := countRows(t, rawDB(t, path), "SELECT count(*) FROM usage WHERE id = ?", event(1).ID); got != 1 {
		t.Errorf("the row recorded while locked: %d rows, want 1", got)
	}
}

// A burst of calls faster than SQLite takes rows is slowed to SQLite's pace,
// not refused: the journal may not run further ahead than a bound, and no
// call fails for it while SQLite works.
func TestRecord_BurstFasterThanSQLite(t *testing.T) {
	const callers, each = 8, 2000
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	d := openAt(t, path, Options{MaxWaiting: 2 * maxUnapplied})
	var wg sync.WaitGroup
	var failed atomic.Int64
	var most atomic.Int64
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				if err := d.Record(ctx, event(c*each+i)); err != nil {
					if failed.Add(1) == 1 {
						t.Errorf("Record during the burst: %v", err)
					}
				}
				if w := d.Stats().Waiting; w > most.Load() {
					most.Store(w)
				}
			}
		})
	}
	wg.Wait()
	d.settle(ctx)
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d calls failed", n, callers*each)
	}
	if got := countRows(t, rawDB(t, path), "SELECT count(*) FROM usage"); got != callers*each {
		t.Errorf("usage rows: got %d, want %d", got, callers*each)
	}
	t.Logf("at most %d rows waited for SQLite", most.Load())
}

// A batch's results file is claimed once, and the claim outlives the
// process: a download after a restart is not billed again.
func TestCountBatch_OnceAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	d, path := openTemp(t)
	for i, want := range []bool{true, false} {
		if first, err := d.CountBatch(ctx, "openai file-abc"); err != nil || first != want {
			t.Fatalf("claim %d: %v %v, want %v", i+1, first, err, want)
		}
	}
	if first, err := d.CountBatch(ctx, "anthropic file-abc"); err != nil || !first {
		t.Fatalf("another service's file of the same id: %v %v, want a first claim", first, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d = openAt(t, path, Options{})
	if first, err := d.CountBatch(ctx, "openai file-abc"); err != nil || first {
		t.Fatalf("after a restart: %v %v, want already counted", first, err)
	}
}

// A row waits in memory until SQLite has it, here held up by another
// program's lock; what the call's context carries (in the daemon, the
// call's own state) must not wait with it. Kept alive, 256 calls' worth
// of it doubled the daemon's garbage-collection work per call.
func TestRecord_KeepsNoContextAlive(t *testing.T) {
	type callState struct{ buf []byte }
	path := filepath.Join(t.TempDir(), "ledger.db")
	d := openAt(t, path, Options{BusyTimeout: 20 * time.Millisecond})
	release := holdWriteLock(t, path)
	defer release()
	state := &callState{buf: make([]byte, 64<<10)}
	alive := weak.Make(state)
	ctx := context.WithValue(context.Background(), callStateKey{}, state)
	if err := d.Record(ctx, event(1)); err != nil {
		t.Fatal(err)
	}
	ctx, state = nil, nil
	runtime.GC()
	if alive.Value() != nil {
		t.Error("the call's context is kept alive by its row waiting for SQLite")
	}
	if st := d.Stats(); st.Waiting != 1 {
		t.Fatalf("rows waiting for SQLite: %d, want the one, or this test proves nothing", st.Waiting)
	}
}

type callStateKey struct{}
