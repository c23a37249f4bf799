package hub_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
	"byokd.dev/byok/internal/fakeprovider"
	"byokd.dev/byok/teamsync"
	"byokd.dev/byok/upstream"
)

const (
	teamOpenAI    = "sk-team-openai-0123456789abcdef"
	teamAnthropic = "sk-ant-team-fedcba9876543210"
	chatBody      = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	streamBody    = `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`
)

// relayHub is a hub whose upstreams are a fake provider, with shared keys
// for OpenAI and Anthropic and a policy sharing OpenAI only.
func relayHub(t *testing.T) (*testHub, *fakeprovider.Server) {
	t.Helper()
	fake := fakeprovider.New(t, fakeprovider.Options{})
	u, _ := url.Parse(fake.URL)
	h := startHub(t, func(c *hub.Config) {
		c.Upstreams = map[byok.Service]*url.URL{byok.OpenAI: u, byok.Anthropic: u, byok.ClickUp: u}
	})
	ctx := context.Background()
	if _, err := h.admin.AddKey(ctx, byok.OpenAI, "team-openai", byok.NewSecret(teamOpenAI)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.admin.AddKey(ctx, byok.Anthropic, "team-anthropic", byok.NewSecret(teamAnthropic)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.admin.SetPolicy(ctx, byok.Policy{SharedServices: []byok.Service{byok.OpenAI}}); err != nil {
		t.Fatal(err)
	}
	return h, fake
}

func relayHeaders(en teamsync.Enrollment, id string) map[string]string {
	return map[string]string{
		"Authorization": "Bearer " + en.Credential.Reveal(), "Content-Type": "application/json",
		upstream.HeaderApp: "editor", upstream.HeaderProject: "acme", upstream.HeaderEventID: id,
	}
}

func TestRelay_SignsWithSharedKeyAndMetersForMember(t *testing.T) {
	h, fake := relayHub(t)
	en := h.join(t, "ann@example.com")
	status, hdr, body := call(t, http.MethodPost, h.URL()+"/relay/openai/v1/chat/completions", relayHeaders(en, "evt-1"), nil, chatBody)
	if status != 200 {
		t.Fatalf("relay: %d %s", status, body)
	}
	if got := hdr.Get(upstream.HeaderCredential); got != "team/team-openai" {
		t.Errorf("X-Byokd-Credential = %q, want team/team-openai", got)
	}
	reqs := fake.Requests()
	if len(reqs) != 1 {
		t.Fatalf("upstream saw %d requests, want 1", len(reqs))
	}
	if reqs[0].Key != teamOpenAI || reqs[0].Path != "/v1/chat/completions" {
		t.Errorf("upstream got key %q path %q, want the shared key on /v1/chat/completions", reqs[0].Key, reqs[0].Path)
	}
	for k := range reqs[0].Header {
		if strings.HasPrefix(k, "X-Byokd-") || strings.Contains(strings.Join(reqs[0].Header[k], ""), en.Credential.Reveal()) {
			t.Errorf("upstream saw %s: the device's headers must stay on the hub", k)
		}
	}
	rows, err := h.admin.Usage(context.Background(), h.clock.Now().AddDate(0, 0, -1), h.clock.Now().AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	want := []byok.UsageEvent{{
		ID: "evt-1", Time: h.clock.Now(), Service: byok.OpenAI, Model: "gpt-4o-mini", App: "editor", Project: "acme",
		Credential: byok.TeamKey("team-openai"), Payer: byok.PayerTeam, Member: "ann@example.com", Status: 200, Relayed: true,
		CostKnown: true,
	}}
	ignore := cmpopts.IgnoreFields(byok.UsageEvent{}, "Usage", "Cost", "Latency")
	if d := cmp.Diff(want, rows, ignore); d != "" {
		t.Errorf("hub rows (-want +got):\n%s", d)
	}
	if len(rows) == 1 && (rows[0].Usage.OutputTokens != 45 || rows[0].Cost <= 0 || !rows[0].Usage.Complete) {
		t.Errorf("row usage %+v cost %v: want the fake's 45 output tokens, a cost and complete", rows[0].Usage, rows[0].Cost)
	}

	// The daemon later syncs its own copy under the same id: the hub keeps its own.
	own := rows[0]
	own.Cost, own.Usage.OutputTokens, own.Credential = 1, 1, byok.TeamKey("openai")
	if err := h.store.IngestUsage(context.Background(), "ann@example.com", en.DeviceID, []byok.UsageEvent{own}); err != nil {
		t.Fatal(err)
	}
	again, _ := h.admin.Usage(context.Background(), h.clock.Now().AddDate(0, 0, -1), h.clock.Now().AddDate(0, 0, 1))
	if d := cmp.Diff(rows, again); d != "" {
		t.Errorf("after the daemon's copy synced (-hub's +now):\n%s", d)
	}
}

func TestRelay_Streams(t *testing.T) {
	h, _ := relayHub(t)
	en := h.join(t, "ann@example.com")
	status, hdr, body := call(t, http.MethodPost, h.URL()+"/relay/openai/v1/chat/completions", relayHeaders(en, "evt-s"), nil, streamBody)
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/event-stream") || !strings.Contains(body, "data: [DONE]") {
		t.Fatalf("stream: %d %s %q", status, hdr.Get("Content-Type"), body)
	}
	if strings.Contains(body, `"usage":{`) {
		t.Errorf("the client did not ask for usage, yet the stream carries a usage report")
	}
	rows, _ := h.admin.Usage(context.Background(), h.clock.Now().AddDate(0, 0, -1), h.clock.Now().AddDate(0, 0, 1))
	if len(rows) != 1 || rows[0].Usage.OutputTokens != 45 || !rows[0].Usage.Complete {
		t.Errorf("rows = %+v, want one complete row with 45 output tokens", rows)
	}
}

func TestRelay_RefusesInProviderShape(t *testing.T) {
	h, fake := relayHub(t)
	en := h.join(t, "ann@example.com")
	// Anthropic has a shared key but the policy does not share it.
	hdr := relayHeaders(en, "evt-a")
	hdr["anthropic-version"] = "2023-06-01"
	status, _, body := call(t, http.MethodPost, h.URL()+"/relay/anthropic/v1/messages", hdr, nil,
		`{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`)
	var ant struct {
		Type  string `json:"type"`
		Error struct{ Type, Message string }
	}
	if err := json.Unmarshal([]byte(body), &ant); err != nil || status != 403 || ant.Type != "error" ||
		ant.Error.Type != "permission_error" || !strings.HasPrefix(ant.Error.Message, "byokd hub: the team policy does not allow shared keys for Anthropic") {
		t.Errorf("forbidden service: %d %s", status, body)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("upstream saw %d requests, want none", n)
	}

	// A cap below one call's cost: the first call passes, the next is refused.
	if _, err := h.admin.SetPolicy(context.Background(), byok.Policy{SharedServices: []byok.Service{byok.OpenAI}, MemberMonthlyCap: 1}); err != nil {
		t.Fatal(err)
	}
	if status, _, body := call(t, http.MethodPost, h.URL()+"/relay/openai/v1/chat/completions", relayHeaders(en, "evt-1"), nil, chatBody); status != 200 {
		t.Fatalf("first call under the cap: %d %s", status, body)
	}
	status, _, body = call(t, http.MethodPost, h.URL()+"/relay/openai/v1/chat/completions", relayHeaders(en, "evt-2"), nil, chatBody)
	var oai struct {
		Error struct{ Message, Code string }
	}
	if err := json.Unmarshal([]byte(body), &oai); err != nil || status != 403 || oai.Error.Code != "member_cap_reached" ||
		!strings.HasPrefix(oai.Error.Message, "byokd hub: you have used your monthly shared-key allowance") {
		t.Errorf("over the cap: %d %s", status, body)
	}
	// Another member still has their allowance.
	bob := h.join(t, "bob@example.com")
	if status, _, body := call(t, http.MethodPost, h.URL()+"/relay/openai/v1/chat/completions", relayHeaders(bob, "evt-1"), nil, chatBody); status != 200 {
		t.Errorf("bob under his own cap: %d %s", status, body)
	}
	if n := len(fake.Requests()); n != 2 {
		t.Errorf("upstream saw %d requests, want 2", n)
	}
}

func TestRelay_ScrubsSharedKeyFromErrors(t *testing.T) {
	h, fake := relayHub(t)
	en := h.join(t, "ann@example.com")
	// Some upstreams echo the key they got.
	echo := fakeprovider.OpenAIInvalidKey()
	echo.Body = `{"error":{"message":"Incorrect API key provided: ` + teamOpenAI + `","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`
	fake.FailNext(1, echo)
	status, _, body := call(t, http.MethodPost, h.URL()+"/relay/openai/v1/chat/completions", relayHeaders(en, "evt-e"), nil, chatBody)
	if status != 401 {
		t.Errorf("status %d, want the provider's 401", status)
	}
	if strings.Contains(body, teamOpenAI) || strings.Contains(body, teamOpenAI[len(teamOpenAI)-8:]) {
		t.Errorf("error body carries the shared key: %s", body)
	}
}

// The team's key goes only where byokd counts what it costs: an endpoint
// byokd does not meter is refused by name unless the policy allows it,
// and while a member cap is set a call whose cost cannot be known is
// refused rather than counted as $0.
func TestRelay_OnlyMeteredEndpoints(t *testing.T) {
	h, fake := relayHub(t)
	en := h.join(t, "ann@example.com")
	ctx := context.Background()
	relay := func(method, path, body string) (int, string) {
		t.Helper()
		status, _, out := call(t, method, h.URL()+"/relay/openai"+path, relayHeaders(en, ""), nil, body)
		return status, out
	}
	speech := `{"model":"tts-1","input":"a key","voice":"alloy"}`
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/audio/speech", speech},
		{"POST", "/v1/batches", `{"input_file_id":"file-1","endpoint":"/v1/chat/completions"}`},
		{"GET", "/v1/chat/completions", ""}, // stored completions list
		// Metered by a daemon, which counts each file once; the relay
		// keeps no such record.
		{"GET", "/v1/files/file-1/content", ""},
	} {
		status, out := relay(c.method, c.path, c.body)
		if status != 403 || !strings.Contains(out, `"code":"endpoint_not_metered"`) || !strings.Contains(out, "is not one of them") {
			t.Errorf("%s %s: %d %s, want 403 endpoint_not_metered", c.method, c.path, status, out)
		}
	}
	if status, out := relay("POST", "/v1/audio/speech", speech); !strings.Contains(out, "POST /v1/audio/speech is not one of them") ||
		!strings.Contains(out, "--allow-endpoint 'openai POST /v1/audio/speech'") {
		t.Errorf("the refusal does not name the endpoint and the fix: %d %s", status, out)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Fatalf("upstream saw %d requests, want none", n)
	}

	// The admin allows speech explicitly: the call goes out, its cost unknown.
	p := byok.Policy{SharedServices: []byok.Service{byok.OpenAI}, UnmeteredEndpoints: []string{"openai POST /v1/audio/speech"}}
	if _, err := h.admin.SetPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	if status, out := relay("POST", "/v1/audio/speech", speech); status == 403 {
		t.Fatalf("an endpoint the policy allows: %d %s", status, out)
	}
	if n := len(fake.Requests()); n != 1 {
		t.Fatalf("upstream saw %d requests, want the allowed one", n)
	}
	rows, _ := h.admin.Usage(ctx, h.clock.Now().AddDate(0, 0, -1), h.clock.Now().AddDate(0, 0, 1))
	if len(rows) != 1 || rows[0].CostKnown {
		t.Errorf("rows %+v, want one row with its cost unknown", rows)
	}

	// With a member cap, neither an unmetered endpoint nor an unpriced
	// model may spend the team's money.
	p.MemberMonthlyCap = 10_000_000
	if _, err := h.admin.SetPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, body, want string }{
		{"/v1/audio/speech", speech, "byokd does not meter this endpoint"},
		{"/v1/chat/completions", `{"model":"gpt-9-experimental","messages":[]}`, `the model \"gpt-9-experimental\" has no price`},
	} {
		status, out := relay("POST", c.path, c.body)
		if status != 403 || !strings.Contains(out, `"code":"cost_unknown"`) || !strings.Contains(out, c.want) {
			t.Errorf("%s under a cap: %d %s, want 403 cost_unknown saying %s", c.path, status, out, c.want)
		}
	}
	if status, out := relay("POST", "/v1/chat/completions", chatBody); status != 200 {
		t.Errorf("a priced model under the cap: %d %s", status, out)
	}
	if n := len(fake.Requests()); n != 2 {
		t.Errorf("upstream saw %d requests, want 2 (the allowed speech, the priced chat)", n)
	}

	// A policy entry that is not an endpoint is refused.
	p.UnmeteredEndpoints = []string{"openai FETCH /v1/x"}
	if _, err := h.admin.SetPolicy(ctx, p); err == nil || !strings.Contains(err.Error(), "the method must be") {
		t.Errorf("SetPolicy with a bad endpoint: %v", err)
	}
}

// unwritable is a Store whose database has stopped taking writes.
type unwritable struct{ hub.Store }

func (unwritable) Writable(context.Context) error {
	return errors.New("hub disk full: free space on the disk holding /srv/hub/hub.db")
}

// A hub that could not record a call does not send it on the team's key:
// the member hears why, the upstream sees nothing, and the hub's path is
// not told to members.
func TestRelay_RefusesWhatItCannotRecord(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	u, _ := url.Parse(fake.URL)
	h := startHub(t, func(c *hub.Config) {
		c.Upstreams = map[byok.Service]*url.URL{byok.OpenAI: u, byok.Anthropic: u, byok.ClickUp: u}
		c.Store = unwritable{c.Store}
	})
	ctx := context.Background()
	if _, err := h.admin.AddKey(ctx, byok.OpenAI, "team-openai", byok.NewSecret(teamOpenAI)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.admin.SetPolicy(ctx, byok.Policy{SharedServices: []byok.Service{byok.OpenAI}}); err != nil {
		t.Fatal(err)
	}
	en := h.join(t, "ann@example.com")
	status, _, body := call(t, http.MethodPost, h.URL()+"/relay/openai/v1/chat/completions", relayHeaders(en, "evt-1"), nil, chatBody)
	if status != 503 || !strings.Contains(body, `"code":"hub_cannot_record"`) || !strings.Contains(body, "the team's key is never used unrecorded") ||
		strings.Contains(body, "/srv/hub") {
		t.Errorf("relay with an unwritable store: %d %s", status, body)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("upstream saw %d requests, want none", n)
	}
}

// The team's price table prices relayed calls from the moment it is set;
// a table that does not read is refused and changes nothing.
func TestRelay_PricesByTheTeamTable(t *testing.T) {
	h, _ := relayHub(t)
	en := h.join(t, "ann@example.com")
	ctx := context.Background()
	body := `{"model":"gpt-9-preview","messages":[{"role":"user","content":"hi"}]}`
	costOf := func(id string) (byok.Micros, bool) {
		t.Helper()
		if status, _, out := call(t, http.MethodPost, h.URL()+"/relay/openai/v1/chat/completions", relayHeaders(en, id), nil, body); status != 200 {
			t.Fatalf("relay: %d %s", status, out)
		}
		rows, _ := h.admin.Usage(ctx, h.clock.Now().AddDate(0, 0, -1), h.clock.Now().AddDate(0, 0, 1))
		for _, r := range rows {
			if r.ID == id {
				return r.Cost, r.CostKnown
			}
		}
		t.Fatalf("no row %s", id)
		return 0, false
	}
	if _, known := costOf("before"); known {
		t.Fatal("an unpriced model was costed")
	}
	if _, err := h.admin.SetPrices(ctx, []byte(`{"openai": {"gpt-9-preview": {"input": -1, "output": 1}}}`)); err == nil ||
		!strings.Contains(err.Error(), "is not a price") {
		t.Errorf("a bad table: %v", err)
	}
	tbl, err := h.admin.SetPrices(ctx, []byte(`{"openai": {"gpt-9-preview": {"input": 1, "output": 1}}}`))
	if err != nil || tbl.Version != 1 {
		t.Fatalf("SetPrices: %+v %v", tbl, err)
	}
	if cost, known := costOf("after"); !known || cost <= 0 {
		t.Errorf("after the table: cost %v known %v", cost, known)
	}
}

// Image generation is metered from the usage in the provider's answer, so
// the shared key may serve it and the team sees what it cost.
func TestRelay_MetersImageGeneration(t *testing.T) {
	h, fake := relayHub(t)
	en := h.join(t, "ann@example.com")
	status, _, out := call(t, http.MethodPost, h.URL()+"/relay/openai/v1/images/generations", relayHeaders(en, "img-1"), nil,
		`{"model":"gpt-image-1","prompt":"a brass key","size":"1024x1024"}`)
	if status != 200 || len(fake.Requests()) != 1 {
		t.Fatalf("image generation through the relay: %d %s", status, out)
	}
	rows, _ := h.admin.Usage(context.Background(), h.clock.Now().AddDate(0, 0, -1), h.clock.Now().AddDate(0, 0, 1))
	u := fakeprovider.DefaultUsage()
	want := byok.Micros(u.InputTokens*5 + u.OutputTokens*40) // gpt-image-1: text in $5, image out $40 per million
	if len(rows) != 1 || rows[0].Model != "gpt-image-1" || !rows[0].CostKnown || rows[0].Cost != want {
		t.Errorf("rows %+v, want one gpt-image-1 row costing %s", rows, want)
	}
}
