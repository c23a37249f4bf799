package ledger

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"byokd.dev/byok"
)

// killedRecorderEnv makes the test binary a process that records rows
// until it is killed (see TestJournal_KilledProcessLosesNoRow).
const killedRecorderEnv = "BYOKD_LEDGER_TEST_RECORD_UNTIL_KILLED"

// A process killed with SIGKILL while it records loses no row it was told
// was recorded, and none is stored twice: the next Open puts the journal's
// rows into SQLite, once.
func TestJournal_KilledProcessLosesNoRow(t *testing.T) {
	if path := os.Getenv(killedRecorderEnv); path != "" {
		recordUntilKilled(t, path)
		return
	}
	path := filepath.Join(t.TempDir(), "ledger.db")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^TestJournal_KilledProcessLosesNoRow$", "-test.count=1")
	cmd.Env = append(os.Environ(), killedRecorderEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The child prints each id once Record has returned for it.
	const acked = 3000
	var ids []string
	sc := bufio.NewScanner(out)
	for len(ids) < acked && sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "recorded "); ok {
			ids = append(ids, id)
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(ids) < acked {
		t.Fatalf("the recording process stopped after %d rows, before it was killed", len(ids))
	}

	d := openAt(t, path, Options{})
	raw := rawDB(t, path)
	for _, id := range ids {
		if got := countRows(t, raw, "SELECT count(*) FROM usage WHERE id = ?", id); got != 1 {
			t.Fatalf("row %s, acknowledged before the kill: %d rows, want 1", id, got)
		}
	}
	u, o := countRows(t, raw, "SELECT count(*) FROM usage"), countRows(t, raw, sqlCountOutbox)
	if u < acked || u != o {
		t.Errorf("after the restart: %d usage rows, %d in the outbox, want at least %d of each and equal", u, o, acked)
	}
	if d.Stats().Waiting != 0 {
		t.Errorf("rows still waiting after Open: %d", d.Stats().Waiting)
	}
	t.Logf("%d rows acknowledged before the kill, %d stored", len(ids), u)
}

// recordUntilKilled is the child: 8 goroutines record rows and print each
// id after Record returns, until the parent kills the process.
func recordUntilKilled(t *testing.T, path string) {
	d, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 64)
	for g := range 8 {
		go func() {
			for i := 0; ; i++ {
				ev := event(i)
				ev.ID = fmt.Sprintf("kill-%d-%d", g, i)
				if err := d.Record(context.Background(), ev); err != nil {
					lines <- "error " + err.Error()
					return
				}
				lines <- "recorded " + ev.ID
			}
		}()
	}
	w := bufio.NewWriter(os.Stdout)
	for l := range lines {
		fmt.Fprintln(w, l)
		if len(lines) == 0 {
			w.Flush()
		}
	}
}

func writeJournal(t *testing.T, path string, body string) {
	t.Helper()
	if err := os.WriteFile(JournalPaths(path)[0], []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func journalLine(t *testing.T, ev byok.UsageEvent) string {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

// Rows a stopped process left in the journal are stored at Open, once,
// also when SQLite already had some of them (a process stopped after its
// commit and before it emptied the journal); a last line cut short was
// never acknowledged and is dropped.
func TestJournal_OpenStoresWhatWasLeft(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	d := openAt(t, path, Options{})
	if err := d.Record(ctx, event(1)); err != nil {
		t.Fatal(err)
	}
	d.Close()
	torn := journalLine(t, event(4))
	writeJournal(t, path, journalLine(t, event(1))+journalLine(t, event(2))+journalLine(t, event(3))+torn[:len(torn)/2])

	d = openAt(t, path, Options{})
	evs, err := d.Events(ctx, base, base.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, ev.ID)
	}
	if want := []string{event(1).ID, event(2).ID, event(3).ID}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("rows after Open: got %v, want %v", got, want)
	}
	if diff := cmp.Diff(event(2), evs[1], cmpEvents); diff != "" {
		t.Errorf("row from the journal (-want +got):\n%s", diff)
	}
	if n, err := d.Unsynced(ctx); err != nil || n != 3 {
		t.Errorf("Unsynced: got %d, %v, want 3", n, err)
	}
	if b, err := os.ReadFile(JournalPaths(path)[0]); err != nil || strings.Trim(string(b), "\x00") != "" {
		t.Errorf("journal after Open: %q, %v, want no row in it", strings.Trim(string(b), "\x00"), err)
	}
}

// A journal line that is not a row was not written by byokd: Open refuses
// to guess, and says what to do.
func TestJournal_DamagedLineRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	d := openAt(t, path, Options{})
	d.Close()
	writeJournal(t, path, journalLine(t, event(1))+"{not a row}\n"+journalLine(t, event(2)))
	_, err := Open(context.Background(), path, Options{})
	t.Logf("Open: %v", err)
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "journal") || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("Open with a damaged journal: got %v, want ErrDamaged naming the journal and line 2", err)
	}
}

// While SQLite refuses rows, every transaction that tries them switches
// the journal's file: each acknowledged row stays in one of the two files
// however many tries failed, until a commit holds it; then both empty.
func TestJournal_RowsSurviveFailedTransactions(t *testing.T) {
	const waves, perWave = 4, 25
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	d := openAt(t, path, Options{BusyTimeout: 20 * time.Millisecond})
	release := holdWriteLock(t, path)
	var ids []string
	for w := range waves {
		for i := range perWave {
			ev := event(w*perWave + i)
			if err := d.Record(ctx, ev); err != nil {
				t.Fatalf("Record(%s) with SQLite locked: %v", ev.ID, err)
			}
			ids = append(ids, ev.ID)
		}
		// A write takes the waiting rows into its transaction, which
		// fails on the lock.
		if err := d.SetMeta(ctx, "wave", strconv.Itoa(w)); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("SetMeta under the lock: got %v, want ErrUnavailable", err)
		}
		journaled := map[string]bool{}
		for _, p := range JournalPaths(path) {
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			evs, _, err := readJournal(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				journaled[ev.ID] = true
			}
		}
		for _, id := range ids {
			if !journaled[id] {
				t.Fatalf("after %d failed transactions, row %s is in neither journal file", w+1, id)
			}
		}
	}
	if st := d.Stats(); st.Waiting != waves*perWave || st.Failed < waves {
		t.Errorf("Stats under the lock: %+v, want %d rows waiting and at least %d failed transactions", st, waves*perWave, waves)
	}
	release()
	if err := d.Probe(ctx); err != nil {
		t.Fatalf("Probe once the lock is gone: %v", err)
	}
	if got := countRows(t, rawDB(t, path), "SELECT count(*) FROM usage"); got != waves*perWave {
		t.Errorf("usage rows: got %d, want %d", got, waves*perWave)
	}
	// SQLite holds every row: Close leaves no journal behind, and the
	// next Open finds each row once.
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range JournalPaths(path) {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("journal file %s after Close with every row in SQLite: %v, want it removed", p, err)
		}
	}
	openAt(t, path, Options{})
	if got := countRows(t, rawDB(t, path), "SELECT count(*) FROM usage"); got != waves*perWave {
		t.Errorf("usage rows after reopening: got %d, want %d", got, waves*perWave)
	}
}

// A file's committed rows stay until it has grown to emptyAt, so that a
// transaction costs no truncate: the files stay that small however many
// rows pass, and a process killed with committed rows in them loses none
// and counts none twice.
func TestJournal_EmptiedOnceGrown(t *testing.T) {
	const calls = 3000
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	d := openAt(t, path, Options{})
	largest := int64(0)
	for i := range calls {
		if err := d.Record(ctx, event(i)); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			if err := d.Probe(ctx); err != nil { // a commit
				t.Fatal(err)
			}
		}
		d.appendMu.Lock()
		for _, jf := range d.journal.files {
			largest = max(largest, jf.size)
		}
		d.appendMu.Unlock()
	}
	if line := int64(len(journalLine(t, event(1)))); largest > emptyAt+20*line {
		t.Errorf("largest journal file: %d bytes, want it emptied once past %d", largest, emptyAt)
	}
	if largest < emptyAt/2 {
		t.Errorf("largest journal file: %d bytes: emptied long before %d, so a transaction still pays for a truncate", largest, emptyAt)
	}
	// A kill: the files as they are, with committed rows in them, are
	// what the next Open finds.
	copies := map[string][]byte{}
	for _, p := range JournalPaths(path) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		copies[p] = b
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for p, b := range copies {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	openAt(t, path, Options{})
	if got := countRows(t, rawDB(t, path), "SELECT count(*) FROM usage"); got != calls {
		t.Errorf("usage rows after a kill with committed rows in the journal: got %d, want %d", got, calls)
	}
	if got := countRows(t, rawDB(t, path), sqlCountOutbox); got != calls {
		t.Errorf("outbox rows after the kill: got %d, want %d (a row found again is not sent again)", got, calls)
	}
}

// A damaged journal line loses only that line: RepairJournal keeps every
// row around it (and a backup of the file), and the ledger then opens
// with those rows.
func TestRepairJournal_DamagedLineLosesOnlyItself(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	d := openAt(t, path, Options{})
	d.Close()
	// As a killed daemon leaves it: the rows, then the zeroed room after them.
	writeJournal(t, path, journalLine(t, event(1))+"{not a row}\n"+journalLine(t, event(2))+"garbage\n"+journalLine(t, event(3))+
		strings.Repeat("\x00", 4096))
	seen, err := RepairJournal(path, false, fixedNow)
	if err != nil || len(seen) != 1 || len(seen[0].Dropped) != 2 || seen[0].Backup != "" {
		t.Fatalf("check only: %+v %v", seen, err)
	}
	if _, err := Open(context.Background(), path, Options{}); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "byokd doctor") {
		t.Fatalf("Open before the repair: %v, want ErrDamaged pointing at byokd doctor", err)
	}
	fixed, err := RepairJournal(path, true, fixedNow)
	if err != nil || len(fixed) != 1 || fixed[0].Kept != 3 || fmt.Sprint(fixed[0].Dropped) != "[2 4]" {
		t.Fatalf("RepairJournal: %+v %v, want 3 rows kept and lines 2 and 4 dropped", fixed, err)
	}
	if b, err := os.ReadFile(fixed[0].Backup); err != nil || !strings.Contains(string(b), "{not a row}") {
		t.Errorf("backup %s: %v", fixed[0].Backup, err)
	}
	r := openAt(t, path, Options{})
	got, err := r.Events(context.Background(), base, base.Add(24*time.Hour))
	if err != nil || len(got) != 3 {
		t.Errorf("after the repair the ledger holds %d rows (%v), want the 3 around the damage", len(got), err)
	}
}

// A daemon killed while it copied a batch leaves the batch cut short, with
// holes, then the zeroed room: Open keeps the rows before it. Bytes past a
// page of zeros are another program's (one appended to the file of a
// daemon that died): Open refuses them as it refuses a damaged line, and
// RepairJournal drops them and keeps the rows.
func TestJournal_BytesAfterTheRoom(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	openAt(t, path, Options{}).Close()
	rows := journalLine(t, event(1)) + journalLine(t, event(2))
	torn := journalLine(t, event(3)) + journalLine(t, event(4))
	holed := torn[:40] + strings.Repeat("\x00", 200) + torn[240:] // its newlines in, a hole in it
	writeJournal(t, path, rows+holed+strings.Repeat("\x00", 1<<20))
	d := openAt(t, path, Options{})
	if evs, err := d.Events(ctx, base, base.Add(time.Hour)); err != nil || len(evs) != 2 {
		t.Fatalf("after a batch cut short: %d rows, %v; want the 2 before it", len(evs), err)
	}
	d.Close()

	writeJournal(t, path, rows+strings.Repeat("\x00", 1<<20)+"{\"not\": \"a row\"}\n"+journalLine(t, event(5)))
	if _, err := Open(ctx, path, Options{}); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "byokd doctor") {
		t.Fatalf("Open with bytes after the room: %v, want ErrDamaged pointing at byokd doctor", err)
	}
	fixed, err := RepairJournal(path, true, fixedNow)
	if err != nil || len(fixed) != 1 || fixed[0].Kept != 3 || fmt.Sprint(fixed[0].Dropped) != "[3]" {
		t.Fatalf("RepairJournal: %+v %v, want the 2 rows and the row after the room kept, line 3 dropped", fixed, err)
	}
	d = openAt(t, path, Options{})
	if evs, err := d.Events(ctx, base, base.Add(time.Hour)); err != nil || len(evs) != 3 {
		t.Errorf("after the repair: %d rows, %v; want 3", len(evs), err)
	}
}
