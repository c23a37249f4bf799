package ledger

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync/atomic"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/internal/privfile"
)

// JournalPaths are the journal's two files beside the database at path:
// ledger.db.journal and ledger.db.journal2.
func JournalPaths(path string) [2]string {
	return [2]string{path + ".journal", path + ".journal2"}
}

// A journal is where a usage row is committed first: a batch of rows goes
// in as JSON lines with a single write(2) before their callers are
// answered; the writer inserts them into SQLite later, off the callers'
// path. A row is thereby as durable when Record returns as a SQLite commit
// in WAL mode with synchronous=NORMAL (written to the OS, which keeps it if
// the process dies; an fsync would be needed only against power loss) at
// the cost of one system call instead of a whole transaction. Open inserts
// whatever a killed process left in it; ids make that idempotent.
//
// It has two files so that rows can be journaled while SQLite takes the
// ones before them: the writer switches the active file when it takes the
// waiting rows, and once SQLite has committed them it may empty the file
// that was active (when it has grown to emptyAt; Close removes both).
// Every row in that file was waiting when the writer took them (a row is
// journaled and joins the waiting rows under one lock) or was committed
// by an earlier transaction, so emptying it loses nothing. A file whose
// transaction failed keeps its rows until a later commit.
//
// Each file keeps journalReserve bytes allocated past its end (fallocate
// with KEEP_SIZE, where the file system has it), so that the rows of the
// calls in flight have room on a disk that fills meanwhile: a call is let
// out only while the reservation holds (DB.Ready), and its row can then be
// written whatever else took the disk.
type journal struct {
	files  [2]*journalFile
	active int // the file rows are appended to
	buf    []byte
	// room is the active file's roomErr, published for Ready, which
	// holds no lock: nil while it holds its reservation.
	room      atomic.Pointer[error]
	noReserve atomic.Bool // the file system cannot reserve: Ready's statfs check stands alone
}

// A journalFile is used by one goroutine at a time: the active one by
// appenders holding DB.appendMu, the other by the writer emptying it.
type journalFile struct {
	path     string
	f        *os.File
	size     int64 // bytes written since it was last emptied
	reserved int64 // allocated up to this offset
	roomErr  error // why the last reservation failed; nil if it held
}

// journalReserve is the room each journal file keeps past its end: about
// two thousand rows of calls in flight. It is topped up once half is used.
const journalReserve = 1 << 20

// reserve tops jf's reservation up to journalReserve past its end, and
// notes in jf.roomErr whether it could.
func (j *journal) reserve(jf *journalFile) {
	if j.noReserve.Load() || (jf.roomErr == nil && jf.reserved-jf.size >= journalReserve/2) {
		return
	}
	err := reserveSpace(jf.f, jf.size, journalReserve)
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		j.noReserve.Store(true)
		jf.roomErr = nil
	case err != nil:
		jf.roomErr = fmt.Errorf("reserve room for usage rows in %s: %w", jf.path, err)
	default:
		jf.reserved, jf.roomErr = jf.size+journalReserve, nil
	}
}

// publish makes the active file's room what Ready sees. Call it holding
// DB.appendMu (or before the DB is shared).
func (j *journal) publish() {
	if j.files[j.active].roomErr == nil {
		j.room.Store(nil)
		return
	}
	err := j.files[j.active].roomErr // declared here, it costs an allocation only when set
	j.room.Store(&err)
}

// roomErr is why the active file cannot promise room for the next rows,
// or nil.
func (j *journal) roomErr() error {
	if p := j.room.Load(); p != nil {
		return *p
	}
	return nil
}

// openJournal opens (creating, mode 0600) the journal's files for the
// database at path and returns the rows they hold. A last line cut short
// (only a power loss can do that, since a line goes out in one write) was
// never acknowledged and is dropped; a damaged line elsewhere is an error.
func openJournal(path string) (*journal, []byok.UsageEvent, error) {
	j := &journal{}
	var evs []byok.UsageEvent
	for i, p := range JournalPaths(path) {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
		if err == nil {
			var rows []byok.UsageEvent
			var size int64
			rows, size, err = readJournal(f)
			var bad *badLineError
			if errors.As(err, &bad) {
				bad.file = p
			}
			if err != nil {
				f.Close()
			}
			evs = append(evs, rows...)
			j.files[i] = &journalFile{path: p, f: f, size: size}
			j.reserve(j.files[i])
		}
		if err != nil {
			if i == 1 {
				j.files[0].f.Close()
			}
			return nil, nil, err
		}
	}
	j.publish()
	return j, evs, nil
}

func readJournal(r io.Reader) (evs []byok.UsageEvent, size int64, err error) {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			// A line without its newline is a write cut short.
			return evs, size, nil
		}
		if err != nil {
			return nil, 0, err
		}
		size += int64(len(line))
		var ev byok.UsageEvent
		if err := json.Unmarshal(bytes.TrimSpace(line), &ev); err != nil || ev.ID == "" {
			return nil, 0, &badLineError{line: len(evs) + 1, err: err}
		}
		evs = append(evs, ev)
	}
}

// badLineError is a journal line that is not a usage row.
type badLineError struct {
	file string
	line int
	err  error
}

func (e *badLineError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("%s: line %d is not a usage row", e.file, e.line)
	}
	return fmt.Sprintf("%s: line %d: %v", e.file, e.line, e.err)
}

// append writes evs to the active file in one write. On failure it cuts
// the file back to what it held, so that no partial line stays behind.
func (j *journal) append(evs []*byok.UsageEvent) error {
	j.buf = j.buf[:0]
	for _, ev := range evs {
		row := *ev
		if row.Model == "" {
			row.Model = row.Usage.Model // the one model the ledger stores
		}
		j.buf = append(row.AppendJSON(j.buf), '\n')
	}
	jf := j.files[j.active]
	n, err := jf.f.Write(j.buf)
	if err != nil {
		if n > 0 {
			if terr := jf.f.Truncate(jf.size); terr != nil {
				return errors.Join(err, terr)
			}
		}
		return err
	}
	jf.size += int64(n)
	j.reserve(jf)
	j.publish()
	return nil
}

// rotate makes the other file the active one and returns the one that was.
func (j *journal) rotate() (was int) {
	was = j.active
	j.active = 1 - was
	j.publish()
	return was
}

// emptyAt is how large a file grows before the writer empties it (about
// 700 rows). A committed row left in a file costs nothing but being found
// in SQLite again at the next Open, and Close removes the files when
// SQLite holds every row; emptying the file after every transaction cost
// a truncate and a new reservation each time, about 60 µs, which under
// load was 1.5 µs a call.
const emptyAt = journalReserve / 4

// settled is told that SQLite holds every row of file i: it empties the
// file once it has grown to emptyAt.
func (j *journal) settled(i int) error {
	if j.files[i].size < emptyAt {
		return nil
	}
	return j.empty(i)
}

// empty drops every line of file i: SQLite holds them all. With O_APPEND
// the next write starts at the beginning again.
func (j *journal) empty(i int) error {
	jf := j.files[i]
	if jf.size == 0 {
		return nil
	}
	if err := jf.f.Truncate(0); err != nil {
		return err
	}
	jf.size, jf.reserved = 0, 0 // the truncate freed the reservation too
	j.reserve(jf)
	return nil
}

// close closes the journal's files, and removes those that hold nothing
// SQLite lacks: all of them when settled (SQLite holds every row).
func (j *journal) close(settled bool) error {
	var errs []error
	for _, jf := range j.files {
		err := jf.f.Close()
		if err == nil && (settled || jf.size == 0) {
			err = os.Remove(jf.path)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// JournalRepair is what RepairJournal did to one journal file.
type JournalRepair struct {
	File    string
	Kept    int    // rows kept
	Dropped []int  // line numbers that were not rows, and were removed
	Backup  string // the file as it was
}

// RepairJournal removes from the journal files of the ledger at path every
// line that is not a usage row, keeping every row, after copying each file
// it changes to a backup named with now. A damaged line loses only that
// line. Files without a damaged line are left alone; with apply false
// nothing is changed, only reported. The ledger must not be open.
func RepairJournal(path string, apply bool, now func() time.Time) ([]JournalRepair, error) {
	var out []JournalRepair
	for _, p := range JournalPaths(path) {
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("read ledger journal: %w", err)
		}
		r := JournalRepair{File: p}
		var kept []byte
		lines := bytes.SplitAfter(data, []byte("\n"))
		for i, line := range lines {
			if len(line) == 0 || line[len(line)-1] != '\n' {
				continue // a last line cut short: never acknowledged
			}
			var ev byok.UsageEvent
			if json.Unmarshal(bytes.TrimSpace(line), &ev) != nil || ev.ID == "" {
				r.Dropped = append(r.Dropped, i+1)
				continue
			}
			r.Kept++
			kept = append(kept, line...)
		}
		if len(r.Dropped) == 0 {
			continue
		}
		if !apply {
			out = append(out, r)
			continue
		}
		r.Backup = p + ".backup-" + now().UTC().Format("20060102-150405")
		if err := copyIfExists(p, r.Backup); err != nil {
			return out, fmt.Errorf("back up ledger journal: %w", err)
		}
		if err := privfile.Write(p, kept); err != nil {
			return out, fmt.Errorf("rewrite ledger journal: %w", err)
		}
		out = append(out, r)
	}
	return out, nil
}
