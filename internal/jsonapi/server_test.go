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
	g := Gate{Token: byok.NewSecret(token), Port: "4321", Who: "byokd", API: "control API",
		WrongToken: "byokd: missing or wrong control token", MaxBody: 16}.Handler(routes)
	tests := []struct {
		name, host, origin, referer, auth, body string
		status                                  int
		want                                    string
	}{
		{"the right token", "127.0.0.1:4321", "", "", "Bearer " + token, "hi", 200, "ok hi"},
		{"localhost", "localhost:4321", "", "", "Bearer " + token, "", 200, "ok "},
		{"rebound name", "evil.example:4321", "", "", "Bearer " + token, "", 403, "byokd: refused: the control API answers only on 127.0.0.1 or localhost"},
		{"other port", "127.0.0.1:80", "", "", "Bearer " + token, "", 403, "answers only on 127.0.0.1 or localhost"},
		{"LAN address", "192.168.1.5:4321", "", "", "Bearer " + token, "", 403, "answers only on 127.0.0.1 or localhost"},
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
