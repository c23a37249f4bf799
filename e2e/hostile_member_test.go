package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"byokd.dev/byok"
	"byokd.dev/byok/internal/fakeprovider"
	"byokd.dev/byok/teamsync"
)

// TestE2E_HostileMemberCannotSpendUnmetered: a member who joins the real
// hub with their own client (the device credential is theirs to use) and
// talks to it directly, not through byokd, tries every way to spend the
// team's money unmetered or to falsify the admin's figures. Each is
// refused, the provider sees only the calls the hub meters, and the
// team's spend on the hub is exactly what those calls cost.
func TestE2E_HostileMemberCannotSpendUnmetered(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	h := startHub(t, fake.URL)
	h.cli(teamOpenAIKey, "key", "add", "openai", "--name", "team-openai")
	h.cli("", "policy", "set", "--shared-services", "openai", "--member-cap", "5")
	code := strings.TrimSpace(h.cli("", "invite", "eve@example.com"))
	ctx := context.Background()
	en, err := teamsync.Join(ctx, h.url, code, "eve-laptop", false)
	if err != nil {
		t.Fatal(err)
	}
	relay := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, h.url+"/relay/openai"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+en.Credential.Reveal())
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct{ what, method, path, body, want string }{
		{"a stream flag the hub would read as false", "POST", "/v1/chat/completions",
			`{"model":"gpt-4o-mini","stream":false,"stre\u0061m":true,"messages":[]}`, "unreadable_body"},
		{"a model given twice", "POST", "/v1/chat/completions",
			`{"model":"gpt-4o-mini","model":"o3-pro","messages":[]}`, "unreadable_body"},
		{"an endpoint byokd does not meter", "POST", "/v1/audio/speech", `{"model":"tts-1","input":"hi","voice":"alloy"}`, "endpoint_not_metered"},
		{"a model without a price under the cap", "POST", "/v1/chat/completions", `{"model":"gpt-9-experimental","messages":[]}`, "cost_unknown"},
		{"a method no provider takes", "PROPFIND", "/v1/models", ``, "bad_method"},
	} {
		status, body := relay(c.method, c.path, c.body)
		if status < 400 || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s, want refused with %s", c.what, status, body, c.want)
		}
	}
	if n := len(fake.Requests()); n != 0 {
		t.Fatalf("the provider saw %d of the refused calls", n)
	}
	// One honest relayed call, metered by the hub.
	if status, body := relay("POST", "/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`); status != 200 {
		t.Fatalf("an honest relayed call: %d %s", status, body)
	}

	// Over the real websocket, rows that would lower or raise the team's
	// figures: a team-paid row for a call the hub never relayed, negative
	// tokens, a credential of the other payer.
	conn, _, err := websocket.Dial(ctx, strings.Replace(h.url, "http", "ws", 1)+teamsync.SyncPath,
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + en.Credential.Reveal()}}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	teamsync.WriteMessage(wctx, conn, teamsync.Message{Type: teamsync.TypeHello, Hello: &teamsync.Hello{Protocol: teamsync.Protocol, Device: "eve-laptop"}})
	if m, err := teamsync.ReadMessage(wctx, conn); err != nil || m.Type != teamsync.TypeWelcome {
		t.Fatalf("hello: %+v %v", m, err)
	}
	now := time.Now()
	forged := []byok.UsageEvent{
		{ID: "eve-team", Time: now, Service: byok.OpenAI, Model: "gpt-4o", Payer: byok.PayerTeam, Credential: byok.TeamKey("team-openai"), Status: 200, Cost: 99_000_000, CostKnown: true},
		{ID: "eve-negative", Time: now, Service: byok.OpenAI, Model: "gpt-4o", Payer: byok.PayerPersonal, Credential: byok.PersonalKey("work"), Status: 200, Cost: -50_000_000, CostKnown: true},
		{ID: "eve-mismatch", Time: now, Service: byok.OpenAI, Model: "gpt-4o", Payer: byok.PayerPersonal, Credential: byok.TeamKey("team-openai"), Status: 200, Cost: 1, CostKnown: true},
	}
	teamsync.WriteMessage(wctx, conn, teamsync.Message{Type: teamsync.TypeUsage, Usage: &teamsync.UsageBatch{BatchID: "forged", Events: forged}})
	var ack *teamsync.Ack
	for ack == nil {
		m, err := teamsync.ReadMessage(wctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == teamsync.TypeAck {
			ack = m.Ack
		}
	}
	if len(ack.IDs) != 0 || len(ack.Rejected) != len(forged) {
		t.Errorf("forged rows: stored %v, rejected %+v; want every one rejected", ack.IDs, ack.Rejected)
	}

	var rows []byok.UsageEvent
	if err := json.Unmarshal([]byte(h.cli("", "usage", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	var team byok.Micros
	for _, r := range rows {
		if r.Payer == byok.PayerTeam {
			team += r.Cost
		}
	}
	if len(rows) != 1 || !rows[0].Relayed || team != rows[0].Cost || team <= 0 {
		t.Errorf("hub rows %+v: want only the one relayed call, its cost the team's spend", rows)
	}
	if n := len(fake.Requests()); n != 1 {
		t.Errorf("the provider saw %d calls, want the one metered call", n)
	}
	if st := h.cli("", "status"); !strings.Contains(st, "rejected:    3 synced usage rows") {
		t.Errorf("hub status does not count the rejected rows:\n%s", st)
	}
}
