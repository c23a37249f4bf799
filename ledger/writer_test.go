//go:build unix

package ledger

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A request that fails inside a batch undoes only its own changes: the
// other calls' rows in the same batch are committed.
func TestWriter_FailingRequestUndoneAlone(t *testing.T) {
	const calls = 20
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	d := openAt(t, path, Options{BusyTimeout: time.Minute})
	release := holdWriteLock(t, path)

	errBad := errors.New("this write is refused")
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for i := range calls / 2 {
		wg.Go(func() { errs <- d.Record(ctx, event(i)) })
	}
	var opErr error
	wg.Go(func() {
		opErr = d.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('half-done', 'x')`); err != nil {
				return err
			}
			return errBad
		})
	})
	for i := calls / 2; i < calls; i++ {
		wg.Go(func() { errs <- d.Record(ctx, event(i)) })
	}
	waitFor(t, "all writes journaled or queued", func() bool { st := d.Stats(); return st.Pending+st.Waiting == calls+1 })
	release()
	wg.Wait()
	d.settle(ctx)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Record beside a failing write: %v", err)
		}
	}
	if !errors.Is(opErr, errBad) {
		t.Errorf("the failing write: got %v, want its own error", opErr)
	}
	raw := rawDB(t, path)
	if got := countRows(t, raw, "SELECT count(*) FROM usage"); got != calls {
		t.Errorf("usage rows: got %d, want %d", got, calls)
	}
	if got := countRows(t, raw, "SELECT count(*) FROM meta WHERE key = 'half-done'"); got != 0 {
		t.Errorf("the failing write's own insert: %d rows, want it undone", got)
	}
	if st := d.Stats(); st.Failed != 0 || st.Rows != calls {
		t.Errorf("Stats: got %+v, want no failed transaction and %d rows", st, calls)
	}
}

// Keeping working without records: with neither the journal nor SQLite
// writable, Record still succeeds, rows wait in memory up to MaxWaiting
// and the rest are dropped and counted; writable again, the waiting rows
// land. Off, the same Record fails.
func TestWriter_KeepWorkingWithoutRecords(t *testing.T) {
	const maxWaiting, calls = 300, 500
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	d := openAt(t, path, Options{MaxWaiting: maxWaiting, BusyTimeout: 20 * time.Millisecond})
	release := holdWriteLock(t, path) // SQLite cannot be written
	// Nor the journal: mapped read-only, every store into it faults, as
	// one into a page that a full disk cannot give does.
	for _, jf := range d.journal.files {
		if err := unmapFile(jf.m); err != nil {
			t.Fatal(err)
		}
		m, err := unix.Mmap(int(jf.f.Fd()), 0, journalReserve, unix.PROT_READ, unix.MAP_SHARED)
		if err != nil {
			t.Fatal(err)
		}
		jf.m = m
	}
	if err := d.Record(ctx, event(0)); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Record with nothing writable, failing closed: got %v, want ErrUnavailable saying the disk is full", err)
	}

	d.SetKeepWorking(true)
	for i := 1; i <= calls; i++ {
		if err := d.Record(ctx, event(i)); err != nil {
			t.Fatalf("Record(%d) keeping working without records: %v", i, err)
		}
	}
	st := d.Stats()
	if st.Volatile != maxWaiting || st.Waiting != maxWaiting || st.Dropped != calls-maxWaiting {
		t.Errorf("Stats: got %+v, want %d rows waiting in memory and %d dropped", st, maxWaiting, calls-maxWaiting)
	}
	release()
	if err := d.Probe(ctx); err != nil {
		t.Fatalf("Probe once SQLite can be written: %v", err)
	}
	if got := countRows(t, rawDB(t, path), "SELECT count(*) FROM usage"); got != maxWaiting {
		t.Errorf("usage rows once the ledger works again: got %d, want the %d kept", got, maxWaiting)
	}
	if st := d.Stats(); st.Waiting != 0 || st.Volatile != 0 || st.Dropped != calls-maxWaiting {
		t.Errorf("Stats after: %+v, want nothing waiting and %d dropped", st, calls-maxWaiting)
	}
}
