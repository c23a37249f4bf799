package ledger

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"byokd.dev/byok"
	"github.com/google/go-cmp/cmp"
)

func fixedNow() time.Time { return base }

// ledgerWithRows makes a closed ledger holding events 0…n-1.
func ledgerWithRows(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	d := openAt(t, path, Options{})
	for i := range n {
		if err := d.Record(context.Background(), event(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.SetMeta(context.Background(), "install_id", "abcd1234"); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheck_HealthyAndMissing(t *testing.T) {
	path := ledgerWithRows(t, 3)
	c, err := Check(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if !c.OK() || c.Version != SchemaVersion() || !strings.Contains(c.Report(), ": ok (schema version") {
		t.Errorf("Check of a healthy ledger: got %+v, want OK at version %d", c, SchemaVersion())
	}
	c, err = Check(context.Background(), filepath.Join(t.TempDir(), "none.db"))
	if err != nil || c.Exists || !c.OK() {
		t.Errorf("Check of a missing ledger: got %+v, %v, want not existing and no problem", c, err)
	}
}

func TestCheck_TooNewIsLeftAlone(t *testing.T) {
	path := ledgerWithRows(t, 1)
	raw := rawDB(t, path)
	if _, err := raw.Exec(fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion()+1)); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	before, _ := os.ReadFile(path)
	c, err := Check(context.Background(), path)
	if err != nil || !c.TooNew || c.OK() || !strings.Contains(c.Report(), "Upgrade byokd") {
		t.Errorf("Check: got %+v, %v, want TooNew advising to upgrade", c, err)
	}
	_, err = Rebuild(context.Background(), path, fixedNow)
	if !errors.Is(err, ErrTooNew) {
		t.Errorf("Rebuild: got %v, want ErrTooNew", err)
	}
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Error("Rebuild changed a file written by a newer byokd")
	}
}

// leafPage returns the number of the nth leaf page of table.
func leafPage(t *testing.T, path, table string, nth int) int {
	t.Helper()
	raw := rawDB(t, path)
	defer raw.Close()
	var page int
	err := raw.QueryRow(`SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno LIMIT 1 OFFSET ?`, table, nth).Scan(&page)
	if err != nil {
		t.Fatalf("find leaf page %d of %s: %v", nth, table, err)
	}
	return page
}

func TestRebuild_DamagedPageKeepsEveryReadableRow(t *testing.T) {
	const n = 400
	path := ledgerWithRows(t, n)
	page := leafPage(t, path, "usage", 2)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(strings.Repeat("\x5a", 4096)), int64(page-1)*4096); err != nil {
		t.Fatal(err)
	}
	f.Close()

	if d, err := Open(context.Background(), path, Options{}); !errors.Is(err, ErrDamaged) {
		if d != nil {
			d.Close()
		}
		t.Fatalf("Open of the damaged ledger: got %v, want ErrDamaged", err)
	}
	c, err := Check(context.Background(), path)
	if err != nil || c.OK() || !strings.Contains(c.Report(), "damaged") {
		t.Fatalf("Check: got %+v, %v, want problems reported", c, err)
	}
	t.Logf("Check:\n%s", c.Report())

	res, err := Rebuild(context.Background(), path, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Rebuild: %+v", res)
	if _, err := os.Stat(res.Backup); err != nil {
		t.Errorf("no backup: %v", err)
	}
	if res.Lost["usage"] == "" {
		t.Errorf("Lost[usage] is empty, want the unreadable page reported")
	}
	d := openAt(t, path, Options{})
	got, err := d.Events(context.Background(), base, base.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || len(got) >= n || res.Copied["usage"] != len(got) {
		t.Fatalf("rows after rebuild: got %d (copied %d), want most of the %d, not all", len(got), res.Copied["usage"], n)
	}
	// Rows on both sides of the damaged page survive, exactly as stored.
	if got[0].ID != event(0).ID || got[len(got)-1].ID != event(n-1).ID {
		t.Errorf("rows after rebuild run from %s to %s, want %s to %s", got[0].ID, got[len(got)-1].ID, event(0).ID, event(n-1).ID)
	}
	for _, ev := range got {
		var i int
		fmt.Sscanf(ev.ID, "ev-%04d", &i)
		if diff := cmp.Diff(event(i), ev, cmpEvents); diff != "" {
			t.Fatalf("row %s changed (-want +got):\n%s", ev.ID, diff)
		}
	}
	if id, err := d.Meta(context.Background(), "install_id"); err != nil || id != "abcd1234" {
		t.Errorf("install_id after rebuild: got %q, %v, want abcd1234 (the keychain namespace depends on it)", id, err)
	}
	if u, o := countRows(t, d.rdb, "SELECT count(*) FROM usage"), countRows(t, d.rdb, sqlCountOutbox); u != o {
		t.Errorf("after rebuild: %d usage rows, %d outbox rows, want every row still queued for the hub", u, o)
	}
}

func TestRebuild_SchemaEditedOrHalfMigrated(t *testing.T) {
	tests := []struct {
		name, edit, wantProblem string
	}{
		// Version 1 with 0002's tables present: as if 0002 ran but its
		// version bump was lost.
		{"later migration partly applied", `PRAGMA user_version = 1`, "is not part of this schema version"},
		{"table dropped by hand", `DROP TABLE prefs`, "table prefs is missing"},
		{"index dropped by hand", `DROP INDEX usage_time`, "index usage_time is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ledgerWithRows(t, 5)
			raw := rawDB(t, path)
			if _, err := raw.Exec(tt.edit); err != nil {
				t.Fatal(err)
			}
			raw.Close()
			d, err := Open(context.Background(), path, Options{})
			if err == nil {
				d.Close()
				t.Fatal("Open: got nil error, want the daemon to refuse the edited file")
			}
			t.Logf("Open: %v", err)
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "run `byokd doctor`") {
				t.Errorf("Open: got %v, want ErrDamaged telling to run byokd doctor", err)
			}
			c, err := Check(context.Background(), path)
			if err != nil || !strings.Contains(strings.Join(c.Problems, "\n"), tt.wantProblem) {
				t.Errorf("Check problems: got %q, %v, want one containing %q", c.Problems, err, tt.wantProblem)
			}
			if _, err := Rebuild(context.Background(), path, fixedNow); err != nil {
				t.Fatal(err)
			}
			d = openAt(t, path, Options{})
			evs, err := d.Events(context.Background(), base, base.Add(time.Hour))
			if err != nil || len(evs) != 5 {
				t.Errorf("events after rebuild: got %d, %v, want all 5", len(evs), err)
			}
		})
	}
}

// A ledger cut short (a copy interrupted, a disk that lost its tail):
// doctor keeps every row SQLite can still read, keeps the small tables
// written first (install id, keys, tokens, preferences), and says what it
// lost.
func TestRebuild_TruncatedFile(t *testing.T) {
	const n = 2000
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	d := openAt(t, path, Options{})
	if err := d.SetMeta(ctx, "install_id", "abcd1234"); err != nil {
		t.Fatal(err)
	}
	if err := d.SetPref(ctx, byok.OpenAI, Pref{Preference: byok.PreferShared}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := d.Record(ctx, event(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	cut := st.Size() / 2 / 4096 * 4096
	if err := os.Truncate(path, cut); err != nil {
		t.Fatal(err)
	}

	res, err := Rebuild(ctx, path, fixedNow)
	if err != nil {
		t.Fatalf("Rebuild of a truncated ledger: %v", err)
	}
	t.Logf("Rebuild: copied %v, lost %v", res.Copied, res.Lost)
	if res.Copied["usage"] == 0 || res.Copied["usage"] >= n || res.Lost["usage"] == "" {
		t.Errorf("usage rows: copied %d of %d, lost %q; want the readable part kept and the loss said", res.Copied["usage"], n, res.Lost["usage"])
	}
	r := openAt(t, path, Options{})
	got, err := r.Events(ctx, base, base.Add(24*time.Hour))
	if err != nil || len(got) != res.Copied["usage"] {
		t.Fatalf("after rebuild the ledger holds %d rows (%v), the report says %d", len(got), err, res.Copied["usage"])
	}
	if id, _ := r.Meta(ctx, "install_id"); id != "abcd1234" {
		t.Errorf("install id after rebuild: %q", id)
	}
	if p, _ := r.Prefs(ctx); p[byok.OpenAI].Preference != byok.PreferShared {
		t.Errorf("preferences after rebuild: %+v", p)
	}
	// The outbox was in the lost part: every kept row goes to the hub
	// again (which keeps each id once) rather than never.
	if q, _ := r.Unsynced(ctx); q != len(got) {
		t.Errorf("after rebuild %d rows wait for the hub (%d requeued), want all %d kept", q, res.Requeued, len(got))
	}
}

// TestRebuild_LostTailKeepsOutboxExact: the rows at the end of the table
// are lost and the outbox is kept. The rows recorded after the rebuild
// take the lost rows' seq values, and each is queued for the hub once.
func TestRebuild_LostTailKeepsOutboxExact(t *testing.T) {
	ctx := context.Background()
	const n = 400
	path := ledgerWithRows(t, n)
	raw := rawDB(t, path)
	var last int // the rightmost leaf, where the last rows went, is the newest page
	if err := raw.QueryRow(`SELECT max(pageno) FROM dbstat WHERE name = 'usage' AND pagetype = 'leaf'`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(strings.Repeat("\x5a", 4096)), int64(last-1)*4096); err != nil {
		t.Fatal(err)
	}
	f.Close()
	res, err := Rebuild(ctx, path, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, lost := res.Lost["outbox"]; lost || res.Copied["usage"] >= n {
		t.Fatalf("rebuild: %+v; this test needs the last rows lost and the outbox kept", res)
	}
	d := openAt(t, path, Options{})
	for i := range 3 {
		if err := d.Record(ctx, event(1000+i)); err != nil {
			t.Fatal(err)
		}
	}
	got := ids(t, d, 2*n)
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Fatalf("outbox after the rebuild holds %s twice", id)
		}
		seen[id] = true
	}
	if want := res.Copied["usage"] + 3; len(got) != want || unsynced(t, d) != want {
		t.Errorf("outbox after the rebuild: %d rows, Unsynced %d, want the %d kept and new", len(got), unsynced(t, d), want)
	}
}
