package sdkrun

import byok "byokd.dev/byok"

// Usage is a usage object as an SDK reports it. One type covers the three
// shapes: OpenAI chat completions and embeddings (prompt_tokens…), the
// Responses API (input_tokens with input_tokens_details) and Anthropic
// Messages (input_tokens with cache fields).
type Usage struct {
	PromptTokens        int64         `json:"prompt_tokens"`
	CompletionTokens    int64         `json:"completion_tokens"`
	TotalTokens         int64         `json:"total_tokens"`
	PromptTokensDetails *cacheDetails `json:"prompt_tokens_details"`
	InputTokens         int64         `json:"input_tokens"`
	OutputTokens        int64         `json:"output_tokens"`
	InputTokensDetails  *cacheDetails `json:"input_tokens_details"`

	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
	CacheCreation            *struct {
		Ephemeral5m int64 `json:"ephemeral_5m_input_tokens"`
		Ephemeral1h int64 `json:"ephemeral_1h_input_tokens"`
	} `json:"cache_creation"`
}

type cacheDetails struct {
	CachedTokens     int64 `json:"cached_tokens"`
	CacheWriteTokens int64 `json:"cache_write_tokens"`
}

// Tokens converts u to byokd's terms (input excluding cache reads and
// writes), with Complete set. OpenAI's single cache-write count becomes
// 5-minute writes; Anthropic writes without a TTL split count as 5-minute.
func (u Usage) Tokens() byok.Usage {
	out := byok.Usage{Complete: true}
	switch {
	case u.PromptTokens > 0 || u.PromptTokensDetails != nil: // chat completions, embeddings
		d := deref(u.PromptTokensDetails)
		out.InputTokens = u.PromptTokens - d.CachedTokens - d.CacheWriteTokens
		out.OutputTokens = u.CompletionTokens
		out.CacheReadTokens, out.CacheWrite5mTokens = d.CachedTokens, d.CacheWriteTokens
	case u.InputTokensDetails != nil: // Responses API
		d := *u.InputTokensDetails
		out.InputTokens = u.InputTokens - d.CachedTokens - d.CacheWriteTokens
		out.OutputTokens = u.OutputTokens
		out.CacheReadTokens, out.CacheWrite5mTokens = d.CachedTokens, d.CacheWriteTokens
	default: // Anthropic
		out.InputTokens, out.OutputTokens, out.CacheReadTokens = u.InputTokens, u.OutputTokens, u.CacheReadInputTokens
		if c := u.CacheCreation; c != nil && c.Ephemeral5m+c.Ephemeral1h == u.CacheCreationInputTokens {
			out.CacheWrite5mTokens, out.CacheWrite1hTokens = c.Ephemeral5m, c.Ephemeral1h
		} else {
			out.CacheWrite5mTokens = u.CacheCreationInputTokens
		}
	}
	return out
}

func deref(d *cacheDetails) cacheDetails {
	if d == nil {
		return cacheDetails{}
	}
	return *d
}
