package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
)

// schemaObject is one table or index as sqlite_schema lists it.
type schemaObject struct {
	typ, name string
	columns   []string // tables only, in order
}

// readSchema lists db's tables and indexes (SQLite's own internal objects
// and automatic indexes excepted) by name.
func readSchema(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) (map[string]schemaObject, error) {
	rows, err := db.QueryContext(ctx, `SELECT type, name FROM sqlite_schema
WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		return nil, err
	}
	out := map[string]schemaObject{}
	for rows.Next() {
		var o schemaObject
		if err := rows.Scan(&o.typ, &o.name); err != nil {
			rows.Close()
			return nil, err
		}
		out[o.name] = o
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for name, o := range out {
		if o.typ != "table" {
			continue
		}
		cols, err := tableColumns(ctx, db, name)
		if err != nil {
			return nil, err
		}
		o.columns = cols
		out[name] = o
	}
	return out, nil
}

func tableColumns(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, table string) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

// expectedSchema is the schema the embedded migrations 1…version create,
// built in a private in-memory database.
func expectedSchema(ctx context.Context, version int) (map[string]schemaObject, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	if version > len(ms) {
		version = len(ms)
	}
	db, err := sql.Open("sqlite", "file::memory:")
	if err != nil {
		return nil, fmt.Errorf("build reference schema: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, m := range ms[:version] {
		if _, err := db.ExecContext(ctx, m.sql); err != nil {
			return nil, fmt.Errorf("build reference schema: %s: %w", m.name, err)
		}
	}
	return readSchema(ctx, db)
}

// schemaProblems compares got with the schema of version and describes
// every difference: objects missing, objects no migration up to version
// creates (a later migration partly applied, or an edit by hand), and
// columns missing or added.
func schemaProblems(got, want map[string]schemaObject) []string {
	var probs []string
	for _, name := range sortedNames(want) {
		w := want[name]
		g, ok := got[name]
		switch {
		case !ok:
			probs = append(probs, fmt.Sprintf("%s %s is missing", w.typ, name))
		case g.typ != w.typ:
			probs = append(probs, fmt.Sprintf("%s is a %s, want a %s", name, g.typ, w.typ))
		case w.typ == "table" && strings.Join(g.columns, ",") != strings.Join(w.columns, ","):
			probs = append(probs, fmt.Sprintf("table %s has columns (%s), want (%s)", name,
				strings.Join(g.columns, ", "), strings.Join(w.columns, ", ")))
		}
	}
	for _, name := range sortedNames(got) {
		if _, ok := want[name]; !ok {
			probs = append(probs, fmt.Sprintf("%s %s is not part of this schema version (a later migration partly applied, or the file was edited by hand)", got[name].typ, name))
		}
	}
	return probs
}

func sortedNames(m map[string]schemaObject) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// checkSchema fails with ErrDamaged when db's schema is not what the
// migrations up to SchemaVersion create.
func checkSchema(ctx context.Context, db *sql.DB, path string) error {
	want, err := expectedSchema(ctx, SchemaVersion())
	if err != nil {
		return err
	}
	got, err := readSchema(ctx, db)
	if err != nil {
		return fmt.Errorf("read ledger schema: %w", classify(path, err))
	}
	if probs := schemaProblems(got, want); len(probs) > 0 {
		detail := probs[0]
		if len(probs) > 1 {
			detail += fmt.Sprintf(" and %d more problems", len(probs)-1)
		}
		return damaged(path, "schema: "+detail, nil)
	}
	return nil
}
