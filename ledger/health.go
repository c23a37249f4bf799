package ledger

import (
	"context"
	"database/sql"
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
