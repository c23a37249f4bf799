package ledger

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
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
	waitFor(t, "all writes queued", func() bool { return d.Stats().Pending == calls+1 })
	release()
	wg.Wait()
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

// Rows that Expect announced share one commit: the writer holds the
// transaction open for them (here with a window far longer than the test).
func TestWriter_WaitsForExpectedRows(t *testing.T) {
	const calls = 5
	ctx := context.Background()
	d := openAt(t, filepath.Join(t.TempDir(), "ledger.db"), Options{CommitWindow: time.Hour})
	before := d.Stats()
	d.Expect(calls)
	defer d.Expect(-calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			if err := d.Record(ctx, event(i)); err != nil {
				t.Errorf("Record: %v", err)
			}
		})
		// Spread out, so that without the window each would commit alone.
		waitFor(t, "the call to be taken or written", func() bool {
			st := d.Stats()
			return st.Pending+st.Rows-before.Rows == int64(i+1)
		})
	}
	wg.Wait()
	if got := d.Stats().Commits - before.Commits; got != 1 {
		t.Errorf("commits for %d expected rows: got %d, want 1", calls, got)
	}
}

// With nothing expected beyond the row it holds, the writer commits at
// once: a lone call never waits for the window (an hour here).
func TestWriter_LoneCallDoesNotWait(t *testing.T) {
	ctx := context.Background()
	d := openAt(t, filepath.Join(t.TempDir(), "ledger.db"), Options{CommitWindow: time.Hour})
	for i := range 3 {
		d.Expect(1)
		done := make(chan error, 1)
		go func() { done <- d.Record(ctx, event(i)) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(time.Minute):
			t.Fatal("a lone expected call waited for the commit window")
		}
		d.Expect(-1)
	}
	// A write that is not a usage row ends the wait even while rows are
	// expected: it is a person's action or the start of a call.
	d.Expect(2)
	defer d.Expect(-2)
	done := make(chan error, 1)
	go func() { done <- d.SetMeta(ctx, "k", "v") }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("a setting waited for expected rows")
	}
}
