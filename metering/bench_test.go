package metering

import (
	"bytes"
	"strings"
	"testing"

	"byokd.dev/byok"
)

// benchMeter meters one sample response per iteration, fed in chunks of
// size n as the network would deliver it.
func benchMeter(b *testing.B, c Call, ct, file string, n int) {
	body := readTestdata(b, file)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		m := NewMeter(c, 200, ct)
		for i := 0; i < len(body); i += n {
			m.Filter(body[i:min(i+n, len(body))])
		}
		m.Flush()
		if !m.Usage().Complete {
			b.Fatal("usage incomplete")
		}
	}
}

func BenchmarkMeter(b *testing.B) {
	chat := Call{Service: byok.OpenAI, Path: "/v1/chat/completions", Model: "gpt-4o"}
	responses := Call{Service: byok.OpenAI, Path: "/v1/responses", Model: "o4-mini"}
	anthropic := Call{Service: byok.Anthropic, Path: "/v1/messages", Model: "claude-haiku-4-5"}
	injected := chat
	injected.Stream, injected.InjectedUsage = true, true
	b.Run("openai_chat_json", func(b *testing.B) { benchMeter(b, chat, ctJSON, "openai_chat.json", 32<<10) })
	b.Run("openai_chat_sse", func(b *testing.B) { benchMeter(b, chat, ctSSE, "openai_chat_stream_gpt5mini_usage.sse", 512) })
	b.Run("openai_chat_sse_filter", func(b *testing.B) { benchMeter(b, injected, ctSSE, "openai_chat_stream_gpt5mini_usage.sse", 512) })
	b.Run("openai_responses_json", func(b *testing.B) { benchMeter(b, responses, ctJSON, "openai_responses.json", 32<<10) })
	b.Run("openai_responses_sse", func(b *testing.B) { benchMeter(b, responses, ctSSE, "openai_responses_stream.sse", 512) })
	b.Run("openai_embeddings_json", func(b *testing.B) {
		benchMeter(b, Call{Service: byok.OpenAI, Path: "/v1/embeddings"}, ctJSON, "openai_embeddings.json", 32<<10)
	})
	b.Run("anthropic_json", func(b *testing.B) { benchMeter(b, anthropic, ctJSON, "anthropic_message.json", 32<<10) })
	b.Run("anthropic_sse", func(b *testing.B) { benchMeter(b, anthropic, ctSSE, "anthropic_stream.sse", 512) })
}

// BenchmarkMeter_Steady measures one more chunk on a long-lived stream:
// the per-chunk cost once the Meter's buffers exist.
func BenchmarkMeter_Steady(b *testing.B) {
	body := readTestdata(b, "openai_chat_stream_gpt5mini_usage.sse")
	chunk := body[:bytes.Index(body, []byte("\n\n"))+2] // one chat chunk event
	for _, injected := range []bool{false, true} {
		name := "passthrough"
		if injected {
			name = "filter"
		}
		b.Run(name, func(b *testing.B) {
			c := Call{Service: byok.OpenAI, Path: "/v1/chat/completions", Stream: true, InjectedUsage: injected}
			m := NewMeter(c, 200, ctSSE)
			m.Filter(chunk)
			b.SetBytes(int64(len(chunk)))
			b.ReportAllocs()
			for b.Loop() {
				m.Filter(chunk)
			}
		})
	}
}

func BenchmarkInspect(b *testing.B) {
	image := `{"type":"image_url","image_url":{"url":"data:image/png;base64,` + strings.Repeat("iVBORw0KGgoAAAANSUhEUgAA", 40000) + `"}}`
	bodies := []struct{ name, body string }{
		{"small_splice", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hi"}],"stream":true}`},
		{"small_no_stream", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hi"}]}`},
		{"1MB_image_no_stream", `{"model":"gpt-4o","messages":[{"role":"user","content":[` + image + `]}]}`},
		{"1MB_image_splice", `{"model":"gpt-4o","messages":[{"role":"user","content":[` + image + `]}],"stream":true}`},
	}
	for _, tt := range bodies {
		b.Run(tt.name, func(b *testing.B) {
			body := []byte(tt.body)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				Inspect(byok.OpenAI, "/v1/chat/completions", body)
			}
		})
	}
}

func BenchmarkCost(b *testing.B) {
	p := DefaultPrices()
	u := byok.Usage{Model: "claude-sonnet-4-5-20250929", InputTokens: 12, OutputTokens: 45, CacheReadTokens: 10240, CacheWrite1hTokens: 2048}
	b.ReportAllocs()
	for b.Loop() {
		p.Cost(byok.Anthropic, u)
	}
}

// BenchmarkMetered is the endpoint look-up every recorded call makes.
func BenchmarkMetered(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Metered(byok.OpenAI, "POST", "/v1/chat/completions")
	}
}
