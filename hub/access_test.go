package hub_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"byokd.dev/byok"
	"byokd.dev/byok/teamsync"
)

// TestAccess_Matrix tries every hub route with every kind of caller; only
// the allowed ones answer.
func TestAccess_Matrix(t *testing.T) {
	h, _ := relayHub(t)
	ctx := context.Background()
	ann, bob, gone := h.join(t, "ann@example.com"), h.join(t, "bob@example.com"), h.join(t, "gone@example.com")
	if err := h.admin.Revoke(ctx, gone.DeviceID); err != nil {
		t.Fatal(err)
	}
	cookie := h.adminSession(t, "boss@example.com")
	for _, m := range []struct {
		en teamsync.Enrollment
		id string
	}{{ann, "a1"}, {bob, "b1"}} {
		ev := byok.UsageEvent{ID: m.id, Time: h.clock.Now(), Service: byok.OpenAI, Payer: byok.PayerPersonal, Member: "forged@example.com"}
		if err := h.store.IngestUsage(ctx, m.en.Member, m.en.DeviceID, []byok.UsageEvent{ev}); err != nil {
			t.Fatal(err)
		}
	}
	adminTok, err := os.ReadFile(filepath.Join(h.dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	type caller struct {
		name   string
		hdr    map[string]string
		cookie bool
	}
	callers := []caller{
		{"ann", bearer(ann.Credential), false},
		{"bob", bearer(bob.Credential), false},
		{"admin session", nil, true},
		{"revoked device", bearer(gone.Credential), false},
		{"nobody", nil, false},
		{"admin token", map[string]string{"Authorization": "Bearer " + strings.TrimSpace(string(adminTok))}, false},
	}
	admin := "http://" + h.AdminAddr()
	routes := []struct {
		name   string
		method string
		url    string
		body   string
		want   map[string]int // caller → status; others 401
	}{
		{"usage", "GET", h.URL() + "/v1/usage", "", map[string]int{"ann": 200, "bob": 200, "admin session": 200}},
		{"relay", "POST", h.URL() + "/relay/openai/v1/chat/completions", chatBody, map[string]int{"ann": 200, "bob": 200}},
		{"sync", "WS", h.URL() + teamsync.SyncPath, "", map[string]int{"ann": 101, "bob": 101}},
		{"member login link", "POST", h.URL() + teamsync.LoginLinkPath, "", map[string]int{"ann": 200, "bob": 200}},
		{"admin devices", "GET", admin + "/v1/devices", "", map[string]int{"admin token": 200}},
		{"admin usage", "GET", admin + "/v1/usage", "", map[string]int{"admin token": 200}},
		{"admin policy", "PUT", admin + "/v1/policy", `{"shared_services":["openai"]}`, map[string]int{"admin token": 200}},
		{"admin keys", "GET", admin + "/v1/keys", "", map[string]int{"admin token": 200}},
		{"admin invite", "POST", admin + "/v1/invites", `{"email":"x@example.com"}`, map[string]int{"admin token": 200}},
	}
	for _, r := range routes {
		for _, c := range callers {
			want := r.want[c.name]
			if want == 0 {
				want = 401
			}
			var ck *http.Cookie
			if c.cookie {
				ck = cookie
			}
			var got int
			var body string
			if r.method == "WS" {
				got = dialSync(t, r.url, c.hdr, ck)
			} else {
				hdr := map[string]string{"Content-Type": "application/json"}
				for k, v := range c.hdr {
					hdr[k] = v
				}
				got, _, body = call(t, r.method, r.url, hdr, ck, r.body)
			}
			if got != want {
				t.Errorf("%s as %s: got %d, want %d (%s)", r.name, c.name, got, want, body)
			}
			if r.name == "usage" && got == 200 {
				rows := decodeUsage(t, body)
				var members []string
				for _, e := range rows {
					members = append(members, e.Member)
				}
				wantMembers := map[string]string{"ann": "ann@example.com", "bob": "bob@example.com",
					"admin session": "ann@example.com,bob@example.com"}[c.name]
				if got := strings.Join(members, ","); got != wantMembers {
					t.Errorf("usage as %s: rows of %q, want %q", c.name, got, wantMembers)
				}
			}
		}
	}
}

// dialSync opens the sync websocket and returns the HTTP status.
func dialSync(t *testing.T, u string, hdr map[string]string, cookie *http.Cookie) int {
	t.Helper()
	h := http.Header{}
	for k, v := range hdr {
		h.Set(k, v)
	}
	if cookie != nil {
		h.Set("Cookie", cookie.String())
	}
	conn, resp, err := websocket.Dial(context.Background(), strings.Replace(u, "http", "ws", 1), &websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		conn.Close(websocket.StatusNormalClosure, "")
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// TestSecrets_NeverInLogsOrDatabase runs every path that handles a secret
// and then greps the hub's logs and every file in its state folder.
func TestSecrets_NeverInLogsOrDatabase(t *testing.T) {
	h, _ := relayHub(t)
	ctx := context.Background()
	inv, err := h.admin.Invite(ctx, "ann@example.com", 0)
	if err != nil {
		t.Fatal(err)
	}
	ann, err := teamsync.Join(ctx, h.URL(), inv.Code, "laptop", false)
	if err != nil {
		t.Fatal(err)
	}
	link, err := h.admin.CreateAdmin(ctx, "boss@example.com")
	if err != nil {
		t.Fatal(err)
	}
	code := link.Link[strings.Index(link.Link, "code=")+5:]
	cookie := h.adminSession(t, "boss@example.com")
	if status, _, body := call(t, "POST", h.URL()+"/relay/openai/v1/chat/completions", relayHeaders(ann, "e1"), nil, chatBody); status != 200 {
		t.Fatalf("relay: %d %s", status, body)
	}
	if status, _, _ := call(t, "GET", h.URL()+"/v1/usage", nil, cookie, ""); status != 200 {
		t.Fatalf("usage: %d", status)
	}
	keys, _ := h.admin.Keys(ctx)
	if len(keys) != 2 || keys[1].Name != "team-openai" || keys[1].Fingerprint != "…cdef" {
		t.Errorf("key list = %+v, want two keys with fingerprints only", keys)
	}
	secrets := map[string]string{
		"shared OpenAI key": teamOpenAI, "shared Anthropic key": teamAnthropic, "device credential": ann.Credential.Reveal(),
		"invite code": inv.Code, "invite code as typed": strings.ReplaceAll(inv.Code, "-", ""), "login code": code, "session": cookie.Value,
	}
	files, _ := filepath.Glob(filepath.Join(h.dir, "*"))
	for _, f := range files {
		if filepath.Base(f) == "admin.token" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for what, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("%s found in %s", what, filepath.Base(f))
			}
		}
	}
	dump := h.dump(t)
	if !strings.Contains(dump, "ann@example.com") {
		t.Fatal("the store's dump lacks the member: it is not the store")
	}
	for what, s := range secrets {
		if strings.Contains(dump, s) {
			t.Errorf("%s found in the hub's store", what)
		}
	}
	logs := h.logs.String()
	for what, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("%s found in the hub's log", what)
		}
	}
	if !strings.Contains(logs, "device joined") {
		t.Errorf("log lacks the join: %s", logs)
	}
}
