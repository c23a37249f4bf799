package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"byokd.dev/byok/hub"
	"byokd.dev/byok/hub/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DB is the hub's SQLite store. Its methods are safe for concurrent use.
type DB struct {
	*sqlstore.DB // the methods written once for both stores
	path         string
	w            *sql.DB // the one writing connection
	r            *sql.DB // readers
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
	// No LockVersions, no Notify: with one writing connection, each
	// transaction taking the write lock as it begins (_txlock=immediate),
	// writers already take turns, and no other hub watches the file.
	dialect := sqlstore.Dialect{
		IsUnique: isUnique,
		Advise:   func(err error) error { return advise(abs, err) },
		Day:      func(col string) string { return "date(" + col + " / 1000000, 'unixepoch')" },
	}
	return &DB{DB: sqlstore.New(w, r, dialect), path: abs, w: w, r: r}, nil
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
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	pending, err := sqlstore.Pending(migrationFS, v)
	if err != nil {
		return err
	}
	for _, m := range pending {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			tx.Rollback()
			return fmt.Errorf("apply %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.Version)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("apply %s: %w", m.Name, err)
		}
	}
	return nil
}
