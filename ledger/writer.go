package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"byokd.dev/byok"
)

// A request is one write waiting for the writer: a usage event to insert,
// or an operation to run inside the writer's transaction.
type request struct {
	ctx   context.Context
	ev    *byok.UsageEvent
	op    func(ctx context.Context, tx *sql.Tx) error
	state atomic.Int32 // queued, then claimed by the writer or cancelled by the caller
	done  chan error   // buffered; receives exactly one result unless cancelled
}

const (
	stateQueued int32 = iota
	stateClaimed
	stateCancelled
)

// submit hands r to the writer and waits for its outcome.
//
// Cancellation: if ctx ends while r is still queued, r is withdrawn and
// submit returns ctx.Err(); nothing was written. Once the writer has claimed
// r for a transaction, submit waits for that transaction whatever ctx does
// (bounded by Options.BusyTimeout per statement) and reports the true
// outcome, so a nil error always means committed and a non-nil one never
// hides a commit.
func (d *DB) submit(ctx context.Context, r *request) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.ctx = ctx
	r.done = make(chan error, 1)
	d.mu.RLock()
	if d.closed {
		d.mu.RUnlock()
		return errClosed()
	}
	d.stats.pending.Add(1)
	select {
	case d.reqs <- r:
	case <-ctx.Done():
		d.mu.RUnlock()
		d.stats.pending.Add(-1)
		return ctx.Err()
	}
	d.mu.RUnlock()
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(stateQueued, stateCancelled) {
			d.stats.pending.Add(-1)
			return ctx.Err()
		}
		return <-r.done
	}
}

// write runs op in the writer's transaction, inside its own savepoint: an
// error from op rolls back op's changes only and is returned to the caller.
func (d *DB) write(ctx context.Context, op func(ctx context.Context, tx *sql.Tx) error) error {
	return d.submit(ctx, &request{op: op})
}

// Expect tells the writer that n more usage rows are on their way (n < 0:
// that many will not come after all); the proxy counts each call in flight.
// While more rows are expected than the writer holds, it keeps its
// transaction open for up to Options.CommitWindow so that concurrent calls
// share one commit, whose cost dominates a row's. With none expected beyond
// those it holds (a lone call), it commits at once.
func (d *DB) Expect(n int) { d.expected.Add(int64(n)) }

// writer is the goroutine that owns the write connection. It takes one
// request, gathers whatever else is queued or expected (see gather), and
// runs them all in one transaction (group commit). It returns when reqs is
// closed and drained.
func (d *DB) writer(st *writerStmts) {
	defer close(d.done)
	defer st.close()
	batch := make([]*request, 0, d.opts.MaxBatch)
	window := time.NewTimer(time.Hour)
	window.Stop()
	var sinceCheckpoint int64
	for first := range d.reqs {
		batch = d.gather(append(batch[:0], first), window)
		d.runBatch(st, batch)
		clear(batch)
		if n := d.stats.commits.Load(); n-sinceCheckpoint >= checkpointCommits {
			sinceCheckpoint = n
			d.checkpoint()
		}
	}
}

// checkpointCommits is how many commits the writer lets into the
// write-ahead log before it copies the log into the database file. A
// commit writes six or more pages, so this is about SQLite's own default
// of 1,000 pages. SQLite would checkpoint inside a commit, making every
// caller of that batch wait for the copy and its fsync; the writer does it
// after the batch's callers have their answers (wal_autocheckpoint is off).
// Rows arriving meanwhile wait, and then share one commit.
const checkpointCommits = 160

// checkpoint copies the log into the database file. A failure is only
// logged: the log grows until the next try, and a commit that then cannot
// be written reports the cause to its caller.
func (d *DB) checkpoint() {
	var busy, logFrames, copied int
	err := d.wdb.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &copied)
	if err != nil {
		d.log.Warn("ledger checkpoint failed; will retry", "err", classify(d.path, err))
	}
}

// gather adds to batch what is queued, then, while rows announced by Expect
// are still to come and batch holds only usage rows, waits for them until
// the commit window closes. Any other write (a reservation, a setting)
// ends the wait: it is at the start of a call or a person's action.
func (d *DB) gather(batch []*request, window *time.Timer) []*request {
	rowsOnly := batch[0].ev != nil
	for len(batch) < d.opts.MaxBatch {
		select {
		case r, ok := <-d.reqs:
			if !ok {
				return batch
			}
			batch = append(batch, r)
			rowsOnly = rowsOnly && r.ev != nil
			continue
		default:
		}
		break
	}
	if d.opts.CommitWindow <= 0 || !rowsOnly {
		return batch
	}
	window.Reset(d.opts.CommitWindow)
	defer window.Stop()
	for len(batch) < d.opts.MaxBatch && d.expected.Load() > int64(len(batch)) {
		select {
		case r, ok := <-d.reqs:
			if !ok {
				return batch
			}
			batch = append(batch, r)
			if r.ev == nil {
				return batch
			}
		case <-window.C:
			return batch
		}
	}
	return batch
}

// runBatch claims the requests whose callers are still waiting, writes them
// in one transaction and reports each outcome.
func (d *DB) runBatch(st *writerStmts, batch []*request) {
	claimed := batch[:0]
	for _, r := range batch {
		if !r.state.CompareAndSwap(stateQueued, stateClaimed) {
			continue // the caller gave up while it was queued
		}
		if err := r.ctx.Err(); err != nil {
			// Ended but not yet noticed by the caller: not written.
			d.finish(r, err)
			continue
		}
		claimed = append(claimed, r)
	}
	if len(claimed) == 0 {
		return
	}
	d.stats.writing.Store(int64(len(claimed)))
	defer d.stats.writing.Store(0)

	results, rows, err := d.writeBatch(st, claimed)
	d.noteWrite(err)
	if err != nil {
		d.stats.failed.Add(1)
		d.log.Error("ledger write failed", "calls", len(claimed), "err", err)
		for _, r := range claimed {
			d.finish(r, err)
		}
		return
	}
	d.stats.commits.Add(1)
	d.stats.rows.Add(rows)
	for i, r := range claimed {
		d.finish(r, results[i])
	}
}

func (d *DB) finish(r *request, err error) {
	d.stats.pending.Add(-1)
	r.done <- err
}

// writeBatch runs reqs in one transaction. results holds each request's own
// error (such as byok.ErrExists); err is set when the transaction as a whole
// failed, in which case nothing was committed.
//
// It first writes every request straight into the transaction. Only if one
// of them fails does it roll back and write them again, each inside its own
// savepoint, so that one request's error undoes that request alone: the
// savepoints cost three statements per row, which the common case skips.
func (d *DB) writeBatch(st *writerStmts, reqs []*request) (results []error, rows int64, err error) {
	rows, err = d.tryBatch(st, reqs, nil)
	if !errors.Is(err, errRetryWithSavepoints) {
		return make([]error, len(reqs)), rows, err
	}
	results = make([]error, len(reqs))
	rows, err = d.tryBatch(st, reqs, results)
	return results, rows, err
}

// errRetryWithSavepoints is tryBatch's answer, without savepoints, when a
// request failed on its own.
var errRetryWithSavepoints = errors.New("a request failed: retry with savepoints")

// tryBatch writes reqs in one transaction and commits it. With results nil
// it uses no savepoints and gives up with errRetryWithSavepoints when a
// request fails; otherwise each request runs in a savepoint and its own
// error goes to results.
func (d *DB) tryBatch(st *writerStmts, reqs []*request, results []error) (rows int64, err error) {
	// The transaction runs to its end whatever the callers' contexts do:
	// its outcome is what they are told.
	ctx := context.Background()
	tx, err := d.wdb.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("write ledger: begin: %w", classify(d.path, err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	stmt := st.in(ctx, tx)
	if results == nil {
		rows, err = d.writeAll(ctx, tx, stmt, reqs)
	} else {
		rows, err = d.writeEach(ctx, tx, stmt, reqs, results)
	}
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("write ledger: commit: %w", classify(d.path, err))
	}
	return rows, nil
}

// writeAll writes reqs in order, each run of usage rows with as few
// statements as it takes; it gives up with errRetryWithSavepoints when a
// request fails on its own.
func (d *DB) writeAll(ctx context.Context, tx *sql.Tx, stmt *writerStmts, reqs []*request) (rows int64, err error) {
	evs := make([]*byok.UsageEvent, 0, len(reqs))
	flush := func() error {
		if len(evs) == 0 {
			return nil
		}
		n, err := insertEvents(ctx, stmt, evs)
		evs = evs[:0]
		rows += n
		return err
	}
	for _, r := range reqs {
		if r.ev != nil {
			evs = append(evs, r.ev)
			continue
		}
		err := flush()
		if err == nil {
			err = r.op(ctx, tx)
		}
		if err != nil {
			return 0, d.requestFailed(err)
		}
	}
	if err := flush(); err != nil {
		return 0, d.requestFailed(err)
	}
	return rows, nil
}

// requestFailed is writeAll's answer to a request's error: the batch fails
// when the ledger cannot be written at all, and is otherwise retried with
// savepoints.
func (d *DB) requestFailed(err error) error {
	if err := classify(d.path, err); isUnavailable(err) {
		return fmt.Errorf("write ledger: %w", err)
	}
	return errRetryWithSavepoints
}

// writeEach writes each request in its own savepoint, so that a request's
// error undoes that request alone and goes to its entry in results.
func (d *DB) writeEach(ctx context.Context, tx *sql.Tx, stmt *writerStmts, reqs []*request, results []error) (rows int64, err error) {
	for i, r := range reqs {
		if _, err := stmt.savepoint.ExecContext(ctx); err != nil {
			return 0, fmt.Errorf("write ledger: savepoint: %w", classify(d.path, err))
		}
		var opErr error
		if r.ev != nil {
			var n int64
			n, opErr = insertEvents(ctx, stmt, []*byok.UsageEvent{r.ev})
			rows += n
		} else {
			opErr = r.op(ctx, tx)
		}
		if opErr != nil {
			if isUnavailable(classify(d.path, opErr)) {
				return 0, fmt.Errorf("write ledger: %w", classify(d.path, opErr))
			}
			// Undo this request only. If SQLite already rolled the whole
			// transaction back, the savepoint is gone and the batch fails
			// with the request's error.
			if _, err := stmt.rollbackTo.ExecContext(ctx); err != nil {
				return 0, fmt.Errorf("write ledger: %w", classify(d.path, opErr))
			}
			results[i] = opErr
		}
		if _, err := stmt.release.ExecContext(ctx); err != nil {
			return 0, fmt.Errorf("write ledger: release savepoint: %w", classify(d.path, err))
		}
	}
	return rows, nil
}

func isUnavailable(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrDamaged)
}
