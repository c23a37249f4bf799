package e2e

import (
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"byokd.dev/byok/control"
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

// TestE2E_NoBrowserSaysSo: where no browser opens (the opener finds none),
// `byokd ui` says so, with what the opener said, and the link is printed
// to open by hand.
func TestE2E_NoBrowserSaysSo(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	bin := t.TempDir()
	os.WriteFile(filepath.Join(bin, "xdg-open"), []byte("#!/bin/sh\necho \"xdg-open: no method available for opening '$1'\" >&2\nexit 3\n"), 0o755)
	m := newMember(t, fake.URL, "PATH="+bin+":"+os.Getenv("PATH"))
	m.mustStart()
	out, errOut, code := m.cli("", "ui")
	if code == 0 || !strings.Contains(errOut, "no browser opened: xdg-open: no method available for opening") ||
		!strings.Contains(errOut, "open the link above in a browser yourself") {
		t.Errorf("byokd ui without a browser: exit %d, %q", code, errOut)
	}
	if !strings.Contains(out, "/ui/login?code=") {
		t.Errorf("the link was not printed: %q", out)
	}
}

// TestE2E_PageKeepsItsAddress: the Credential Manager is where it was
// after a restart, so a bookmark or an open tab still finds it.
func TestE2E_PageKeepsItsAddress(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m := newMember(t, fake.URL)
	addr := func() string {
		t.Helper()
		var st control.State
		b, err := os.ReadFile(filepath.Join(m.home, control.StateFile))
		if err != nil || json.Unmarshal(b, &st) != nil || st.Control == "" {
			t.Fatalf("daemon state: %v %s", err, b)
		}
		return st.Control
	}
	m.mustStart()
	first := addr()
	m.stop()
	m.mustStart()
	if again := addr(); again != first {
		t.Errorf("the page moved from %s to %s across a restart", first, again)
	}
	if link := strings.TrimSpace(m.mustCLI("", "ui", "--print")); !strings.HasPrefix(link, "http://"+first+"/ui/") {
		t.Errorf("the sign-in link %s is not at %s", link, first)
	}
}

// TestE2E_ErrorsSayItOnce: an error the daemon names comes out of the CLI
// once, in plain words, with what to do.
func TestE2E_ErrorsSayItOnce(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m, _ := setUp(t, fake)
	_, errOut, code := m.cli(anthropicKey, "key", "add", "anthropic", "--name", "work")
	want := "byokd: Anthropic key \"work\" already exists: remove it first with `byokd key rm anthropic work`, or give this one another name\n"
	if code == 0 || errOut != want {
		t.Errorf("adding a key twice: exit %d, %q, want %q", code, errOut, want)
	}
}

// TestE2E_CLIHabits: --version, help asked for on standard output with
// flags as they are typed (--name), and shell completion that completes
// commands, subcommands and services in a real bash.
func TestE2E_CLIHabits(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m := newMember(t, fake.URL)
	if out, _, code := m.cli("", "--version"); code != 0 || !strings.HasPrefix(out, "byokd ") {
		t.Errorf("--version: exit %d, %q", code, out)
	}
	for _, args := range [][]string{{"key", "add", "--help"}, {"service", "--help"}, {"--help"}} {
		out, errOut, code := m.cli("", args...)
		if code != 0 || errOut != "" || !strings.Contains(out, "Usage: byokd") {
			t.Errorf("byokd %v: exit %d, stdout %q, stderr %q; want the help on stdout", args, code, out, errOut)
		}
	}
	if out, _, _ := m.cli("", "key", "add", "--help"); !strings.Contains(out, "  --name ") || strings.Contains(out, "\n  -name") {
		t.Errorf("flags are not shown as --name:\n%s", out)
	}
	script := m.mustCLI("", "completion", "bash")
	complete := func(words ...string) string {
		t.Helper()
		prog := script + "\nCOMP_WORDS=(" + strings.Join(words, " ") + "); COMP_CWORD=" + strconv.Itoa(len(words)-1) + "; _byokd; echo \"${COMPREPLY[@]}\"\n"
		out, err := exec.Command("bash", "-c", prog).CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v: %s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for _, c := range []struct {
		words []string
		want  string
	}{
		{[]string{"byokd", "ke"}, "key"},
		{[]string{"byokd", "service", "unin"}, "uninstall"},
		{[]string{"byokd", "key", "add", "anth"}, "anthropic"},
	} {
		if got := complete(c.words...); got != c.want {
			t.Errorf("completing %v: %q, want %q", c.words, got, c.want)
		}
	}
	if _, errOut, code := m.cli("", "completion", "tcsh"); code == 0 || !strings.Contains(errOut, "use bash, zsh or fish") {
		t.Errorf("an unknown shell: exit %d, %q", code, errOut)
	}

	// Every listing and status speaks JSON for scripts; an empty list is
	// [], and a key's secret is in none of them.
	const secret = "sk-cli-habits-0123456789abcdef"
	m.mustStart()
	m.mustCLI(secret, "key", "add", "openai", "--name", "work")
	for _, args := range [][]string{
		{"status"}, {"key", "list"}, {"token", "list"}, {"approvals"}, {"pref", "show"},
		{"usage"}, {"prices", "openai"},
	} {
		out, errOut, code := m.cli("", append(args, "--json")...)
		var v any
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
			t.Errorf("byokd %v --json: exit %d, stdout %q, stderr %q; want JSON", args, code, out, errOut)
		}
		if strings.Contains(out, secret) {
			t.Errorf("byokd %v --json shows the key's secret", args)
		}
	}
	var keys []struct {
		Service, Name, Fingerprint string
	}
	if err := json.Unmarshal([]byte(m.mustCLI("", "key", "list", "--json")), &keys); err != nil || len(keys) != 1 || keys[0].Name != "work" || !strings.HasSuffix(secret, strings.TrimLeft(keys[0].Fingerprint, ".…*")) {
		t.Errorf("key list --json: %+v, %v", keys, err)
	}
	if out := m.mustCLI("", "approvals", "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("approvals --json with none waiting: %q, want []", out)
	}
	for _, args := range [][]string{{"status", "now"}, {"key", "list", "openai"}, {"prices", "openai", "anthropic"}} {
		if _, errOut, code := m.cli("", args...); code == 0 || !strings.Contains(errOut, "takes no arguments") && !strings.Contains(errOut, "at most one") {
			t.Errorf("byokd %v: exit %d, %q; want a refusal of the extra argument", args, code, errOut)
		}
	}
}

// TestE2E_SetupFirstRun drives `byokd setup` as a script would, one answer
// per line: the key is added and tested, the preference set, and the last
// step checks that this user's programs reach the proxy.
func TestE2E_SetupFirstRun(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m := newMember(t, fake.URL)
	m.mustStart()
	const secret = "sk-setup-first-run-0123456789"
	out := m.mustCLI(secret+"\n\n\n\n", "setup")
	for _, want := range []string{
		`OpenAI key "personal" (…6789) added and works`,
		"OpenAI: your key pays",
		"Anthropic: no key",
		"byokd answers at http://" + m.proxy,
		"need no app token",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("setup did not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, secret) || strings.Contains(m.output.String(), secret) {
		t.Error("setup shows the key's secret")
	}
	if list := m.mustCLI("", "key", "list"); !strings.Contains(list, "personal") || !strings.Contains(list, "openai") {
		t.Errorf("after setup, key list:\n%s", list)
	}
	// Run again, setup shows what is done and asks nothing of it.
	if again := m.mustCLI("", "setup"); !strings.Contains(again, "✓ OpenAI: a key is already added") {
		t.Errorf("setup a second time:\n%s", again)
	}
}

// goWords are the decoder's phrases (json: cannot unmarshal … into Go
// struct field … of type int64).
var goWords = regexp.MustCompile(`(^|[\s(])json: |Go struct|of type `)

// TestE2E_ConfigErrorsNameFileAndField: a broken config.json is reported
// by file, line and field, in the file's words rather than Go's.
func TestE2E_ConfigErrorsNameFileAndField(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	for _, c := range []struct{ config, want string }{
		{"{\n  \"listen\": \"127.0.0.1:0\",\n}\n", "not valid JSON at line 3, column 1"},
		{`{"max_body_mib": "64"}`, `field "max_body_mib" at line 1: give a number, not a string`},
		{`{"listn": "127.0.0.1:0"}`, `unknown field "listn"; the fields are listen,`},
		{`{"approval_timeout": "soon"}`, `field "approval_timeout" is "soon": give a duration such as 60s`},
		{``, "the file is empty or cut short"},
	} {
		m := newMember(t, fake.URL)
		if err := os.MkdirAll(m.home, 0o700); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(m.home, "config.json")
		if err := os.WriteFile(path, []byte(c.config), 0o600); err != nil {
			t.Fatal(err)
		}
		_, errOut, code := m.cli("", "run", "--listen", "127.0.0.1:0", "--no-tray")
		if code == 0 || !strings.Contains(errOut, c.want) || !strings.Contains(errOut, path) {
			t.Errorf("config %q: exit %d, %q; want it to name %s and say %q", c.config, code, errOut, path, c.want)
		}
		if goWords.MatchString(errOut) {
			t.Errorf("config %q: Go's words reach the member: %q", c.config, errOut)
		}
	}
}
