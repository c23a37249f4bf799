package ledger

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"syscall"
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
// enough to ask before every call. The journal must hold its reserved
// room (see journal), whatever else holds. Healthy and written to within
// readyFresh, it does no I/O. Healthy but idle, it asks the file system
// for the free room and the read-only flag of the ledger's disk (one
// fstatfs, about 8 µs after a quiet spell here; a SQLite transaction
// through the writer cost a call a quarter of a millisecond, and writing
// and removing 8 KiB about 100 µs): under readyRoom free, or read-only, it
// fails as Probe would and sets Health. After a failure it retries through
// the writer with Probe, which clears Health once the ledger can be
// written.
func (d *DB) Ready(ctx context.Context) error {
	d.healthMu.RLock()
	h := d.health
	d.healthMu.RUnlock()
	now := d.opts.Now()
	if h.lastErr != nil {
		return d.Probe(ctx)
	}
	if err := d.journalRoom(); err != nil {
		return err
	}
	if now.Sub(h.lastCommit) < readyFresh || now.Sub(h.lastReady) < readyFresh {
		return nil
	}
	free, readOnly, err := diskRoom(d.journal.files[0].f) // beside the database
	var cannot error
	switch {
	case err != nil:
		// Not knowing is no reason to refuse: the row's own write says.
		d.log.Warn("cannot read the ledger disk's free space", "err", err)
	case readOnly:
		cannot = syscall.EROFS
	case free < readyRoom:
		cannot = syscall.ENOSPC
	}
	if cannot != nil {
		cannot = classify(d.path, cannot)
		d.noteWrite(cannot)
		return cannot
	}
	d.healthMu.Lock()
	d.health.lastReady = now
	d.healthMu.Unlock()
	return nil
}

// journalRoom fails when the journal could not keep the room its next
// rows need (journal.reserve): it tries once more, and refuses the call if
// the disk still has none, before anything is sent.
func (d *DB) journalRoom() error {
	if d.journal.roomErr() == nil {
		return nil
	}
	d.appendMu.Lock()
	d.journal.reserve(d.journal.files[d.journal.active])
	d.journal.publish()
	err := d.journal.roomErr()
	d.appendMu.Unlock()
	if err != nil {
		err = classify(d.path, err)
		d.log.Warn("call refused: no room for its usage row", "err", err)
	}
	return err
}

// readyRoom is the free room Ready asks of the ledger's disk: a journal
// line is half a KiB, a SQLite commit of 64 rows a few pages.
const readyRoom = 256 << 10

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
