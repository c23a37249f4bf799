package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// health is what the writer last learned about whether the ledger can be
// written: the error of the last failed transaction, cleared by the next
// commit, and the time of the last commit.
type health struct {
	lastErr    error
	lastCommit time.Time
	lastReady  time.Time // Ready's last successful space check
}

// Health reports whether the ledger could be written at its last attempt:
// nil after a commit, the failure (wrapping ErrUnavailable or ErrDamaged)
// after a write transaction failed. It does no I/O: the writer keeps the
// answer current, so callers may ask on every call.
func (d *DB) Health() error {
	d.healthMu.RLock()
	defer d.healthMu.RUnlock()
	return d.health.lastErr
}

// LastCommit is when the writer last committed a transaction (zero before
// the first one since Open).
func (d *DB) LastCommit() time.Time {
	d.healthMu.RLock()
	defer d.healthMu.RUnlock()
	return d.health.lastCommit
}

// readyFresh is how long a successful write (a commit, or Ready's space
// check) answers Ready without another check. Under load the writer's
// commits keep it fresh and Ready does no I/O.
const readyFresh = 2 * time.Second

// Ready reports whether a usage row recorded now would be kept, cheaply
// enough to ask before every call. Healthy and written to within
// readyFresh, it does no I/O. Healthy but idle, it proves that the disk
// still takes new data: it writes 8 KiB of zeros into an empty file beside
// the ledger (ledger.db.ready) and empties it again, two system calls,
// where a SQLite transaction through the writer cost a call a quarter of a
// millisecond. A full or read-only disk fails that write, and
// Ready then fails as Probe would and sets Health. After a failure it
// retries through the writer with Probe, which clears Health once the
// ledger can be written.
func (d *DB) Ready(ctx context.Context) error {
	d.healthMu.RLock()
	h := d.health
	d.healthMu.RUnlock()
	now := d.opts.Now()
	if h.lastErr != nil {
		return d.Probe(ctx)
	}
	if now.Sub(h.lastCommit) < readyFresh || now.Sub(h.lastReady) < readyFresh {
		return nil
	}
	d.readyMu.Lock()
	defer d.readyMu.Unlock()
	err := d.checkSpace()
	if err != nil {
		err = classify(d.path, err)
		if !isUnavailable(err) {
			err = &stateError{sentinel: ErrUnavailable, cause: err,
				advice: fmt.Sprintf("ledger disk error on %s: check the disk, then run `byokd doctor`", d.path)}
		}
		d.noteWrite(err)
		return err
	}
	d.healthMu.Lock()
	d.health.lastReady = now
	d.healthMu.Unlock()
	return nil
}

// readySize is what Ready writes: more than a page, as Probe does.
const readySize = 8 << 10

// checkSpace writes readySize bytes into the empty ready file, which the
// disk must find anew, and empties it again. readyMu is held.
func (d *DB) checkSpace() error {
	if d.ready == nil {
		f, err := os.OpenFile(d.path+".ready", os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		d.ready = f
	}
	_, err := d.ready.WriteAt(make([]byte, readySize), 0)
	return errors.Join(err, d.ready.Truncate(0))
}

// probeSize is how much a probe writes: more than a page, so that it needs
// pages a full disk cannot give, as a usage row sometimes does.
const probeSize = 8 << 10

// Probe writes a value of a few pages through the writer and reports
// whether it committed: it finds a full disk, a read-only file or another
// program's lock before anything depends on a write. Success clears Health.
// It waits at most Options.BusyTimeout for another program's lock.
func (d *DB) Probe(ctx context.Context) error {
	v := strconv.FormatInt(d.opts.Now().UnixMicro(), 10)
	v += strings.Repeat(".", probeSize-len(v))
	err := d.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('probe', ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value`, v)
		return err
	})
	if err != nil {
		return classify(d.path, err)
	}
	return nil
}

// noteWrite records the outcome of a write transaction for Health.
func (d *DB) noteWrite(err error) {
	d.healthMu.Lock()
	defer d.healthMu.Unlock()
	if err != nil {
		if isUnavailable(err) {
			d.health.lastErr = err
		}
		return
	}
	d.health.lastErr = nil
	d.health.lastCommit = d.opts.Now()
}
