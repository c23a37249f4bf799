package ledger

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func ids(t *testing.T, d *DB, limit int) []string {
	t.Helper()
	evs, err := d.Outbox(context.Background(), limit)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.ID)
	}
	return out
}

func unsynced(t *testing.T, d *DB) int {
	t.Helper()
	n, err := d.Unsynced(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOutbox_MarkSynced(t *testing.T) {
	ctx := context.Background()
	d, _ := openTemp(t)
	// Recorded out of time order: the outbox keeps recording order.
	for _, i := range []int{5, 1, 4, 2, 3} {
		if err := d.Record(ctx, event(i)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := unsynced(t, d), 5; got != want {
		t.Errorf("Unsynced: got %d, want %d", got, want)
	}
	first := ids(t, d, 3)
	if diff := cmp.Diff([]string{"ev-0005", "ev-0001", "ev-0004"}, first); diff != "" {
		t.Errorf("Outbox(3) (-want +got):\n%s", diff)
	}
	if err := d.MarkSynced(ctx, append(first, "no-such-id")); err != nil {
		t.Fatal(err)
	}
	if got, want := unsynced(t, d), 2; got != want {
		t.Errorf("Unsynced after MarkSynced: got %d, want %d", got, want)
	}
	if diff := cmp.Diff([]string{"ev-0002", "ev-0003"}, ids(t, d, 10)); diff != "" {
		t.Errorf("Outbox after MarkSynced (-want +got):\n%s", diff)
	}

	// Recording a synced event again must not queue it again.
	if err := d.Record(ctx, event(5)); err != nil {
		t.Fatal(err)
	}
	if got, want := unsynced(t, d), 2; got != want {
		t.Errorf("Unsynced after re-recording a synced event: got %d, want %d", got, want)
	}
	// The synced rows stay in the ledger.
	evs, err := d.Events(ctx, base, base.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(evs), 5; got != want {
		t.Errorf("events after sync: got %d, want %d", got, want)
	}
	if got := ids(t, d, 0); got != nil {
		t.Errorf("Outbox(0): got %v, want none", got)
	}
}

func TestOutbox_MarkSyncedManyIDs(t *testing.T) {
	ctx := context.Background()
	d, _ := openTemp(t)
	const n = 1200 // more than one statement's worth of parameters
	var all []string
	for i := range n {
		if err := d.Record(ctx, event(i)); err != nil {
			t.Fatal(err)
		}
		all = append(all, event(i).ID)
	}
	if err := d.MarkSynced(ctx, all[:n-1]); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{all[n-1]}, ids(t, d, 10)); diff != "" {
		t.Errorf("Outbox (-want +got):\n%s", diff)
	}
}

// TestOutbox_MarkRejected: a row the hub refused leaves the outbox (it
// would block it), stays in the ledger and is counted with the hub's
// reason; the newest rejection is the one shown.
func TestOutbox_MarkRejected(t *testing.T) {
	ctx := context.Background()
	d, path := openTemp(t)
	for i := 1; i <= 3; i++ {
		if err := d.Record(ctx, event(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.MarkRejected(ctx, map[string]string{"ev-0001": "the time is not within 400 days", "no-such-id": "x"}); err != nil {
		t.Fatal(err)
	}
	if err := d.MarkRejected(ctx, map[string]string{"ev-0002": "a token count is negative"}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ev-0003"}, ids(t, d, 10)); diff != "" {
		t.Errorf("outbox after rejections (-want +got):\n%s", diff)
	}
	check := func(d *DB) {
		t.Helper()
		r, err := d.Rejected(ctx)
		if err != nil || r.Count != 2 || r.Last.ID != "ev-0002" || r.Reason != "a token count is negative" {
			t.Errorf("Rejected = %+v, %v; want 2 rows, the newest ev-0002 with its reason", r, err)
		}
		evs, _ := d.Events(ctx, base, base.AddDate(0, 0, 1))
		if len(evs) != 3 {
			t.Errorf("ledger holds %d rows, want all 3: a rejected row is kept", len(evs))
		}
	}
	check(d)
	// It survives a restart.
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d2, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	check(d2)
}

// TestOutbox_Holes: the hub takes rows out of the middle of the outbox;
// the rest keep their order, new rows queue behind them, and the outbox
// stays a few runs however many rows it holds.
func TestOutbox_Holes(t *testing.T) {
	ctx := context.Background()
	d, path := openTemp(t)
	record := func(from, to int) {
		t.Helper()
		for i := from; i <= to; i++ {
			if err := d.Record(ctx, event(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	record(1, 10)
	if err := d.MarkSynced(ctx, []string{"ev-0002", "ev-0003", "ev-0007", "ev-0010"}); err != nil {
		t.Fatal(err)
	}
	if err := d.MarkRejected(ctx, map[string]string{"ev-0005": "a token count is negative"}); err != nil {
		t.Fatal(err)
	}
	record(11, 13)
	want := []string{"ev-0001", "ev-0004", "ev-0006", "ev-0008", "ev-0009", "ev-0011", "ev-0012", "ev-0013"}
	if diff := cmp.Diff(want, ids(t, d, 100)); diff != "" {
		t.Errorf("outbox (-want +got):\n%s", diff)
	}
	if got := unsynced(t, d); got != len(want) {
		t.Errorf("Unsynced: got %d, want %d", got, len(want))
	}
	// 1, 4, 6, 8–9 and 11–13 (the new rows did not follow a queued one).
	if got := countRows(t, rawDB(t, path), "SELECT count(*) FROM outbox"); got != 5 {
		t.Errorf("outbox runs: got %d, want 5", got)
	}
	record(14, 40)
	if got := countRows(t, rawDB(t, path), "SELECT count(*) FROM outbox"); got != 5 {
		t.Errorf("outbox runs after 27 more rows: got %d, want 5 (new rows extend the last run)", got)
	}
	if err := d.MarkSynced(ctx, ids(t, d, 100)); err != nil {
		t.Fatal(err)
	}
	if got := unsynced(t, d); got != 0 {
		t.Errorf("Unsynced after the hub took every row: got %d, want 0", got)
	}
	if got := countRows(t, rawDB(t, path), "SELECT count(*) FROM outbox"); got != 0 {
		t.Errorf("outbox runs after the hub took every row: got %d, want 0", got)
	}
}

// TestOutbox_MigratesRows: a ledger of schema 8 kept one outbox row per
// usage row; after the migration to runs the same rows wait, in order.
func TestOutbox_MigratesRows(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	raw := rawDB(t, path)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:8] {
		if _, err := raw.Exec(m.sql); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
	}
	for i := 1; i <= 9; i++ {
		if _, err := raw.Exec(`INSERT INTO usage (seq, id, time_us, service) VALUES (?, ?, ?, 'openai')`,
			i, event(i).ID, event(i).Time.UnixMicro()); err != nil {
			t.Fatal(err)
		}
	}
	// Rows 3, 4 and 8 were synced.
	if _, err := raw.Exec(`INSERT INTO outbox (seq) VALUES (1), (2), (5), (6), (7), (9); PRAGMA user_version = 8`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	d, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	want := []string{"ev-0001", "ev-0002", "ev-0005", "ev-0006", "ev-0007", "ev-0009"}
	if diff := cmp.Diff(want, ids(t, d, 100)); diff != "" {
		t.Errorf("outbox after the migration (-want +got):\n%s", diff)
	}
	if got := countRows(t, d.rdb, "SELECT count(*) FROM outbox"); got != 3 {
		t.Errorf("outbox runs: got %d, want 3 (1–2, 5–7, 9)", got)
	}
}
