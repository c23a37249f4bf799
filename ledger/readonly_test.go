//go:build unix

package ledger

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// unprivilegedEnv marks a test binary that runUnprivileged re-ran as nobody.
const unprivilegedEnv = "BYOKD_LEDGER_TEST_UNPRIVILEGED"

// runUnprivileged runs the calling test's body where file permissions are
// enforced. As a normal user that is here. As root (CI containers), which
// ignores chmod, it re-runs this one test from a copy of the test binary as
// the user nobody and reports the child's outcome.
func runUnprivileged(t *testing.T, body func(t *testing.T)) {
	t.Helper()
	if os.Geteuid() != 0 {
		body(t)
		return
	}
	if os.Getenv(unprivilegedEnv) != "" {
		t.Fatal("still root after dropping privileges")
	}
	// The go build cache is private to root: copy the binary somewhere
	// nobody can run it.
	dir, err := os.MkdirTemp("", "ledger-unprivileged-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "ledger.test")
	if err := copyFile(bin, self); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if dl, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-time.Second))
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, bin, "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), unprivilegedEnv+"=1", "TMPDIR="+os.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	t.Logf("as user nobody:\n%s", out)
	if err != nil {
		t.Fatalf("test as user nobody: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("test as user nobody did not pass")
	}
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func TestOpen_ReadOnlyIsUnavailable(t *testing.T) {
	runUnprivileged(t, func(t *testing.T) {
		tests := []struct {
			name    string
			prepare func(t *testing.T, dir, path string)
		}{
			{"read-only file", func(t *testing.T, dir, path string) {
				makeLedger(t, path)
				chmod(t, path, 0o400)
			}},
			{"read-only folder, new ledger", func(t *testing.T, dir, path string) {
				chmod(t, dir, 0o555)
			}},
			{"read-only folder, existing ledger", func(t *testing.T, dir, path string) {
				makeLedger(t, path)
				chmod(t, dir, 0o555)
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				dir := t.TempDir()
				t.Cleanup(func() { os.Chmod(dir, 0o755) }) // so TempDir can remove it
				path := filepath.Join(dir, "ledger.db")
				tt.prepare(t, dir, path)

				d, err := Open(context.Background(), path, Options{BusyTimeout: time.Second})
				if err == nil {
					d.Close()
					t.Fatal("Open: got nil error")
				}
				t.Logf("Open: %v", err)
				if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "ledger is read-only: make "+path) {
					t.Errorf("Open: got %v, want ErrUnavailable saying to make %s writable", err, path)
				}
			})
		}
	})
}

func makeLedger(t *testing.T, path string) {
	t.Helper()
	d, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Record(context.Background(), event(0)); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
