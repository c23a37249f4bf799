package e2e

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"byokd.dev/byok/internal/fakeprovider"
	"byokd.dev/byok/tray"
)

// TestE2E_NoCodeOnACommandLine: every local user can read every process's
// command line, so the one-time codes of `byokd ui`, `byokd team` and
// `byokd join` never go on one. The browser opener (a stand-in for
// xdg-open that records its arguments and every process's command line
// at that moment) is given a file the member alone can read, which
// forwards to the link; `byokd join` reads its code from standard input,
// and warns when it is given on the command line.
func TestE2E_NoCodeOnACommandLine(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	h := startHub(t, fake.URL)
	bin := t.TempDir()
	record := filepath.Join(t.TempDir(), "opened")
	os.WriteFile(filepath.Join(bin, "xdg-open"), []byte("#!/bin/sh\n{ echo \"ARGS $*\"; for f in /proc/[0-9]*/cmdline; do tr '\\000' ' ' < \"$f\"; echo; done; } > \""+record+"\"\n"), 0o755)
	m := newMember(t, fake.URL, "PATH="+bin+":"+os.Getenv("PATH"))
	m.mustStart()

	code := strings.TrimSpace(h.cli("", "invite", "quinn@example.com"))
	if out := m.mustCLI(code+"\n", "join", h.url); !strings.Contains(out, "quinn@example.com") {
		t.Fatalf("join with the code on standard input: %s", out)
	}
	other := strings.TrimSpace(h.cli("", "invite", "quinn@example.com"))
	if _, errOut, _ := m.cli("", "join", h.url, other); !strings.Contains(errOut, "warning: the invite code was on the command line") {
		t.Errorf("join with the code as an argument did not warn: %q", errOut)
	}

	for _, cmd := range []string{"ui", "team"} {
		os.Remove(record)
		link := strings.TrimSpace(m.mustCLI("", cmd))
		u, err := url.Parse(link)
		if err != nil || u.Query().Get("code") == "" {
			t.Fatalf("byokd %s printed %q, want its one-time link", cmd, link)
		}
		secret := u.Query().Get("code")
		var seen []byte
		for deadline := time.Now().Add(30 * time.Second); len(seen) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			seen, _ = os.ReadFile(record)
		}
		if len(seen) == 0 {
			t.Fatalf("byokd %s opened no browser", cmd)
		}
		if strings.Contains(string(seen), secret) {
			t.Errorf("byokd %s: the one-time code is on a command line:\n%s", cmd, seen)
		}
		page := filepath.Join(m.home, tray.LinkFile)
		if !strings.Contains(strings.SplitN(string(seen), "\n", 2)[0], "file://"+page) {
			t.Errorf("byokd %s opened %q, want the file %s", cmd, strings.SplitN(string(seen), "\n", 2)[0], page)
		}
		st, err := os.Stat(page)
		b, _ := os.ReadFile(page)
		if err != nil || st.Mode().Perm() != 0o600 || !strings.Contains(string(b), secret) {
			t.Errorf("byokd %s: the forwarding page %s: %v %v, want 0600 holding the link", cmd, page, err, st.Mode())
		}
	}
}
