package byok

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSecret_NeverPrints(t *testing.T) {
	const v = "sk-live-abcdefghijklmnop"
	s := NewSecret(v)
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "secret", s)
	js, _ := json.Marshal(map[string]any{"s": s})
	outs := []string{
		s.String(), fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x", s, s, s, s, s, s),
		fmt.Sprintf("%v", struct{ S Secret }{s}), logged.String(), string(js),
		fmt.Errorf("wrap: %v", s).Error(),
	}
	for _, o := range outs {
		if strings.Contains(o, v) || strings.Contains(o, "abcdef") {
			t.Errorf("secret printed: %q", o)
		}
	}
	if s.Reveal() != v {
		t.Errorf("Reveal = %q, want the value", s.Reveal())
	}
	if got, want := s.Fingerprint(), "…mnop"; got != want {
		t.Errorf("Fingerprint = %q, want %q", got, want)
	}
	if got := NewSecret("short").Fingerprint(); got != "…" {
		t.Errorf("short secret fingerprint = %q, want only the ellipsis", got)
	}
	if !s.Equal(NewSecret(v)) || s.Equal(NewSecret(v+"x")) {
		t.Error("Equal is wrong")
	}
}

func TestMicros(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Micros
		str  string
	}{
		{"50", 50_000_000, "$50.00"},
		{"$0.10", 100_000, "$0.10"},
		{"12.5", 12_500_000, "$12.50"},
		{"0.000150", 150, "$0.00015"},
	} {
		got, err := ParseUSD(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseUSD(%q) = %v, %v; want %d", c.in, int64(got), err, c.want)
		}
		if got.String() != c.str {
			t.Errorf("String(%d) = %q, want %q", got, got.String(), c.str)
		}
	}
	for _, bad := range []string{"", "-1", "abc", "NaN", "1e300"} {
		if _, err := ParseUSD(bad); err == nil {
			t.Errorf("ParseUSD(%q) accepted", bad)
		}
	}
}

func TestUsageEvent_JSONRoundTrip(t *testing.T) {
	ev := UsageEvent{
		ID: "01J", Time: time.Date(2026, 11, 2, 3, 4, 5, 6000, time.UTC), Service: Anthropic,
		Model: "claude-sonnet-4-5", App: "editor", Project: "acme", Credential: PersonalKey("work"),
		Payer: PayerPersonal, Status: 200, Usage: Usage{Model: "claude-sonnet-4-5", InputTokens: 10,
			OutputTokens: 20, CacheReadTokens: 3, CacheWrite5mTokens: 4, CacheWrite1hTokens: 5, Complete: true},
		Cost: 1234, CostKnown: true, Latency: 1500 * time.Microsecond, FallbackReason: "over quota",
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"cost_usd":0.001234`, `"cache_write_tokens":9`, `"input_tokens":10`, `"cost_known":true`, `"payer":"personal"`} {
		if !strings.Contains(string(b), field) {
			t.Errorf("JSON %s lacks %s", b, field)
		}
	}
	var back UsageEvent
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(ev, back); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
}

func TestSpend_NeverShowsUnknownAsZero(t *testing.T) {
	var s Spend
	s.Add(1_230_000, true)
	for _, c := range []struct {
		s    Spend
		want string
	}{
		{Spend{}, "$0.00"},
		{s, "$1.23"},
		{Spend{Unknown: 1}, "unknown (1 call)"},
		{Spend{Unknown: 2}, "unknown (2 calls)"},
		{s.Plus(Spend{Unknown: 2}), "$1.23 + 2 calls of unknown cost"},
	} {
		if got := c.s.String(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.s, got, c.want)
		}
	}
}
