package webui_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"byokd.dev/byok"
)

func TestUI_SignInLinkIsSingleUse(t *testing.T) {
	r := startDaemon(t)
	link := r.loginURL(t)
	code := strings.SplitN(link, "code=", 2)[1]
	hc := browser(t)

	resp, body := get(t, hc, link)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `action="/ui/login"`) {
		t.Fatalf("opening the link: got %d, want the sign-in form", resp.StatusCode)
	}
	if resp := post(t, hc, r.base+"/ui/login", url.Values{"code": {code}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("first use: got %d, want 303", resp.StatusCode)
	}
	other := browser(t)
	if resp := post(t, other, r.base+"/ui/login", url.Values{"code": {code}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("second use: got %d, want 403", resp.StatusCode)
	}
	if resp, _ := get(t, other, link); resp.StatusCode != http.StatusForbidden {
		t.Errorf("opening a used link: got %d, want 403", resp.StatusCode)
	}
	if resp, _ := get(t, other, r.base+"/ui/keys"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("keys page without a session: got %d, want 401", resp.StatusCode)
	}
}

func TestUI_SessionCookie(t *testing.T) {
	r := startDaemon(t)
	code := strings.SplitN(r.loginURL(t), "code=", 2)[1]
	resp := post(t, browser(t), r.base+"/ui/login", url.Values{"code": {code}}, nil)
	var c *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == "byokd_session" {
			c = k
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/ui/" {
		t.Fatalf("session cookie: got %+v, want HttpOnly, SameSite=Strict, Path=/ui/", c)
	}
}

func TestUI_Gate(t *testing.T) {
	r := startDaemon(t)
	hc := browser(t)
	csrf := r.signIn(t, hc)
	add := func(name string) url.Values {
		return url.Values{"csrf": {csrf}, "service": {"openai"}, "name": {name}, "secret": {"sk-gate-test-000000000000" + name}}
	}
	tests := []struct {
		name   string
		form   url.Values
		header http.Header
		want   int
	}{
		{"same origin with token", add("ok"), http.Header{"Origin": {r.base}, "Sec-Fetch-Site": {"same-origin"}}, http.StatusSeeOther},
		{"no CSRF token", url.Values{"service": {"openai"}, "name": {"nocsrf"}, "secret": {"sk-x-000000000000"}}, nil, http.StatusForbidden},
		{"wrong CSRF token", url.Values{"csrf": {"forged"}, "service": {"openai"}, "name": {"badcsrf"}, "secret": {"sk-x-000000000000"}}, nil, http.StatusForbidden},
		{"foreign origin", add("evil1"), http.Header{"Origin": {"http://evil.example"}}, http.StatusForbidden},
		{"cross-site fetch", add("evil2"), http.Header{"Sec-Fetch-Site": {"cross-site"}}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := post(t, hc, r.base+"/ui/keys", tt.form, tt.header).StatusCode; got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
	keys, err := r.client.Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].Name != "ok" {
		t.Errorf("keys after the refused requests: got %v, want only %q", keys, "ok")
	}

	t.Run("rebinding host", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, r.base+"/ui/keys", nil)
		req.Host = "attacker.example:" + strings.Split(r.base, ":")[2]
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("got %d, want 403", resp.StatusCode)
		}
	})
	t.Run("no state change on GET", func(t *testing.T) {
		resp, _ := get(t, hc, r.base+"/ui/keys/remove?csrf="+csrf+"&service=openai&name=ok")
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("got %d, want 405", resp.StatusCode)
		}
		if keys, _ := r.client.Keys(context.Background()); len(keys) != 1 {
			t.Errorf("a GET removed a key")
		}
	})
	t.Run("headers", func(t *testing.T) {
		resp, _ := get(t, hc, r.base+"/ui/keys")
		for h, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"} {
			if got := resp.Header.Get(h); got != want {
				t.Errorf("%s: got %q, want %q", h, got, want)
			}
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("Content-Security-Policy: got %q", csp)
		}
	})
}

func TestUI_Pages(t *testing.T) {
	r := startDaemon(t)
	hc := browser(t)
	csrf := r.signIn(t, hc)
	ctx := context.Background()

	if resp := post(t, hc, r.base+"/ui/prefs", url.Values{"csrf": {csrf}, "service": {"anthropic"}, "preference": {"ask"},
		"fallback": {"on"}, "over_budget": {"block"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save preference: got %d", resp.StatusCode)
	}
	prefs, err := r.client.Prefs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range prefs {
		if p.Service == byok.Anthropic && (p.Preference != byok.PreferAsk || !p.Fallback || p.OverBudget != "block") {
			t.Errorf("anthropic preference: got %+v, want ask, fallback on, over budget block", p)
		}
	}

	if resp := post(t, hc, r.base+"/ui/tokens", url.Values{"csrf": {csrf}, "name": {"editor"}, "project": {"web"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create token: got %d", resp.StatusCode)
	}
	_, page := get(t, hc, r.base+"/ui/tokens")
	_, rest, ok := strings.Cut(page, `id="secret-once" class="secret" readonly value="`)
	if !ok {
		t.Fatalf("the new token is not shown once:\n%s", page)
	}
	value, _, _ := strings.Cut(rest, `"`)
	if !strings.HasPrefix(value, "byok_") {
		t.Errorf("shown token: got %q, want a byok_ token", value)
	}
	if _, again := get(t, hc, r.base+"/ui/tokens"); strings.Contains(again, value) {
		t.Error("the token's value is shown a second time")
	}
	if resp := post(t, hc, r.base+"/ui/tokens/revoke", url.Values{"csrf": {csrf}, "name": {"editor"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke token: got %d", resp.StatusCode)
	}
	toks, _ := r.client.Tokens(ctx)
	if len(toks) != 1 || !toks[0].Revoked {
		t.Errorf("tokens after revoke: got %+v", toks)
	}

	for _, p := range []string{"/ui/keys", "/ui/prefs", "/ui/tokens", "/ui/usage", "/ui/approvals"} {
		resp, body := get(t, hc, r.base+p)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `aria-current="page"`) {
			t.Errorf("%s: got %d", p, resp.StatusCode)
		}
	}
}
