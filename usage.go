package byok

import "time"

// Payer says whose account a call was charged to.
type Payer string

// Payers.
const (
	PayerPersonal Payer = "personal" // the member's own key
	PayerTeam     Payer = "team"     // a shared key, relayed by the hub
)

// Usage is what one provider response says it consumed.
type Usage struct {
	Model              string
	InputTokens        int64 // not counting cache reads or writes
	OutputTokens       int64
	CacheReadTokens    int64
	CacheWrite5mTokens int64 // Anthropic 5-minute cache writes (and writes of unknown TTL)
	CacheWrite1hTokens int64 // Anthropic 1-hour cache writes
	Requests           int64 // for per-request services (ClickUp)
	// AudioInputTokens and AudioOutputTokens are the audio part of
	// InputTokens and OutputTokens (OpenAI's audio models), billed at the
	// audio rates; WebSearches counts server-side web searches (Anthropic's
	// web_search tool), billed per search.
	AudioInputTokens, AudioOutputTokens, WebSearches int64
	// ImageInputTokens are the image part of InputTokens (OpenAI's image
	// models), billed at the image-input rate.
	ImageInputTokens int64
	// ServiceTier, InferenceGeo and Speed are what the provider says it
	// served where that changes the price: OpenAI's service_tier ("flex",
	// "priority"), Anthropic's usage.service_tier ("priority", "batch"),
	// inference_geo ("us") and speed ("fast"). They price the call; the
	// ledger keeps the cost.
	ServiceTier, InferenceGeo, Speed string
	// Complete is false when the response ended before the provider's final
	// usage report (a dropped client, a reset, a stream without usage).
	Complete bool
}

// CacheWriteTokens is the sum of both cache-write durations.
func (u Usage) CacheWriteTokens() int64 { return u.CacheWrite5mTokens + u.CacheWrite1hTokens }

// UsageEvent is one proxied call as the ledger stores it.
type UsageEvent struct {
	ID             string // globally unique; the hub deduplicates on it
	Time           time.Time
	Service        Service
	Model          string
	App            string // app token name
	Project        string
	Credential     CredentialRef
	Payer          Payer  // Credential.Payer, kept in its own column for queries
	Member         string // set by the hub; empty in a daemon's own ledger
	Status         int    // HTTP status the client saw; 499 when the client went away
	Usage          Usage
	Cost           Micros
	CostKnown      bool // false when the model is not in the price table
	Latency        time.Duration
	FallbackReason string // why the call left the preferred credential; empty if it did not
	Relayed        bool   // sent through the team hub's relay
}

// CostText is the call's cost as shown: "unknown" when it is, never
// "$0.00" for a call nobody priced.
func (e UsageEvent) CostText() string {
	switch {
	case !e.CostKnown:
		return "unknown"
	case !e.Usage.Complete:
		// Cut off: what the provider reported before the end (the
		// prompt's tokens) is a lower bound of what it bills.
		return "at least " + e.Cost.String()
	}
	return e.Cost.String()
}
