package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
	"byokd.dev/byok/hub/sqlitestore"
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
	store *sqlitestore.DB
	admin *hub.AdminClient
	clock *testclock.Clock
	logs  *syncBuffer
	keys  hub.SecretStore
}

// startHub runs a hub with a real SQLite store and an encrypted key file
// in a temporary folder; mod adjusts its Config.
func startHub(t *testing.T, mod func(*hub.Config)) *testHub {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "hub")
	if err := hub.PrepareData(dir); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, hub.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := keystore.OpenFile(filepath.Join(dir, hub.KeysFile), []byte("test passphrase"))
	if err != nil {
		t.Fatal(err)
	}
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
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hub Run: %v", err)
		}
		st.Close()
	})
	admin, err := hub.DialAdmin(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &testHub{Server: srv, dir: dir, store: st, admin: admin, clock: clk, logs: logs, keys: keys}
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
