//go:build linux

package ledger

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"byokd.dev/byok/internal/smalldisk"
	"byokd.dev/byok/internal/testclock"
)

// TestReady_IdleLedgerChecksTheDisk: an idle ledger asks the file system
// before a call whether its disk has room, without a SQLite transaction;
// on a real full filesystem that check fails with the disk-full advice, the
// next one retries through the writer, and once space is freed calls go
// again.
func TestReady_IdleLedgerChecksTheDisk(t *testing.T) {
	ctx := context.Background()
	disk := smalldisk.Mount(t, 4<<20)
	clk := testclock.New(base)
	idle := func() { clk.Add(time.Hour) }
	path := filepath.Join(disk, "ledger.db")
	d := openAt(t, path, Options{Now: clk.Now, BusyTimeout: 50 * time.Millisecond})
	if err := d.Record(ctx, event(1)); err != nil {
		t.Fatal(err)
	}
	d.settle(ctx)

	idle()
	commits := d.Stats().Commits
	if err := d.Ready(ctx); err != nil {
		t.Fatalf("Ready on an idle, healthy ledger: %v", err)
	}
	if n := d.Stats().Commits; n != commits {
		t.Errorf("Ready ran %d SQLite transactions, want none", n-commits)
	}

	free := smalldisk.Fill(t, disk)
	idle()
	err := d.Ready(ctx)
	t.Logf("Ready on a full disk: %v", err)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Ready on a full disk: got %v, want ErrUnavailable with the disk-full advice", err)
	}
	if h := d.Health(); !errors.Is(h, ErrUnavailable) {
		t.Errorf("Health after the failed check: %v, want ErrUnavailable", h)
	}
	if err := d.Ready(ctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Ready again, still full (a probe through the writer): got %v, want ErrUnavailable", err)
	}
	free()
	if err := d.Ready(ctx); err != nil || d.Health() != nil {
		t.Errorf("Ready once space is freed: %v (Health %v), want nil", err, d.Health())
	}
}
