package metering

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sseEvent is what a test sees of one dispatched event.
type sseEvent struct {
	Name    string
	DataLen int
	Head    string
	Type    string // the data's top-level "type" member, as captured
}

// parseSSE runs the incremental parser over pieces and lists the events.
func parseSSE(pieces ...[]byte) []sseEvent {
	var x extractor
	x.init(target{k1: "type", max: 64})
	s := sseParser{x: &x}
	var evs []sseEvent
	collect := func() {
		if s.dataLines == 0 {
			return
		}
		e := sseEvent{Name: string(s.name.bytes()), DataLen: s.dataLen, Head: string(s.head[:min(s.dataLen, maxHead)])}
		if v, ok := x.value(0); ok {
			e.Type = string(v)
		}
		evs = append(evs, e)
	}
	for _, p := range pieces {
		for len(p) > 0 {
			n, boundary := s.next(p)
			p = p[n:]
			if boundary {
				collect()
			}
		}
	}
	if s.end() {
		collect()
	}
	return evs
}

// referenceSSE is a plain, whole-input reading of the event-stream rules,
// to check the incremental parser against.
func referenceSSE(in []byte) []sseEvent {
	s := strings.ReplaceAll(string(in), "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	var evs []sseEvent
	var name string
	var data []string
	dispatch := func() {
		if len(data) > 0 {
			d := strings.Join(data, "\n")
			evs = append(evs, sseEvent{Name: name, DataLen: len(d), Head: d[:min(len(d), maxHead)]})
		}
		name, data = "", nil
	}
	lines := strings.Split(s, "\n")
	for i, line := range lines {
		if i == len(lines)-1 && line == "" {
			break
		}
		if line == "" {
			dispatch()
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "data":
			data = append(data, value)
		case "event":
			name = value
		}
	}
	dispatch()
	return evs
}

func TestSSE_Parser(t *testing.T) {
	tests := []struct {
		name, in string
		want     []sseEvent
	}{
		{"one event", "event: ping\ndata: {\"type\": \"ping\"}\n\n",
			[]sseEvent{{Name: "ping", DataLen: 16, Head: `{"type":`, Type: `"ping"`}}},
		{"crlf", "data: {\"type\":\"a\"}\r\n\r\ndata: [DONE]\r\n\r\n",
			[]sseEvent{{DataLen: 12, Head: `{"type":`, Type: `"a"`}, {DataLen: 6, Head: "[DONE]"}}},
		{"cr only", "data: x\r\rdata: y\r\r", []sseEvent{{DataLen: 1, Head: "x"}, {DataLen: 1, Head: "y"}}},
		{"comments and unknown fields are ignored", ": keep-alive\n\nid: 7\nretry: 100\ndata: a\n\n",
			[]sseEvent{{DataLen: 1, Head: "a"}}},
		{"multi-line data joined with newline", "data: {\"type\":\ndata:  \"x\"}\n\n",
			[]sseEvent{{DataLen: 14, Head: "{\"type\":", Type: `"x"`}}},
		{"no space after colon", "data:[DONE]\n\n", []sseEvent{{DataLen: 6, Head: "[DONE]"}}},
		{"field without colon", "data\n\n", []sseEvent{{DataLen: 0, Head: ""}}},
		{"no final blank line", "data: last", []sseEvent{{DataLen: 4, Head: "last"}}},
		{"blank lines without data", "\n\n\r\n", nil},
		{"later event field wins", "event: a\nevent: b\ndata: 1\n\n", []sseEvent{{Name: "b", DataLen: 1, Head: "1"}}},
	}
	for _, tt := range tests {
		in := []byte(tt.in)
		if diff := cmp.Diff(tt.want, parseSSE(in)); diff != "" {
			t.Errorf("%s: events (-want +got):\n%s", tt.name, diff)
		}
		for i := 0; i <= len(in); i++ {
			if diff := cmp.Diff(tt.want, parseSSE(in[:i], in[i:])); diff != "" {
				t.Errorf("%s split at %d: events (-want +got):\n%s", tt.name, i, diff)
				break
			}
		}
		ref := referenceSSE(in)
		got := parseSSE(in)
		for i := range got {
			got[i].Type = ""
		}
		if diff := cmp.Diff(ref, got); diff != "" {
			t.Errorf("%s: parser disagrees with the reference (-ref +got):\n%s", tt.name, diff)
		}
	}
}

func TestExtractor(t *testing.T) {
	targets := []target{{k1: "model", max: 32}, {k1: "usage", max: 64}, {k1: "type", max: 32}, {k1: "response", k2: "usage", max: 64}}
	tests := []struct {
		name, in string
		want     [4]string // "" = nothing complete
	}{
		{"top level", `{"model":"gpt-4o","usage":{"a":1,"b":{"c":[1,2]}},"type":"x"}`,
			[4]string{`"gpt-4o"`, `{"a":1,"b":{"c":[1,2]}}`, `"x"`, ""}},
		{"nested path", `{"type":"response.completed","response":{"id":"r","usage":{"input_tokens":5},"model":"m"}}`,
			[4]string{"", "", `"response.completed"`, `{"input_tokens":5}`}},
		{"same key deeper does not count", `{"a":{"usage":{"x":1}},"b":[{"model":"no"}]}`, [4]string{}},
		{"last duplicate wins", `{"usage":{"x":1},"usage":null}`, [4]string{"", "null", "", ""}},
		{"scalars", `{"usage":12345,"model":null}`, [4]string{"null", "12345", "", ""}},
		{"scalar at end of input", `{"usage":12345`, [4]string{"", "12345", "", ""}},
		{"too long is dropped", `{"model":"` + strings.Repeat("m", 40) + `"}`, [4]string{}},
		{"escaped quotes in strings", `{"type":"a\"b\\","model":"x"}`, [4]string{`"x"`, "", `"a\"b\\"`, ""}},
		{"key with escapes never matches", `{"us\u0061ge":1}`, [4]string{}},
		{"whitespace everywhere", "{ \"usage\" :\n { \"a\" : 1 } ,\t\"model\" : \"m\" }", [4]string{`"m"`, `{ "a" : 1 }`, "", ""}},
		{"garbage", `}}]]{"usage":{`, [4]string{}},
		{"array at top", `[{"usage":1}]`, [4]string{}},
	}
	for _, tt := range tests {
		in := []byte(tt.in)
		for i := 0; i <= len(in); i++ {
			var x extractor
			x.init(targets...)
			x.write(in[:i])
			x.write(in[i:])
			x.end()
			var got [4]string
			for j := range got {
				if v, ok := x.value(j); ok {
					got[j] = string(v)
				}
			}
			if got != tt.want {
				t.Errorf("%s split at %d: got %q, want %q", tt.name, i, got, tt.want)
				break
			}
		}
	}
}

func TestParseCount(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"123", 123, true}, {"-5", 0, true}, {"1.9", 1, true},
		{"1e3", 1000, true}, {"2E+2", 200, true}, {"15e-1", 1, true},
		{"1e30", tokenCap, true}, {"99999999999999999999999999", tokenCap, true},
		{"-1e30", 0, true}, {"null", 0, false}, {`"5"`, 0, false}, {"", 0, false}, {"5x", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseCount([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseCount(%q): got %d %v, want %d %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestMeter_HostileInput(t *testing.T) {
	c := Call{Service: "openai", Path: "/v1/chat/completions", Model: "gpt-4o"}
	tests := []struct {
		name, body, ct string
		wantIn         int64
		wantOut        int64
		complete       bool
	}{
		{"negative and gigantic counts", `{"model":"gpt-4o","usage":{"prompt_tokens":-50,"completion_tokens":1e300}}`, ctJSON, 0, tokenCap, true},
		{"cached above prompt", `{"usage":{"prompt_tokens":10,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":99}}}`, ctJSON, 0, 1, true},
		{"usage of the wrong type", `{"usage":"lots"}`, ctJSON, 0, 0, false},
		{"invalid UTF-8 and garbage", "\xff\xfe{\"usage\":{\"prompt_tokens\":\xff7}}\x00", ctJSON, 0, 0, true},
		{"SSE garbage", "data: {\"usage\":{\"prompt_tokens\":3}}\n\ndata: \xff\xff}}}]]]\n\n:\r\r\r\n", ctSSE, 3, 0, true},
	}
	p := DefaultPrices()
	for _, tt := range tests {
		_, _, u := run(c, 200, tt.ct, []byte(tt.body), 3)
		if u.InputTokens != tt.wantIn || u.OutputTokens != tt.wantOut || u.Complete != tt.complete {
			t.Errorf("%s: got %+v, want input %d output %d complete %v", tt.name, u, tt.wantIn, tt.wantOut, tt.complete)
		}
		if cost, _ := p.Cost(c.Service, u); cost < 0 {
			t.Errorf("%s: negative cost %d", tt.name, cost)
		}
	}
}

func TestMeter_ModelNameIsCleaned(t *testing.T) {
	body := []byte(`{"model":"gpt-4o\u00e9` + "\xff" + `","usage":{"prompt_tokens":1}}`)
	_, _, u := run(Call{Service: "openai", Path: "/v1/embeddings"}, 200, ctJSON, body, 0)
	if u.Model != "gpt-4oé\uFFFD" {
		t.Errorf("model got %q, want %q", u.Model, "gpt-4oé\uFFFD")
	}
	long := []byte(`{"model":"` + strings.Repeat("x", 300) + `"}`)
	_, _, u = run(Call{Service: "openai", Path: "/v1/embeddings", Model: "fallback"}, 200, ctJSON, long, 0)
	if u.Model != strings.Repeat("x", maxModel) {
		t.Errorf("long model got %d bytes, want %d", len(u.Model), maxModel)
	}
}

func TestMeter_LongEscapedStringIsReadOnce(t *testing.T) {
	// 16 MiB of string with an escape every 128 bytes, in one piece: a
	// search that started again from each escape to the string's end
	// would read it 131,072 times, and this test would run for hours
	// instead of milliseconds.
	long := strings.Repeat(strings.Repeat("x", 126)+`\n`, 1<<17)
	body := `{"id":"` + long + `","choices":[{"message":{"content":"` + long + `"}}],"usage":{"prompt_tokens":7,"completion_tokens":2}}`
	c := Call{Service: "openai", Path: "/v1/chat/completions", Model: "gpt-4o"}
	_, _, u := run(c, 200, ctJSON, []byte(body), len(body))
	if u.InputTokens != 7 || u.OutputTokens != 2 || !u.Complete {
		t.Errorf("got %+v, want 7 input and 2 output tokens, complete", u)
	}
}
