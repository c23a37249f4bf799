//go:build linux

package otheruser

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

const (
	name      = "byokd-peer-test"
	envURL    = "BYOKD_OTHERUSER_GET"
	envHeader = "BYOKD_OTHERUSER_HEADER" // "Name: value"
)

// Main makes the other user's request and exits, in the process Get runs;
// anywhere else it returns at once.
func Main() {
	url := os.Getenv(envURL)
	if url == "" {
		return
	}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err == nil {
		if k, v, ok := strings.Cut(os.Getenv(envHeader), ": "); ok {
			req.Header.Set(k, v)
		}
		var resp *http.Response
		if resp, err = http.DefaultClient.Do(req); err == nil {
			b, _ := io.ReadAll(resp.Body)
			fmt.Println(resp.StatusCode, strings.TrimSpace(string(b)))
			os.Exit(0)
		}
	}
	fmt.Println("error", err)
	os.Exit(0)
}

// Get requests url as the other user, with header ("Name: value", or
// empty), and returns "STATUS body" or "error …". Without root, or off
// Linux, the test is skipped, saying why.
func Get(t testing.TB, url, header string) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the owner of a loopback connection is told on Linux only")
	}
	if os.Getuid() != 0 {
		t.Skip("creating a second Unix user needs root (CI runs as root)")
	}
	u, err := user.Lookup(name)
	if err != nil {
		if out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
			t.Fatalf("useradd: %v\n%s", err, out)
		}
		if u, err = user.Lookup(name); err != nil {
			t.Fatal(err)
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// The test binary sits in a folder only root may enter: give the other
	// user a copy it can run.
	dir, err := os.MkdirTemp("", "otheruser-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "client")
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = []string{"PATH=/usr/bin:/bin", envURL + "=" + url, envHeader + "=" + header}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("running as %s (uid %d): %v\n%s", name, uid, err, out)
	}
	return strings.TrimSpace(string(out))
}
