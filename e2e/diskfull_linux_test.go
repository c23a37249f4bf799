package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"byokd.dev/byok/control"
	"byokd.dev/byok/internal/fakeprovider"
	"byokd.dev/byok/internal/smalldisk"
)

// Disks filled for real: a small tmpfs (Linux, as root) under the member's
// or the hub's state folder.

// TestE2E_MemberDiskFull puts the member's $BYOKD_HOME on a small
// filesystem and fills it. Calls go on while their rows still fit (SQLite
// reuses space it holds, the journal its reserved room); once the ledger
// cannot take more the daemon fails closed: every call gets a 503 byokd:
// error saying the disk is full while the upstream sees nothing (a call in
// flight, if any, never looks complete). Once space is freed calls work
// again, and the upstream saw exactly one call per row.
func TestE2E_MemberDiskFull(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m, tok := memberOnSmallDisk(t, fake)
	completed := 0
	if status, body, err := post(m.proxy, tok, "gpt-4o-mini"); status != 200 || err != nil {
		t.Fatalf("call before the disk filled: %d %v %s", status, err, body)
	}
	completed++

	free := smalldisk.Fill(t, m.home)
	const most = 1000 // far more rows than the space SQLite holds in reserve
	failed := false
	for range most {
		status, body, err := post(m.proxy, tok, "gpt-4o-mini")
		if status == 200 && err == nil {
			completed++
			continue
		}
		t.Logf("first call that failed on the full disk, after %d more completed: %d %v %s", completed-1, status, err, body)
		failed = true
		break
	}
	if !failed {
		t.Fatalf("%d calls completed on a full disk; their rows cannot all have been written", most)
	}
	before := len(fake.Requests())
	for range 3 {
		status, body, err := post(m.proxy, tok, "gpt-4o-mini")
		if err != nil || status != 503 || !strings.Contains(body, "byokd: this call was not sent because its usage could not be recorded") ||
			!strings.Contains(body, "ledger disk full: free space on the disk holding "+m.home) {
			t.Errorf("call on the full disk: got %d %v %s, want a 503 byokd: error saying the disk is full and where", status, err, body)
		}
	}
	if n := len(fake.Requests()); n != before {
		t.Errorf("upstream saw %d requests while the ledger could not be written, want none", n-before)
	}

	free()
	if status, body, err := post(m.proxy, tok, "gpt-4o-mini"); status != 200 || err != nil {
		t.Fatalf("call after space was freed: %d %v %s, want 200", status, err, body)
	}
	completed++
	rows := m.usage()
	if len(rows) != completed {
		t.Errorf("ledger holds %d rows, %d calls completed: want one row per completed call", len(rows), completed)
	}
	// The journal's reserved room means no call reached the provider
	// without its row: exactly one row per call the upstream saw.
	if n := len(fake.Requests()); n != len(rows) {
		t.Errorf("the upstream saw %d calls, the ledger holds %d rows: want exactly one row per call sent", n, len(rows))
	}
}

// TestE2E_MemberDiskFullKeepWorking: the member chose to keep working
// without records. With the disk full every call is still answered, byokd
// status says the ledger cannot record and how many rows wait in memory;
// once space is freed they all land, one row per call.
func TestE2E_MemberDiskFullKeepWorking(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m, tok := memberOnSmallDisk(t, fake)
	if out := m.mustCLI("", "pref", "records", "keep-working"); !strings.Contains(out, "keep-working") {
		t.Fatalf("pref records: %q", out)
	}
	const calls = 300 // more rows than the space SQLite holds in reserve
	free := smalldisk.Fill(t, m.home)
	for i := range calls {
		if status, body, err := post(m.proxy, tok, "gpt-4o-mini"); status != 200 || err != nil {
			t.Fatalf("call %d on the full disk, keeping working: %d %v %s", i, status, err, body)
		}
	}
	st := m.mustCLI("", "status")
	if !strings.Contains(st, "ledger:     CANNOT RECORD") || !strings.Contains(st, "keep working without records is ON") ||
		!strings.Contains(st, "only in memory") {
		t.Errorf("status on the full disk:\n%s\nwant the ledger line saying it cannot record and rows wait in memory", st)
	}
	free()
	if status, body, err := post(m.proxy, tok, "gpt-4o-mini"); status != 200 || err != nil {
		t.Fatalf("call after space was freed: %d %v %s", status, err, body)
	}
	if rows := m.usage(); len(rows) != calls+1 {
		t.Errorf("ledger holds %d rows after space was freed, want one for each of the %d calls", len(rows), calls+1)
	}
	if st := m.mustCLI("", "status"); !strings.Contains(st, "ledger:     ok") || strings.Contains(st, "waiting") || strings.Contains(st, "DROPPED") {
		t.Errorf("status after space was freed:\n%s\nwant the ledger ok with nothing waiting or dropped", st)
	}
}

// TestE2E_HubDiskFull puts the hub's state folder on a small filesystem and
// fills it. The member's calls go on; the hub refuses each batch (an error
// and a close, never an ack) and logs that its disk is full and where; the
// daemon keeps the rows and retries. Once space is freed every row arrives
// once.
func TestE2E_HubDiskFull(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	disk := smalldisk.Mount(t, 8<<20)
	h := startHubIn(t, fake.URL, filepath.Join(disk, "hub"))
	m := joinWithKey(t, h, fake.URL, "sam@example.com")
	completed := m.callMany(5, nil)
	m.waitSynced(t, 30*time.Second)

	free := smalldisk.Fill(t, disk)
	full := m.callMany(50, nil)
	completed += full
	refused := false
	for ev := range m.events {
		if refused = ev.Kind == control.EventHub && strings.Contains(ev.Body, "usage not stored"); refused {
			break
		}
	}
	if !refused {
		t.Fatal("the daemon's events ended before it reported the hub refusing its usage")
	}
	if n := m.unsynced(); n != full {
		t.Errorf("daemon holds %d unsynced rows while the hub's disk is full, want all %d", n, full)
	}
	if n := len(h.usage()); n != completed-full {
		t.Errorf("hub holds %d rows with a full disk, want the %d from before", n, completed-full)
	}
	logs := h.logs.String()
	for _, want := range []string{`msg="usage batch not stored; the daemon keeps it and sends it again"`,
		"hub disk full: free space on the disk holding " + filepath.Join(disk, "hub", "hub.db")} {
		if !strings.Contains(logs, want) {
			t.Errorf("hub log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "msg=\"hub stopped\"") || h.cmd.ProcessState != nil {
		t.Error("the hub stopped on a full disk; it should keep serving and refusing batches")
	}

	free()
	m.waitSynced(t, 30*time.Second)
	assertHubHoldsEachOnce(t, h, completed, m)
}

// memberOnSmallDisk starts a member whose BYOKD_HOME is on an 8 MiB tmpfs,
// with a key and an app token.
func memberOnSmallDisk(t *testing.T, fake *fakeprovider.Server) (m *member, tok string) {
	t.Helper()
	home := filepath.Join(smalldisk.Mount(t, 8<<20), "home")
	m = newMember(t, fake.URL, "BYOKD_HOME="+home)
	m.home = home
	m.mustStart()
	m.mustCLI(openaiKey, "key", "add", "openai", "--name", "work")
	return m, strings.TrimSpace(m.mustCLI("", "token", "create", "app"))
}
