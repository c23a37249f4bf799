package metering

import (
	"bytes"
	"testing"

	"byokd.dev/byok"
	"github.com/google/go-cmp/cmp"
)

// withEOL rewrites a stream's \n line endings to eol.
func withEOL(b []byte, eol string) []byte {
	return bytes.ReplaceAll(b, []byte("\n"), []byte(eol))
}

func TestMeter_FilterHidesInjectedUsage(t *testing.T) {
	tests := []struct {
		plain, usage string
		model        string
		want         byok.Usage
	}{
		{"openai_chat_stream_gpt4omini.sse", "openai_chat_stream_gpt4omini_usage.sse", "gpt-4o-mini",
			byok.Usage{Model: "gpt-4o-mini-2024-07-18", InputTokens: 19, OutputTokens: 10, Complete: true}},
		{"openai_chat_stream_gpt5mini.sse", "openai_chat_stream_gpt5mini_usage.sse", "gpt-5-mini",
			byok.Usage{Model: "gpt-5-mini-2025-08-07", InputTokens: 496, CacheReadTokens: 1024, OutputTokens: 402, Complete: true}},
	}
	for _, tt := range tests {
		for _, eol := range []string{"\n", "\r\n", "\r"} {
			plain := withEOL(readTestdata(t, tt.plain), eol)
			upstream := withEOL(readTestdata(t, tt.usage), eol)
			c := Call{Service: byok.OpenAI, Path: "/v1/chat/completions", Model: tt.model, Stream: true, InjectedUsage: true}
			check := func(desc string, pieces [][]byte) bool {
				t.Helper()
				m := NewMeter(c, 200, ctSSE)
				var client []byte
				terminals := 0
				for _, p := range pieces {
					out, term := m.Filter(p)
					before := bytes.Contains(client, []byte("data: [DONE]"))
					client = append(client, out...)
					if term {
						terminals++
						if before || !bytes.Contains(client, []byte("data: [DONE]")) {
							t.Errorf("%s %q %s: terminal reported with output that does not bring [DONE]", tt.usage, eol, desc)
						}
					}
				}
				client = append(client, m.Flush()...)
				if !bytes.Equal(client, plain) {
					t.Errorf("%s %q %s: client got\n%q\nwant\n%q", tt.usage, eol, desc, client, plain)
				}
				if terminals != 1 {
					t.Errorf("%s %q %s: terminal reported %d times, want 1", tt.usage, eol, desc, terminals)
				}
				if diff := cmp.Diff(tt.want, m.Usage()); diff != "" {
					t.Errorf("%s %q %s: usage (-want +got):\n%s", tt.usage, eol, desc, diff)
				}
				return !t.Failed()
			}
			for i := 0; i <= len(upstream); i++ {
				if !check("split at "+itoa(i), [][]byte{upstream[:i], upstream[i:]}) {
					return
				}
			}
			var bytewise [][]byte
			for i := range upstream {
				bytewise = append(bytewise, upstream[i:i+1])
			}
			check("byte by byte", bytewise)
		}
	}
}

func itoa(i int) string { return string(appendInt(nil, i)) }

func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}

func TestMeter_FilterPassesClientRequestedUsage(t *testing.T) {
	// The client asked for usage itself: nothing is hidden.
	upstream := readTestdata(t, "openai_chat_stream_gpt4omini_usage.sse")
	c := Call{Service: byok.OpenAI, Path: "/v1/chat/completions", Model: "gpt-4o-mini", Stream: true}
	m := NewMeter(c, 200, ctSSE)
	out, term := m.Filter(upstream)
	if &out[0] != &upstream[0] || len(out) != len(upstream) {
		t.Errorf("Filter did not return its input unchanged")
	}
	if !term {
		t.Errorf("terminal got false, want true")
	}
	if got := m.Usage(); got.InputTokens != 19 || !got.Complete {
		t.Errorf("usage got %+v, want 19 input tokens, complete", got)
	}
}

func TestNullUsageCut(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":1,"usage":null}`, `{"a":1}`},
		{`{"a":1,"usage":null,"b":2}`, `{"a":1,"b":2}`},
		{`{"usage":null,"b":2}`, `{"b":2}`},
		{`{"usage":null}`, `{}`},
		{`{"a":1, "usage": null , "b":2}`, `{"a":1, "b":2}`},
		{`{ "usage" : null, "b":2}`, `{ "b":2}`},
		{`{"usage":null,"usage":null}`, `{"usage":null}`},
		{`{"a":[{"usage":null}],"b":"x\",\"usage\":null"}`, ``},
		{`{"a":{"usage":null},"usage":{"x":1}}`, ``},
		{`{"a":1 "usage":null}`, ``},
		{`{"a":1,"usage":null`, ``},
		{`{"a":1,"usage":nul}`, ``},
	}
	for _, tt := range tests {
		var x extractor
		x.init(target{}, target{k1: "usage", max: maxUsageJSON})
		for i := range len(tt.in) + 1 {
			x.reset()
			x.write([]byte(tt.in[:i]))
			x.write([]byte(tt.in[i:]))
			from, to, ok := nullUsageCut(&x, []byte(tt.in))
			got := ""
			if ok {
				got = tt.in[:from] + tt.in[to:]
			}
			if got != tt.want {
				t.Errorf("nullUsageCut(%s) split at %d: got %q, want %q", tt.in, i, got, tt.want)
				break
			}
		}
	}
}

func TestMeter_FilterGivesUpOnHugeEvent(t *testing.T) {
	// An event longer than maxHeld is passed through unchanged, and the
	// usage is still read.
	big := append([]byte(`data: {"choices":[{"delta":{"content":"`), bytes.Repeat([]byte("x"), maxHeld+10000)...)
	big = append(big, "\"}}],\"usage\":null}\n\n"...)
	tail := readTestdata(t, "openai_chat_stream_gpt4omini_usage.sse")
	upstream := append(big, tail...)
	c := Call{Service: byok.OpenAI, Path: "/v1/chat/completions", Model: "gpt-4o-mini", Stream: true, InjectedUsage: true}
	client, terminal, u := run(c, 200, ctSSE, upstream, 4096)
	if !bytes.Equal(client, upstream) {
		t.Errorf("client got %d bytes, want the %d upstream bytes unchanged", len(client), len(upstream))
	}
	if !terminal || u.InputTokens != 19 || !u.Complete {
		t.Errorf("got terminal %v usage %+v, want terminal and 19 input tokens", terminal, u)
	}
}
