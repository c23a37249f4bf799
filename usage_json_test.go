package byok

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// referenceJSON is the event's JSON form as encoding/json writes usageJSON.
func referenceJSON(t *testing.T, e UsageEvent) []byte {
	t.Helper()
	b, err := json.Marshal(usageJSON{
		ID: e.ID, Time: e.Time.UTC().Format(time.RFC3339Nano), Service: e.Service, Model: e.Model,
		App: e.App, Project: e.Project, Credential: e.Credential, Payer: e.Payer, Member: e.Member,
		Status: e.Status, InputTokens: e.Usage.InputTokens, OutputTokens: e.Usage.OutputTokens,
		CacheReadTokens: e.Usage.CacheReadTokens, CacheWriteTokens: e.Usage.CacheWriteTokens(),
		CacheWrite5mTokens: e.Usage.CacheWrite5mTokens, CacheWrite1hTokens: e.Usage.CacheWrite1hTokens,
		Requests: e.Usage.Requests, CostUSD: e.Cost.Dollars(), CostMicros: e.Cost, CostKnown: e.CostKnown,
		LatencyMS: float64(e.Latency) / float64(time.Millisecond), FallbackReason: e.FallbackReason,
		Relayed: e.Relayed, Incomplete: !e.Usage.Complete,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzUsageEventJSON: AppendJSON writes valid JSON that reads back exactly
// as encoding/json's encoding of the same event does, whatever the strings
// hold (quotes, control characters, invalid UTF-8, U+2028) and the numbers.
func FuzzUsageEventJSON(f *testing.F) {
	f.Add("ev-1", "gpt-4o", "editor", "acme", "work", "", "", int64(162), int64(45), int64(1234), int64(1500000), true, false)
	f.Add("a\"b\\c\n\t\x01", "<script>&", "\xff\xfe", "\u2028\u2029", "é ü 漢字 🙂", "m@x", "insufficient_quota", int64(-1), int64(1<<62), int64(-7), int64(0), false, true)
	f.Fuzz(func(t *testing.T, id, model, app, project, cred, member, reason string, in, out, cost, latency int64, known, relayed bool) {
		var ref CredentialRef
		if cred != "" {
			ref = PersonalKey(cred)
		}
		e := UsageEvent{
			ID: id, Time: time.Unix(1795000000, 123456789), Service: OpenAI, Model: model, App: app, Project: project,
			Credential: ref, Payer: PayerPersonal, Member: member, Status: 200,
			Usage:          Usage{InputTokens: in, OutputTokens: out, CacheWrite5mTokens: in / 3, Requests: 1, Complete: !relayed},
			Cost:           Micros(cost),
			CostKnown:      known,
			Latency:        time.Duration(latency),
			FallbackReason: reason, Relayed: relayed,
		}
		got := e.AppendJSON(nil)
		if !json.Valid(got) {
			t.Fatalf("AppendJSON wrote invalid JSON: %s", got)
		}
		var a, b map[string]any
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(referenceJSON(t, e), &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("AppendJSON reads back as\n%v\nencoding/json's as\n%v", a, b)
		}
	})
}

// BenchmarkUsageEventAppendJSON is the journal's line for one call.
func BenchmarkUsageEventAppendJSON(b *testing.B) {
	e := UsageEvent{
		ID: "019af3c2-7d10-7c4e-9a51-3f0e8b2d4c61", Time: time.Unix(1795000000, 123456789), Service: OpenAI,
		Model: "gpt-4o-mini-2024-07-18", App: "claude-code", Project: "acme-web", Credential: PersonalKey("work"),
		Payer: PayerPersonal, Status: 200, Usage: Usage{InputTokens: 1234, OutputTokens: 456, Requests: 1, Complete: true},
		Cost: 4567, CostKnown: true, Latency: 812345 * time.Microsecond,
	}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = e.AppendJSON(buf[:0])
	}
}
