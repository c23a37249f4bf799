package ledger

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"byokd.dev/byok"
)

func TestOpen_MigratesEmptyFile(t *testing.T) {
	d, path := openTemp(t)
	if err := d.Record(context.Background(), event(1)); err != nil {
		t.Fatal(err)
	}
	raw := rawDB(t, path)

	var version int
	if err := raw.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if got, want := version, SchemaVersion(); got != want || want < 1 {
		t.Errorf("user_version: got %d, want %d (>= 1)", got, want)
	}
	var mode string
	if err := raw.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode: got %q, want %q", mode, "wal")
	}
	for _, table := range []string{"usage", "outbox", "keys", "app_tokens", "prefs", "meta"} {
		if n := countRows(t, raw, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?", table); n != 1 {
			t.Errorf("table %s: got %d, want 1", table, n)
		}
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fi.Mode().Perm(), os.FileMode(0o600); got != want {
			t.Errorf("%s mode: got %v, want %v", filepath.Base(f), got, want)
		}
	}
}

func TestOpen_ReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	d, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Record(ctx, event(1)); err != nil {
		t.Fatal(err)
	}
	if err := d.SetMeta(ctx, "install_id", "abc"); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	d = openAt(t, path, Options{})
	evs, err := d.Events(ctx, base, base.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]byok.UsageEvent{event(1)}, evs, cmpEvents); diff != "" {
		t.Errorf("events after reopen (-want +got):\n%s", diff)
	}
	if got, err := d.Meta(ctx, "install_id"); err != nil || got != "abc" {
		t.Errorf("Meta(install_id): got %q, %v, want %q", got, err, "abc")
	}
	if got, want := d.Stats().Commits, int64(0); got != want {
		t.Errorf("commits on reopen without writes: got %d, want %d", got, want)
	}
}

func TestOpen_RefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	d, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	raw := rawDB(t, path)
	if _, err := raw.Exec(fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion()+1)); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	d, err = Open(ctx, path, Options{})
	if err == nil {
		d.Close()
		t.Fatal("Open of a newer schema: got nil error")
	}
	t.Logf("Open: %v", err)
	if !errors.Is(err, ErrTooNew) || !strings.Contains(err.Error(), "upgrade byokd") {
		t.Errorf("Open of a newer schema: got %v, want ErrTooNew telling to upgrade byokd", err)
	}
}

func TestOpen_RefusesDamagedFile(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"garbage", func(t *testing.T, path string) {
			junk := make([]byte, 16384)
			r := rand.NewChaCha8([32]byte{1})
			r.Read(junk)
			if err := os.WriteFile(path, junk, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"bad page header", func(t *testing.T, path string) {
			// A well-formed file whose second page claims 13 fragmented
			// bytes it does not have: only PRAGMA quick_check notices.
			d, err := Open(context.Background(), path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			d.Close()
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			b[4096+7] += 13
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"overwritten pages", func(t *testing.T, path string) {
			// A real ledger with enough rows for many pages, then the
			// pages after the first overwritten, as a failing disk might.
			d, err := Open(context.Background(), path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 300 {
				if err := d.Record(context.Background(), event(i)); err != nil {
					t.Fatal(err)
				}
			}
			d.Close()
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			junk := make([]byte, 4*4096)
			for i := range junk {
				junk[i] = 0x5a
			}
			if _, err := f.WriteAt(junk, 4096); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ledger.db")
			tt.damage(t, path)
			d, err := Open(context.Background(), path, Options{})
			if err == nil {
				d.Close()
				t.Fatal("Open of a damaged file: got nil error")
			}
			t.Logf("Open: %v", err)
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "run `byokd doctor`") {
				t.Errorf("Open of a damaged file: got %v, want ErrDamaged telling to run byokd doctor", err)
			}
		})
	}
}

func TestOpen_MissingFolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-such-folder", "ledger.db")
	d, err := Open(context.Background(), path, Options{})
	if err == nil {
		d.Close()
		t.Fatal("Open in a missing folder: got nil error")
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open in a missing folder: got %v, want an os.ErrNotExist error", err)
	}
}

func TestOpen_PathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my ledger?x=1#frag%20&mode=ro")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ledger.db")
	d := openAt(t, path, Options{})
	if err := d.Record(context.Background(), event(1)); err != nil {
		t.Fatal(err)
	}
	d.Close()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"ledger.db"}, names); diff != "" {
		t.Errorf("files in the folder (-want +got):\n%s", diff)
	}
	d = openAt(t, path, Options{})
	if evs, err := d.Events(context.Background(), base, base.Add(time.Hour)); err != nil || len(evs) != 1 {
		t.Errorf("Events after reopen: got %d events, %v, want 1", len(evs), err)
	}
}
