package loopback

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:8787": true, "localhost:8787": true, "LOCALHOST:8787": true, "[::1]:8787": true,
		"127.0.0.1:8788": false, "127.0.0.1": false, "rebind.test:8787": false, "10.0.0.1:8787": false, "": false,
	} {
		if got := Host(host, "8787"); got != want {
			t.Errorf("Host(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestGate(t *testing.T) {
	var denied []string
	g := &Gate{Who: "byokd", Surface: "the proxy", Port: "8787",
		Headers: http.Header{"X-Frame-Options": {"DENY"}},
		Deny: func(w http.ResponseWriter, _ *http.Request, status int, code, msg string) {
			denied = append(denied, code)
			http.Error(w, msg, status)
		}}
	h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	cases := []struct {
		name, host string
		hdr        map[string]string
		status     int
		body       string
	}{
		{"a program on loopback", "127.0.0.1:8787", nil, 204, ""},
		{"a rebound name", "evil.test:8787", nil, 403, `byokd: refused a request for host "evil.test:8787": the proxy answers only on 127.0.0.1:8787`},
		{"another port", "localhost:9999", nil, 403, "refused a request for host"},
		{"a web page", "localhost:8787", map[string]string{"Origin": "https://evil.test"}, 403, "byokd: refused a request from a web page: the proxy serves local programs only"},
		{"a cross-site fetch", "localhost:8787", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "from a web page"},
		{"a control character in Host", "a\x1b[2Jb:8787", nil, 403, `"a?[2Jb:8787"`},
	}
	want := 0
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/v1/models", nil)
		r.Host = c.host
		for k, v := range c.hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.status || !strings.Contains(w.Body.String(), c.body) {
			t.Errorf("%s: %d %q, want %d containing %q", c.name, w.Code, w.Body, c.status, c.body)
		}
		if w.Header().Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: security headers missing", c.name)
		}
		if c.status != 204 {
			want++
		}
	}
	if g.Refused() != int64(want) || len(denied) != want {
		t.Errorf("Refused() = %d, denied %d, want %d", g.Refused(), len(denied), want)
	}
}

func TestGate_BrowserRule(t *testing.T) {
	g := &Gate{Who: "byokd hub", Surface: "this hub",
		Browser: func(r *http.Request) string {
			if r.Header.Get("Origin") == "https://evil.test" {
				return "refused a request from another web site"
			}
			return ""
		},
		Deny: func(w http.ResponseWriter, _ *http.Request, status int, _, msg string) { http.Error(w, msg, status) }}
	h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	for origin, want := range map[string]int{"https://hub.example": 204, "https://evil.test": 403} {
		r := httptest.NewRequest("POST", "/v1/join", nil)
		r.Host = "hub.example" // no Port: any Host
		r.Header.Set("Origin", origin)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("Origin %s: %d, want %d", origin, w.Code, want)
		}
	}
	if g.Refused() != 1 {
		t.Errorf("Refused() = %d, want 1", g.Refused())
	}
}
