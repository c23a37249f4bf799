package e2e

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"byokd.dev/byok/internal/fakeprovider"
)

// Faults, each caused for real against the real binary. docs/RELIABILITY.md
// names each test beside the fault it causes.

// post sends one non-streamed chat call with a plain Go client (no SDK
// retries) and returns the status and body; err is a broken connection.
func post(addr, tok, model string) (int, string, error) {
	body := `{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]}`
	req, err := http.NewRequest("POST", "http://"+addr+"/openai/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestE2E_LedgerLockedFailsClosed: another program holds the ledger's
// write lock. A call's row is committed to the ledger's journal first, so
// calls made before the daemon notices are answered and keep their rows;
// once its transaction into SQLite has failed, calls get a 503 byokd:
// error and the upstream sees nothing. Released, calls work again and
// every answered call has exactly one row.
func TestE2E_LedgerLockedFailsClosed(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m, tok := setUp(t, fake)
	answered := 0
	post200 := func(when string) {
		t.Helper()
		if status, body, err := post(m.proxy, tok, "gpt-4o-mini"); status != 200 || err != nil {
			t.Fatalf("call %s: %d %v %s", when, status, err, body)
		}
		answered++
	}
	post200("before the fault")
	db, err := sql.Open("sqlite", "file:"+filepath.Join(m.home, "ledger.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	// Until the daemon's transaction has waited out its busy timeout,
	// calls are answered: their rows wait in the journal. Never anything
	// but a clean answer or the 503.
	deadline := time.Now().Add(time.Minute)
	for {
		status, body, err := post(m.proxy, tok, "gpt-4o-mini")
		if status == 503 && err == nil {
			t.Logf("after %d answered calls under the lock: %s", answered-1, body)
			break
		}
		if status != 200 || err != nil {
			t.Fatalf("call under the lock: got %d %v %s, want 200 (journaled) or the 503", status, err, body)
		}
		answered++
		if time.Now().After(deadline) {
			t.Fatal("calls were still sent a minute after the ledger was locked")
		}
		time.Sleep(100 * time.Millisecond) // a member's pace; the daemon's busy timeout is seconds
	}
	before := len(fake.Requests())
	status, body, err := post(m.proxy, tok, "gpt-4o-mini")
	if err != nil || status != 503 || !strings.Contains(body, "byokd: this call was not sent because its usage could not be recorded") ||
		!strings.Contains(body, "locked by another program") {
		t.Errorf("call under the lock: got %d %v %s, want a 503 byokd: error saying the ledger is locked", status, err, body)
	}
	if n := len(fake.Requests()); n != before {
		t.Errorf("upstream saw %d new requests while the ledger was known locked, want none", n-before)
	}
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	post200("after the lock was released")
	rows := map[string]int{}
	for _, ev := range m.usage() {
		rows[ev.ID]++
	}
	if len(rows) != answered {
		t.Errorf("usage rows: %d, want one for each of the %d answered calls", len(rows), answered)
	}
	for id, n := range rows {
		if n != 1 {
			t.Errorf("row %s stored %d times", id, n)
		}
	}
}

// TestE2E_KeychainGone: the member's keys are in the OS keychain and the
// keychain cannot be reached (its session bus is gone). The daemon still
// starts; a call is refused with a 503 saying which key is locked away and
// what to unlock, nothing goes upstream, and no plaintext copy of the key
// exists anywhere to fall back to.
func TestE2E_KeychainGone(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m, tok := setUp(t, fake)
	if st := m.mustCLI("", "status"); !strings.Contains(st, "keychain") {
		t.Fatalf("status %q: the member's keys are not in the keychain", st)
	}
	m.stop()
	gone := newMember(t, fake.URL, "BYOKD_HOME="+m.home, "BYOKD_KEYSTORE=keychain",
		"DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(t.TempDir(), "no-bus"), "DISPLAY=", "WAYLAND_DISPLAY=")
	gone.home = m.home
	gone.mustStart()
	status, body, err := post(gone.proxy, tok, "gpt-4o-mini")
	if err != nil || status != 503 || !strings.Contains(body, `byokd: your OpenAI key \"work\" is in the OS keychain`) ||
		!strings.Contains(body, "unlock") {
		t.Errorf("call with the keychain gone: got %d %v %s, want a 503 naming the key and what to unlock", status, err, body)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("upstream saw %d requests, want none", n)
	}
	gone.assertNoSecret(openaiKey)
	m.assertNoSecret(openaiKey)
}

// TestE2E_DamagedLedgerDoctor: a hand-edited ledger (a table dropped) and a
// page overwritten on disk. The daemon refuses to start and says to run
// byokd doctor; doctor refuses while a daemon runs, explains with --check,
// repairs (keeping a backup and every readable row), and the daemon starts.
func TestE2E_DamagedLedgerDoctor(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m, tok := setUp(t, fake)
	if status, _, err := post(m.proxy, tok, "gpt-4o-mini"); status != 200 || err != nil {
		t.Fatalf("call: %d %v", status, err)
	}
	if _, errOut, code := m.cli("", "doctor"); code == 0 || !strings.Contains(errOut, "byokd is running") {
		t.Errorf("doctor while the daemon runs: exit %d, %q, want a refusal", code, errOut)
	}
	m.stop()
	path := filepath.Join(m.home, "ledger.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("DROP TABLE prefs"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	err = m.start()
	if err == nil || !strings.Contains(err.Error(), "run `byokd doctor`") {
		t.Fatalf("start on a hand-edited ledger: %v, want a refusal telling to run byokd doctor", err)
	}
	out, _, code := m.cli("", "doctor", "--check")
	if code == 0 || !strings.Contains(out, "damaged") || !strings.Contains(out, "table prefs is missing") {
		t.Errorf("doctor --check: exit %d, %q, want it to explain the missing table", code, out)
	}
	out = m.mustCLI("", "doctor")
	if !strings.Contains(out, "repaired: the old file is kept as") {
		t.Errorf("doctor: %q, want a repair with a backup", out)
	}
	t.Logf("doctor:\n%s", out)
	m.mustStart()
	if rows := m.usage(); len(rows) != 1 {
		t.Errorf("rows after repair: got %d, want the 1 recorded before", len(rows))
	}
	if status, _, err := post(m.proxy, tok, "gpt-4o-mini"); status != 200 || err != nil {
		t.Errorf("call after repair: %d %v, want 200 (keys and token kept)", status, err)
	}
}

// TestE2E_DamagedJournalDoctor: a journal line another program wrote
// stops the daemon, which points at byokd doctor; doctor --check names the
// line, doctor removes only it, and the daemon starts with every row.
func TestE2E_DamagedJournalDoctor(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m, tok := setUp(t, fake)
	if status, _, err := post(m.proxy, tok, "gpt-4o-mini"); status != 200 || err != nil {
		t.Fatalf("call: %d %v", status, err)
	}
	m.stop()
	// Another program appends a line that is no row. (The call's row is
	// in SQLite or, if the stop came before SQLite took it, in the
	// journal: either way it must survive the repair.)
	journal := filepath.Join(m.home, "ledger.db.journal")
	f, err := os.OpenFile(journal, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("{\"not\": \"a row\"}\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := m.start(); err == nil || !strings.Contains(err.Error(), "run `byokd doctor`") {
		t.Fatalf("start with a damaged journal: %v, want a refusal pointing at byokd doctor", err)
	}
	out, _, code := m.cli("", "doctor", "--check")
	if code == 0 || !regexp.MustCompile(regexp.QuoteMeta(journal)+`: lines \[[12]\] are not usage rows`).MatchString(out) {
		t.Errorf("doctor --check: exit %d, %q, want the damaged line named", code, out)
	}
	out = m.mustCLI("", "doctor")
	if !regexp.MustCompile(`removed lines \[[12]\], which were not usage rows; kept [01] rows?`).MatchString(out) {
		t.Errorf("doctor: %q", out)
	}
	m.mustStart()
	if rows := m.usage(); len(rows) != 1 {
		t.Errorf("rows after the repair: %d, want the 1 recorded before", len(rows))
	}
}
