package hub_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"byokd.dev/byok/hub"
	"byokd.dev/byok/hub/sqlstore"
	"byokd.dev/byok/teamsync"
)

func TestJoin_InviteSingleUseAndExpiring(t *testing.T) {
	h := startHub(t, nil)
	ctx := context.Background()
	inv, err := h.admin.Invite(ctx, "Ann@Example.com", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := inv.Expires, h.clock.Now().Add(7*24*time.Hour); !got.Equal(want) {
		t.Errorf("default expiry = %v, want %v", got, want)
	}
	// Typed in lower case without dashes still works, once.
	typed := strings.ToLower(strings.ReplaceAll(inv.Code, "-", ""))
	en, err := teamsync.Join(ctx, h.URL(), typed, "ann-laptop", false)
	if err != nil {
		t.Fatal(err)
	}
	if en.Member != "ann@example.com" || en.DeviceID == "" || en.Credential.IsZero() {
		t.Errorf("enrollment = %+v, want ann@example.com with a device and credential", en)
	}
	if _, err := teamsync.Join(ctx, h.URL(), inv.Code, "again", false); !errors.Is(err, teamsync.ErrInvite) {
		t.Errorf("second use: got %v, want ErrInvite", err)
	}

	short, err := h.admin.Invite(ctx, "bob@example.com", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Add(time.Hour)
	if _, err := teamsync.Join(ctx, h.URL(), short.Code, "late", false); !errors.Is(err, teamsync.ErrInvite) {
		t.Errorf("expired code: got %v, want ErrInvite", err)
	}
	if _, err := teamsync.Join(ctx, h.URL(), "AAAA-BBBB-CCCC-DDDD-EEEE", "guess", false); !errors.Is(err, teamsync.ErrInvite) {
		t.Errorf("unknown code: got %v, want ErrInvite", err)
	}
	devs, err := h.admin.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 1 || devs[0].Member != "ann@example.com" || devs[0].Name != "ann-laptop" {
		t.Errorf("devices = %+v, want only ann's laptop", devs)
	}
}

func TestSync_ProtocolMismatchClosesWithReason(t *testing.T) {
	h := startHub(t, nil)
	en := h.join(t, "ann@example.com")
	ctx := context.Background()
	u := strings.Replace(h.URL(), "http", "ws", 1) + teamsync.SyncPath
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + en.Credential.Reveal()}}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if err := teamsync.WriteMessage(ctx, conn, teamsync.Message{Type: teamsync.TypeHello, Hello: &teamsync.Hello{Protocol: 99}}); err != nil {
		t.Fatal(err)
	}
	_, err = teamsync.ReadMessage(ctx, conn)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != teamsync.CloseProtocol || !strings.Contains(ce.Reason, "protocol 1, this daemon 99") {
		t.Errorf("got %v, want close %d naming both versions", err, teamsync.CloseProtocol)
	}
}

func TestLogin_OneTimeLinkSetsStrictCookie(t *testing.T) {
	h := startHub(t, nil)
	l, err := h.admin.CreateAdmin(context.Background(), "boss@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(l.Link, h.URL()+"/login?code=") {
		t.Fatalf("link %q does not point at the hub's /login", l.Link)
	}
	lu, _ := url.Parse(l.Link)
	code := lu.Query().Get("code")

	// The GET only shows a button; the code still works afterwards.
	status, hdr, body := call(t, http.MethodGet, l.Link, nil, nil, "")
	if status != 200 || hdr.Get("Set-Cookie") != "" || !strings.Contains(body, `method="post"`) {
		t.Errorf("GET /login = %d, cookie %q; want 200, a form and no cookie", status, hdr.Get("Set-Cookie"))
	}
	if resp := postForm(t, h.URL()+"/login", url.Values{"code": {code}}, map[string]string{"Origin": "https://evil.example"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin POST /login = %d, want 403", resp.StatusCode)
	}
	resp := postForm(t, h.URL()+"/login", url.Values{"code": {code}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /login = %d, want 303", resp.StatusCode)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "byokd_hub_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" {
		t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Strict, Path=/", cookie)
	}
	if status, _, _ := call(t, http.MethodGet, h.URL()+"/v1/usage", nil, cookie, ""); status != 200 {
		t.Errorf("usage with the session = %d, want 200", status)
	}
	if resp := postForm(t, h.URL()+"/login", url.Values{"code": {code}}, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("second use of the login code = %d, want 401", resp.StatusCode)
	}
	// Links and sessions expire.
	l2, _ := h.admin.CreateAdmin(context.Background(), "boss@example.com")
	h.clock.Add(16 * time.Minute)
	l2u, _ := url.Parse(l2.Link)
	if resp := postForm(t, h.URL()+"/login", url.Values{"code": {l2u.Query().Get("code")}}, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("expired login code = %d, want 401", resp.StatusCode)
	}
	h.clock.Add(12 * time.Hour)
	if status, _, _ := call(t, http.MethodGet, h.URL()+"/v1/usage", nil, cookie, ""); status != 401 {
		t.Errorf("usage with an expired session = %d, want 401", status)
	}
}

func TestGate_RefusesRebindingAndForeignOrigins(t *testing.T) {
	h := startHub(t, nil)
	en := h.join(t, "ann@example.com")
	for _, c := range []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"own host", nil, 200},
		{"rebinding host", map[string]string{"Host": "evil.example:" + port(h.Addr())}, 403},
		{"foreign origin", map[string]string{"Origin": "https://evil.example"}, 403},
		{"cross-site fetch", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
	} {
		hdr := bearer(en.Credential)
		for k, v := range c.hdr {
			hdr[k] = v
		}
		req, _ := http.NewRequest(http.MethodGet, h.URL()+"/v1/usage", nil)
		for k, v := range hdr {
			if k == "Host" {
				req.Host = v
				continue
			}
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: got %d, want %d", c.name, resp.StatusCode, c.want)
		}
	}
}

func port(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }

// TestGate_BehindAProxyAnswersItsPublicName: a hub on loopback behind a
// reverse proxy on the same machine answers the name the proxy forwards
// (its public URL's), and still refuses any other.
func TestGate_BehindAProxyAnswersItsPublicName(t *testing.T) {
	h := startHub(t, func(c *hub.Config) { c.PublicURL = "https://hub.example.com" })
	inv, err := h.admin.Invite(context.Background(), "ann@example.com", 0)
	if err != nil {
		t.Fatal(err)
	}
	en, err := teamsync.Join(context.Background(), "http://"+h.Addr(), inv.Code, "laptop", false)
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]int{
		"hub.example.com":                   200,
		"HUB.example.com":                   200,
		"127.0.0.1:" + port(h.Addr()):       200,
		"evil.example":                      403,
		"hub.example.com.evil.example":      403,
		"hub.example.com:" + port(h.Addr()): 403,
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+h.Addr()+"/v1/usage", nil)
		req.Host = host
		req.Header.Set("Authorization", "Bearer "+en.Credential.Reveal())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: got %d, want %d", host, resp.StatusCode, want)
		}
	}
}

// TestHealth_SaysWhenTheDatabaseCannotBeWritten: /v1/health answers 200
// while the hub can record calls and 503 once its database is gone, so a
// load balancer sends members to another replica; the cause is in the
// log, not in the public answer.
func TestHealth_SaysWhenTheDatabaseCannotBeWritten(t *testing.T) {
	h := startHub(t, nil)
	if status, _, body := call(t, http.MethodGet, h.URL()+"/v1/health", nil, nil, ""); status != 200 || !strings.Contains(body, `"ok":true`) {
		t.Fatalf("health of a working hub: %d %s", status, body)
	}
	h.store.Close()
	// Past the time a recent commit vouches for the database.
	time.Sleep(sqlstore.WritableFor + 100*time.Millisecond)
	status, _, body := call(t, http.MethodGet, h.URL()+"/v1/health", nil, nil, "")
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "database_unwritable") || !strings.Contains(body, "hub's log") {
		t.Errorf("health with the database closed: %d %s; want 503 database_unwritable", status, body)
	}
	if strings.Contains(body, "closed") || strings.Contains(body, "sql") {
		t.Errorf("the public answer tells the internal error: %s", body)
	}
	if !strings.Contains(h.logs.String(), "the database cannot be written") {
		t.Errorf("the cause is not in the log:\n%s", h.logs.String())
	}
}
