package ledger

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one embedded schema step; applying it sets user_version to
// version.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in order. Their file names
// start with a version number, 1, 2, 3 … without gaps.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a version number", e.Name())
		}
		b, err := migrationFS.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: want version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// SchemaVersion is the schema version this code writes: the number of the
// last embedded migration.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrate brings the database to the newest schema, one migration per
// transaction. Each transaction is BEGIN IMMEDIATE, so two processes opening
// the same file cannot apply a step twice.
func migrate(ctx context.Context, db *sql.DB, path string) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	for {
		done, err := migrateStep(ctx, db, path, ms)
		if err != nil || done {
			return err
		}
	}
}

func migrateStep(ctx context.Context, db *sql.DB, path string, ms []migration) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate ledger: %w", classify(path, err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return false, fmt.Errorf("migrate ledger: read schema version: %w", classify(path, err))
	}
	if v > len(ms) {
		return false, fmt.Errorf("open ledger %s: %w: its schema version is %d, this byokd knows up to %d; upgrade byokd",
			path, ErrTooNew, v, len(ms))
	}
	if v == len(ms) {
		// Up to date. Rewrite the version anyway: SQLite opens a file it
		// cannot write read-only without saying so, and even BEGIN
		// IMMEDIATE succeeds on it in WAL mode, so this write is what finds
		// a read-only file or folder at Open rather than at the first
		// Record.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
			return false, fmt.Errorf("open ledger: check it is writable: %w", classify(path, err))
		}
		if err := tx.Commit(); err != nil {
			return false, fmt.Errorf("open ledger: check it is writable: %w", classify(path, err))
		}
		return true, nil
	}
	m := ms[v]
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		cerr := classify(path, err)
		if cerr == err {
			// Not a state of the disk: the file's schema is not the one
			// its version promises (a step applied by hand, an edit).
			cerr = damaged(path, fmt.Sprintf("schema version %d, but step %s does not apply", v, m.name), err)
		}
		return false, fmt.Errorf("migrate ledger: apply %s: %w", m.name, cerr)
	}
	// PRAGMA takes no bound parameters; m.version is an int from our own
	// embedded file names.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
		return false, fmt.Errorf("migrate ledger: set schema version %d: %w", m.version, classify(path, err))
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate ledger: commit %s: %w", m.name, classify(path, err))
	}
	return false, nil
}
