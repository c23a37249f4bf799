package pgstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"byokd.dev/byok/hub"
	"byokd.dev/byok/hub/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DB is the hub's PostgreSQL store. Its methods are safe for concurrent
// use, and several processes may use one database at once.
type DB struct {
	*sqlstore.DB // the methods written once for both stores, over sql
	pool         *pgxpool.Pool
	sql          *sql.DB // pool's connections, through database/sql

	partMu sync.Mutex
	parts  map[int64]bool // months (their first microsecond) known to have a partition
}

var _ hub.Store = (*DB)(nil)

// Open connects to the database at connURL (postgres://…, or any
// connection string pgx takes), applies the migrations it lacks and
// makes the usage partitions for this month and the next.
func Open(ctx context.Context, connURL string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(connURL)
	if err != nil {
		return nil, fmt.Errorf("hub database %s: %w", Redact(connURL), redactErr(err, connURL))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("hub database %s: %w", Redact(connURL), redactErr(err, connURL))
	}
	db := stdlib.OpenDBFromPool(pool)
	d := &DB{DB: sqlstore.New(db, db, dialect), pool: pool, sql: db, parts: map[int64]bool{}}
	if err := d.migrate(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("hub database %s: %w", Redact(connURL), advise(redactErr(err, connURL)))
	}
	now := time.Now().UTC()
	if err := d.ensurePartitions(ctx, monthOf(now), monthOf(now.AddDate(0, 1, 0))); err != nil {
		d.Close()
		return nil, fmt.Errorf("hub database %s: %w", Redact(connURL), err)
	}
	return d, nil
}

// Close closes the connections.
func (d *DB) Close() error {
	err := d.sql.Close()
	d.pool.Close()
	return err
}

// Redact is connURL with any password replaced, for messages.
func Redact(connURL string) string {
	if !strings.Contains(connURL, "://") {
		// A key=value connection string: drop the password=… pair.
		var out []string
		for _, f := range strings.Fields(connURL) {
			if strings.HasPrefix(strings.ToLower(f), "password=") {
				f = "password=xxxxx"
			}
			out = append(out, f)
		}
		return strings.Join(out, " ")
	}
	u, err := url.Parse(connURL)
	if err != nil {
		return userinfo.ReplaceAllString(connURL, "${1}xxxxx@")
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// redactErr makes sure err's text holds no password from connURL,
// whatever the driver put in it.
func redactErr(err error, connURL string) error {
	pw := password(connURL)
	if err == nil || pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
}

// userinfo is the user:password@ of a URL, for one url.Parse refuses.
var userinfo = regexp.MustCompile(`(://[^:/@]*:)[^@]*@`)

func password(connURL string) string {
	if strings.Contains(connURL, "://") {
		u, err := url.Parse(connURL)
		if err != nil {
			if m := userinfo.FindStringSubmatch(connURL); m != nil {
				return strings.TrimSuffix(strings.TrimPrefix(m[0], m[1]), "@")
			}
			return ""
		}
		if pw, ok := u.User.Password(); ok {
			return pw
		}
		return u.Query().Get("password")
	}
	for _, f := range strings.Fields(connURL) {
		if k, v, ok := strings.Cut(f, "="); ok && strings.EqualFold(k, "password") {
			return strings.Trim(v, "'")
		}
	}
	return ""
}

// advise adds what to do to the errors an operator meets first.
func advise(err error) error {
	var pe *pgconn.PgError
	var ce *pgconn.ConnectError
	switch {
	case errors.As(err, &pe) && pe.Code == "3D000":
		return fmt.Errorf("%w (create it first: createdb, or CREATE DATABASE)", err)
	case errors.As(err, &pe) && (pe.Code == "28P01" || pe.Code == "28000"):
		return fmt.Errorf("%w (check the user and password in --database)", err)
	case errors.As(err, &pe) && pe.Code == "42501":
		return fmt.Errorf("%w (the user needs to create tables in the database: GRANT CREATE ON SCHEMA public, or make it the owner)", err)
	case errors.As(err, &ce):
		return fmt.Errorf("%w (is PostgreSQL running and reachable at that host and port?)", err)
	}
	return err
}

// migrationLock is the advisory lock key under which replicas apply
// migrations one at a time ("byokdmig" in ASCII).
const migrationLock int64 = 0x62796f6b646d6967

// migrate applies the embedded migrations past the newest one in
// schema_migrations, all in one transaction under migrationLock: two
// replicas starting together apply them once, and a failed migration
// leaves the schema as it was.
func (d *DB) migrate(ctx context.Context) error {
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return fmt.Errorf("wait for other replicas' migrations: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer     PRIMARY KEY,
	name       text        NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var v int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		pending, err := sqlstore.Pending(migrationFS, v)
		if err != nil {
			return err
		}
		for _, m := range pending {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply %s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
				return err
			}
		}
		return nil
	})
}

// retryable is a transaction's failure that running it again can cure:
// a serialization failure or a deadlock another replica's transaction
// took part in.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// tx runs f in a write transaction, again (up to three times) if the
// database aborted it for a conflict with a concurrent one (retryable).
func (d *DB) tx(ctx context.Context, f func(pgx.Tx) error) error {
	return d.Write(func() error { return pgx.BeginFunc(ctx, d.pool, f) })
}

// isUnique reports a unique or primary key violation.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// dialect is what PostgreSQL needs of the shared store.
var dialect = sqlstore.Dialect{
	Numbered:  true,
	IsUnique:  isUnique,
	Advise:    advise,
	Retryable: retryable,
	Day: func(col string) string {
		return "to_char(to_timestamp(div(" + col + ", 1000000)) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
	},
	LockVersions: `LOCK TABLE %s IN EXCLUSIVE MODE`,
	// The advisory lock class "cap" (in ASCII), the member's hash.
	LockMember: `SELECT pg_advisory_xact_lock(6513008, hashtext(?))`,
	Notify:     notify,
}
