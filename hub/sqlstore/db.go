package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"byokd.dev/byok/hub"
)

// A Dialect is what differs between the databases under a DB. Every
// func but Retryable and Notify must be set.
type Dialect struct {
	// Numbered is whether the driver takes $1, $2, … for arguments; the
	// queries here are written with ? and rebound (Rebind).
	Numbered bool
	// IsUnique reports a unique or primary key violation.
	IsUnique func(error) bool
	// Advise adds what the hub's admin must do to an error the admin
	// can cure (a full disk, say), and returns others unchanged.
	Advise func(error) error
	// Retryable reports a transaction's failure that running it again
	// can cure; nil if none is.
	Retryable func(error) bool
	// Day is the SQL of the UTC date ("2006-01-02") of a microsecond
	// time column.
	Day func(col string) string
	// LockVersions is the statement, %s the table, that makes writers of
	// a new version (of the policy, the prices) take turns; "" where
	// write transactions already do.
	LockVersions string
	// LockMember is the statement, the member its one argument, that
	// makes a member's cap reservations take turns; "" where write
	// transactions already do.
	LockMember string
	// Notify queues c for every hub watching the database, delivered
	// when tx commits; nil where no other hub watches.
	Notify func(ctx context.Context, tx *sql.Tx, c hub.Change) error
}

// DB is the part of a hub.Store written once for both databases: all
// but IngestUsage, RecordRelayed and HubMetered, which each store does
// its own way. Its methods are safe for concurrent use.
type DB struct {
	w, r    *sql.DB // writes, reads: one pool in PostgreSQL, a writer and readers in SQLite
	dialect Dialect
	sources []source // for Aggregate

	// committed is when the last write transaction committed (unix
	// nanoseconds), 0 after one failed: Writable trusts a recent commit.
	committed atomic.Int64
}

// New is a DB that writes through w and reads through r (which may be
// w). It does not close them.
func New(w, r *sql.DB, dialect Dialect) *DB {
	return &DB{w: w, r: r, dialect: dialect, sources: newSources(dialect.Day)}
}

// Rebind is q with its ? placeholders numbered $1, $2, …, for PostgreSQL;
// a ? in a quoted string is left alone.
func Rebind(q string) string {
	var b strings.Builder
	n, quoted := 0, false
	for _, c := range q {
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// q is q for the driver.
func (d *DB) q(q string) string {
	if d.dialect.Numbered {
		return Rebind(q)
	}
	return q
}

// US is t in microseconds since 1970, the zero time 0: how the stores
// keep times.
func US(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// FromUS is the UTC time of microseconds v, 0 the zero time.
func FromUS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// Write runs a write transaction (run begins and commits it), again, up
// to three times, while the dialect finds its failure retryable, and
// notes the outcome for Writable. A store's own transactions go through
// it too.
func (d *DB) Write(run func() error) error {
	var err error
	for range 3 {
		if err = run(); err == nil || d.dialect.Retryable == nil || !d.dialect.Retryable(err) {
			break
		}
	}
	if err != nil {
		d.committed.Store(0)
		return err
	}
	d.committed.Store(time.Now().UnixNano())
	return nil
}

// Tx runs f in a write transaction (see Write).
func (d *DB) Tx(ctx context.Context, f func(*sql.Tx) error) error {
	return d.Write(func() error {
		tx, err := d.w.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := f(tx); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	})
}

// notify is the dialect's Notify, if any.
func (d *DB) notify(ctx context.Context, tx *sql.Tx, c hub.Change) error {
	if d.dialect.Notify == nil {
		return nil
	}
	return d.dialect.Notify(ctx, tx, c)
}

// WritableFor is how long a commit vouches that the next one will succeed.
const WritableFor = time.Second

// Writable implements hub.Store: within WritableFor of a commit it trusts
// it; otherwise (idle, or after a failure) it commits one small row, as a
// call's row would be.
func (d *DB) Writable(ctx context.Context) error {
	if t := d.committed.Load(); t != 0 && time.Since(time.Unix(0, t)) < WritableFor {
		return nil
	}
	err := d.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, d.q(`UPDATE probe SET at_us = ? WHERE id = 1`), time.Now().UnixMicro())
		return err
	})
	if err != nil {
		return fmt.Errorf("the hub's database cannot be written: %w", d.dialect.Advise(err))
	}
	return nil
}
