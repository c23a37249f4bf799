package metering

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"byokd.dev/byok"
	"github.com/google/go-cmp/cmp"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// run feeds body through a new Meter in pieces of size n (all at once if
// n <= 0) and returns what the client got, whether a terminal event was
// reported, and the usage.
func run(c Call, status int, ct string, body []byte, n int) (client []byte, terminal bool, u byok.Usage) {
	m := NewMeter(c, status, ct)
	if n <= 0 {
		n = len(body) + 1
	}
	for i := 0; i < len(body); i += n {
		out, term := m.Filter(body[i:min(i+n, len(body))])
		client = append(client, out...)
		terminal = terminal || term
	}
	client = append(client, m.Flush()...)
	return client, terminal, m.Usage()
}

const (
	ctJSON = "application/json"
	ctSSE  = "text/event-stream; charset=utf-8"
)

func TestMeter_Samples(t *testing.T) {
	prices := DefaultPrices()
	tests := []struct {
		file     string
		call     Call
		status   int
		ct       string
		want     byok.Usage
		cost     byok.Micros
		known    bool
		terminal bool
	}{
		{
			file: "openai_chat.json", call: Call{Service: byok.OpenAI, Path: "/v1/chat/completions", Model: "gpt-4o"},
			status: 200, ct: "application/json",
			want: byok.Usage{Model: "gpt-4o-2024-08-06", InputTokens: 86, CacheReadTokens: 1920, OutputTokens: 10, Complete: true},
			// 86×2.50 + 1920×1.25 + 10×10.00 micro-USD
			cost: 2715, known: true,
		},
		{
			file: "openai_chat_stream_gpt4omini_usage.sse", call: Call{Service: byok.OpenAI, Path: "/v1/chat/completions", Model: "gpt-4o-mini", Stream: true},
			status: 200, ct: "text/event-stream; charset=utf-8",
			want: byok.Usage{Model: "gpt-4o-mini-2024-07-18", InputTokens: 19, OutputTokens: 10, Complete: true},
			// 19×0.15 + 10×0.60 = 8.85, rounded once
			cost: 9, known: true, terminal: true,
		},
		{
			file: "openai_chat_stream_gpt5mini_usage.sse", call: Call{Service: byok.OpenAI, Path: "/v1/chat/completions", Model: "gpt-5-mini", Stream: true},
			status: 200, ct: "text/event-stream",
			want: byok.Usage{Model: "gpt-5-mini-2025-08-07", InputTokens: 496, CacheReadTokens: 1024, OutputTokens: 402, Complete: true},
			// 496×0.25 + 1024×0.025 + 402×2.00 = 953.6
			cost: 954, known: true, terminal: true,
		},
		{
			file: "openai_chat_stream_gpt4omini.sse", call: Call{Service: byok.OpenAI, Path: "/v1/chat/completions", Model: "gpt-4o-mini", Stream: true},
			status: 200, ct: "text/event-stream",
			// a stream without a usage report: model seen, usage incomplete
			want: byok.Usage{Model: "gpt-4o-mini-2024-07-18"}, cost: 0, known: true, terminal: true,
		},
		{
			file: "openai_responses.json", call: Call{Service: byok.OpenAI, Path: "/v1/responses", Model: "gpt-4.1"},
			status: 200, ct: "application/json",
			want: byok.Usage{Model: "gpt-4.1-2025-04-14", InputTokens: 36, OutputTokens: 87, Complete: true},
			cost: 768, known: true,
		},
		{
			file: "openai_responses_stream.sse", call: Call{Service: byok.OpenAI, Path: "/v1/responses", Model: "o4-mini", Stream: true},
			status: 200, ct: "text/event-stream; charset=utf-8",
			want: byok.Usage{Model: "o4-mini-2025-04-16", InputTokens: 166, CacheReadTokens: 1664, OutputTokens: 205, Complete: true},
			// 166×1.10 + 1664×0.275 + 205×4.40 = 1542.2
			cost: 1542, known: true, terminal: true,
		},
		{
			file: "openai_embeddings.json", call: Call{Service: byok.OpenAI, Path: "/v1/embeddings", Model: "text-embedding-3-small"},
			status: 200, ct: "application/json",
			want: byok.Usage{Model: "text-embedding-3-small", InputTokens: 1375, Complete: true},
			// 1375×0.02 = 27.5, half up
			cost: 28, known: true,
		},
		{
			file: "openai_error_429.json", call: Call{Service: byok.OpenAI, Path: "/v1/chat/completions", Model: "gpt-4o"},
			status: 429, ct: "application/json",
			want: byok.Usage{Model: "gpt-4o", Complete: true}, cost: 0, known: true,
		},
		{
			file: "openai_models.json", call: Call{Service: byok.OpenAI, Path: "/v1/models"},
			status: 200, ct: "application/json",
			want: byok.Usage{Complete: true}, cost: 0, known: true,
		},
		{
			file: "anthropic_message.json", call: Call{Service: byok.Anthropic, Path: "/v1/messages", Model: "claude-sonnet-4-5"},
			status: 200, ct: "application/json",
			want: byok.Usage{Model: "claude-sonnet-4-5-20250929", InputTokens: 12, CacheReadTokens: 10240, CacheWrite1hTokens: 2048, OutputTokens: 45, Complete: true},
			// 12×3 + 10240×0.30 + 2048×6 + 45×15
			cost: 16071, known: true,
		},
		{
			file: "anthropic_message_nosplit.json", call: Call{Service: byok.Anthropic, Path: "/v1/messages?beta=true", Model: "claude-3-5-haiku-latest"},
			status: 200, ct: "application/json",
			want: byok.Usage{Model: "claude-3-5-haiku-20241022", InputTokens: 25, CacheWrite5mTokens: 1500, OutputTokens: 120, Complete: true},
			// 25×0.80 + 1500×1.00 + 120×4.00
			cost: 2000, known: true,
		},
		{
			file: "anthropic_stream.sse", call: Call{Service: byok.Anthropic, Path: "/v1/messages", Model: "claude-haiku-4-5", Stream: true},
			status: 200, ct: "text/event-stream; charset=utf-8",
			want: byok.Usage{Model: "claude-haiku-4-5-20251001", InputTokens: 20, CacheWrite5mTokens: 1200, OutputTokens: 37, Complete: true},
			// 20×1 + 1200×1.25 + 37×5
			cost: 1705, known: true, terminal: true,
		},
		{
			file: "anthropic_stream_tool.sse", call: Call{Service: byok.Anthropic, Path: "/v1/messages", Model: "claude-opus-4-1", Stream: true},
			status: 200, ct: "text/event-stream",
			want: byok.Usage{Model: "claude-opus-4-1-20250805", InputTokens: 472, OutputTokens: 89, Complete: true},
			// 472×15 + 89×75
			cost: 13755, known: true, terminal: true,
		},
		{
			file: "anthropic_stream_error.sse", call: Call{Service: byok.Anthropic, Path: "/v1/messages", Model: "claude-sonnet-4-0", Stream: true},
			status: 200, ct: "text/event-stream",
			// cut by an overload: input seen, no final report
			want: byok.Usage{Model: "claude-sonnet-4-20250514", InputTokens: 3021, OutputTokens: 1},
			cost: 9078, known: true, terminal: true,
		},
		{
			file: "anthropic_count_tokens.json", call: Call{Service: byok.Anthropic, Path: "/v1/messages/count_tokens", Model: "claude-sonnet-4-5"},
			status: 200, ct: "application/json",
			want: byok.Usage{Model: "claude-sonnet-4-5", Complete: true}, cost: 0, known: true,
		},
		{
			file: "anthropic_error_529.json", call: Call{Service: byok.Anthropic, Path: "/v1/messages", Model: "claude-opus-4-5"},
			status: 529, ct: "application/json",
			want: byok.Usage{Model: "claude-opus-4-5", Complete: true}, cost: 0, known: true,
		},
		{
			file: "clickup_team.json", call: Call{Service: byok.ClickUp, Path: "/api/v2/team"},
			status: 200, ct: "application/json",
			want: byok.Usage{Requests: 1, Complete: true}, cost: 0, known: true,
		},
	}
	for _, tt := range tests {
		body := readTestdata(t, tt.file)
		for _, n := range []int{0, 1, 7, 64, 4096} {
			client, terminal, got := run(tt.call, tt.status, tt.ct, body, n)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s in pieces of %d: usage (-want +got):\n%s", tt.file, n, diff)
			}
			if !bytes.Equal(client, body) {
				t.Errorf("%s in pieces of %d: the client got a changed body", tt.file, n)
			}
			if terminal != tt.terminal {
				t.Errorf("%s in pieces of %d: terminal got %v, want %v", tt.file, n, terminal, tt.terminal)
			}
		}
		_, _, u := run(tt.call, tt.status, tt.ct, body, 0)
		cost, known := prices.Cost(tt.call.Service, u)
		if cost != tt.cost || known != tt.known {
			t.Errorf("%s: cost got %d µ$ known=%v, want %d known=%v", tt.file, cost, known, tt.cost, tt.known)
		}
	}
}

// TestSetString covers the comparison setString makes before decoding:
// a repeated value, the tiers that mean "no surcharge", and escapes.
func TestSetString(t *testing.T) {
	for _, c := range []struct{ had, v, want string }{
		{"", `"flex"`, "flex"},
		{"flex", `"flex"`, "flex"},
		{"flex", `"default"`, ""},
		{"priority", `"auto"`, ""},
		{"", `"pri\u006frity"`, "priority"},
		{"flex", `""`, "flex"},
		{"flex", `null`, "flex"},
	} {
		got := c.had
		setString(&got, []byte(c.v))
		if got != c.want {
			t.Errorf("setString(%q, %s) = %q, want %q", c.had, c.v, got, c.want)
		}
	}
}
