package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"byokd.dev/byok/control"
	"byokd.dev/byok/internal/fakeprovider"
	"byokd.dev/byok/internal/otheruser"
)

// TestE2E_AnotherLocalUserIsRefused: a second Unix user on the machine,
// even holding the member's app token, control token and a fresh sign-in
// link, gets a 403 from the proxy, the control API and the Credential
// Manager before a byte of its request is read; the upstream sees nothing
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
