package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"byokd.dev/byok/hub"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DB is the hub's SQLite store. Its methods are safe for concurrent use.
type DB struct {
	path string
	w    *sql.DB // the one writing connection
	r    *sql.DB // readers

	// committed is when the last write transaction committed (unix
	// nanoseconds), 0 after one failed: Writable trusts a recent commit.
	committed atomic.Int64
}

var _ hub.Store = (*DB)(nil)

// Open opens (creating with mode 0600) and migrates the database at path.
func Open(ctx context.Context, path string) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open hub database: %w", err)
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open hub database: %w", err)
	}
	f.Close()
	w, err := sql.Open("sqlite", dsn(abs, false))
	if err != nil {
		return nil, fmt.Errorf("open hub database %s: %w", abs, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("open hub database %s: %w", abs, err)
	}
	r, err := sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open hub database %s: %w", abs, err)
	}
	r.SetMaxOpenConns(4)
	return &DB{path: abs, w: w, r: r}, nil
}

// Close closes the database.
func (d *DB) Close() error { return errors.Join(d.r.Close(), d.w.Close()) }

func dsn(p string, readOnly bool) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(p)}
	if len(u.Path) > 0 && u.Path[0] != '/' {
		u.Path = "/" + u.Path
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Set("mode", "ro")
	} else {
		q.Set("mode", "rwc")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Set("_txlock", "immediate")
	}
	return u.String() + "?" + q.Encode()
}

// migrate applies the embedded migrations past user_version, each in its
// own transaction.
func migrate(ctx context.Context, db *sql.DB) error {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if v > len(entries) {
		return fmt.Errorf("schema version %d is newer than this byokd knows (%d): upgrade byokd", v, len(entries))
	}
	for i, e := range entries[v:] {
		num, _, _ := strings.Cut(e.Name(), "_")
		if n, err := strconv.Atoi(num); err != nil || n != v+i+1 {
			return fmt.Errorf("migration %s: want version %d", e.Name(), v+i+1)
		}
		b, err := migrationFS.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return err
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(b)); err != nil {
			tx.Rollback()
			return fmt.Errorf("apply %s: %w", e.Name(), err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+i+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("apply %s: %w", e.Name(), err)
		}
	}
	return nil
}

func us(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromUS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// tx runs f in a write transaction.
func (d *DB) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		d.committed.Store(0)
		return err
	}
	if err := tx.Commit(); err != nil {
		d.committed.Store(0)
		return err
	}
	d.committed.Store(time.Now().UnixNano())
	return nil
}

// writableFor is how long a commit vouches that the next one will succeed.
const writableFor = time.Second

// Writable implements hub.Store: within writableFor of a commit it trusts
// it; otherwise (idle, or after a failure) it commits one small row, as a
// call's row would be.
func (d *DB) Writable(ctx context.Context) error {
	if t := d.committed.Load(); t != 0 && time.Since(time.Unix(0, t)) < writableFor {
		return nil
	}
	err := d.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE probe SET at_us = ? WHERE id = 1`, time.Now().UnixMicro())
		return err
	})
	if err != nil {
		return fmt.Errorf("the hub's database cannot be written: %w", advise(d.path, err))
	}
	return nil
}
