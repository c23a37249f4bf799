package webui_test

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

	"byokd.dev/byok/control"
	"byokd.dev/byok/daemon"
	"byokd.dev/byok/webui"
)

// running is a real daemon serving the page on its control listener.
type running struct {
	home   string
	client *control.Client
	base   string // http://127.0.0.1:PORT
}

// startDaemon runs a daemon with the page, its secrets in the session's
// real keychain, until the test ends.
func startDaemon(t *testing.T) *running {
	t.Helper()
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		t.Fatal("no session bus: run the tests through scripts/test (scripts/desktop-session)")
	}
	home := filepath.Join(t.TempDir(), "home")
	ctx, cancel := context.WithCancel(context.Background())
	d, err := daemon.Start(ctx, daemon.Config{
		Home: home, Listen: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler),
		Page: func(b control.Backend, port string) daemon.Page {
			return webui.New(webui.Config{Backend: b, Port: port})
		},
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	c, err := control.Dial(home)
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.LoginURL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(l.URL)
	return &running{home: home, client: c, base: "http://" + u.Host}
}

// loginURL is a fresh one-time link.
func (r *running) loginURL(t *testing.T) string {
	t.Helper()
	l, err := r.client.LoginURL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return l.URL
}

// browser is an HTTP client that keeps cookies and does not follow
// redirects, sending what a browser sends for same-origin requests.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// signIn logs a browser in with a fresh link and returns the keys page's
// CSRF token.
func (r *running) signIn(t *testing.T, hc *http.Client) string {
	t.Helper()
	link := r.loginURL(t)
	code := strings.SplitN(link, "code=", 2)[1]
	resp := post(t, hc, r.base+"/ui/login", url.Values{"code": {code}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: got %d, want 303", resp.StatusCode)
	}
	_, body := get(t, hc, r.base+"/ui/keys")
	return csrfIn(t, body)
}

func csrfIn(t *testing.T, body string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, `name="csrf" value="`)
	if !ok {
		t.Fatalf("no CSRF token in the page:\n%s", body)
	}
	tok, _, _ := strings.Cut(rest, `"`)
	return tok
}

func get(t *testing.T, hc *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := hc.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = io.Copy(&b, resp.Body)
	return resp, b.String()
}

func post(t *testing.T, hc *http.Client, u string, form url.Values, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}
