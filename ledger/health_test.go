package ledger

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHealth_SetByFailedWriteClearedByProbe(t *testing.T) {
	ctx := context.Background()
	t.Run("disk full", func(t *testing.T) {
		d, _ := openTemp(t)
		if err := d.Health(); err != nil {
			t.Fatalf("Health of a new ledger: got %v, want nil", err)
		}
		setMaxPages(t, d, 4)
		for i := 0; i < 10000 && d.Health() == nil; i++ {
			if err := d.Record(ctx, event(i)); err != nil {
				t.Fatal(err)
			}
		}
		if h := d.Health(); !errors.Is(h, ErrUnavailable) || !strings.Contains(h.Error(), "disk full") {
			t.Errorf("Health after a failed write: got %v, want the disk-full error", h)
		}
		if err := d.Probe(ctx); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Probe on a full disk: got %v, want ErrUnavailable", err)
		}
		// Space again: the next write finds it and clears the flag.
		setMaxPages(t, d, 1000000)
		if err := d.Probe(ctx); err != nil {
			t.Fatalf("Probe with space again: %v", err)
		}
		if h := d.Health(); h != nil {
			t.Errorf("Health after a successful probe: got %v, want nil", h)
		}
	})
	t.Run("locked by another program", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "ledger.db")
		d := openAt(t, path, Options{BusyTimeout: 50 * time.Millisecond})
		release := holdWriteLock(t, path)
		err := d.Probe(ctx)
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "locked by another program") {
			t.Errorf("Probe while locked: got %v, want ErrUnavailable saying it is locked", err)
		}
		if h := d.Health(); !errors.Is(h, ErrUnavailable) {
			t.Errorf("Health while locked: got %v, want ErrUnavailable", h)
		}
		release()
		if err := d.Probe(ctx); err != nil || d.Health() != nil {
			t.Errorf("after the lock is released: Probe %v, Health %v, want both nil", err, d.Health())
		}
		if d.LastCommit().IsZero() {
			t.Error("LastCommit is zero after a commit")
		}
	})
}
