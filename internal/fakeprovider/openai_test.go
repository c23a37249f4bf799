package fakeprovider

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"strings"
	"testing"

	byok "byokd.dev/byok"
	"github.com/google/go-cmp/cmp"
)

// openaiUsage converts an OpenAI usage object the way byokd must: cached
// tokens and cache writes are part of prompt_tokens / input_tokens.
func openaiUsage(t *testing.T, u map[string]any, input, output, details string) byok.Usage {
	t.Helper()
	d := u[details].(map[string]any)
	cached := num(t, d, "cached_tokens")
	var writes int64
	if _, ok := d["cache_write_tokens"]; ok {
		writes = num(t, d, "cache_write_tokens")
	}
	return byok.Usage{
		InputTokens:        num(t, u, input) - cached - writes,
		OutputTokens:       num(t, u, output),
		CacheReadTokens:    cached,
		CacheWrite5mTokens: writes,
		Complete:           true,
	}
}

func TestOpenAIChat_JSON(t *testing.T) {
	s := New(t, Options{})
	resp, body := call(t, "POST", s.URL+"/v1/chat/completions", openaiAuth(),
		`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status: got %d, want 200: %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("content type: got %q, want application/json", got)
	}
	if resp.Header.Get("X-Request-Id") == "" || resp.Header.Get("Openai-Version") == "" {
		t.Errorf("missing OpenAI headers: %v", resp.Header)
	}
	var c struct {
		ID, Object, Model string
		Choices           []struct {
			Index        int
			Message      struct{ Role, Content string }
			FinishReason string `json:"finish_reason"`
		}
		Usage map[string]any
	}
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.ID, "chatcmpl-") || c.Object != "chat.completion" || c.Model != "gpt-4o-mini" {
		t.Errorf("got id %q object %q model %q, want chatcmpl-…, chat.completion, gpt-4o-mini", c.ID, c.Object, c.Model)
	}
	if len(c.Choices) != 1 || c.Choices[0].Message.Content != s.Text() || c.Choices[0].Message.Role != "assistant" ||
		c.Choices[0].FinishReason != "stop" {
		t.Errorf("choices: got %+v, want one assistant message %q finished by stop", c.Choices, s.Text())
	}
	got := openaiUsage(t, c.Usage, "prompt_tokens", "completion_tokens", "prompt_tokens_details")
	got.Model = c.Model
	if diff := cmp.Diff(s.WantUsage(byok.OpenAI, "gpt-4o-mini"), got); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
	if num(t, c.Usage, "total_tokens") != num(t, c.Usage, "prompt_tokens")+num(t, c.Usage, "completion_tokens") {
		t.Errorf("total_tokens is not prompt + completion: %v", c.Usage)
	}
}

func TestOpenAIChat_Stream(t *testing.T) {
	for _, tc := range []struct {
		name         string
		streamOpts   string
		includeUsage bool
	}{
		{"no stream_options", ``, false},
		{"include_usage false", `,"stream_options":{"include_usage":false}`, false},
		{"include_usage true", `,"stream_options":{"include_usage":true}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(t, Options{Chunks: 3})
			resp, body := call(t, "POST", s.URL+"/v1/chat/completions", openaiAuth(),
				`{"model":"gpt-4.1","stream":true,"messages":[{"role":"user","content":"hi"}]`+tc.streamOpts+`}`)
			if got := resp.Header.Get("Content-Type"); got != "text/event-stream; charset=utf-8" {
				t.Errorf("content type: got %q, want text/event-stream; charset=utf-8", got)
			}
			events := parseSSE(t, body)
			if last := events[len(events)-1]; last.Data != "[DONE]" || last.Name != "" {
				t.Fatalf("last event: got %+v, want data: [DONE]", last)
			}
			var text strings.Builder
			var usage map[string]any
			chunks := events[:len(events)-1]
			for i, e := range chunks {
				if e.Name != "" {
					t.Errorf("chunk %d has an event name %q; OpenAI chat chunks have none", i, e.Name)
				}
				c := decode(t, []byte(e.Data))
				if c["object"] != "chat.completion.chunk" || c["model"] != "gpt-4.1" {
					t.Errorf("chunk %d: got object %v model %v, want chat.completion.chunk gpt-4.1", i, c["object"], c["model"])
				}
				u, hasUsage := c["usage"]
				choices := c["choices"].([]any)
				switch {
				case !tc.includeUsage && hasUsage:
					t.Errorf("chunk %d has a usage key without include_usage: %s", i, e.Data)
				case tc.includeUsage && !hasUsage:
					t.Errorf("chunk %d has no usage key with include_usage: %s", i, e.Data)
				case tc.includeUsage && i == len(chunks)-1:
					if len(choices) != 0 || u == nil {
						t.Errorf("usage chunk: got choices %v usage %v, want [] and an object", choices, u)
					}
					usage = u.(map[string]any)
					continue
				case hasUsage && u != nil:
					t.Errorf("chunk %d: got usage %v, want null before the last chunk", i, u)
				}
				if len(choices) != 1 {
					t.Fatalf("chunk %d: got %d choices, want 1", i, len(choices))
				}
				delta := choices[0].(map[string]any)["delta"].(map[string]any)
				if i == 0 && (delta["role"] != "assistant" || delta["content"] != "") {
					t.Errorf("first delta: got %v, want role assistant and empty content", delta)
				}
				if content, ok := delta["content"].(string); ok {
					text.WriteString(content)
				}
				fr := choices[0].(map[string]any)["finish_reason"]
				wantLast := i == len(chunks)-1 || (tc.includeUsage && i == len(chunks)-2)
				if (fr == "stop") != wantLast {
					t.Errorf("chunk %d: finish_reason %v", i, fr)
				}
			}
			if got := text.String(); got != s.Text() {
				t.Errorf("text: got %q, want %q", got, s.Text())
			}
			if wantContent := 3; len(chunks) != wantContent+2+btoi(tc.includeUsage) {
				t.Errorf("got %d chunks, want role + %d content + finish (+ usage)", len(chunks), wantContent)
			}
			if tc.includeUsage {
				got := openaiUsage(t, usage, "prompt_tokens", "completion_tokens", "prompt_tokens_details")
				got.Model = "gpt-4.1"
				if diff := cmp.Diff(s.WantUsage(byok.OpenAI, "gpt-4.1"), got); diff != "" {
					t.Errorf("usage (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestOpenAIResponses_JSON(t *testing.T) {
	s := New(t, Options{})
	_, body := call(t, "POST", s.URL+"/v1/responses", openaiAuth(), `{"model":"gpt-4.1","input":"hi"}`)
	r := decode(t, body)
	if r["object"] != "response" || r["status"] != "completed" || r["model"] != "gpt-4.1" {
		t.Errorf("got object %v status %v model %v, want response completed gpt-4.1", r["object"], r["status"], r["model"])
	}
	content := r["output"].([]any)[0].(map[string]any)["content"].([]any)[0].(map[string]any)
	if content["type"] != "output_text" || content["text"] != s.Text() {
		t.Errorf("output: got %v, want output_text %q", content, s.Text())
	}
	got := openaiUsage(t, r["usage"].(map[string]any), "input_tokens", "output_tokens", "input_tokens_details")
	got.Model = r["model"].(string)
	if diff := cmp.Diff(s.WantUsage(byok.OpenAI, "gpt-4.1"), got); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
}

func TestOpenAIResponses_Stream(t *testing.T) {
	s := New(t, Options{Chunks: 2})
	_, body := call(t, "POST", s.URL+"/v1/responses", openaiAuth(), `{"model":"gpt-4.1","input":"hi","stream":true}`)
	events := parseSSE(t, body)
	var names []string
	var text strings.Builder
	var final map[string]any
	for i, e := range events {
		d := decode(t, []byte(e.Data))
		if d["type"] != e.Name {
			t.Errorf("event %d: name %q but data type %v", i, e.Name, d["type"])
		}
		if got := num(t, d, "sequence_number"); got != int64(i) {
			t.Errorf("event %d: got sequence_number %d, want %d", i, got, i)
		}
		names = append(names, e.Name)
		switch e.Name {
		case "response.output_text.delta":
			text.WriteString(d["delta"].(string))
		case "response.created", "response.in_progress":
			if u := d["response"].(map[string]any)["usage"]; u != nil {
				t.Errorf("%s: got usage %v, want null", e.Name, u)
			}
		case "response.completed":
			final = d["response"].(map[string]any)
		}
	}
	want := []string{"response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
		"response.output_text.delta", "response.output_text.delta", "response.output_text.done", "response.content_part.done",
		"response.output_item.done", "response.completed"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("event sequence (-want +got):\n%s", diff)
	}
	if text.String() != s.Text() {
		t.Errorf("text: got %q, want %q", text.String(), s.Text())
	}
	got := openaiUsage(t, final["usage"].(map[string]any), "input_tokens", "output_tokens", "input_tokens_details")
	got.Model = final["model"].(string)
	if diff := cmp.Diff(s.WantUsage(byok.OpenAI, "gpt-4.1"), got); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
}

func TestOpenAIEmbeddings(t *testing.T) {
	s := New(t, Options{})
	for _, tc := range []struct {
		name, body string
		inputs     int
	}{
		{"float", `{"model":"text-embedding-3-small","input":"hi"}`, 1},
		{"base64", `{"model":"text-embedding-3-small","input":["a","b"],"encoding_format":"base64"}`, 2},
		{"dimensions", `{"model":"text-embedding-3-small","input":"hi","dimensions":3,"encoding_format":"float"}`, 1},
		{"tokens", `{"model":"text-embedding-3-small","input":[1,2,3]}`, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, body := call(t, "POST", s.URL+"/v1/embeddings", openaiAuth(), tc.body)
			var r struct {
				Object string
				Model  string
				Data   []struct {
					Object    string
					Index     int
					Embedding json.RawMessage
				}
				Usage struct {
					PromptTokens int64 `json:"prompt_tokens"`
					TotalTokens  int64 `json:"total_tokens"`
				}
			}
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatal(err)
			}
			if len(r.Data) != tc.inputs || r.Model != "text-embedding-3-small" || r.Object != "list" {
				t.Fatalf("got %d embeddings, model %q, object %q; want %d, text-embedding-3-small, list", len(r.Data), r.Model, r.Object, tc.inputs)
			}
			dims := 8
			if tc.name == "dimensions" {
				dims = 3
			}
			for i, d := range r.Data {
				var vec []float32
				if tc.name == "base64" {
					var str string
					json.Unmarshal(d.Embedding, &str)
					raw, err := base64.StdEncoding.DecodeString(str)
					if err != nil {
						t.Fatalf("embedding %d: not base64: %v", i, err)
					}
					for j := 0; j+4 <= len(raw); j += 4 {
						vec = append(vec, math.Float32frombits(binary.LittleEndian.Uint32(raw[j:])))
					}
				} else if err := json.Unmarshal(d.Embedding, &vec); err != nil {
					t.Fatalf("embedding %d: %v", i, err)
				}
				if diff := cmp.Diff(Embedding(dims), vec); diff != "" || d.Index != i || d.Object != "embedding" {
					t.Errorf("embedding %d (index %d, object %s) (-want +got):\n%s", i, d.Index, d.Object, diff)
				}
			}
			if r.Usage.PromptTokens != DefaultUsage().InputTokens || r.Usage.TotalTokens != r.Usage.PromptTokens {
				t.Errorf("usage: got %+v, want prompt = total = %d", r.Usage, DefaultUsage().InputTokens)
			}
		})
	}
}

func TestOpenAIModels(t *testing.T) {
	s := New(t, Options{})
	_, body := call(t, "GET", s.URL+"/v1/models", openaiAuth(), "")
	var r struct {
		Object string
		Data   []struct{ ID, Object string }
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range r.Data {
		ids = append(ids, m.ID)
		if m.Object != "model" {
			t.Errorf("model %s: got object %q, want model", m.ID, m.Object)
		}
	}
	if diff := cmp.Diff(OpenAIModels(), ids); diff != "" || r.Object != "list" {
		t.Errorf("models (object %q) (-want +got):\n%s", r.Object, diff)
	}
}

func TestOpenAI_BadRequests(t *testing.T) {
	s := New(t, Options{})
	for _, tc := range []struct {
		name, path, body string
		wantStatus       int
		wantMessage      string
	}{
		{"no model", "/v1/chat/completions", `{"messages":[]}`, 400, "you must provide a model parameter"},
		{"bad json", "/v1/chat/completions", `{`, 400, "We could not parse the JSON body"},
		{"unknown path", "/v1/nothing", `{}`, 404, "Invalid URL (POST /v1/nothing)"},
		{"embeddings without input", "/v1/embeddings", `{"model":"m"}`, 400, "'input' and 'model' are required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := call(t, "POST", s.URL+tc.path, openaiAuth(), tc.body)
			var e openaiErrorBody
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("error body %s: %v", body, err)
			}
			if resp.StatusCode != tc.wantStatus || !strings.HasPrefix(e.Error.Message, tc.wantMessage) || e.Error.Type != "invalid_request_error" {
				t.Errorf("got %d %+v, want %d invalid_request_error %q…", resp.StatusCode, e.Error, tc.wantStatus, tc.wantMessage)
			}
		})
	}
}
