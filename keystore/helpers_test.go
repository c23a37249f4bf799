package keystore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	byok "byokd.dev/byok"
	"github.com/zalando/go-keyring"
)

// testKDF is cheap Argon2id, so that tests which open many files stay fast.
// TestFile_DefaultParameters covers the real setting.
var testKDF = kdfParams{Algorithm: kdfArgon2id, Time: 1, MemoryKiB: 8 * 1024, Threads: 1}

// requireSessionBus fails a test that needs the real Secret Service when it
// runs outside a desktop session, rather than letting go-keyring autolaunch
// a bus with a locked keyring in the real home folder.
func requireSessionBus(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "linux" && os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		t.Fatal("DBUS_SESSION_BUS_ADDRESS is not set: this test needs a Secret Service; " +
			"run it as scripts/desktop-session go test -race ./keystore/")
	}
}

// testNamespace returns a keychain namespace of the test's own, emptied at
// the end of the test.
func testNamespace(t *testing.T) string {
	t.Helper()
	ns := "byokd-test-" + randomHex(t, 6)
	t.Cleanup(func() {
		if err := keyring.DeleteAll(ns); err != nil {
			t.Errorf("clean keychain namespace %s: %v", ns, err)
		}
	})
	return ns
}

// randomSecret returns a secret unlike any other string in the test.
func randomSecret(t *testing.T) byok.Secret {
	t.Helper()
	return byok.NewSecret("sk-test-" + randomHex(t, 16))
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// assertNoSecret fails if err's text contains any of the secrets.
func assertNoSecret(t *testing.T, err error, secrets ...byok.Secret) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s.Reveal()) {
			t.Errorf("error text contains a secret: %v", err)
		}
	}
}

// wantErrIs fails unless errors.Is(err, want).
func wantErrIs(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want one matching %v", what, err, want)
	}
}

const freshProcessEnv = "BYOKD_KEYSTORE_TEST_FRESH_PROCESS"

// inFreshProcess reruns the calling test alone in a new test process and
// reports whether the caller is that process. godbus keeps one session-bus
// connection per process and reuses it while it is up, so
// DBUS_SESSION_BUS_ADDRESS is only read on the process's first connection:
// a test that changes the address must run where nothing has connected yet.
//
//	if !inFreshProcess(t) { return }
func inFreshProcess(t *testing.T) bool {
	t.Helper()
	if os.Getenv(freshProcessEnv) == t.Name() {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), freshProcessEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("%s in a fresh process: %v\n%s", t.Name(), err, out)
	}
	t.Logf("%s passed in a fresh process", t.Name())
	return false
}

// deadBusAddresses are session-bus addresses where nothing answers: a path
// with no socket, and a socket whose listener has gone (a crashed bus).
func deadBusAddresses(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale-bus")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	return map[string]string{
		"missing socket": "unix:path=" + filepath.Join(dir, "no-bus"),
		"stale socket":   "unix:path=" + stale,
	}
}
