package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"byokd.dev/byok/control"
	"byokd.dev/byok/internal/fakeprovider"
	"byokd.dev/byok/internal/otheruser"
	"byokd.dev/byok/internal/peercred"
	"byokd.dev/byok/internal/sdkrun"
)

// TestE2E_AnotherLocalUserIsRefused: a second Unix user on the machine,
// even holding the member's app token, control token and a fresh sign-in
// link, gets a 403 from the proxy, the control API and the Credential
// Manager before any handler sees its request; the upstream sees nothing
// and the member's status counts the attempts.
func TestE2E_AnotherLocalUserIsRefused(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m, tok := setUp(t, fake)
	ctlTok, err := os.ReadFile(filepath.Join(m.home, control.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	var st control.State
	if b, err := os.ReadFile(filepath.Join(m.home, control.StateFile)); err != nil || json.Unmarshal(b, &st) != nil {
		t.Fatalf("daemon state: %v", err)
	}
	login := strings.TrimSpace(m.mustCLI("", "ui", "--print"))
	for _, c := range []struct{ what, url, header string }{
		{"the proxy, with the app token", "http://" + m.proxy + "/openai/v1/models", "Authorization: Bearer " + tok},
		{"the control API, with the control token", "http://" + st.Control + "/v1/status", "Authorization: Bearer " + strings.TrimSpace(string(ctlTok))},
		{"the Credential Manager, with a sign-in link", login, ""},
	} {
		got := otheruser.Get(t, c.url, c.header)
		if !strings.HasPrefix(got, "403 byokd: refused:") || !strings.Contains(got, "serves only the user who runs byokd") {
			t.Errorf("%s as another user: %q, want the 403", c.what, got)
		}
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("the upstream saw %d requests from the other user", n)
	}
	if out := m.mustCLI("", "status"); !strings.Contains(out, "3 connections from other users") {
		t.Errorf("byokd status does not count the other user's attempts:\n%s", out)
	}
	if res := m.openaiCall(tok); res.Error != nil {
		t.Errorf("the member's own call: %v", res.Error)
	}
}

// TestE2E_TokenlessCallsNameTheirProcess: an app of the member's own that
// has no app token — any other API key, as the official SDKs require one —
// is served and its calls are attributed to the program (the node script)
// and the git repository it runs in; a key that looks like an app token
// is still checked as one.
func TestE2E_TokenlessCallsNameTheirProcess(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m, tok := setUp(t, fake)
	for _, c := range []struct{ script, key string }{
		{"openai_chat.mjs", "sk-not-a-byokd-token"},
		{"anthropic_messages.mjs", "anything"},
	} {
		env := map[string]string{"API_KEY": c.key, "MODEL": "gpt-4o-mini", "STREAM": "0", "PROMPT": "x",
			"BASE_URL": "http://" + m.proxy + "/openai/v1"}
		if strings.HasPrefix(c.script, "anthropic") {
			env["BASE_URL"], env["MODEL"] = "http://"+m.proxy+"/anthropic", "claude-sonnet-4-5"
		}
		if res := sdkrun.Run(t, c.script, env); res.Error != nil {
			t.Fatalf("%s with a key that is no app token: %v", c.script, res.Error)
		}
	}
	root, err := sdkrun.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	project := peercred.Project(root)
	rows := m.usage()
	if len(rows) != 2 {
		t.Fatalf("rows %+v, want 2", rows)
	}
	for i, want := range []string{"node openai_chat.mjs", "node anthropic_messages.mjs"} {
		if rows[i].App != want || rows[i].Project != project {
			t.Errorf("row %d: app %q project %q, want %q in %q", i, rows[i].App, rows[i].Project, want, project)
		}
	}
	for _, r := range fake.Requests() {
		if r.Key == "sk-not-a-byokd-token" || r.Key == "anything" {
			t.Errorf("the app's own key reached the provider")
		}
	}
	// A revoked token stays refused, with or without a process to name.
	m.mustCLI("", "token", "revoke", "my-editor")
	if res := m.openaiCall(tok); res.Error == nil || res.Error.Status != 401 {
		t.Errorf("a revoked app token: %+v, want 401", res)
	}
}

// TestE2E_CookieCarriedToAnotherPortIsRefused: browsers send a host's
// cookies to every port of it, so a server another local user runs on
// another loopback port receives the member's Credential Manager session
// when the member's browser visits it. Replayed by that user, the cookie
// gets a 403: the page's listener asks whose connection it is. The same
// cookie from the member's own process opens the page, so the refusal is
// the owner check's, not a stale session.
func TestE2E_CookieCarriedToAnotherPortIsRefused(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m, _ := setUp(t, fake)
	login := strings.TrimSpace(m.mustCLI("", "ui", "--print"))
	page, err := url.Parse(login)
	if err != nil {
		t.Fatal(err)
	}
	page.Path, page.RawQuery, page.Fragment = "/ui/keys", "", ""

	// The other user's server, on another port of 127.0.0.1; it serves
	// under /ui/, where the session cookie's path reaches.
	carried := make(chan string, 4)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		carried <- r.Header.Get("Cookie")
		fmt.Fprint(w, "<!doctype html><title>another user's page</title>")
	}))
	t.Cleanup(other.Close)

	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(login), chromedp.WaitVisible(chromedp.CSS("nav"))); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(other.URL+"/ui/keys")); err != nil {
		t.Fatal(err)
	}
	var cookie string
	select {
	case cookie = <-carried:
	case <-time.After(30 * time.Second):
		t.Fatal("the browser never reached the other port")
	}
	if !strings.Contains(cookie, "byokd_session=") {
		t.Fatalf("the browser sent %q to the other port; the test needs the session cookie there", cookie)
	}

	req, _ := http.NewRequest("GET", page.String(), nil)
	req.Header.Set("Cookie", cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Keys") {
		t.Fatalf("the cookie from the member's own process: %d, want the page", resp.StatusCode)
	}
	if got := otheruser.Get(t, page.String(), "Cookie: "+cookie); !strings.HasPrefix(got, "403 byokd: refused:") {
		t.Errorf("the cookie replayed by another user: %q, want the 403", got)
	}
}

// TestE2E_ClaudeCodeTokenless: Claude Code, pointed at byokd with any API
// key, works, and each of its calls is attributed to it (`claude`) and to
// the git repository it runs in (its origin's name), with the member's key
// paying.
func TestE2E_ClaudeCodeTokenless(t *testing.T) {
	root, err := sdkrun.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	claude := filepath.Join(root, "e2e", "sdk", "node_modules", ".bin", "claude")
	if _, err := os.Stat(claude); err != nil {
		t.Fatalf("Claude Code is not installed: run scripts/setup (%v)", err)
	}
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m, _ := setUp(t, fake) // with the member's Anthropic key "work"

	repo := filepath.Join(t.TempDir(), "checkout")
	for _, args := range [][]string{
		{"init", "-q", repo},
		{"-C", repo, "remote", "add", "origin", "git@example.com:team/acme-site.git"},
	} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, claude, "-p", "Say hello.", "--model", "claude-sonnet-4-5")
	cmd.Dir = repo
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"ANTHROPIC_BASE_URL=http://" + m.proxy + "/anthropic", "ANTHROPIC_API_KEY=sk-ant-whatever-claude-code-holds",
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_AUTOUPDATER=1", "DISABLE_TELEMETRY=1",
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("claude -p: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), fake.Text()) {
		t.Errorf("claude printed %q, want the model's answer %q", out, fake.Text())
	}
	rows := m.usage()
	if len(rows) == 0 {
		t.Fatal("no usage rows for Claude Code's calls")
	}
	for _, r := range rows {
		if r.App != "claude" || r.Project != "acme-site" || r.Credential.String() != "personal/work" || r.Status != 200 {
			t.Errorf("row %+v: want app claude, project acme-site, paid by personal/work", r)
		}
	}
	var paths []string
	for _, r := range fake.Requests() {
		paths = append(paths, r.Method+" "+r.Path)
		if r.Key != anthropicKey {
			t.Errorf("the provider got %q for %s, want the member's key", r.Key, r.Path)
		}
	}
	t.Logf("Claude Code made %d calls: %s", len(paths), strings.Join(paths, ", "))
}
