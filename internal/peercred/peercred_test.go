package peercred

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"byokd.dev/byok/internal/otheruser"
)

func TestMain(m *testing.M) {
	otheruser.Main()
	os.Exit(m.Run())
}

// TestOnly_AnotherUserIsRefused: a real second Unix user connecting to a
// peer-checked loopback server gets the 403 before the handler runs;
// this user's own connections are served.
func TestOnly_AnotherUserIsRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Only(ln, "the test server", nil)
	var served atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		io.WriteString(w, "secret work")
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	url := "http://" + ln.Addr().String() + "/"

	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "secret work" {
		t.Fatalf("this user's request: %d %q", resp.StatusCode, b)
	}

	out := otheruser.Get(t, url, "")
	if !strings.HasPrefix(out, "403 byokd: refused: the test server serves only the user who runs byokd") {
		t.Errorf("the other user got %q, want the 403", out)
	}
	if served.Load() != 1 || l.Refused() != 1 {
		t.Errorf("handler ran %d times, %d refused; want 1 and 1", served.Load(), l.Refused())
	}
}

// TestConn_Process: a request from another process of this user carries
// that process's name and working folder, and the folder's git
// repository names the project.
func TestConn_Process(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the process on the other end is found on Linux only")
	}
	repo := filepath.Join(t.TempDir(), "work", "acme-site-checkout")
	sub := filepath.Join(repo, "src", "deep")
	os.MkdirAll(sub, 0o755)
	os.MkdirAll(filepath.Join(repo, ".git"), 0o755)
	os.WriteFile(filepath.Join(repo, ".git", "config"), []byte("[core]\n\tbare = false\n[remote \"origin\"]\n\turl = git@git.example:team/acme-site.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n"), 0o644)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan Process, 1)
	srv := &http.Server{ConnContext: ConnContext, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := FromContext(r.Context())
		if !ok {
			http.Error(w, "no peer", 500)
			return
		}
		p, err := c.Process()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		seen <- p
		io.WriteString(w, "ok")
	})}
	go srv.Serve(Only(ln, "the test server", nil))
	t.Cleanup(func() { srv.Close() })

	self, _ := os.Executable()
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), "BYOKD_OTHERUSER_GET=http://"+ln.Addr().String()+"/")
	cmd.Dir = sub
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "200 ok") {
		t.Fatalf("client: %v %s", err, out)
	}
	p := <-seen
	if p.Name != filepath.Base(self) || p.Dir != sub || p.PID == os.Getpid() {
		t.Errorf("process %+v, want %s working in %s", p, filepath.Base(self), sub)
	}
	if got := Project(p.Dir); got != "acme-site" {
		t.Errorf("Project(%s) = %q, want the origin's repository name", p.Dir, got)
	}
}

func TestName(t *testing.T) {
	for _, c := range []struct {
		argv []string
		want string
	}{
		{[]string{"/usr/local/bin/claude", "--print", "secret prompt"}, "claude"},
		{[]string{"/usr/bin/python3", "-u", "/home/ann/bin/my_script.py", "--key", "x"}, "python3 my_script.py"},
		{[]string{"python3.12", "-m", "http.server"}, "python3.12"},
		{[]string{"node", "/opt/app/server.mjs"}, "node server.mjs"},
		{nil, ""},
	} {
		if got := Name(c.argv); got != c.want {
			t.Errorf("Name(%q) = %q, want %q", c.argv, got, c.want)
		}
	}
	if got := Project(t.TempDir()); got != "" {
		t.Errorf("Project outside a repository = %q", got)
	}
}
