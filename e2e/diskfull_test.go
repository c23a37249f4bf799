package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"byokd.dev/byok/internal/fakeprovider"
	"byokd.dev/byok/internal/smalldisk"
)

// TestE2E_MemberDiskFull puts the member's $BYOKD_HOME on a small
// filesystem and fills it. Calls go on while their rows still fit (SQLite
// reuses space it holds); once a row cannot be written the daemon fails
// closed: the call in flight never looks complete, and every call after it
// gets a 503 byokd: error saying the disk is full while the upstream sees
// nothing. Once space is freed calls work again, and every call that
// completed has its row.
func TestE2E_MemberDiskFull(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	home := filepath.Join(smalldisk.Mount(t, 8<<20), "home")
	m := newMember(t, fake.URL, "BYOKD_HOME="+home)
	m.home = home
	m.mustStart()
	m.mustCLI(openaiKey, "key", "add", "openai", "--name", "work")
	tok := strings.TrimSpace(m.mustCLI("", "token", "create", "app"))
	completed := 0
	if status, body, err := post(m.proxy, tok, "gpt-4o-mini"); status != 200 || err != nil {
		t.Fatalf("call before the disk filled: %d %v %s", status, err, body)
	}
	completed++

	free := smalldisk.Fill(t, home)
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
			!strings.Contains(body, "ledger disk full: free space on the disk holding "+home) {
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
	if rows := m.usage(); len(rows) != completed {
		t.Errorf("ledger holds %d rows, %d calls completed: want one row per completed call", len(rows), completed)
	}
}
