package routing

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"byokd.dev/byok"
	"byokd.dev/byok/internal/testclock"
)

// upstream answers like OpenAI: the key "sk-broke" gets the real
// insufficient_quota response, any other key a completion. The relay (shared
// key) is a second server that always answers.
func upstream(t *testing.T) (provider, relay *httptest.Server) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "errors", "openai_429_insufficient_quota.http"))
	if err != nil {
		t.Fatal(err)
	}
	ok := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","choices":[]}`)
	}
	provider = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer sk-broke" {
			ok(w)
			return
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), r)
		if err != nil {
			t.Error(err)
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	relay = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ok(w) }))
	t.Cleanup(provider.Close)
	t.Cleanup(relay.Close)
	return provider, relay
}

// run is what the proxy does with a plan, reduced to the parts routing
// decides: try each step, classify a failure, record health, move on.
// It returns the step that answered and the ledger's fallback reason.
func run(t *testing.T, in Input, h *Health, secrets map[string]string, provider, relay string) (Step, string) {
	t.Helper()
	plan := Decide(in)
	if plan.Refusal != nil || plan.NeedsApproval {
		t.Fatalf("plan %+v: want steps", plan)
	}
	reason := plan.Steps[0].Reason
	for _, s := range plan.Steps {
		url, key := relay, "team"
		if s.Kind == Personal {
			url, key = provider, secrets[s.Key]
		}
		req, _ := http.NewRequest("POST", url+"/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o"}`))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		f := Failure{ConnErr: err}
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
			resp.Body.Close()
			if resp.StatusCode < 400 {
				if s.Kind == Personal {
					h.Succeeded(in.Service, s.Key)
				}
				return s, reason
			}
			f = Failure{Status: resp.StatusCode, Header: resp.Header, Body: body}
		}
		v := Classify(in.Service, f, false)
		if s.Kind == Personal {
			h.Failed(in.Service, s.Key, v)
		}
		if !v.Fallback {
			t.Fatalf("step %+v failed with %+v and may not move on", s, v)
		}
		reason = v.Reason
	}
	t.Fatal("every step failed")
	return Step{}, ""
}

// The seed scenario end to end: a personal key out of quota, fallback on.
// The call is served by the shared key with the reason "over quota";
// the next call skips the key while it cools down; ten minutes later the key
// is tried again.
func TestPlan_FallbackOnQuota(t *testing.T) {
	provider, relay := upstream(t)
	clk := testclock.New(t0)
	h := NewHealth(clk.Now, 0)
	secrets := map[string]string{"work": "sk-broke"}
	input := func() Input {
		in := with(func(in *Input) { in.Fallback = true; in.Now = clk.Now() })
		h.Annotate(in.Service, in.Keys)
		return in
	}

	if got := Decide(input()); !cmp.Equal(got, steps(personal("work", ""), fallback)) {
		t.Fatalf("first plan: got %+v, want personal then shared", got)
	}
	used, reason := run(t, input(), h, secrets, provider.URL, relay.URL)
	if used.Kind != Shared || reason != ReasonQuota {
		t.Errorf("first call: served by %v with reason %q, want shared with %q", used.Kind, reason, ReasonQuota)
	}

	clk.Add(time.Minute)
	if got, want := Decide(input()), steps(shared("cooling down: over quota")); !cmp.Equal(got, want) {
		t.Errorf("while cooling down: got %+v, want %+v", got, want)
	}

	clk.Add(DefaultCoolDown)
	secrets["work"] = "sk-topped-up" // the member bought credits meanwhile
	used, reason = run(t, input(), h, secrets, provider.URL, relay.URL)
	if used.Kind != Personal || reason != "" {
		t.Errorf("after the cool-down: served by %+v with reason %q, want the personal key again", used, reason)
	}
}

// A bad request is the app's fault: it never reaches the shared key.
func TestPlan_NoFallbackOnBadRequest(t *testing.T) {
	_, f := readFailure(t, "openai_400_context_length_exceeded.http")
	plan := Decide(with(func(in *Input) { in.Fallback = true }))
	if len(plan.Steps) != 2 {
		t.Fatalf("plan %+v: want personal then shared", plan)
	}
	if v := Classify(byok.OpenAI, f, true); v.Fallback {
		t.Errorf("context_length_exceeded moved on to the shared key: %+v", v)
	}
}
