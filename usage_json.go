package byok

import (
	"encoding/json"
	"time"
)

// usageJSON is the one JSON form of a usage event: `byokd usage --json`,
// the control API, the sync protocol and the hub all use it. Amounts travel
// as integer micro-dollars; cost_usd is there for people and scripts.
type usageJSON struct {
	ID                 string  `json:"id"`
	Time               string  `json:"time"`
	Service            Service `json:"service"`
	Model              string  `json:"model"`
	App                string  `json:"app"`
	Project            string  `json:"project"`
	Credential         string  `json:"credential"`
	Payer              Payer   `json:"payer"`
	Member             string  `json:"member,omitempty"`
	Status             int     `json:"status"`
	InputTokens        int64   `json:"input_tokens"`
	OutputTokens       int64   `json:"output_tokens"`
	CacheReadTokens    int64   `json:"cache_read_tokens"`
	CacheWriteTokens   int64   `json:"cache_write_tokens"`
	CacheWrite5mTokens int64   `json:"cache_write_5m_tokens"`
	CacheWrite1hTokens int64   `json:"cache_write_1h_tokens"`
	Requests           int64   `json:"requests"`
	CostUSD            float64 `json:"cost_usd"`
	CostMicros         Micros  `json:"cost_micros"`
	CostKnown          bool    `json:"cost_known"`
	LatencyMS          float64 `json:"latency_ms"`
	FallbackReason     string  `json:"fallback_reason,omitempty"`
	Relayed            bool    `json:"relayed"`
	Incomplete         bool    `json:"incomplete"`
}

// MarshalJSON writes the event's flat public JSON form.
func (e UsageEvent) MarshalJSON() ([]byte, error) {
	return json.Marshal(usageJSON{
		ID: e.ID, Time: e.Time.UTC().Format(time.RFC3339Nano), Service: e.Service, Model: e.Model,
		App: e.App, Project: e.Project, Credential: e.Credential, Payer: e.Payer, Member: e.Member,
		Status: e.Status, InputTokens: e.Usage.InputTokens, OutputTokens: e.Usage.OutputTokens,
		CacheReadTokens: e.Usage.CacheReadTokens, CacheWriteTokens: e.Usage.CacheWriteTokens(),
		CacheWrite5mTokens: e.Usage.CacheWrite5mTokens, CacheWrite1hTokens: e.Usage.CacheWrite1hTokens,
		Requests: e.Usage.Requests, CostUSD: e.Cost.Dollars(), CostMicros: e.Cost, CostKnown: e.CostKnown,
		LatencyMS: float64(e.Latency) / float64(time.Millisecond), FallbackReason: e.FallbackReason,
		Relayed: e.Relayed, Incomplete: !e.Usage.Complete,
	})
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (e *UsageEvent) UnmarshalJSON(b []byte) error {
	var j usageJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, j.Time)
	if err != nil {
		return err
	}
	*e = UsageEvent{
		ID: j.ID, Time: t, Service: j.Service, Model: j.Model, App: j.App, Project: j.Project,
		Credential: j.Credential, Payer: j.Payer, Member: j.Member, Status: j.Status,
		Usage: Usage{
			Model: j.Model, InputTokens: j.InputTokens, OutputTokens: j.OutputTokens,
			CacheReadTokens: j.CacheReadTokens, CacheWrite5mTokens: j.CacheWrite5mTokens,
			CacheWrite1hTokens: j.CacheWrite1hTokens, Requests: j.Requests, Complete: !j.Incomplete,
		},
		Cost: j.CostMicros, CostKnown: j.CostKnown,
		Latency:        time.Duration(j.LatencyMS * float64(time.Millisecond)),
		FallbackReason: j.FallbackReason, Relayed: j.Relayed,
	}
	return nil
}
