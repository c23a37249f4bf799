package localproxy

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"byokd.dev/byok"
	"byokd.dev/byok/internal/fakeprovider"
	"byokd.dev/byok/upstream"
)

func twoCreds(approve func(context.Context) bool) []upstream.Credential {
	return []upstream.Credential{
		{Ref: byok.PersonalKey("work"), Secret: byok.NewSecret(personalKey)},
		{Ref: byok.TeamKey("openai"), Secret: byok.NewSecret(teamKey), Approve: approve},
	}
}

// quotaFallback falls back on 429 insufficient_quota only, as the real
// classifier does; it records what it was asked.
func quotaFallback(asked *[]string) upstream.Fallback {
	return func(c *upstream.Call, cred upstream.Credential, resp *upstream.FailedResponse, err error) (bool, string) {
		*asked = append(*asked, cred.Ref.String())
		if resp != nil && resp.Status == 429 && strings.Contains(string(resp.Body), "insufficient_quota") {
			return true, "insufficient_quota"
		}
		return false, ""
	}
}

func TestProxy_FallbackOnQuota(t *testing.T) {
	fake := newFake(t)
	fake.FailNext(1, fakeprovider.OpenAIInsufficientQuota())
	var asked []string
	p := newTestProxy(t, fake.URL, twoCreds(nil), func(c *Config) { c.Fallback = quotaFallback(&asked) })
	status, h, body := do(t, "POST", p.URL+"/openai/v1/chat/completions", map[string]string{"Authorization": "Bearer " + appTok}, chatBody)
	if status != 200 || !strings.Contains(body, "Hello") {
		t.Fatalf("status %d body %s: the call must succeed on the second credential", status, body)
	}
	if got := h.Get("X-Byokd-Credential"); got != "team/openai" {
		t.Errorf("credential header %q, want team/openai", got)
	}
	reqs := fake.Requests()
	if len(reqs) != 2 || reqs[0].Key != personalKey || reqs[1].Key != teamKey {
		t.Fatalf("upstream saw %d requests with keys %v, want personal then team", len(reqs), keys(reqs))
	}
	if string(reqs[1].Body) != string(reqs[0].Body) {
		t.Errorf("the replayed body differs: %q vs %q", reqs[1].Body, reqs[0].Body)
	}
	rows := p.rec.Rows()
	if len(rows) != 1 || rows[0].Credential.String() != "team/openai" || rows[0].Payer != byok.PayerTeam || rows[0].FallbackReason != "insufficient_quota" {
		t.Errorf("rows = %+v, want one team row with the fallback reason", rows)
	}
}

func keys(reqs []fakeprovider.Request) []string {
	var k []string
	for _, r := range reqs {
		k = append(k, r.Key)
	}
	return k
}

func TestProxy_NoFallbackOnOrdinaryError(t *testing.T) {
	fake := newFake(t)
	fake.FailNext(1, fakeprovider.Failure{Status: 400, Header: http.Header{"Content-Type": {"application/json"}},
		Body: `{"error":{"message":"Invalid value for 'model'","type":"invalid_request_error","param":"model","code":null}}`})
	var asked []string
	p := newTestProxy(t, fake.URL, twoCreds(nil), func(c *Config) { c.Fallback = quotaFallback(&asked) })
	status, _, body := do(t, "POST", p.URL+"/openai/v1/chat/completions", map[string]string{"Authorization": "Bearer " + appTok}, chatBody)
	if status != 400 || !strings.Contains(body, "Invalid value") {
		t.Fatalf("status %d body %s, want the upstream's 400", status, body)
	}
	if n := len(fake.Requests()); n != 1 {
		t.Errorf("upstream saw %d requests, want 1: a bad request must not be charged twice", n)
	}
	if rows := p.rec.Rows(); len(rows) != 1 || rows[0].Credential.String() != "personal/work" || rows[0].Status != 400 {
		t.Errorf("rows = %+v", rows)
	}
}

func TestProxy_FallbackDeclinedReturnsTheFailure(t *testing.T) {
	fake := newFake(t)
	fake.FailNext(1, fakeprovider.OpenAIInsufficientQuota())
	var asked []string
	approved := false
	p := newTestProxy(t, fake.URL, twoCreds(func(context.Context) bool { approved = true; return false }),
		func(c *Config) { c.Fallback = quotaFallback(&asked) })
	status, _, body := do(t, "POST", p.URL+"/openai/v1/chat/completions", map[string]string{"Authorization": "Bearer " + appTok}, chatBody)
	if status != 429 || !strings.Contains(body, "insufficient_quota") {
		t.Fatalf("status %d body %s, want the personal key's 429", status, body)
	}
	if !approved {
		t.Error("the member was not asked before the fallback")
	}
	if n := len(fake.Requests()); n != 1 {
		t.Errorf("upstream saw %d requests, want 1", n)
	}
}

func TestProxy_StreamFailingAfterFirstByteIsNotReplayed(t *testing.T) {
	fake := newFake(t)
	fake.FailNext(1, fakeprovider.CutAfter(40))
	var asked []string
	p := newTestProxy(t, fake.URL, twoCreds(nil), func(c *Config) { c.Fallback = quotaFallback(&asked) })
	req, _ := http.NewRequest("POST", p.URL+"/openai/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o-mini","stream":true,"messages":[]}`))
	req.Header.Set("Authorization", "Bearer "+appTok)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		_, err = readAll(resp)
	}
	if err == nil {
		t.Error("the client saw a complete stream; a cut stream must reach it broken")
	}
	if n := len(fake.Requests()); n != 1 {
		t.Errorf("upstream saw %d requests, want 1: a started stream is never replayed", n)
	}
	if len(asked) != 0 {
		t.Errorf("fallback was consulted for %v after the response started", asked)
	}
}
