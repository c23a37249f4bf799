package daemon

import (
	"context"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"

	"byokd.dev/byok/control"
	"byokd.dev/byok/keystore"
)

// TestDaemon_TellsBusyOfEveryRequest: a call to the proxy, refused or
// not, and a request to the control API each count as activity, so that
// byokd run collects garbage again as soon as anything asks the daemon
// for something (package idlegc).
func TestDaemon_TellsBusyOfEveryRequest(t *testing.T) {
	var requests atomic.Int64
	home := filepath.Join(t.TempDir(), "home")
	d := runDaemon(t, Config{
		Home:     home,
		Keystore: keystore.Config{Backend: "file", Passphrase: func() ([]byte, error) { return []byte("test-passphrase"), nil }},
		Busy:     func() { requests.Add(1) },
	})
	ctx := context.Background()

	c, err := control.Dial(home)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status(ctx); err != nil {
		t.Fatal(err)
	}
	if n := requests.Load(); n != 1 {
		t.Fatalf("Busy called %d times for one control request, want 1", n)
	}
	resp, err := http.Get("http://" + d.ProxyAddr() + "/openai/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := requests.Load(); n != 2 {
		t.Fatalf("Busy called %d times after a proxy call (answered %s), want 2", n, resp.Status)
	}
}
