//go:build linux

package ledger

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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

// diskRoom reads a read-only mount as read-only, which Ready refuses with
// the read-only advice; a writable one as writable, with its free room.
func TestDiskRoom_ReadOnlyMount(t *testing.T) {
	rw := smalldisk.Mount(t, 4<<20)
	free, ro, err := diskRoom(openDir(t, rw))
	if err != nil || ro || free < 3<<20 {
		t.Errorf("a writable 4 MiB tmpfs: free %d, read-only %v, %v; want about 4 MiB, writable", free, ro, err)
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_RDONLY, "size=1m"); err != nil {
		t.Fatalf("mount a read-only tmpfs (this test needs root, as in CI's scripts/test): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	if _, ro, err := diskRoom(openDir(t, dir)); err != nil || !ro {
		t.Errorf("a read-only tmpfs: read-only %v, %v; want read-only", ro, err)
	}
	if err := classify(dir, syscall.EROFS); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("what Ready says of it: %v, want ErrUnavailable with the read-only advice", err)
	}
}

// TestJournal_RoomForCallsInFlight: calls let out just before the disk
// filled (the ledger had just committed, so Ready asked nothing) still get
// their rows written: the journal keeps room reserved past its end. Once
// that room cannot be kept, Ready refuses the next call before it goes
// out. When space returns, every row lands once.
func TestJournal_RoomForCallsInFlight(t *testing.T) {
	ctx := context.Background()
	disk := smalldisk.Mount(t, 8<<20)
	path := filepath.Join(disk, "ledger.db")
	d := openAt(t, path, Options{BusyTimeout: 50 * time.Millisecond})
	if err := d.Record(ctx, event(0)); err != nil {
		t.Fatal(err)
	}
	d.settle(ctx)
	if err := d.Ready(ctx); err != nil {
		t.Fatalf("Ready before the disk filled: %v", err)
	}
	free := smalldisk.Fill(t, disk)
	// 200 calls were in flight: each one's row must be kept.
	const inFlight = 200
	for i := 1; i <= inFlight; i++ {
		if err := d.Record(ctx, event(i)); err != nil {
			t.Fatalf("Record of call %d in flight when the disk filled: %v", i, err)
		}
	}
	// The disk is full: whether SQLite or the journal's reservation says
	// so first, the next call is refused before it goes out.
	refused, recorded := false, inFlight+1
	for i := inFlight + 1; i < inFlight+3000 && !refused; i++ {
		if err := d.Ready(ctx); err != nil {
			refused = strings.Contains(err.Error(), "disk full")
			if !refused {
				t.Fatalf("Ready on a full disk: %v, want the disk-full advice", err)
			}
			break
		}
		if err := d.Record(ctx, event(i)); err != nil {
			t.Fatalf("Record of call %d, admitted by Ready: %v", i, err)
		}
		recorded++
	}
	if !refused {
		t.Fatal("Ready never refused a call on a full disk")
	}
	free()
	if err := d.Probe(ctx); err != nil {
		t.Fatalf("Probe once space is back: %v", err)
	}
	if err := d.Ready(ctx); err != nil {
		t.Fatalf("Ready once space is back: %v", err)
	}
	if got := countRows(t, rawDB(t, path), "SELECT count(*) FROM usage"); got != recorded {
		t.Errorf("ledger holds %d rows, want the %d recorded, each once", got, recorded)
	}
}

func openDir(t *testing.T, dir string) *os.File {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestJournal_SparseFileOnFullDisk: where the file system cannot allocate
// the journal's room ahead, the file is extended sparse, and a row stored
// into a page the full disk cannot give faults. The fault is that row's
// error, saying the disk is full, not the end of the daemon; the rows
// before it stay, and once space is back the same row goes in.
func TestJournal_SparseFileOnFullDisk(t *testing.T) {
	disk := smalldisk.Mount(t, 8<<20)
	f, err := os.OpenFile(filepath.Join(disk, "ledger.db.journal"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	jf := &journalFile{path: f.Name(), f: f}
	defer jf.close()
	if err := f.Truncate(journalReserve); err != nil { // sparse: nothing allocated
		t.Fatal(err)
	}
	if jf.m, err = mapFile(f, journalReserve); err != nil {
		t.Fatal(err)
	}
	free := smalldisk.Fill(t, disk)
	line := []byte(journalLine(t, event(1)))
	var rows int
	for err == nil && rows < journalReserve/len(line) {
		if err = jf.put(line); err == nil {
			rows++
		}
	}
	if !errors.Is(classify(jf.path, err), ErrUnavailable) || !strings.Contains(classify(jf.path, err).Error(), "disk full") {
		t.Fatalf("row %d on a full disk: got %v, want ErrUnavailable saying the disk is full", rows+1, err)
	}
	if got, want := jf.size, int64(rows*len(line)); got != want {
		t.Errorf("rows' bytes after the fault: %d, want %d (the rows before it)", got, want)
	}
	free()
	if err := jf.put(line); err != nil {
		t.Fatalf("the same row once space is back: %v", err)
	}
	evs, _, err := readJournal(bytes.NewReader(jf.m))
	if err != nil || len(evs) != rows+1 {
		t.Errorf("journal after space came back: %d rows, %v; want %d", len(evs), err, rows+1)
	}
}
