package ledger

// The journal side of Record: a row is appended to the journal file
// (journal.go) by its caller or the journaler goroutine, counted against
// its key's budget month, and left for the writer to put into SQLite.

import (
	"context"
	"fmt"
	"time"

	"byokd.dev/byok"
)

// journalRow journals r's usage row and waits for the outcome, with
// submit's cancellation. The caller that finds no leader journals every
// queued row itself; see DB.rowQueue.
func (d *DB) journalRow(ctx context.Context, r *request) error {
	if err := d.enter(ctx, r); err != nil {
		return err
	}
	d.rowsMu.Lock()
	d.rowQueue = append(d.rowQueue, r)
	lead := !d.leading
	d.leading = true
	d.rowsMu.Unlock()
	if lead {
		batch := d.nextRows(nil)
		d.journalRows(batch)
		d.rowsMu.Lock()
		clear(batch)
		d.spareQueue = batch[:0]
		more := len(d.rowQueue) > 0
		d.leading = more
		d.rowsMu.Unlock()
		if more {
			// Not this caller's rows: the journaler takes them, so that
			// this call is answered now. Nobody else leads, so the
			// channel's one place is free.
			d.lead <- struct{}{}
		}
	}
	d.mu.RUnlock()
	return d.wait(ctx, r)
}

// journaler journals the rows queued while a caller led, until none is
// queued, each time it is handed the lead; it returns once Close has
// closed lead.
func (d *DB) journaler() {
	defer close(d.journalerDone)
	for range d.lead {
		var batch []*request
		for {
			if batch = d.nextRows(batch); batch == nil {
				break
			}
			d.journalRows(batch)
		}
	}
}

// nextRows gives the leader the queued rows, keeping done's slice for the
// next batch; when none are queued it ends the lead and returns nil.
func (d *DB) nextRows(done []*request) []*request {
	d.rowsMu.Lock()
	defer d.rowsMu.Unlock()
	if done != nil {
		clear(done)
		d.spareQueue = done[:0]
	}
	if len(d.rowQueue) == 0 {
		d.leading = false
		return nil
	}
	batch := d.rowQueue
	d.rowQueue, d.spareQueue = d.spareQueue, nil
	return batch
}

// journalRows claims the rows whose callers still wait, appends them to
// the journal with one write, adds them to the rows waiting for SQLite and
// answers their callers.
func (d *DB) journalRows(batch []*request) {
	claimed := d.claim(d.leaderClaimed[:0], batch)
	if len(claimed) == 0 {
		return
	}
	evs := d.leaderEvs[:0]
	for _, r := range claimed {
		evs = append(evs, r.ev)
	}
	defer func() {
		clear(claimed)
		clear(evs)
		d.leaderClaimed, d.leaderEvs = claimed[:0], evs[:0]
	}()
	d.appendMu.Lock()
	// The journal must not outrun SQLite for long: past maxUnapplied rows
	// the leader (and the callers queued behind it) wait for the writer to
	// take some. Not while SQLite refuses them: then the journal keeps the
	// calls going, up to MaxWaiting.
	for d.waiting() >= maxUnapplied && !d.applyFailed {
		d.caughtUp.Wait()
	}
	before := len(d.unapplied)
	var err error
	if waiting := d.waiting(); waiting+int64(len(evs)) > int64(d.opts.MaxWaiting) {
		// SQLite has refused rows for long: stop taking more than
		// memory should hold.
		cause := d.Health()
		if cause == nil {
			cause = ErrUnavailable
		}
		err = fmt.Errorf("write ledger: %w: %d rows already wait for it", cause, waiting)
	} else if err = d.journal.append(evs); err != nil {
		err = fmt.Errorf("write ledger journal: %w", classify(d.path, err))
		d.noteWrite(err)
	}
	switch {
	case err == nil:
		d.unapplied = append(d.unapplied, evs...)
		d.journaled.Add(int64(len(evs)))
		d.budgets.recorded(evs, true)
	case d.keepWorking.Load():
		d.keepInMemory(evs, err)
		err = nil
	default:
		d.log.Error("ledger write failed", "calls", len(evs), "err", err)
		d.budgets.recorded(evs, false)
	}
	after := len(d.unapplied)
	d.appendMu.Unlock()
	// The writer hears of the first row waiting (to start its idle
	// clock) and of the applyRows-th, not of every row.
	if before == 0 && after > 0 || before < applyRows && after >= applyRows {
		select {
		case d.rowsIn <- struct{}{}:
		default:
		}
	}
	for _, r := range claimed {
		d.finish(r, err)
	}
}

// keepInMemory keeps rows that could not be journaled in memory, for a
// member who keeps working without records, dropping (and counting) those
// beyond Options.MaxWaiting. appendMu is held.
func (d *DB) keepInMemory(evs []*byok.UsageEvent, cause error) {
	room := max(0, d.opts.MaxWaiting-int(d.waiting()))
	kept := evs[:min(room, len(evs))]
	d.budgets.recorded(kept, true)
	d.budgets.recorded(evs[len(kept):], false)
	d.unapplied = append(d.unapplied, kept...)
	d.journaled.Add(int64(len(kept)))
	d.volatile += len(kept)
	d.stats.volatile.Add(int64(len(kept)))
	dropped := int64(len(evs) - len(kept))
	total := d.stats.dropped.Add(dropped)
	now := d.opts.Now()
	if dropped > 0 && now.Sub(d.lastDropLog) >= 10*time.Second {
		d.lastDropLog = now
		d.log.Error("usage rows DROPPED: the ledger cannot be written and memory holds no more (keep working without records is on)",
			"dropped_total", total, "waiting", d.waiting(), "err", cause)
	} else if dropped == 0 && now.Sub(d.lastDropLog) >= 10*time.Second {
		d.lastDropLog = now
		d.log.Warn("usage rows wait in memory only: the ledger cannot be written (keep working without records is on)",
			"waiting", d.waiting(), "err", cause)
	}
}
