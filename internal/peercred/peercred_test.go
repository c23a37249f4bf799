package peercred

import (
	"io"
	"net"
	"net/http"
	"os"
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
