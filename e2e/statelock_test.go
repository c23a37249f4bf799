package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"byokd.dev/byok/internal/fakeprovider"
)

// TestE2E_OneDaemonPerStateFolder: a second `byokd run` (and a second
// `byokd hub serve`) on a folder in use refuses to start, names the
// running one, and touches nothing there; the first keeps serving. After
// the first is killed with SIGKILL, nothing stale is left: a new one
// starts.
func TestE2E_OneDaemonPerStateFolder(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m, tok := setUp(t, fake)
	state := func() map[string]string {
		out := map[string]string{}
		entries, _ := os.ReadDir(m.home)
		for _, e := range entries {
			b, _ := os.ReadFile(filepath.Join(m.home, e.Name()))
			out[e.Name()] = string(b)
		}
		return out
	}
	before := state()
	// Were the folder not locked, the second would serve on its own port
	// until killed: bound the wait instead of hanging.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	second := exec.CommandContext(ctx, byokdBin, "run", "--listen", "127.0.0.1:0")
	second.Env = m.env
	out, err := second.CombinedOutput()
	if err == nil {
		t.Fatalf("a second byokd run on the same folder started:\n%s", out)
	}
	pid := strconv.Itoa(m.daemon.Process.Pid)
	if !strings.Contains(string(out), "byokd is already running on "+m.home) || !strings.Contains(string(out), "process "+pid) {
		t.Errorf("second byokd run said:\n%s\nwant it to name the running daemon (process %s)", out, pid)
	}
	after := state()
	for name, content := range before {
		if name != "ledger.db-wal" && name != "ledger.db-shm" && after[name] != content {
			t.Errorf("the second daemon changed %s", name)
		}
	}
	if res := m.openaiCall(tok); res.Error != nil {
		t.Errorf("the first daemon after the second tried to start: %v", res.Error)
	}

	m.daemon.Process.Signal(syscall.SIGKILL)
	m.daemon.Wait()
	m.mustStart()
	if res := m.openaiCall(tok); res.Error != nil {
		t.Errorf("a daemon started after kill -9: %v", res.Error)
	}

	h := startHub(t, fake.URL)
	hub2 := exec.CommandContext(ctx, byokdBin, "hub", "serve", "--listen", "127.0.0.1:0")
	hub2.Env = h.env
	var hout bytes.Buffer
	hub2.Stdout, hub2.Stderr = &hout, &hout
	if err := hub2.Run(); err == nil || !strings.Contains(hout.String(), "the byokd hub is already running on") {
		t.Errorf("a second hub on the same folder: %v\n%s", err, hout.String())
	}
	if h.cli("", "status") == "" {
		t.Error("the first hub stopped answering")
	}
}
