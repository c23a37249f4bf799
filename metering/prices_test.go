package metering

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"byokd.dev/byok"
	"github.com/google/go-cmp/cmp"
)

func TestPrices_Lookup(t *testing.T) {
	p := DefaultPrices()
	tests := []struct {
		svc     byok.Service
		model   string
		wantKey string // "" = unknown
	}{
		{byok.OpenAI, "gpt-4o", "gpt-4o"},
		{byok.OpenAI, "gpt-4o-2024-08-06", "gpt-4o"},
		{byok.OpenAI, "gpt-4o-2024-05-13", "gpt-4o-2024-05-13"},
		{byok.OpenAI, "gpt-4o-mini-2024-07-18", "gpt-4o-mini"},
		{byok.OpenAI, "gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"},
		{byok.OpenAI, "gpt-5-mini-2025-08-07", "gpt-5-mini"},
		{byok.OpenAI, "gpt-5-chat-latest", "gpt-5-chat-latest"},
		{byok.OpenAI, "gpt-5.1-codex", "gpt-5.1-codex"},
		{byok.OpenAI, "gpt-5.1-codex-max", ""},     // a named variant is priced apart
		{byok.OpenAI, "gpt-4o-search-preview", ""}, // searches cost more than gpt-4o's
		{byok.OpenAI, "gpt-4o-mini-tts", ""},       // not gpt-4o-mini
		{byok.OpenAI, "gpt-6-sol-2026-09-22", "gpt-6-sol"},
		{byok.OpenAI, "gpt-6.1-sol", "gpt-6.1-sol"},
		{byok.OpenAI, "o4-mini-2025-04-16", "o4-mini"},
		{byok.OpenAI, "o3-2025-04-16", "o3"},
		{byok.OpenAI, "gpt-4-0613", "gpt-4"},
		{byok.OpenAI, "text-embedding-3-large", "text-embedding-3-large"},
		{byok.OpenAI, "gpt-5.3", ""}, // a new version is not gpt-5
		{byok.OpenAI, "gpt-4o-mini-", "gpt-4o-mini"},
		{byok.OpenAI, "claude-sonnet-4-5", ""}, // wrong service
		{byok.Anthropic, "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"},
		{byok.Anthropic, "claude-opus-4-1-20250805", "claude-opus-4-1"},
		{byok.Anthropic, "claude-opus-4-20250514", "claude-opus-4"},
		{byok.Anthropic, "claude-opus-4-0", "claude-opus-4-0"},
		{byok.Anthropic, "claude-opus-4-9", ""}, // not priced as claude-opus-4
		{byok.Anthropic, "claude-sonnet-5-5", "claude-sonnet-5-5"},
		{byok.Anthropic, "claude-sonnet-5-5-20261001", "claude-sonnet-5-5"},
		{byok.Anthropic, "claude-haiku-5-5-thinking", ""},
		{byok.Anthropic, "claude-3-5-haiku-latest", "claude-3-5-haiku"},
		{byok.Anthropic, "claude-3-7-sonnet-20250219", "claude-3-7-sonnet"},
		{byok.Anthropic, "claude-3-haiku-20240307", "claude-3-haiku"},
		{byok.Anthropic, "", ""},
		{byok.ClickUp, "gpt-4o", ""},
	}
	for _, tt := range tests {
		_, key, ok := p.Lookup(tt.svc, tt.model)
		if key != tt.wantKey || ok != (tt.wantKey != "") {
			t.Errorf("Lookup(%s, %q): got %q %v, want %q", tt.svc, tt.model, key, ok, tt.wantKey)
		}
	}
}

func TestPrices_AnthropicCacheRatios(t *testing.T) {
	// Cache writes are 1.25× (5 minutes) and 2× (1 hour) input, reads 0.1×,
	// for every Claude model but claude-3-haiku, whose list prices differ.
	p := DefaultPrices()
	for model, r := range p.models[byok.Anthropic] {
		if model == "claude-3-haiku" { // list: $0.30 / $0.50 / $0.03
			continue
		}
		if r.write5m*4 != r.input*5 || r.write1h != r.input*2 {
			t.Errorf("%s: cache writes got %d/%d, want 1.25× and 2× of %d", model, r.write5m, r.write1h, r.input)
		}
		// Cache reads are 0.1× input, but where the list says otherwise:
		// Sonnet 5.5 and Opus 5.5 at 0.05×, Fable and Mythos 5.1 at 0.025×.
		read := map[string][2]int64{"claude-sonnet-5-5": {1, 20}, "claude-opus-5-5": {1, 20},
			"claude-fable-5-1": {1, 40}, "claude-mythos-5-1": {1, 40}}[model]
		num, den := read[0], read[1]
		if den == 0 {
			num, den = 1, 10
		}
		if r.cached*den != r.input*num {
			t.Errorf("%s: cache read got %d, want %d/%d of %d", model, r.cached, num, den, r.input)
		}
	}
}

func TestPrices_Cost(t *testing.T) {
	p := DefaultPrices()
	tests := []struct {
		name  string
		svc   byok.Service
		u     byok.Usage
		want  byok.Micros
		known bool
	}{
		{"gpt-4o", byok.OpenAI, byok.Usage{Model: "gpt-4o", InputTokens: 1000, OutputTokens: 500}, 7500, true},
		{"rounds half up once", byok.OpenAI, byok.Usage{Model: "gpt-4o-mini", InputTokens: 10, OutputTokens: 0}, 2, true}, // 1.5
		{"below half rounds down", byok.OpenAI, byok.Usage{Model: "gpt-5-nano", InputTokens: 9}, 0, true},                 // 0.45
		{"a million gpt-5 output tokens", byok.OpenAI, byok.Usage{Model: "gpt-5-2025-08-07", OutputTokens: 1_000_000}, byok.USD(10), true},
		{"opus 4.1 every kind", byok.Anthropic, byok.Usage{Model: "claude-opus-4-1-20250805", InputTokens: 100, OutputTokens: 200, CacheReadTokens: 1000, CacheWrite5mTokens: 400, CacheWrite1hTokens: 50}, 100*15 + 200*75 + 1500 + 400*18.75 + 50*30, true},
		{"unknown model", byok.OpenAI, byok.Usage{Model: "gpt-9", InputTokens: 1}, 0, false},
		{"no model", byok.Anthropic, byok.Usage{OutputTokens: 1}, 0, false},
		{"no tokens: unknown model still costs nothing", byok.OpenAI, byok.Usage{Model: "dall-e-3", Complete: true}, 0, true},
		{"clickup", byok.ClickUp, byok.Usage{Requests: 1, Complete: true}, 0, true},
		{"negative tokens count as none", byok.OpenAI, byok.Usage{Model: "gpt-4o", InputTokens: -1000, OutputTokens: 1}, 10, true},
		{"gigantic counts are capped, never overflow", byok.OpenAI, byok.Usage{Model: "o1-pro", InputTokens: math.MaxInt64, OutputTokens: math.MaxInt64, CacheReadTokens: math.MaxInt64},
			byok.Micros(tokenCap * (150 + 600 + 150)), true},
	}
	for _, tt := range tests {
		got, known := p.Cost(tt.svc, tt.u)
		if got != tt.want || known != tt.known {
			t.Errorf("%s: got %d µ$ known=%v, want %d known=%v", tt.name, got, known, tt.want, tt.known)
		}
	}
}

func TestPrices_Estimate(t *testing.T) {
	p := DefaultPrices()
	tests := []struct {
		name string
		c    Call
		want byok.Micros
	}{
		{"max tokens given", Call{Service: byok.OpenAI, Path: "/v1/chat/completions", Model: "gpt-4o", InputBytes: 3000, MaxTokens: 1000},
			1000*2.5 + 1000*10},
		{"no max tokens: default output", Call{Service: byok.Anthropic, Path: "/v1/messages", Model: "claude-sonnet-4-5", InputBytes: 30},
			10*3 + EstimateOutputTokens*15},
		{"absurd max tokens capped", Call{Service: byok.Anthropic, Path: "/v1/messages", Model: "claude-haiku-4-5", MaxTokens: 1 << 40},
			EstimateMaxOutputTokens * 5},
		{"unknown model: conservative price", Call{Service: byok.OpenAI, Path: "/v1/responses", Model: "gpt-9", InputBytes: 3, MaxTokens: 10},
			1*EstimateInputPrice + 10*EstimateOutputPrice},
		{"rounds up", Call{Service: byok.OpenAI, Path: "/v1/embeddings", Model: "text-embedding-3-small", InputBytes: 4}, 1},
		{"clickup", Call{Service: byok.ClickUp, Path: "/api/v2/team"}, 0},
		{"count_tokens", Call{Service: byok.Anthropic, Path: "/v1/messages/count_tokens", Model: "claude-opus-4-5", InputBytes: 1 << 20}, 0},
		{"hostile sizes", Call{Service: byok.OpenAI, Path: "/v1/chat/completions", Model: "o1-pro", InputBytes: math.MaxInt, MaxTokens: math.MaxInt64},
			byok.Micros(tokenCap*150 + EstimateMaxOutputTokens*600)},
	}
	for _, tt := range tests {
		if got := p.Estimate(tt.c); got != tt.want {
			t.Errorf("%s: got %d µ$, want %d", tt.name, got, tt.want)
		}
	}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "prices.json")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadPrices_Override(t *testing.T) {
	path := writeFile(t, `{
  "openai": {
    "gpt-4o": {"input": 2.0, "output": 8.0},
    "my-finetune": {"input": 3, "cached_input": 1.5, "output": 12}
  },
  "anthropic": {"claude-next": {"input": 4, "output": 20}}
}`)
	p, err := LoadPrices(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		svc   byok.Service
		model string
		want  Price
	}{
		// replaced; omitted cached_input defaults to input
		{byok.OpenAI, "gpt-4o-2024-08-06", Price{Input: 2, CachedInput: 2, CacheWrite5m: 2.5, CacheWrite1h: 4, Output: 8}},
		{byok.OpenAI, "my-finetune", Price{Input: 3, CachedInput: 1.5, CacheWrite5m: 3.75, CacheWrite1h: 6, Output: 12}},
		{byok.Anthropic, "claude-next-20270101", Price{Input: 4, CachedInput: 4, CacheWrite5m: 5, CacheWrite1h: 8, Output: 20}},
		// untouched defaults remain
		{byok.OpenAI, "gpt-4o-mini", Price{Input: 0.15, CachedInput: 0.075, CacheWrite5m: 0.1875, CacheWrite1h: 0.3, Output: 0.6, WebSearch: 10}},
	}
	for _, tt := range tests {
		got, _, ok := p.Lookup(tt.svc, tt.model)
		if diff := cmp.Diff(tt.want, got); !ok || diff != "" {
			t.Errorf("%s %s: price (-want +got):\n%s", tt.svc, tt.model, diff)
		}
	}
	if c, ok := p.Cost(byok.OpenAI, byok.Usage{Model: "my-finetune", InputTokens: 1000, CacheReadTokens: 1000, OutputTokens: 1000}); c != 16500 || !ok {
		t.Errorf("cost with override got %d %v, want 16500 true", c, ok)
	}
	if d := DefaultPrices(); d.models[byok.OpenAI]["gpt-4o"].input != 2_500_000 {
		t.Errorf("loading a file changed the defaults")
	}
}

func TestLoadPrices_MissingFileGivesDefaults(t *testing.T) {
	p, err := LoadPrices(filepath.Join(t.TempDir(), "prices.json"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(DefaultPrices().models, p.models, cmp.AllowUnexported(rate{}, longRate{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestLoadPrices_BadFile(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string // every one must appear in the error
	}{
		{"syntax", "{\n  \"openai\": {\n    \"gpt-4o\": {\"input\": 2.5,, \"output\": 10}\n  }\n}", []string{"line 3, column 29", "invalid character"}},
		{"wrong type", "{\n\"openai\": {\n\"gpt-4o\": {\"input\": \"2.5\", \"output\": 10}}}", []string{"line 3", "input must be a number"}},
		{"typo in a field", `{"openai": {"gpt-4o": {"input": 2.5, "ouput": 10}}}`, []string{`unknown field "ouput"`, "line 1"}},
		{"missing output", `{"openai": {"gpt-4o": {"input": 2.5}}}`, []string{`openai model "gpt-4o"`, `"output" are required`}},
		{"negative", `{"anthropic": {"claude-x": {"input": -1, "output": 1}}}`, []string{`anthropic model "claude-x"`, "input: -1 is not a price"}},
		{"too large", `{"openai": {"gpt-x": {"input": 1, "output": 1e9}}}`, []string{"output: 1e+09 is not a price"}},
		{"unknown service", `{"azure": {}}`, []string{`unknown section "azure"`}},
		{"long context without a length", `{"openai": {"m": {"input": 1, "output": 2, "long_context": {"input": 2, "output": 4}}}}`,
			[]string{`openai model "m"`, "above_prompt_tokens must be a positive token count"}},
		{"long context without its output", `{"openai": {"m": {"input": 1, "output": 2, "long_context": {"above_prompt_tokens": 5, "input": 2}}}}`,
			[]string{"long_context:", `"output" are required`}},
		{"unknown multiplier", `{"openai": {"m": {"input": 1, "output": 2, "multipliers": {"tier": {"flex": 0.5}}}}}`,
			[]string{`unknown dimension "tier"`}},
		{"zero multiplier", `{"anthropic": {"m": {"input": 1, "output": 2, "multipliers": {"speed": {"fast": 0}}}}}`,
			[]string{`speed "fast": 0 is not a multiplier`}},
		{"clickup has no token prices", `{"clickup": {}}`, []string{`unknown section "clickup"`}},
		{"trailing data", "{}\n{}", []string{"line 2", "extra data"}},
		{"empty file", ``, []string{"line 1", "EOF"}},
	}
	for _, tt := range tests {
		path := writeFile(t, tt.body)
		_, err := LoadPrices(path)
		if err == nil {
			t.Errorf("%s: got no error", tt.name)
			continue
		}
		for _, w := range append(tt.want, path) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", tt.name, err, w)
			}
		}
	}
}

func TestLoadPrices_Unreadable(t *testing.T) {
	dir := t.TempDir() // a directory cannot be read as a file
	if _, err := LoadPrices(dir); err == nil || !strings.Contains(err.Error(), "read prices") {
		t.Errorf("got %v, want a read prices error", err)
	}
}
