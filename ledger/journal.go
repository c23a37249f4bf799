package ledger

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"byokd.dev/byok"
)

// JournalSuffix names the journal beside the database: ledger.db.journal.
const JournalSuffix = ".journal"

// A journal is where a usage row is committed first: the writer appends a
// batch's rows, one JSON line each, with a single write(2) and answers the
// callers; it then inserts them into SQLite off the callers' path and
// empties the journal once SQLite has committed them. A row is thereby as
// durable when Record returns as a SQLite commit in WAL mode with
// synchronous=NORMAL (written to the OS, which keeps it if the process
// dies; an fsync would be needed only against power loss) at the cost of
// one system call instead of a whole transaction. Open inserts whatever a
// killed process left in it; ids make that idempotent.
type journal struct {
	path string
	f    *os.File
	size int64 // bytes written since it was last emptied
	buf  []byte
}

// openJournal opens (creating, mode 0600) the journal at path and returns
// the rows it holds. A last line cut short (only a power loss can do that,
// since a line goes out in one write) was never acknowledged and is
// dropped; a damaged line elsewhere is an error.
func openJournal(path string) (*journal, []byok.UsageEvent, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, err
	}
	evs, size, err := readJournal(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return &journal{path: path, f: f, size: size}, evs, nil
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
	line int
	err  error
}

func (e *badLineError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("line %d is not a usage row", e.line)
	}
	return fmt.Sprintf("line %d: %v", e.line, e.err)
}

// append writes evs in one write. On failure it cuts the journal back to
// what it held, so that no partial line stays behind.
func (j *journal) append(evs []*byok.UsageEvent) error {
	j.buf = j.buf[:0]
	for _, ev := range evs {
		row := *ev
		if row.Model == "" {
			row.Model = row.Usage.Model // the one model the ledger stores
		}
		j.buf = append(row.AppendJSON(j.buf), '\n')
	}
	n, err := j.f.Write(j.buf)
	if err != nil {
		if n > 0 {
			if terr := j.f.Truncate(j.size); terr != nil {
				return errors.Join(err, terr)
			}
		}
		return err
	}
	j.size += int64(n)
	return nil
}

// empty drops every line: SQLite holds them all. With O_APPEND the next
// write starts at the beginning again.
func (j *journal) empty() error {
	if j.size == 0 {
		return nil
	}
	if err := j.f.Truncate(0); err != nil {
		return err
	}
	j.size = 0
	return nil
}

// close closes the journal, and removes it when it holds nothing.
func (j *journal) close() error {
	err := j.f.Close()
	if err == nil && j.size == 0 {
		err = os.Remove(j.path)
	}
	return err
}
