package ledger

// The SQLite side: one goroutine owns the write connection, puts the
// journaled rows into SQLite in shared transactions and runs the other
// writes there.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"byokd.dev/byok"
)

// writer is the goroutine that owns the write connection. It puts the
// journaled rows into SQLite once applyRows of them wait or none has come
// for applyIdle, so that SQLite's cost per commit is shared by many rows
// without any caller waiting for it, and runs the other writes in a
// transaction together with whatever rows wait. It returns when reqs is
// closed and drained, after a last transaction.
func (d *DB) writer(st *writerStmts) {
	defer close(d.done)
	defer st.close()
	batch := make([]*request, 0, d.opts.MaxBatch)
	idle := time.NewTimer(time.Hour)
	idle.Stop()
	armed := false
	var mark int64 // rows journaled when the idle clock started
	arm := func() {
		if armed || d.waiting() == 0 {
			return
		}
		armed, mark = true, d.journaled.Load()
		if d.applyFailed {
			idle.Reset(applyRetry)
		} else {
			idle.Reset(applyIdle)
		}
	}
	var sinceCheckpoint int64
	for {
		select {
		case first, ok := <-d.reqs:
			if !ok {
				if d.waiting() > 0 {
					d.apply(st, nil) // on failure the journal keeps them for the next Open
				}
				if n := d.stats.volatile.Load(); n > 0 {
					d.stats.dropped.Add(n)
					d.log.Error("usage rows DROPPED at shutdown: they waited in memory for a ledger that cannot be written", "rows", n)
				}
				return
			}
			batch = d.drain(append(batch[:0], first))
			d.runOps(st, batch)
			clear(batch)
		case <-d.rowsIn:
			if d.waiting() >= applyRows && !d.applyFailed {
				d.apply(st, nil)
			}
		case <-idle.C:
			armed = false
			// Rows that came since the clock started restart it: after a
			// failure only applyRetry or another write tries again, not
			// every batch, each longer than the last.
			if d.waiting() > 0 && (d.applyFailed || d.journaled.Load() == mark) {
				d.apply(st, nil)
			}
		}
		arm()
		if n := d.stats.commits.Load(); n-sinceCheckpoint >= checkpointCommits {
			sinceCheckpoint = n
			d.checkpoint()
		}
	}
}

// waiting is how many journaled rows SQLite does not hold yet.
func (d *DB) waiting() int64 { return d.journaled.Load() - d.applied.Load() }

// applyIdle is how long no row may have come before the writer puts the
// waiting ones into SQLite short of applyRows: longer than the gaps
// between a proxy's calls under load, which at a millisecond (32 streamed
// connections, about 3,000 calls a second here) ended a batch every 16
// rows on average and cost each row 13 µs more of the writer's CPU than at
// 20 ms (the daemon's profile in docs/BENCHMARKS.md; BenchmarkRecordPaced
// shows it in process). Nothing waits for it: a row is durable once
// journaled and queries let the writer catch up first. applyRetry is how
// long it waits after SQLite refused rows (a full disk, a lock) unless
// another write tries sooner.
// applyRows rows waiting go in at once: enough to share a commit's cost
// and the pages it writes (the log's frames and their checkpoint: at 256
// the daemon makes 0.35 fewer writes per call than at 64, counted in
// /proc/PID/io under load), few enough that the transaction holds up the
// other writes arriving meanwhile for a few milliseconds at most.
// maxUnapplied rows waiting make the callers wait for SQLite, which takes
// them at about 100,000 a second here, far above what the proxy sends; a
// burst beyond that is slowed to SQLite's pace instead of growing without
// bound, and keeps each transaction to a few milliseconds.
const (
	applyIdle    = 20 * time.Millisecond
	applyRetry   = time.Second
	applyRows    = 256
	maxUnapplied = 2048
)

// drain adds to batch whatever is queued, up to MaxBatch.
func (d *DB) drain(batch []*request) []*request {
	for len(batch) < d.opts.MaxBatch {
		select {
		case r, ok := <-d.reqs:
			if !ok {
				return batch
			}
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// checkpointCommits is how many commits the writer lets into the
// write-ahead log before it copies the log into the database file. SQLite
// would checkpoint inside a commit; the writer does it between batches
// (wal_autocheckpoint is off). Commits now carry many rows, so this keeps
// the log to a few thousand pages.
const checkpointCommits = 64

// checkpoint copies the log into the database file. A failure is only
// logged: the log grows until the next try, and a commit that then cannot
// be written reports the cause.
func (d *DB) checkpoint() {
	var busy, logFrames, copied int
	err := d.wdb.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &copied)
	if err != nil {
		d.log.Warn("ledger checkpoint failed; will retry", "err", classify(d.path, err))
	}
}

// runOps claims the writes whose callers are still waiting and runs them
// in one transaction with the rows that wait.
func (d *DB) runOps(st *writerStmts, batch []*request) {
	claimed := d.claim(batch[:0], batch)
	if len(claimed) == 0 {
		return
	}
	d.stats.writing.Store(int64(len(claimed)))
	defer d.stats.writing.Store(0)
	d.apply(st, claimed)
}

// apply writes ops and every journaled row not yet in SQLite in one
// transaction and answers ops' callers. It switches the journal's file as
// it takes the rows, and tells the journal once SQLite holds them. If the
// transaction fails the rows wait again, still journaled, and go in with
// the next transaction.
func (d *DB) apply(st *writerStmts, ops []*request) {
	d.appendMu.Lock()
	rows, vol := d.unapplied, d.volatile
	d.unapplied, d.spareRows, d.volatile = d.spareRows, nil, 0
	was := -1
	if len(rows) > 0 {
		was = d.journal.rotate()
	}
	var loads []*monthEntry
	for _, r := range ops {
		if r.load != nil {
			loads = append(loads, r.load)
		}
	}
	if len(loads) > 0 {
		d.budgets.startCounting(loads)
	}
	d.appendMu.Unlock()

	// The other writes go first: one of them may be what lets the rows in
	// (a setting), and a reservation still counts until its call's row
	// settles it, so none of them needs the rows before it.
	reqs := make([]*request, 0, len(ops)+len(rows))
	reqs = append(reqs, ops...)
	asReqs := make([]request, len(rows))
	for i, ev := range rows {
		asReqs[i].ev = ev
		reqs = append(reqs, &asReqs[i])
	}
	results, n, err := d.writeBatch(st, reqs)
	d.noteWrite(err)
	if len(loads) > 0 {
		d.budgets.loaded(loads, rows, err == nil)
	}
	if len(rows) > 0 {
		d.appendMu.Lock()
		d.applyFailed = err != nil
		if err != nil {
			d.unapplied = append(rows, d.unapplied...)
			d.volatile += vol
		} else {
			d.applied.Add(int64(len(rows)))
		}
		d.caughtUp.Broadcast()
		d.appendMu.Unlock()
	}
	if err != nil {
		d.stats.failed.Add(1)
		d.log.Error("ledger write failed", "rows", len(rows), "writes", len(ops), "err", err)
		for _, r := range ops {
			d.finish(r, err)
		}
		return
	}
	d.stats.commits.Add(1)
	d.stats.rows.Add(n)
	for i, ev := range rows {
		if err := results[len(ops)+i]; err != nil {
			// SQLite refused this row alone, which Record's checks
			// should make impossible: say so loudly, as it is lost.
			d.log.Error("usage row refused by the ledger and dropped", "id", ev.ID, "err", err)
		}
	}
	d.stats.volatile.Add(-int64(vol))
	if was >= 0 {
		if err := d.journal.settled(was); err != nil {
			// Its rows are in SQLite; at the next Open they are found there.
			d.log.Warn("could not empty the ledger journal", "err", err)
		}
	}
	clear(rows)
	d.appendMu.Lock()
	d.spareRows = rows[:0]
	d.appendMu.Unlock()
	for i, r := range ops {
		d.finish(r, results[i])
	}
}

// settle puts every row whose Record has returned into SQLite before a
// query reads it. It costs nothing when nothing is pending. If the ledger
// cannot be written the query reads what SQLite holds.
func (d *DB) settle(ctx context.Context) {
	if d.applied.Load() < d.journaled.Load() {
		_ = d.write(ctx, func(context.Context, *sql.Tx) error { return nil })
	}
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
