package ledger

// Writes reach the ledger as requests: a usage row (journaled by its
// caller, see journaler.go) or an operation the writer goroutine runs in
// its transaction (see writer.go). This file is their life: queued,
// claimed or cancelled, answered once.

import (
	"context"
	"database/sql"
	"sync/atomic"

	"byokd.dev/byok"
)

// A request is one write waiting: a usage row to journal, or an operation
// to run inside the writer's transaction.
type request struct {
	ctx   context.Context
	ev    *byok.UsageEvent
	op    func(ctx context.Context, tx *sql.Tx) error
	load  *monthEntry  // op loads this budget month (see budgets)
	state atomic.Int32 // queued, then claimed by the writer or cancelled by the caller
	// err is the outcome, set before done receives its one value (unless
	// cancelled): a channel without pointers is one allocation, not two.
	err  error
	done chan struct{} // buffered
}

const (
	stateQueued int32 = iota
	stateClaimed
	stateCancelled
)

// submit hands the write r to the writer goroutine and waits for its
// outcome.
//
// Cancellation: if ctx ends while r is still queued, r is withdrawn and
// submit returns ctx.Err(); nothing was written. Once the writer has claimed
// r for a transaction, submit waits for that transaction whatever ctx does
// (bounded by Options.BusyTimeout per statement) and reports the true
// outcome, so a nil error always means committed and a non-nil one never
// hides a commit.
func (d *DB) submit(ctx context.Context, r *request) error {
	if err := d.enter(ctx, r); err != nil {
		return err
	}
	select {
	case d.reqs <- r:
	case <-ctx.Done():
		d.mu.RUnlock()
		d.stats.pending.Add(-1)
		return ctx.Err()
	}
	d.mu.RUnlock()
	return d.wait(ctx, r)
}

// enter readies r for ctx and, unless the DB is closed, counts it pending
// and returns holding mu for reading: the caller queues r, then unlocks.
func (d *DB) enter(ctx context.Context, r *request) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.ctx = ctx
	r.done = make(chan struct{}, 1)
	d.mu.RLock()
	if d.closed {
		d.mu.RUnlock()
		return errClosed()
	}
	d.stats.pending.Add(1)
	return nil
}

// wait waits for r's outcome; see submit for what ctx does.
func (d *DB) wait(ctx context.Context, r *request) error {
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		if r.state.CompareAndSwap(stateQueued, stateCancelled) {
			d.stats.pending.Add(-1)
			return ctx.Err()
		}
		<-r.done
		return r.err
	}
}

// write runs op in the writer's transaction, inside its own savepoint: an
// error from op rolls back op's changes only and is returned to the caller.
func (d *DB) write(ctx context.Context, op func(ctx context.Context, tx *sql.Tx) error) error {
	return d.submit(ctx, &request{op: op})
}

// claim appends to claimed the requests of batch whose callers still wait,
// marking them taken, and answers those whose context ended unnoticed.
func (d *DB) claim(claimed, batch []*request) []*request {
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
	return claimed
}

func (d *DB) finish(r *request, err error) {
	d.stats.pending.Add(-1)
	// A row's request lives on with the row until SQLite has it: it must
	// not keep the call's context, and all that hangs off it, alive.
	r.ctx = nil
	r.err = err
	r.done <- struct{}{}
}
