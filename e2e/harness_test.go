package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"

	"byokd.dev/byok"
	"byokd.dev/byok/internal/otheruser"
	"byokd.dev/byok/internal/pgtest"
)

// byokdBin is the binary under test, built once by TestMain.
var byokdBin string

func TestMain(m *testing.M) {
	otheruser.Main() // in the copy run as another user: one request, then exit
	dir, err := os.MkdirTemp("", "byokd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	byokdBin = filepath.Join(dir, "byokd")
	build := exec.Command("go", "build", "-o", byokdBin, "byokd.dev/byok/cmd/byokd")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build byokd:", err)
		os.Exit(1)
	}
	code := pgtest.Main(m) // stops the PostgreSQL the hub replica tests start
	os.RemoveAll(dir)
	os.Exit(code)
}

// lockedBuffer collects a process's output for the leak checks.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// member is one member's machine: a state folder, a running daemon, and
// everything its processes printed.
type member struct {
	t      *testing.T
	home   string
	env    []string
	proxy  string // host:port
	daemon *exec.Cmd
	logs   *lockedBuffer // the daemon's stderr
	output *lockedBuffer // every CLI command's stdout and stderr
}

// newMember prepares a state folder and environment; extra entries
// (KEY=VALUE) override the defaults.
func newMember(t *testing.T, upstream string, extra ...string) *member {
	t.Helper()
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		t.Fatal("no session bus: run the tests through scripts/test, which starts a session bus, gnome-keyring and a notification server")
	}
	home := filepath.Join(t.TempDir(), "home")
	env := append(os.Environ(),
		"BYOKD_HOME="+home,
		"BYOKD_UPSTREAM_OPENAI="+upstream,
		"BYOKD_UPSTREAM_ANTHROPIC="+upstream,
		"BYOKD_UPSTREAM_CLICKUP="+upstream,
		"BYOKD_LOG_LEVEL=debug",
	)
	env = append(env, extra...)
	return &member{t: t, home: home, env: env, logs: &lockedBuffer{}, output: &lockedBuffer{}}
}

var runningLine = regexp.MustCompile(`msg="byokd running".* proxy=(\S+)`)

// start runs `byokd run` and waits until it reports its proxy address. It
// returns the error output if the daemon exits first.
func (m *member) start() error {
	m.t.Helper()
	cmd := exec.Command(byokdBin, "run", "--listen", "127.0.0.1:0")
	cmd.Env = m.env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	m.daemon = cmd
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(m.logs, line)
			if mm := runningLine.FindStringSubmatch(line); mm != nil && !sent {
				found <- mm[1]
				sent = true
			}
		}
		close(found)
	}()
	addr, ok := <-found
	if !ok {
		cmd.Wait()
		return fmt.Errorf("daemon exited: %s", m.logs.String())
	}
	m.proxy = addr
	m.t.Cleanup(func() { m.stop() })
	return nil
}

func (m *member) mustStart() {
	m.t.Helper()
	if err := m.start(); err != nil {
		m.t.Fatal(err)
	}
}

// stop ends the daemon with SIGTERM and waits for it.
func (m *member) stop() {
	if m.daemon == nil || m.daemon.ProcessState != nil {
		return
	}
	_ = m.daemon.Process.Signal(syscall.SIGTERM)
	_ = m.daemon.Wait()
}

// cli runs a byokd command with stdin and returns stdout, stderr and the
// exit code.
func (m *member) cli(stdin string, args ...string) (string, string, int) {
	m.t.Helper()
	cmd := exec.CommandContext(context.Background(), byokdBin, args...)
	cmd.Env = m.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, m.output)
	cmd.Stderr = io.MultiWriter(&errb, m.output)
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		m.t.Fatalf("run byokd %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// mustCLI runs a command that must succeed and returns its stdout.
func (m *member) mustCLI(stdin string, args ...string) string {
	m.t.Helper()
	out, errOut, code := m.cli(stdin, args...)
	if code != 0 {
		m.t.Fatalf("byokd %s: exit %d: %s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// usage returns this month's rows from `byokd usage --json`.
func (m *member) usage() []byok.UsageEvent {
	m.t.Helper()
	var ev []byok.UsageEvent
	if err := json.Unmarshal([]byte(m.mustCLI("", "usage", "--json")), &ev); err != nil {
		m.t.Fatalf("usage --json: %v", err)
	}
	return ev
}

// assertNoSecret fails if secret appears in any file under the state
// folder (SQLite files included), the daemon's log or any command's output.
func (m *member) assertNoSecret(secret string) {
	m.t.Helper()
	err := filepath.Walk(m.home, func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(secret)) {
			m.t.Errorf("secret found in %s", path)
		}
		return nil
	})
	if err != nil {
		m.t.Fatal(err)
	}
	if strings.Contains(m.logs.String(), secret) {
		m.t.Error("secret found in the daemon's log")
	}
	if strings.Contains(m.output.String(), secret) {
		m.t.Error("secret found in a command's output")
	}
}
