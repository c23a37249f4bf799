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
