package fakeprovider

import (
	"encoding/json"
	"strings"
	"testing"

	byok "byokd.dev/byok"
	"github.com/google/go-cmp/cmp"
)

// anthropicToUsage converts a Message usage object the way byokd must.
func anthropicToUsage(t *testing.T, u map[string]any) byok.Usage {
	t.Helper()
	out := byok.Usage{
		InputTokens:     num(t, u, "input_tokens"),
		OutputTokens:    num(t, u, "output_tokens"),
		CacheReadTokens: num(t, u, "cache_read_input_tokens"),
		Complete:        true,
	}
	out.CacheWrite5mTokens = num(t, u, "cache_creation", "ephemeral_5m_input_tokens")
	out.CacheWrite1hTokens = num(t, u, "cache_creation", "ephemeral_1h_input_tokens")
	if sum := out.CacheWriteTokens(); sum != num(t, u, "cache_creation_input_tokens") {
		t.Errorf("cache_creation split %d does not add up to cache_creation_input_tokens %v", sum, u["cache_creation_input_tokens"])
	}
	return out
}

const messagesBody = `{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hi"}]`

func TestAnthropicMessages_JSON(t *testing.T) {
	s := New(t, Options{})
	resp, body := call(t, "POST", s.URL+"/v1/messages", anthropicAuth(), messagesBody+`}`)
	if resp.StatusCode != 200 || resp.Header.Get("Request-Id") == "" || resp.Header.Get("Anthropic-Ratelimit-Requests-Limit") == "" {
		t.Fatalf("got %d with headers %v, want 200 with request-id and rate-limit headers", resp.StatusCode, resp.Header)
	}
	m := decode(t, body)
	if m["type"] != "message" || m["role"] != "assistant" || m["model"] != "claude-sonnet-4-5" ||
		m["stop_reason"] != "end_turn" || !strings.HasPrefix(m["id"].(string), "msg_") {
		t.Errorf("got %v, want an assistant message of claude-sonnet-4-5 ended by end_turn", m)
	}
	content := m["content"].([]any)
	if len(content) != 1 || content[0].(map[string]any)["text"] != s.Text() {
		t.Errorf("content: got %v, want one text block %q", content, s.Text())
	}
	got := anthropicToUsage(t, m["usage"].(map[string]any))
	got.Model = m["model"].(string)
	if diff := cmp.Diff(s.WantUsage(byok.Anthropic, "claude-sonnet-4-5"), got); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
}

func TestAnthropicMessages_Stream(t *testing.T) {
	s := New(t, Options{Chunks: 3})
	resp, body := call(t, "POST", s.URL+"/v1/messages", anthropicAuth(), messagesBody+`,"stream":true}`)
	if got := resp.Header.Get("Content-Type"); got != "text/event-stream; charset=utf-8" {
		t.Errorf("content type: got %q, want text/event-stream; charset=utf-8", got)
	}
	var names []string
	var text strings.Builder
	var usage map[string]any
	var outputTokens int64
	for i, e := range parseSSE(t, body) {
		d := decode(t, []byte(e.Data))
		if d["type"] != e.Name {
			t.Errorf("event %d: name %q but data type %v", i, e.Name, d["type"])
		}
		names = append(names, e.Name)
		switch e.Name {
		case "message_start":
			msg := d["message"].(map[string]any)
			if msg["model"] != "claude-sonnet-4-5" || msg["stop_reason"] != nil || len(msg["content"].([]any)) != 0 {
				t.Errorf("message_start: got %v, want an empty message of the requested model", msg)
			}
			usage = msg["usage"].(map[string]any)
		case "content_block_delta":
			delta := d["delta"].(map[string]any)
			if delta["type"] != "text_delta" {
				t.Errorf("delta type: got %v, want text_delta", delta["type"])
			}
			text.WriteString(delta["text"].(string))
		case "message_delta":
			if got := d["delta"].(map[string]any)["stop_reason"]; got != "end_turn" {
				t.Errorf("stop_reason: got %v, want end_turn", got)
			}
			u := d["usage"].(map[string]any)
			outputTokens = num(t, u, "output_tokens")
			for _, k := range []string{"input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"} {
				if num(t, u, k) != num(t, usage, k) {
					t.Errorf("message_delta %s: got %v, want the cumulative %v of message_start", k, u[k], usage[k])
				}
			}
		}
	}
	want := []string{"message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta",
		"content_block_delta", "content_block_stop", "message_delta", "message_stop"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("event sequence (-want +got):\n%s", diff)
	}
	if text.String() != s.Text() {
		t.Errorf("text: got %q, want %q", text.String(), s.Text())
	}
	// A parser takes input and cache counts from message_start and the final
	// output count from message_delta.
	usage["output_tokens"] = float64(outputTokens)
	got := anthropicToUsage(t, usage)
	got.Model = "claude-sonnet-4-5"
	if diff := cmp.Diff(s.WantUsage(byok.Anthropic, "claude-sonnet-4-5"), got); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
}

func TestAnthropic_BadRequests(t *testing.T) {
	s := New(t, Options{})
	noVersion := anthropicAuth()
	delete(noVersion, "anthropic-version")
	for _, tc := range []struct {
		name, method, path, body string
		header                   map[string]string
		wantStatus               int
		wantType, wantMessage    string
	}{
		{"no anthropic-version", "POST", "/v1/messages", messagesBody + "}", noVersion, 400, "invalid_request_error", "anthropic-version: header is required"},
		{"no max_tokens", "POST", "/v1/messages", `{"model":"m","messages":[]}`, anthropicAuth(), 400, "invalid_request_error", "max_tokens: Field required"},
		{"no model", "POST", "/v1/messages", `{"max_tokens":1,"messages":[]}`, anthropicAuth(), 400, "invalid_request_error", "model: Field required"},
		{"unknown path", "POST", "/v1/messages/nothing", `{}`, anthropicAuth(), 404, "not_found_error", "Not Found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := call(t, tc.method, s.URL+tc.path, tc.header, tc.body)
			var e anthropicErrorResponse
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("error body %s: %v", body, err)
			}
			want := anthropicErrorResponse{Type: "error", Error: anthropicErrorObject{Type: tc.wantType, Message: tc.wantMessage}, RequestID: e.RequestID}
			if diff := cmp.Diff(want, e); diff != "" || resp.StatusCode != tc.wantStatus || !strings.HasPrefix(e.RequestID, "req_") {
				t.Errorf("got status %d, want %d; body (-want +got):\n%s", resp.StatusCode, tc.wantStatus, diff)
			}
		})
	}
}

func TestAnthropicCountTokensAndModels(t *testing.T) {
	s := New(t, Options{})
	_, body := call(t, "POST", s.URL+"/v1/messages/count_tokens", anthropicAuth(), `{"model":"claude-sonnet-4-5","messages":[]}`)
	u := DefaultUsage()
	if got, want := num(t, decode(t, body), "input_tokens"), u.InputTokens+u.CacheReadTokens+u.CacheWriteTokens(); got != want {
		t.Errorf("count_tokens: got %d, want %d", got, want)
	}
	_, body = call(t, "GET", s.URL+"/v1/models", anthropicAuth(), "")
	var list struct {
		Data []struct {
			Type, ID string
		}
		HasMore bool   `json:"has_more"`
		FirstID string `json:"first_id"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
		if m.Type != "model" {
			t.Errorf("model %s: got type %q, want model", m.ID, m.Type)
		}
	}
	if diff := cmp.Diff(AnthropicModels(), ids); diff != "" || list.HasMore || list.FirstID != ids[0] {
		t.Errorf("models (has_more %v first_id %q) (-want +got):\n%s", list.HasMore, list.FirstID, diff)
	}
}
