package fakeprovider

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	byok "byokd.dev/byok"
	"github.com/google/go-cmp/cmp"
)

func TestServer_MissingAuth(t *testing.T) {
	s := New(t, Options{})
	for _, tc := range []struct {
		name, method, path string
		header             map[string]string
		wantStatus         int
		wantBody           string // a fragment of the provider's own error
	}{
		{"openai none", "POST", "/v1/chat/completions", nil, 401, `"message":"You didn't provide an API key.`},
		{"openai not bearer", "GET", "/v1/models", map[string]string{"Authorization": "sk-test"}, 401, `"type":"invalid_request_error"`},
		{"anthropic none", "POST", "/v1/messages", map[string]string{"anthropic-version": "2023-06-01"}, 401,
			`{"type":"error","error":{"type":"authentication_error","message":"x-api-key header is required"}`},
		{"clickup none", "GET", "/api/v2/team", nil, 400, `{"err":"Authorization header required","ECODE":"OAUTH_017"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := call(t, tc.method, s.URL+tc.path, tc.header, `{}`)
			if resp.StatusCode != tc.wantStatus || !strings.Contains(string(body), tc.wantBody) {
				t.Errorf("got %d %s, want %d containing %s", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
		})
	}
}

func TestServer_RecordsRequests(t *testing.T) {
	s := New(t, Options{})
	call(t, "POST", s.URL+"/v1/chat/completions", openaiAuth(), `{"model":"gpt-4o-mini","messages":[]}`)
	call(t, "POST", s.URL+"/v1/messages", map[string]string{"x-api-key": "sk-ant-xyz", "anthropic-version": "2023-06-01"}, messagesBody+"}")
	call(t, "POST", s.URL+"/v1/messages", map[string]string{"Authorization": "Bearer sk-ant-oat", "anthropic-version": "2023-06-01"}, messagesBody+"}")
	call(t, "GET", s.URL+"/api/v2/task/t1?include_subtasks=true", clickupAuth(), "")
	call(t, "GET", s.URL+"/v1/models", map[string]string{"anthropic-version": "2023-06-01"}, "")

	reqs := s.Requests()
	type row struct {
		Service     byok.Service
		Method      string
		Path, Query string
		Key, Body   string
	}
	var got []row
	for _, r := range reqs {
		got = append(got, row{r.Service, r.Method, r.Path, r.Query, r.Key, string(r.Body)})
	}
	want := []row{
		{byok.OpenAI, "POST", "/v1/chat/completions", "", "sk-test-openai", `{"model":"gpt-4o-mini","messages":[]}`},
		{byok.Anthropic, "POST", "/v1/messages", "", "sk-ant-xyz", messagesBody + "}"},
		{byok.Anthropic, "POST", "/v1/messages", "", "sk-ant-oat", messagesBody + "}"},
		{byok.ClickUp, "GET", "/api/v2/task/t1", "include_subtasks=true", "pk_123_TEST", ""},
		{byok.Anthropic, "GET", "/v1/models", "", "", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if got := reqs[1].Header.Get("Anthropic-Version"); got != "2023-06-01" {
		t.Errorf("recorded header: got %q, want 2023-06-01", got)
	}
	reqs[1].Header.Set("Anthropic-Version", "changed")
	if got := s.Requests()[1].Header.Get("Anthropic-Version"); got != "2023-06-01" {
		t.Errorf("recorded headers are shared with the caller: got %q after a change", got)
	}
}

func TestServer_ReplyEchoesNoKey(t *testing.T) {
	s := New(t, Options{})
	const key = "sk-secret-key-that-must-not-echo"
	for _, path := range []string{"/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/nothing"} {
		resp, body := call(t, "POST", s.URL+path, map[string]string{"Authorization": "Bearer " + key},
			`{"model":"gpt-4o-mini","input":"hi","messages":[]}`)
		if strings.Contains(string(body), key) || strings.Contains(strings.Join(flatten(resp.Header), " "), key) {
			t.Errorf("%s: the reply contains the key", path)
		}
	}
}

func flatten(h http.Header) []string {
	var out []string
	for k, vs := range h {
		out = append(out, k+": "+strings.Join(vs, ","))
	}
	return out
}

func TestServer_FailNext(t *testing.T) {
	s := New(t, Options{})
	s.FailNext(2, OpenAIInsufficientQuota())
	var statuses []int
	for range 3 {
		resp, _ := call(t, "POST", s.URL+"/v1/chat/completions", openaiAuth(), `{"model":"gpt-4o-mini","messages":[]}`)
		statuses = append(statuses, resp.StatusCode)
	}
	if diff := cmp.Diff([]int{429, 429, 200}, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if n := len(s.Requests()); n != 3 {
		t.Errorf("got %d recorded requests, want 3 (failed ones are recorded too)", n)
	}
}

// TestFailures checks every ready-made failure is its provider's error shape
// with the status and, for rate limits, the retry-after header.
func TestFailures(t *testing.T) {
	type openaiShape struct {
		Error struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    *string `json:"code"`
		} `json:"error"`
	}
	for _, tc := range []struct {
		name       string
		f          Failure
		svc        byok.Service
		wantStatus int
		wantType   string // OpenAI code, Anthropic error.type, ClickUp ECODE
		retryAfter bool
	}{
		{"openai quota", OpenAIInsufficientQuota(), byok.OpenAI, 429, "insufficient_quota", false},
		{"openai rate limit", OpenAIRateLimited(), byok.OpenAI, 429, "rate_limit_exceeded", true},
		{"openai invalid key", OpenAIInvalidKey(), byok.OpenAI, 401, "invalid_api_key", false},
		{"openai server error", OpenAIServerError(), byok.OpenAI, 500, "", false},
		{"anthropic auth", AnthropicAuthenticationError(), byok.Anthropic, 401, "authentication_error", false},
		{"anthropic billing", AnthropicBillingError(), byok.Anthropic, 402, "billing_error", false},
		{"anthropic permission", AnthropicPermissionError(), byok.Anthropic, 403, "permission_error", false},
		{"anthropic rate limit", AnthropicRateLimited(), byok.Anthropic, 429, "rate_limit_error", true},
		{"anthropic overloaded", AnthropicOverloaded(), byok.Anthropic, 529, "overloaded_error", false},
		{"anthropic credit", AnthropicCreditBalanceTooLow(), byok.Anthropic, 400, "invalid_request_error", false},
		{"clickup token invalid", ClickUpTokenInvalid(), byok.ClickUp, 401, "OAUTH_025", false},
		{"clickup token not found", ClickUpTokenNotFound(), byok.ClickUp, 401, "OAUTH_019", false},
		{"clickup rate limit", ClickUpRateLimited(), byok.ClickUp, 429, "APP_002", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(t, Options{})
			s.FailNext(1, tc.f)
			resp, body := call(t, "POST", s.URL+"/v1/chat/completions", openaiAuth(), `{}`)
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status: got %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Errorf("content type: got %q, want application/json", resp.Header.Get("Content-Type"))
			}
			if got := resp.Header.Get("Retry-After") != ""; got != tc.retryAfter {
				t.Errorf("retry-after present: got %v, want %v", got, tc.retryAfter)
			}
			var got string
			switch tc.svc {
			case byok.OpenAI:
				var e openaiShape
				if err := json.Unmarshal(body, &e); err != nil || e.Error.Message == "" || e.Error.Type == "" {
					t.Fatalf("not OpenAI's error shape: %s", body)
				}
				if e.Error.Code != nil {
					got = *e.Error.Code
				}
			case byok.Anthropic:
				var e anthropicErrorResponse
				if err := json.Unmarshal(body, &e); err != nil || e.Type != "error" || e.Error.Message == "" || e.RequestID == "" {
					t.Fatalf("not Anthropic's error shape: %s", body)
				}
				got = e.Error.Type
			case byok.ClickUp:
				var e clickupErr
				if err := json.Unmarshal(body, &e); err != nil || e.Err == "" {
					t.Fatalf("not ClickUp's error shape: %s", body)
				}
				got = e.ECODE
			}
			if got != tc.wantType {
				t.Errorf("error type: got %q, want %q", got, tc.wantType)
			}
		})
	}
}

// TestServer_CutAfter checks a stream cut mid-way gives the client exactly
// the first bytes and then an error, never a clean end.
func TestServer_CutAfter(t *testing.T) {
	s := New(t, Options{Chunks: 20})
	_, full := call(t, "POST", s.URL+"/v1/messages", anthropicAuth(), messagesBody+`,"stream":true}`)
	for _, n := range []int{1, 100, len(full) - 1} {
		s.FailNext(1, CutAfter(n))
		req, _ := http.NewRequest("POST", s.URL+"/v1/messages", strings.NewReader(messagesBody+`,"stream":true}`))
		for k, v := range anthropicAuth() {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("cut after %d: %v", n, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("cut after %d: got error %v, want unexpected EOF", n, err)
		}
		// Ids differ between two replies; the first 60 bytes come before any.
		if k := min(n, 60); len(got) != n || string(got[:k]) != string(full[:k]) {
			t.Errorf("cut after %d: got %d bytes %.60q…, want the first %d of the stream", n, len(got), got, n)
		}
	}
}

func TestNewServer_Close(t *testing.T) {
	s, err := NewServer(Options{ChunkDelay: time.Hour, Chunks: 2})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", s.URL+"/v1/chat/completions", strings.NewReader(`{"model":"m","stream":true,"messages":[]}`))
	req.Header.Set("Authorization", "Bearer k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, 6)
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "data: " {
		t.Fatalf("first event: got %q, %v", first, err)
	}
	// The stream now waits an hour for its next event; Close must cut it.
	s.Close()
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Errorf("stream ended cleanly after Close, want a cut")
	}
}

func TestOptions_Defaults(t *testing.T) {
	s := New(t, Options{Now: func() time.Time { return time.Unix(1767225600, 0) }})
	if got, want := s.Text(), "Hello 1 2 3 4"; got != want {
		t.Errorf("text: got %q, want %q", got, want)
	}
	_, body := call(t, "POST", s.URL+"/v1/chat/completions", openaiAuth(), `{"model":"m","messages":[]}`)
	if got := num(t, decode(t, body), "created"); got != 1767225600 {
		t.Errorf("created: got %d, want the injected clock's 1767225600", got)
	}
}
