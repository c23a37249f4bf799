package metering

import (
	"errors"
	"strings"
	"testing"

	"byokd.dev/byok"
	"github.com/google/go-cmp/cmp"
)

func TestInspect_AsksForUsage(t *testing.T) {
	const chat = "/v1/chat/completions"
	tests := []struct {
		name     string
		svc      byok.Service
		path     string
		body     string
		want     string // the body sent upstream
		injected bool
	}{
		{
			name: "compact stream without stream_options",
			svc:  byok.OpenAI, path: chat,
			body:     `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hi"}],"stream":true}`,
			want:     `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hi"}],"stream":true,"stream_options":{"include_usage":true}}`,
			injected: true,
		},
		{
			name: "pretty-printed, numbers and escapes survive",
			svc:  byok.OpenAI, path: chat,
			body:     "{\n  \"model\": \"gpt-4.1\",\n  \"temperature\": 1.0e0,\n  \"top_p\": 0.10,\n  \"messages\": [\n    {\"role\": \"user\", \"content\": \"caf\\u00e9 \\\"}\\\" {\"}\n  ],\n  \"stream\": true\n}\n",
			want:     "{\n  \"model\": \"gpt-4.1\",\n  \"temperature\": 1.0e0,\n  \"top_p\": 0.10,\n  \"messages\": [\n    {\"role\": \"user\", \"content\": \"caf\\u00e9 \\\"}\\\" {\"}\n  ],\n  \"stream\": true,\"stream_options\":{\"include_usage\":true}\n}\n",
			injected: true,
		},
		{
			name: "include_usage false",
			svc:  byok.OpenAI, path: chat,
			body:     `{"stream": true, "stream_options": {"include_usage": false}, "model": "gpt-5"}`,
			want:     `{"stream": true, "stream_options": {"include_usage": true}, "model": "gpt-5"}`,
			injected: true,
		},
		{
			name: "include_usage null",
			svc:  byok.OpenAI, path: chat,
			body:     `{"stream":true,"stream_options":{"include_usage":null},"model":"gpt-5"}`,
			want:     `{"stream":true,"stream_options":{"include_usage":true},"model":"gpt-5"}`,
			injected: true,
		},
		{
			name: "other stream options kept",
			svc:  byok.OpenAI, path: chat,
			body:     "{\"model\":\"gpt-5-mini\",\"stream\":true,\"stream_options\":{\n\t\"include_obfuscation\": false\n},\"n\":1}",
			want:     "{\"model\":\"gpt-5-mini\",\"stream\":true,\"stream_options\":{\n\t\"include_obfuscation\": false,\"include_usage\":true\n},\"n\":1}",
			injected: true,
		},
		{
			name: "empty stream options",
			svc:  byok.OpenAI, path: chat,
			body:     `{"model":"gpt-4o","stream":true,"stream_options":{ }}`,
			want:     `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true }}`,
			injected: true,
		},
		{
			name: "null stream options",
			svc:  byok.OpenAI, path: chat,
			body:     `{"model":"gpt-4o","stream_options":null,"stream":true}`,
			want:     `{"model":"gpt-4o","stream_options":{"include_usage":true},"stream":true}`,
			injected: true,
		},
		{
			name: "client already asks for usage",
			svc:  byok.OpenAI, path: chat,
			body: `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true}}`,
			want: `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true}}`,
		},
		{
			name: "not streaming",
			svc:  byok.OpenAI, path: chat,
			body: `{"model":"gpt-4o","stream":false}`,
			want: `{"model":"gpt-4o","stream":false}`,
		},
		{
			name: "Responses API reports usage anyway",
			svc:  byok.OpenAI, path: "/v1/responses",
			body: `{"model":"gpt-5","input":"hi","stream":true}`,
			want: `{"model":"gpt-5","input":"hi","stream":true}`,
		},
		{
			name: "Anthropic reports usage anyway",
			svc:  byok.Anthropic, path: "/v1/messages",
			body: `{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true,"messages":[]}`,
			want: `{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true,"messages":[]}`,
		},
	}
	for _, tt := range tests {
		got, c, err := Inspect(tt.svc, tt.path, []byte(tt.body))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		if string(got) != tt.want {
			t.Errorf("%s: body got\n%s\nwant\n%s", tt.name, got, tt.want)
		}
		if c.InjectedUsage != tt.injected {
			t.Errorf("%s: InjectedUsage got %v, want %v", tt.name, c.InjectedUsage, tt.injected)
		}
	}
}

func TestInspect_UnchangedBodyIsSameSlice(t *testing.T) {
	body := []byte(`{"model":"gpt-4o","stream":false}`)
	got, _, _ := Inspect(byok.OpenAI, "/v1/chat/completions", body)
	if &got[0] != &body[0] {
		t.Errorf("Inspect copied a body it did not change")
	}
}

func TestInspect_Call(t *testing.T) {
	tests := []struct {
		svc  byok.Service
		path string
		body string
		want Call
	}{
		{byok.OpenAI, "/v1/chat/completions", `{"model":"gpt-4o","max_completion_tokens":500,"max_tokens":200,"messages":[]}`,
			Call{Model: "gpt-4o", MaxTokens: 500}},
		{byok.OpenAI, "/v1/responses", `{"model":"o3","max_output_tokens":4000,"stream":true,"input":"x"}`,
			Call{Model: "o3", Stream: true, MaxTokens: 4000}},
		{byok.Anthropic, "/v1/messages?beta=true", `{"max_tokens":64000,"model":"claude-sonnet-4-5-20250929","stream":true}`,
			Call{Model: "claude-sonnet-4-5-20250929", Stream: true, MaxTokens: 64000}},
		{byok.Anthropic, "/v1/messages", `{"model":"claude-\u00e9\"x","max_tokens":-5}`,
			Call{Model: "claude-é\"x"}},
		{byok.OpenAI, "/v1/chat/completions", `{"model":"gpt-4o","max_tokens":1e99}`,
			Call{Model: "gpt-4o", MaxTokens: tokenCap}},
		{byok.OpenAI, "/v1/chat/completions", `{"mod\u0065l":"gpt-4o","str\u0065am":false}`, Call{Model: "gpt-4o"}},
		{byok.OpenAI, "/v1/models", ``, Call{}},
		{byok.ClickUp, "/api/v2/task/abc", `not json`, Call{}},
	}
	for _, tt := range tests {
		_, got, err := Inspect(tt.svc, tt.path, []byte(tt.body))
		if err != nil {
			t.Errorf("Inspect(%s): %v", tt.body, err)
		}
		tt.want.Service, tt.want.Path, tt.want.InputBytes = tt.svc, tt.path, len(tt.body)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Inspect(%s): Call (-want +got):\n%s", tt.body, diff)
		}
	}
}

// TestInspect_ReadsLikeTheProvider: a key spelled with escapes is the key
// the provider's parser sees, so a stream asked for that way is still
// asked for its usage, and legacy completions streams are too.
func TestInspect_ReadsLikeTheProvider(t *testing.T) {
	for _, tt := range []struct{ path, body, want string }{
		{"/v1/chat/completions", `{"model":"gpt-4o","str\u0065am":true}`,
			`{"model":"gpt-4o","str\u0065am":true,"stream_options":{"include_usage":true}}`},
		{"/v1/chat/completions", `{"model":"gpt-4o","stream":true,"stream_options":{"include_\u0075sage":false}}`,
			`{"model":"gpt-4o","stream":true,"stream_options":{"include_\u0075sage":true}}`},
		{"/v1/completions", `{"model":"gpt-3.5-turbo-instruct","prompt":"x","stream":true}`,
			`{"model":"gpt-3.5-turbo-instruct","prompt":"x","stream":true,"stream_options":{"include_usage":true}}`},
	} {
		got, c, err := Inspect(byok.OpenAI, tt.path, []byte(tt.body))
		if err != nil || string(got) != tt.want || !c.InjectedUsage || !c.Stream {
			t.Errorf("Inspect(%s):\n%s %+v %v\nwant\n%s", tt.body, got, c, err, tt.want)
		}
	}
}

// TestInspect_RefusesAmbiguousBodies: what byokd cannot read for sure is
// not sent, and the error says what to change.
func TestInspect_RefusesAmbiguousBodies(t *testing.T) {
	for _, tt := range []struct {
		svc        byok.Service
		path, body string
		want       string
	}{
		{byok.OpenAI, "/v1/chat/completions", `{"model":"gpt-4o-mini","stream":false,"stream":true}`, `has "stream" more than once`},
		{byok.OpenAI, "/v1/chat/completions", `{"model":"gpt-4o-mini","str\u0065am":false,"stream":true}`, `has "stream" more than once`},
		{byok.Anthropic, "/v1/messages", `{"model":"claude-haiku-4-5","model":"claude-opus-4-1","max_tokens":5}`, `has "model" more than once`},
		{byok.OpenAI, "/v1/responses", `{"max_output_tokens":5,"max_output_tokens":50000,"model":"o3"}`, `has "max_output_tokens" more than once`},
		{byok.OpenAI, "/v1/chat/completions", `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":false,"include_usage":false}}`, `"stream_options.include_usage" more than once`},
		{byok.OpenAI, "/v1/chat/completions", `{"model":"gpt-4o","stream":"true"}`, `"stream" that is not true or false`},
		{byok.OpenAI, "/v1/chat/completions", `{"model":["gpt-4o"]}`, `"model" that is not a string`},
		{byok.OpenAI, "/v1/chat/completions", `{"model":"gpt-4o","stream":true,"stream_options":"yes"}`, `"stream_options" that is not an object`},
		{byok.OpenAI, "/v1/chat/completions", `{"model":"gpt-4o","stream":true,"messages":[}`, "is not valid JSON"},
		{byok.OpenAI, "/v1/chat/completions", `{"model":"gpt-4o","stream":true} {"stream":false}`, "is not valid JSON"},
		{byok.OpenAI, "/v1/embeddings", `["not","an","object"]`, "is not a JSON object"},
		{byok.Anthropic, "/v1/messages", ``, "is empty"},
	} {
		out, _, err := Inspect(tt.svc, tt.path, []byte(tt.body))
		var be *BodyError
		if !errors.As(err, &be) || !strings.Contains(err.Error(), tt.want) || string(out) != tt.body {
			t.Errorf("Inspect(%s) = %q, %v; want the body untouched and an error containing %q", tt.body, out, err, tt.want)
		}
	}
	// Endpoints byokd does not meter are not read.
	if _, _, err := Inspect(byok.ClickUp, "/api/v2/task/abc", []byte("not json")); err != nil {
		t.Errorf("ClickUp body refused: %v", err)
	}
}
