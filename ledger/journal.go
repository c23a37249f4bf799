package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime/debug"
	"sync/atomic"
	"syscall"
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
// in as JSON lines, copied into the journal file's shared memory mapping,
// before their callers are answered; the writer inserts them into SQLite
// later, off the callers' path. Bytes stored into a shared mapping are in
// the OS's page cache at once, as a write(2)'s are, so a row is as durable
// when Record returns as a SQLite commit in WAL mode with
// synchronous=NORMAL (kept if the process dies; an fsync would be needed
// only against power loss), at the cost of a copy instead of a system
// call. Open inserts whatever a killed process left in it; ids make that
// idempotent.
//
// A file is its rows, then zeros: its length is allocated ahead of the
// rows (fallocate, where the file system has it), so that the rows of the
// calls in flight have room on a disk that fills meanwhile. A call is let
// out only while journalReserve bytes past the rows hold (DB.Ready), and
// its row can then be written whatever else took the disk. Where the file
// system cannot allocate ahead the file is extended sparse, and a page the
// full disk cannot give faults; the fault comes back as the row's error
// (journalFile.put). A line's newline goes in last, so a line without it
// (a process killed while copying) was never acknowledged and is dropped.
//
// It has two files so that rows can be journaled while SQLite takes the
// ones before them: the writer switches the active file when it takes the
// waiting rows, and once SQLite has committed them it may empty the file
// that was active (when it has grown to emptyAt; Close removes both).
// Every row in that file was waiting when the writer took them (a row is
// journaled and joins the waiting rows under one lock) or was committed
// by an earlier transaction, so emptying it loses nothing. A file whose
// transaction failed keeps its rows until a later commit.
type journal struct {
	files  [2]*journalFile
	active int // the file rows are appended to
	buf    []byte
	// room is the active file's roomErr, published for Ready, which
	// holds no lock: nil while it holds its reservation.
	room atomic.Pointer[error]
}

// A journalFile is used by one goroutine at a time: the active one by
// appenders holding DB.appendMu, the other by the writer emptying it.
type journalFile struct {
	path    string
	f       *os.File
	m       []byte // the whole file, mapped shared
	size    int64  // bytes of rows in it; zeros follow
	roomErr error  // why the last reservation failed; nil if it held
}

// journalReserve is the room each journal file keeps past its rows: about
// two thousand rows of calls in flight. It is topped up once half is used.
const journalReserve = 1 << 20

// reserve tops jf's room up to journalReserve past its rows, and notes in
// jf.roomErr whether it could.
func (j *journal) reserve(jf *journalFile) {
	if int64(len(jf.m))-jf.size >= journalReserve/2 {
		jf.roomErr = nil
		return
	}
	if err := jf.resize(jf.size + journalReserve); err != nil {
		jf.roomErr = fmt.Errorf("reserve room for usage rows in %s: %w", jf.path, err)
		return
	}
	jf.roomErr = nil
}

// resize makes the file n bytes long, allocating on the disk what it
// adds where the file system can, and maps all of it. On failure the file
// is mapped as long as it was. A mapping is never resized in place, which
// not every system can do.
func (jf *journalFile) resize(n int64) error {
	old := int64(len(jf.m))
	if err := unmapFile(jf.m); err != nil {
		return err
	}
	jf.m = nil
	var err error
	if n > old {
		err = allocate(jf.f, old, n)
	} else {
		err = jf.f.Truncate(n)
	}
	if err != nil {
		n = old
	}
	m, merr := mapFile(jf.f, n)
	jf.m = m
	return errors.Join(err, merr)
}

// put copies b, whole lines, into the file after its rows. The last
// newline goes in last. A fault (a page a full disk could not give, the
// file cut by another program) comes back as an error, not as the end of
// the daemon, and leaves zeros behind the rows as they were.
func (jf *journalFile) put(b []byte) error {
	end := jf.size + int64(len(b))
	if end > int64(len(jf.m)) {
		return fmt.Errorf("%s has no room left for %d bytes: %w", jf.path, len(b), syscall.ENOSPC)
	}
	if !noFault(func() {
		copy(jf.m[jf.size:end-1], b[:len(b)-1])
		jf.m[end-1] = b[len(b)-1]
	}) {
		noFault(func() { clear(jf.m[jf.size:end]) })
		return fmt.Errorf("%s: a page of the journal could not be written (a full disk, or the file cut by another program): %w",
			jf.path, syscall.ENOSPC)
	}
	jf.size = end
	return nil
}

// noFault runs f, reporting false if it faulted on a memory access (the
// mapping's pages) instead of crashing.
func noFault(f func()) (ok bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, fault := r.(interface{ Addr() uintptr }); !fault {
				panic(r)
			}
			ok = false
		}
	}()
	f()
	return true
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
// was never acknowledged and is dropped; a damaged line elsewhere is an
// error.
func openJournal(path string) (*journal, []byok.UsageEvent, error) {
	j := &journal{}
	var evs []byok.UsageEvent
	for i, p := range JournalPaths(path) {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
		if err == nil {
			var rows []byok.UsageEvent
			var size int64
			rows, size, err = readJournal(f)
			var bad *badLineError
			if errors.As(err, &bad) {
				bad.file = p
			}
			if err == nil {
				err = f.Truncate(size) // a line cut short, and the room after the rows
			}
			if err != nil {
				f.Close()
			}
			evs = append(evs, rows...)
			j.files[i] = &journalFile{path: p, f: f, size: size}
		}
		if err != nil {
			if i == 1 {
				j.files[0].close()
			}
			return nil, nil, err
		}
		j.reserve(j.files[i])
	}
	j.publish()
	return j, evs, nil
}

// journalParts splits a journal file's bytes where lines can be: byokd's,
// up to the first zero byte (its last line may be cut short, and zeros
// follow), and what another program added after the zeroed room, past a
// page of zeros, which no copy of byokd's leaves inside its rows: a copy
// killed halfway leaves holes of at most a few hundred bytes.
func journalParts(data []byte) (ours, foreign []byte) {
	i := bytes.IndexByte(data, 0)
	if i < 0 {
		return data, nil
	}
	rest := data[i:]
	for {
		zeros := len(rest) - len(bytes.TrimLeft(rest, "\x00"))
		if zeros == len(rest) {
			return data[:i], nil
		}
		if zeros >= foreignAfter {
			return data[:i], rest[zeros:]
		}
		// A hole in a batch cut short: skip its bytes too.
		rest = rest[zeros:]
		next := bytes.IndexByte(rest, 0)
		if next < 0 {
			return data[:i], nil
		}
		rest = rest[next:]
	}
}

// foreignAfter is the run of zeros past which bytes are not byokd's.
const foreignAfter = 4096

func readJournal(r io.Reader) (evs []byok.UsageEvent, size int64, err error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, 0, err
	}
	ours, foreign := journalParts(data)
	for rest := ours; ; {
		line, after, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			// A line without its newline was cut short.
			break
		}
		rest = after
		size += int64(len(line)) + 1
		var ev byok.UsageEvent
		if err := json.Unmarshal(bytes.TrimSpace(line), &ev); err != nil || ev.ID == "" {
			return nil, 0, &badLineError{line: len(evs) + 1, err: err}
		}
		evs = append(evs, ev)
	}
	if len(foreign) > 0 {
		return nil, 0, &badLineError{line: len(evs) + 1, err: errors.New("it follows the zeroed room after the rows, where byokd writes nothing")}
	}
	return evs, size, nil
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

// append writes evs to the active file, growing it when they do not fit
// in its room (SQLite has refused rows for long).
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
	if need := jf.size + int64(len(j.buf)); need > int64(len(jf.m)) {
		if err := jf.resize(need + journalReserve); err != nil {
			return err
		}
	}
	if err := jf.put(j.buf); err != nil {
		return err
	}
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

// emptyAt is how large a file's rows grow before the writer empties it
// (about 700 rows): a committed row left in a file costs nothing but being
// found in SQLite again at the next Open, and Close removes the files when
// SQLite holds every row, so emptying waits to clear many rows at once.
const emptyAt = journalReserve / 4

// settled is told that SQLite holds every row of file i: it empties the
// file once it has grown to emptyAt.
func (j *journal) settled(i int) error {
	if j.files[i].size < emptyAt {
		return nil
	}
	return j.empty(i)
}

// empty drops every row of file i: SQLite holds them all. A file grown
// past twice its room (SQLite refused rows for long) gives the disk back.
func (j *journal) empty(i int) error {
	jf := j.files[i]
	if jf.size == 0 {
		return nil
	}
	if len(jf.m) > 2*journalReserve && jf.resize(0) == nil {
		jf.size = 0
		j.reserve(jf)
		return nil
	}
	if !noFault(func() { clear(jf.m[:jf.size]) }) {
		return fmt.Errorf("empty %s: a page of the journal could not be written", jf.path)
	}
	jf.size = 0
	return nil
}

// close unmaps and closes the file, leaving its rows and not the room
// after them.
func (jf *journalFile) close() error {
	err := unmapFile(jf.m)
	jf.m = nil
	if err == nil {
		err = jf.f.Truncate(jf.size)
	}
	return errors.Join(err, jf.f.Close())
}

// close closes the journal's files, and removes those that hold nothing
// SQLite lacks: all of them when settled (SQLite holds every row).
func (j *journal) close(settled bool) error {
	var errs []error
	for _, jf := range j.files {
		err := jf.close()
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
		ours, foreign := journalParts(data)
		lines := append(splitLines(ours), splitLines(foreign)...)
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

// splitLines splits b after each newline; a last part without one is a
// line too, unless it is empty.
func splitLines(b []byte) [][]byte {
	lines := bytes.SplitAfter(b, []byte("\n"))
	if last := len(lines) - 1; len(lines[last]) == 0 {
		lines = lines[:last]
	}
	return lines
}
