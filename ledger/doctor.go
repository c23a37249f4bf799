package ledger

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"
)

// Checkup is what Check found in a ledger file.
type Checkup struct {
	Path   string
	Exists bool
	// Version is the file's schema version (user_version); Known is the
	// newest this byokd knows (SchemaVersion).
	Version, Known int
	// TooNew: a newer byokd wrote the file; it must not be changed.
	TooNew bool
	// Problems lists what integrity_check and the schema comparison found,
	// for people. Empty when the file is healthy.
	Problems []string
}

// OK reports whether the ledger can be used as it is.
func (c Checkup) OK() bool { return !c.TooNew && len(c.Problems) == 0 }

// Check examines the ledger at path without changing it: SQLite's full
// integrity_check, the schema version, and the tables, indexes and columns
// against those the migrations up to that version create. It must not run
// while a byokd uses the file (the caller checks). A file SQLite cannot
// read at all is reported as a problem, not an error; the error is for
// failures to look at all (a missing folder, permissions).
func Check(ctx context.Context, path string) (Checkup, error) {
	c := Checkup{Path: path, Known: SchemaVersion()}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return c, nil
	} else if err != nil {
		return c, fmt.Errorf("check ledger: %w", err)
	}
	c.Exists = true
	db, err := sql.Open("sqlite", dsn(path, false, time.Second))
	if err != nil {
		return c, fmt.Errorf("check ledger %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&c.Version); err != nil {
		if isUnavailable(classify(path, err)) && !errors.Is(classify(path, err), ErrDamaged) {
			return c, fmt.Errorf("check ledger: %w", classify(path, err))
		}
		c.Problems = append(c.Problems, "SQLite cannot read the file: "+err.Error())
		return c, nil
	}
	if c.Version > c.Known {
		c.TooNew = true
		return c, nil
	}
	c.Problems = append(c.Problems, integrityProblems(ctx, db)...)
	want, err := expectedSchema(ctx, c.Version)
	if err != nil {
		return c, err
	}
	got, err := readSchema(ctx, db)
	if err != nil {
		c.Problems = append(c.Problems, "cannot read the schema: "+err.Error())
		return c, nil
	}
	c.Problems = append(c.Problems, schemaProblems(got, want)...)
	return c, nil
}

// integrityProblems runs PRAGMA integrity_check (every page, and every
// index against its table) and returns what it reports.
func integrityProblems(ctx context.Context, db *sql.DB) []string {
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check(100)")
	if err != nil {
		return []string{"integrity_check: " + err.Error()}
	}
	defer rows.Close()
	var probs []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return append(probs, "integrity_check: "+err.Error())
		}
		s = strings.TrimSpace(strings.TrimPrefix(s, "*** in database main ***"))
		if s != "ok" {
			probs = append(probs, "integrity_check: "+strings.ReplaceAll(s, "\n", "; "))
		}
	}
	if err := rows.Err(); err != nil {
		probs = append(probs, "integrity_check: "+err.Error())
	}
	return probs
}

// Rebuilt is what Rebuild did.
type Rebuilt struct {
	// Backup is the copy of the file as it was (with "-wal" beside it when
	// the file had a write-ahead log).
	Backup string
	// Copied counts the rows carried over, per table.
	Copied map[string]int
	// Lost says, per table, what could not be read; empty when nothing was.
	Lost map[string]string
	// Requeued counts the rows queued for the hub again because the outbox
	// was lost (the hub stores each once, whether it had it or not).
	Requeued int
}

// Rebuild repairs the ledger at path: it copies the file (and its
// write-ahead log) to a backup beside it, creates a new ledger with the
// current schema, copies into it every row it can still read from the
// backup (columns the two share, skipping past unreadable pages), and puts
// the new file in place of the old one. It refuses a file written by a
// newer byokd. It must not run while a byokd uses the file: the caller
// checks that none runs. now names the backup.
func Rebuild(ctx context.Context, path string, now func() time.Time) (Rebuilt, error) {
	res := Rebuilt{Copied: map[string]int{}, Lost: map[string]string{}}
	c, err := Check(ctx, path)
	if err != nil {
		return res, err
	}
	if !c.Exists {
		return res, fmt.Errorf("rebuild ledger: %s does not exist", path)
	}
	if c.TooNew {
		return res, fmt.Errorf("rebuild ledger %s: %w: its schema version is %d, this byokd knows up to %d; upgrade byokd instead",
			path, ErrTooNew, c.Version, c.Known)
	}
	res.Backup = path + ".backup-" + now().UTC().Format("20060102-150405")
	for _, suffix := range []string{"", "-wal"} {
		if err := copyIfExists(path+suffix, res.Backup+suffix); err != nil {
			return res, fmt.Errorf("back up ledger: %w", err)
		}
	}
	fresh := path + ".rebuild"
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(fresh + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return res, fmt.Errorf("rebuild ledger: %w", err)
		}
	}
	nd, err := Open(ctx, fresh, Options{})
	if err != nil {
		return res, fmt.Errorf("rebuild ledger: create the new file: %w", err)
	}
	if err := nd.Close(); err != nil {
		return res, fmt.Errorf("rebuild ledger: %w", err)
	}
	// Rows are read from a copy of the backup, so that the backup stays
	// byte for byte what was found, and the copy may be mended to open.
	work := path + ".rebuild-read"
	defer func() {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			_ = os.Remove(work + suffix)
		}
	}()
	for _, suffix := range []string{"", "-wal"} {
		_ = os.Remove(work + suffix)
		if err := copyIfExists(res.Backup+suffix, work+suffix); err != nil {
			return res, fmt.Errorf("rebuild ledger: %w", err)
		}
	}
	if err := forgetHeaderSize(work); err != nil {
		return res, fmt.Errorf("rebuild ledger: %w", err)
	}
	if err := copyRows(ctx, work, fresh, &res); err != nil {
		return res, err
	}
	// The old write-ahead log must not meet the new file: remove it (the
	// backup holds it) before the new file takes the old one's name.
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return res, fmt.Errorf("rebuild ledger: %w", err)
		}
	}
	if err := os.Rename(fresh, path); err != nil {
		return res, fmt.Errorf("rebuild ledger: put the new file in place: %w", err)
	}
	if after, err := Check(ctx, path); err != nil || !after.OK() {
		return res, fmt.Errorf("rebuild ledger: the new file does not check out (%v %v); the old one is in %s", err, after.Problems, res.Backup)
	}
	return res, nil
}

// forgetHeaderSize mends a database file cut short: its header still
// counts the pages it had, and SQLite refuses a file shorter than that as
// malformed. Zero there, the size is taken from the file (the SQLite file
// format: the in-header size is used only when non-zero).
func forgetHeaderSize(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	hdr := make([]byte, 100)
	if _, err := f.ReadAt(hdr, 0); err != nil {
		return nil // too short to have a header: the copy finds nothing
	}
	pageSize := int64(binary.BigEndian.Uint16(hdr[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if pageSize == 0 || int64(binary.BigEndian.Uint32(hdr[28:32]))*pageSize <= st.Size() {
		return nil
	}
	_, err = f.WriteAt([]byte{0, 0, 0, 0}, 28)
	return err
}

func copyIfExists(src, dst string) error {
	b, err := os.ReadFile(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// copyRows copies what it can read of every table of the new schema from
// the file at from (a backup, so SQLite may write its -shm) into to.
func copyRows(ctx context.Context, from, to string, res *Rebuilt) error {
	src, err := sql.Open("sqlite", dsn(from, false, time.Second))
	if err != nil {
		return fmt.Errorf("rebuild ledger: open the backup: %w", err)
	}
	defer src.Close()
	src.SetMaxOpenConns(1)
	dst, err := sql.Open("sqlite", dsn(to, false, time.Second))
	if err != nil {
		return fmt.Errorf("rebuild ledger: open the new file: %w", err)
	}
	defer dst.Close()
	dst.SetMaxOpenConns(1)
	want, err := readSchema(ctx, dst)
	if err != nil {
		return fmt.Errorf("rebuild ledger: read the new schema: %w", err)
	}
	have, err := readSchema(ctx, src)
	if err != nil {
		for _, name := range sortedNames(want) {
			if want[name].typ == "table" {
				res.Lost[name] = "the old file's schema cannot be read: " + err.Error()
			}
		}
		return nil
	}
	// Parents before children: rejected rows refer to usage rows.
	order := []string{"usage"}
	for _, name := range sortedNames(want) {
		if want[name].typ == "table" && name != "usage" {
			order = append(order, name)
		}
	}
	for _, table := range order {
		old, ok := have[table]
		if !ok {
			res.Lost[table] = "missing from the old file"
			continue
		}
		cols := shared(want[table].columns, old.columns)
		n, lost, err := copyTable(ctx, src, dst, table, cols)
		if err != nil {
			return fmt.Errorf("rebuild ledger: copy %s: %w", table, err)
		}
		res.Copied[table] = n
		if lost != "" {
			res.Lost[table] = lost
		}
	}
	if _, lost := res.Lost["outbox"]; lost {
		// Which rows the hub already has is lost with the outbox: queue
		// every row again. The hub keeps each event id once, so a row it
		// has is not doubled, and none it lacks is left behind.
		_, err := dst.ExecContext(ctx, `DELETE FROM outbox;
INSERT INTO outbox (first_seq, last_seq)
SELECT min(seq), max(seq) FROM (
	SELECT seq, seq - row_number() OVER (ORDER BY seq) AS run FROM usage
	WHERE seq NOT IN (SELECT seq FROM rejected))
GROUP BY run`)
		if err == nil {
			err = dst.QueryRowContext(ctx, sqlCountOutbox).Scan(&res.Requeued)
		}
		if err != nil {
			return fmt.Errorf("rebuild ledger: queue the rows for the hub again: %w", err)
		}
	}
	// Runs end at the last row kept: new rows take seq = max(seq) + 1, and
	// a run past it (over rows the copy could not read) would queue them
	// a second time.
	if _, err := dst.ExecContext(ctx, `DELETE FROM outbox WHERE first_seq > (SELECT coalesce(max(seq), 0) FROM usage);
UPDATE outbox SET last_seq = (SELECT max(seq) FROM usage) WHERE last_seq > (SELECT max(seq) FROM usage)`); err != nil {
		return fmt.Errorf("rebuild ledger: end the outbox at the last row kept: %w", err)
	}
	return nil
}

func shared(want, have []string) []string {
	in := map[string]bool{}
	for _, c := range have {
		in[c] = true
	}
	var out []string
	for _, c := range want {
		if in[c] {
			out = append(out, c)
		}
	}
	return out
}

// copyTable copies table's rows in rowid order. When reading fails (a
// damaged page), it skips ahead past the failing rowid in growing steps and
// goes on from the next row it can read. Tables without rowid are copied
// until the first unreadable row.
func copyTable(ctx context.Context, src, dst *sql.DB, table string, cols []string) (copied int, lost string, err error) {
	if len(cols) == 0 {
		return 0, "no column in common with the current schema", nil
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = `"` + c + `"`
	}
	list := strings.Join(quoted, ", ")
	insert := fmt.Sprintf(`INSERT OR IGNORE INTO "%s" (%s) VALUES (?%s)`, table, list, strings.Repeat(", ?", len(cols)-1))
	tx, err := dst.BeginTx(ctx, nil)
	if err != nil {
		return 0, "", err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	ins, err := tx.PrepareContext(ctx, insert)
	if err != nil {
		return 0, "", err
	}
	defer ins.Close()

	refused := 0
	defer func() {
		if refused > 0 && err == nil {
			lost = strings.TrimPrefix(lost+fmt.Sprintf("; %d rows left out that the current schema refuses", refused), "; ")
		}
	}()
	// WITHOUT ROWID tables have no rowid to skip ahead by.
	var minRowid, maxRowid int64
	hasRowid := src.QueryRowContext(ctx, fmt.Sprintf(`SELECT coalesce(min(rowid), 0), coalesce(max(rowid), 0) FROM "%s"`, table)).
		Scan(&minRowid, &maxRowid) == nil
	if !hasRowid {
		n, _, rerr := copyFrom(ctx, src, ins, fmt.Sprintf(`SELECT 0, %s FROM "%s" WHERE ? IS NOT NULL`, list, table), 0, len(cols), &refused)
		copied = n
		if rerr != nil {
			lost = fmt.Sprintf("rows after the first %d unreadable (%v)", n, rerr)
		}
	} else {
		var problems []string
		query := fmt.Sprintf(`SELECT rowid, %s FROM "%s" WHERE rowid >= ? ORDER BY rowid`, list, table)
		from, step, inHole := minRowid, int64(0), false
		for from <= maxRowid {
			n, last, rerr := copyFrom(ctx, src, ins, query, from, len(cols), &refused)
			copied += n
			if rerr == nil {
				break
			}
			if n > 0 || !inHole {
				where := "from the first row"
				if n > 0 || from > minRowid {
					where = fmt.Sprintf("after rowid %d", max(last, from-1))
				}
				problems = append(problems, fmt.Sprintf("rows %s unreadable (%v)", where, rerr))
			}
			if n > 0 {
				from, step = last+1, 0
			}
			// Step past what cannot be read, further each time nothing
			// can.
			inHole = true
			from += step
			step = max(1, 2*step)
		}
		lost = strings.Join(problems, "; ")
	}
	if err := tx.Commit(); err != nil {
		return 0, "", err
	}
	return copied, lost, nil
}

// copyFrom inserts the rows query returns (rowid first) until the end or
// the first error, and returns how many and the last rowid read.
func copyFrom(ctx context.Context, src *sql.DB, ins *sql.Stmt, query string, after int64, ncols int, refused *int) (n int, last int64, err error) {
	rows, err := src.QueryContext(ctx, query, after)
	if err != nil {
		return 0, after, err
	}
	defer rows.Close()
	last = after
	vals := make([]any, ncols+1)
	ptrs := make([]any, ncols+1)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, last, err
		}
		if id, ok := vals[0].(int64); ok {
			last = id
		}
		if _, err := ins.ExecContext(ctx, vals[1:]...); err != nil {
			// A row the new schema refuses (an outbox entry whose usage
			// row was lost, a value a CHECK forbids) is left out.
			*refused++
			continue
		}
		n++
	}
	return n, last, rows.Err()
}

// Report is Check's finding in words, for `byokd doctor`.
func (c Checkup) Report() string {
	var b strings.Builder
	switch {
	case !c.Exists:
		fmt.Fprintf(&b, "ledger %s: none yet (byokd creates it at the first start)\n", c.Path)
	case c.TooNew:
		fmt.Fprintf(&b, "ledger %s: schema version %d, written by a newer byokd (this one knows up to %d).\n"+
			"Upgrade byokd; doctor leaves the file as it is.\n", c.Path, c.Version, c.Known)
	case c.OK():
		fmt.Fprintf(&b, "ledger %s: ok (schema version %d of %d, integrity_check ok)\n", c.Path, c.Version, c.Known)
	default:
		fmt.Fprintf(&b, "ledger %s: damaged (schema version %d of %d):\n", c.Path, c.Version, c.Known)
		for _, p := range c.Problems {
			fmt.Fprintf(&b, "  - %s\n", p)
		}
	}
	return b.String()
}
