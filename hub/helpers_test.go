package hub_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
	"byokd.dev/byok/hub/pgstore"
	"byokd.dev/byok/hub/sqlitestore"
	"byokd.dev/byok/internal/pgtest"
	"byokd.dev/byok/internal/testclock"
	"byokd.dev/byok/keystore"
	"byokd.dev/byok/teamsync"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type testHub struct {
	*hub.Server
	dir   string
	store hub.Store
	// dump is everything the hub's store holds, as text, for tests that
	// search it for secrets: the SQLite file, or PostgreSQL's dump.
	dump       func(t *testing.T) string
	pgURL      string // the database, for replicas on PostgreSQL
	sealingKey []byte // and the key its shared keys are sealed under
	admin      *hub.AdminClient
	clock      *testclock.Clock
	logs       *syncBuffer
	keys       hub.SecretStore
	// stop ends Run and closes the store, once; the test's end calls it
	// too.
	stop func()
}

// storeEnv names the store the hub's tests run on: unset, SQLite and
// the encrypted key file in the state folder; "postgres", a fresh
// PostgreSQL database and the shared keys sealed in it. TestPostgres runs
// every test again with it set.
const storeEnv = "BYOKD_HUB_TEST_STORE"

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestPostgres runs this package's tests (those -run selects) again in a
// child process whose hubs all keep their state in PostgreSQL, so that
// every behaviour the hub's tests prove holds on both stores.
func TestPostgres(t *testing.T) {
	if os.Getenv(storeEnv) != "" {
		t.Skip("this is the PostgreSQL run")
	}
	args := []string{"-test.count=1"}
	for _, name := range []string{"test.run", "test.skip", "test.v", "test.timeout", "test.failfast", "test.short"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != f.DefValue {
			args = append(args, "-"+name+"="+f.Value.String())
		}
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), storeEnv+"=postgres")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the hub's tests on PostgreSQL (%s=postgres go test -run ... ./hub to run them alone): %v\n%s", storeEnv, err, out)
	}
	if testing.Verbose() {
		t.Logf("the hub's tests on PostgreSQL:\n%s", out)
	}
}

// openStore opens the store storeEnv names for a hub whose state folder
// is dir.
func openStore(t *testing.T, dir string) (hub.Store, hub.SecretStore, func(t *testing.T) string) {
	t.Helper()
	ctx := context.Background()
	if kind := os.Getenv(storeEnv); kind == "postgres" {
		url := pgtest.URL(t)
		st, err := pgstore.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		key := make([]byte, pgstore.SealingKeySize)
		rand.Read(key)
		keys, err := st.Secrets(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return st, keys, func(t *testing.T) string { return pgtest.Dump(t, url) }
	} else if kind != "" {
		t.Fatalf("%s=%q: want postgres or nothing", storeEnv, kind)
	}
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, hub.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := keystore.OpenFile(filepath.Join(dir, hub.KeysFile), []byte("test passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	return st, keys, func(t *testing.T) string {
		var all strings.Builder
		for _, f := range []string{hub.DBFile, hub.DBFile + "-wal"} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			all.Write(b)
		}
		return all.String()
	}
}

// startHub runs a hub on the store storeEnv names (SQLite in a
// temporary folder by default); mod adjusts its Config.
func startHub(t *testing.T, mod func(*hub.Config)) *testHub {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "hub")
	if err := hub.PrepareData(dir); err != nil {
		t.Fatal(err)
	}
	st, keys, dump := openStore(t, dir)
	return startHubOn(t, dir, st, keys, dump, mod)
}

// startHubOn runs a hub whose state folder is dir on the stores given,
// closing st when the test ends.
func startHubOn(t *testing.T, dir string, st hub.Store, keys hub.SecretStore, dump func(*testing.T) string, mod func(*hub.Config)) *testHub {
	t.Helper()
	ctx := context.Background()
	clk := testclock.New(time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC))
	logs := &syncBuffer{}
	cfg := hub.Config{
		Data: dir, Listen: "127.0.0.1:0", Store: st, Keys: keys, Now: clk.Now,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := hub.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(rctx) }()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hub Run: %v", err)
		}
		st.Close()
	})
	t.Cleanup(stop)
	admin, err := hub.DialAdmin(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &testHub{Server: srv, dir: dir, store: st, dump: dump, admin: admin, clock: clk, logs: logs, keys: keys, stop: stop}
}

// join enrolls a device for email and returns its credential.
func (h *testHub) join(t *testing.T, email string) teamsync.Enrollment {
	t.Helper()
	ctx := context.Background()
	inv, err := h.admin.Invite(ctx, email, 0)
	if err != nil {
		t.Fatal(err)
	}
	en, err := teamsync.Join(ctx, h.URL(), inv.Code, "laptop", false)
	if err != nil {
		t.Fatal(err)
	}
	return en
}

// adminSession signs email in and returns the session cookie.
func (h *testHub) adminSession(t *testing.T, email string) *http.Cookie {
	t.Helper()
	l, err := h.admin.CreateAdmin(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(l.Link)
	resp := postForm(t, h.URL()+"/login", url.Values{"code": {u.Query().Get("code")}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: status %d, want 303", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "byokd_hub_session" {
			return c
		}
	}
	t.Fatal("login set no session cookie")
	return nil
}

func postForm(t *testing.T, u string, form url.Values, hdr map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// call makes a request and returns status, headers and body.
func call(t *testing.T, method, u string, hdr map[string]string, cookie *http.Cookie, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func bearer(s byok.Secret) map[string]string {
	return map[string]string{"Authorization": "Bearer " + s.Reveal()}
}

func decodeUsage(t *testing.T, body string) []byok.UsageEvent {
	t.Helper()
	var evs []byok.UsageEvent
	if err := json.Unmarshal([]byte(body), &evs); err != nil {
		t.Fatalf("usage answer %q: %v", body, err)
	}
	return evs
}
