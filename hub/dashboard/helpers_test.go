package dashboard_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
	"byokd.dev/byok/hub/dashboard"
	"byokd.dev/byok/hub/sqlitestore"
	"byokd.dev/byok/internal/pgtest"
	"byokd.dev/byok/internal/testclock"
	"byokd.dev/byok/keystore"
	"byokd.dev/byok/teamsync"
)

// testHub is an in-process hub with the pages, a real SQLite store in a
// temporary folder (or the one given) and an encrypted key file.
type testHub struct {
	*hub.Server
	store hub.Store
	admin *hub.AdminClient
	clock *testclock.Clock
}

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func startHub(tb testing.TB, dbPath string, now time.Time) *testHub {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "hub")
	if err := hub.PrepareData(dir); err != nil {
		tb.Fatal(err)
	}
	if dbPath == "" {
		dbPath = filepath.Join(dir, hub.DBFile)
	}
	st, err := sqlitestore.Open(context.Background(), dbPath)
	if err != nil {
		tb.Fatal(err)
	}
	return startHubOn(tb, dir, st, now)
}

// startHubOn starts a hub with its data in dir (made by hub.PrepareData)
// on st, which it closes when tb ends.
func startHubOn(tb testing.TB, dir string, st hub.Store, now time.Time) *testHub {
	tb.Helper()
	ctx := context.Background()
	keys, err := keystore.OpenFile(filepath.Join(dir, hub.KeysFile), []byte("test passphrase"))
	if err != nil {
		tb.Fatal(err)
	}
	clk := testclock.New(now)
	srv, err := hub.Start(ctx, hub.Config{
		Data: dir, Listen: "127.0.0.1:0", Store: st, Keys: keys, Now: clk.Now, Logger: slog.New(slog.DiscardHandler),
		Pages: func(s *hub.Server) http.Handler { return dashboard.New(dashboard.Config{Hub: s, Now: clk.Now}) },
	})
	if err != nil {
		tb.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(rctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("hub Run: %v", err)
		}
		st.Close()
	})
	admin, err := hub.DialAdmin(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return &testHub{Server: srv, store: st, admin: admin, clock: clk}
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, like a browser's session as far as the hub can tell.
type browser struct {
	tb   testing.TB
	base string
	c    *http.Client
}

// signIn redeems a one-time login link into a session.
func (h *testHub) signIn(tb testing.TB, link string) *browser {
	tb.Helper()
	jar, _ := cookiejar.New(nil)
	b := &browser{tb: tb, base: h.URL(), c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	u, err := url.Parse(link)
	if err != nil {
		tb.Fatal(err)
	}
	st, _ := b.post("/login", url.Values{"code": {u.Query().Get("code")}})
	if st != http.StatusSeeOther {
		tb.Fatalf("login: status %d, want 303", st)
	}
	return b
}

func (h *testHub) adminBrowser(tb testing.TB, email string) *browser {
	tb.Helper()
	l, err := h.admin.CreateAdmin(context.Background(), email)
	if err != nil {
		tb.Fatal(err)
	}
	return h.signIn(tb, l.Link)
}

// memberBrowser joins a device for email and signs in with the link the
// device credential gets (what `byokd team` does through the daemon).
func (h *testHub) memberBrowser(tb testing.TB, email string) *browser {
	tb.Helper()
	ctx := context.Background()
	inv, err := h.admin.Invite(ctx, email, 0)
	if err != nil {
		tb.Fatal(err)
	}
	en, err := teamsync.Join(ctx, h.URL(), inv.Code, "laptop", false)
	if err != nil {
		tb.Fatal(err)
	}
	l, err := teamsync.RequestLoginLink(ctx, h.URL(), en.Credential, false)
	if err != nil {
		tb.Fatal(err)
	}
	return h.signIn(tb, l.Link)
}

func (b *browser) do(req *http.Request) (int, string) {
	b.tb.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (b *browser) get(path string) (int, string) {
	b.tb.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	return b.do(req)
}

// post sends a form as a same-origin page would.
func (b *browser) post(path string, form url.Values) (int, string) {
	b.tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

// csrf reads the form token from a page that has a form.
func (b *browser) csrf(path string) string {
	b.tb.Helper()
	_, body := b.get(path)
	_, rest, ok := strings.Cut(body, `name="csrf" value="`)
	if !ok {
		b.tb.Fatalf("no CSRF token on %s", path)
	}
	tok, _, _ := strings.Cut(rest, `"`)
	return tok
}

// ev is a call for the seeds of these tests.
func ev(id string, at time.Time, svc byok.Service, payer byok.Payer, project string, cost byok.Micros) byok.UsageEvent {
	e := byok.UsageEvent{ID: id, Time: at, Service: svc, Model: "m-" + string(svc), App: "editor", Project: project,
		Credential: byok.PersonalKey("work"), Payer: payer, Status: 200, Cost: cost, CostKnown: true,
		Usage: byok.Usage{InputTokens: 100, OutputTokens: 10, Complete: true}}
	if payer == byok.PayerTeam {
		e.Credential, e.Relayed = byok.TeamKey("team-"+string(svc)), true
	}
	return e
}
