package jsonapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"byokd.dev/byok"
)

// The gate refuses, before any route runs: a Host that is not this
// machine's loopback with the API's port (DNS rebinding), a request from a
// web page (Origin or Referer), a missing or wrong token; it lets the
// right token through with the body bounded.
func TestGate(t *testing.T) {
	const token = "byokc_right-token"
	reached := 0
	routes := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached++
		b, err := io.ReadAll(r.Body)
		if err != nil {
			WriteError(w, http.StatusRequestEntityTooLarge, "too_large", err.Error())
			return
		}
		io.WriteString(w, "ok "+string(b))
	})
	g := NewServer(ServerConfig{Token: byok.NewSecret(token), Port: "4321", Who: "byokd", Name: "the control API",
		WrongToken: "byokd: missing or wrong control token", MaxBody: 16})
	g.Write("POST /v1/x", routes)
	tests := []struct {
		name, host, origin, referer, auth, body string
		status                                  int
		want                                    string
	}{
		{"the right token", "127.0.0.1:4321", "", "", "Bearer " + token, "hi", 200, "ok hi"},
		{"localhost", "localhost:4321", "", "", "Bearer " + token, "", 200, "ok "},
		{"rebound name", "evil.example:4321", "", "", "Bearer " + token, "", 403, "the control API answers only on 127.0.0.1:4321 or localhost:4321"},
		{"other port", "127.0.0.1:80", "", "", "Bearer " + token, "", 403, "answers only on 127.0.0.1:4321 or localhost:4321"},
		{"LAN address", "192.168.1.5:4321", "", "", "Bearer " + token, "", 403, "answers only on 127.0.0.1:4321 or localhost:4321"},
		{"web page origin", "127.0.0.1:4321", "http://evil.example", "", "Bearer " + token, "", 403, "byokd: refused a request from a web page"},
		{"null origin", "127.0.0.1:4321", "null", "", "Bearer " + token, "", 403, "refused a request from a web page"},
		{"referer", "127.0.0.1:4321", "", "http://evil.example/", "Bearer " + token, "", 403, "refused a request from a web page"},
		{"no token", "127.0.0.1:4321", "", "", "", "", 401, "byokd: missing or wrong control token"},
		{"wrong token", "127.0.0.1:4321", "", "", "Bearer byokc_wrong", "", 401, "missing or wrong control token"},
		{"token without Bearer", "127.0.0.1:4321", "", "", token, "", 401, "missing or wrong control token"},
		{"body over the limit", "127.0.0.1:4321", "", "", "Bearer " + token, strings.Repeat("x", 17), 413, "request body too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := reached
			r := httptest.NewRequest("POST", "/v1/x", strings.NewReader(tt.body))
			r.Host = tt.host
			for k, v := range map[string]string{"Origin": tt.origin, "Referer": tt.referer, "Authorization": tt.auth} {
				if v != "" {
					r.Header.Set(k, v)
				}
			}
			w := httptest.NewRecorder()
			g.ServeHTTP(w, r)
			if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.want) {
				t.Errorf("got %d %s, want %d containing %q", w.Code, w.Body, tt.status, tt.want)
			}
			if refused := tt.status == 401 || tt.status == 403; refused && reached != before {
				t.Error("a refused request reached the routes")
			}
			if strings.Contains(w.Body.String(), token) && tt.status != 200 {
				t.Error("the token appears in a refusal")
			}
		})
	}
}

// A read-only token reads and changes nothing; the full token does both;
// no route that changes anything answers GET.
func TestServer_ReadAndWrite(t *testing.T) {
	const full, ro = "byokc_full-token", "byokr_read-token"
	s := NewServer(ServerConfig{Token: byok.NewSecret(full), ReadToken: byok.NewSecret(ro), Port: "4321",
		Who: "byokd", Name: "the control API", WrongToken: "byokd: wrong token", MaxBody: 1 << 10})
	changed := 0
	s.Read("GET /v1/status", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "status") })
	s.Write("POST /v1/keys", func(w http.ResponseWriter, r *http.Request) { changed++ })
	for _, c := range []struct {
		method, token string
		status        int
	}{
		{"GET", ro, 200}, {"GET", full, 200}, {"POST", full, 200},
		{"POST", ro, 403}, {"GET", "byokr_wrong", 401},
	} {
		path := "/v1/status"
		if c.method == "POST" {
			path = "/v1/keys"
		}
		before := changed
		r := httptest.NewRequest(c.method, path, nil)
		r.Host = "127.0.0.1:4321"
		r.Header.Set("Authorization", "Bearer "+c.token)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != c.status {
			t.Errorf("%s %s with %s: got %d %s, want %d", c.method, path, c.token, w.Code, w.Body, c.status)
		}
		if c.status != 200 && changed != before {
			t.Errorf("%s %s with %s changed something", c.method, path, c.token)
		}
	}
	if got := s.Refused(); got != 2 {
		t.Errorf("Refused() = %d, want 2", got)
	}
	for _, bad := range []func(){
		func() { s.Read("POST /v1/x", nil) },
		func() { s.Write("GET /v1/y", nil) },
		func() { s.Write("/v1/z", nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("a read route that is not a GET, or a write route that is, was registered")
				}
			}()
			bad()
		}()
	}
}
