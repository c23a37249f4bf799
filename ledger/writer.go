package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"

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

// writer is the goroutine that owns the write connection. It takes one
// request, drains whatever else is queued up to MaxBatch, and runs them all
// in one transaction (group commit). It returns when reqs is closed and
// drained.
func (d *DB) writer(st *writerStmts) {
	defer close(d.done)
	defer st.close()
	batch := make([]*request, 0, d.opts.MaxBatch)
	for first := range d.reqs {
		batch = append(batch[:0], first)
	drain:
		for len(batch) < d.opts.MaxBatch {
			select {
			case r, ok := <-d.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		d.runBatch(st, batch)
		clear(batch)
	}
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
func (d *DB) writeBatch(st *writerStmts, reqs []*request) (results []error, rows int64, err error) {
	// The transaction runs to its end whatever the callers' contexts do:
	// its outcome is what they are told.
	ctx := context.Background()
	tx, err := d.wdb.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("write ledger: begin: %w", classify(d.path, err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	stmt := st.in(ctx, tx)
	results = make([]error, len(reqs))
	for i, r := range reqs {
		if _, err := stmt.savepoint.ExecContext(ctx); err != nil {
			return nil, 0, fmt.Errorf("write ledger: savepoint: %w", classify(d.path, err))
		}
		var inserted bool
		var opErr error
		if r.ev != nil {
			inserted, opErr = insertEvent(ctx, stmt, r.ev)
		} else {
			opErr = r.op(ctx, tx)
		}
		if opErr != nil {
			// Undo this request only. If SQLite already rolled the whole
			// transaction back (disk full, I/O error), the savepoint is
			// gone and the batch fails with the request's error.
			if _, err := stmt.rollbackTo.ExecContext(ctx); err != nil {
				return nil, 0, fmt.Errorf("write ledger: %w", classify(d.path, opErr))
			}
			if isUnavailable(classify(d.path, opErr)) {
				return nil, 0, fmt.Errorf("write ledger: %w", classify(d.path, opErr))
			}
			results[i] = opErr
		} else if inserted {
			rows++
		}
		if _, err := stmt.release.ExecContext(ctx); err != nil {
			return nil, 0, fmt.Errorf("write ledger: release savepoint: %w", classify(d.path, err))
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, 0, fmt.Errorf("write ledger: commit: %w", classify(d.path, err))
	}
	return results, rows, nil
}

func isUnavailable(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrDamaged)
}
