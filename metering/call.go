package metering

import (
	"strings"

	"byokd.dev/byok"
)

// Call is what the proxy learned from a request before sending it.
type Call struct {
	Service byok.Service
	Path    string // below the service prefix, e.g. "/v1/chat/completions"; a query is ignored
	Model   string // from the request body, if any
	Stream  bool
	// InjectedUsage is set when Inspect added stream_options.include_usage;
	// the Meter then hides the usage report the client did not ask for.
	InjectedUsage bool
	// MaxTokens is the request's output limit (max_tokens,
	// max_completion_tokens or max_output_tokens; the largest if several), 0
	// if absent.
	MaxTokens  int64
	InputBytes int // request body size, for estimates
}

// format is the wire format of a response's usage.
type format uint8

const (
	formatNone       format = iota // nothing to meter: lists, count_tokens, files
	formatChat                     // OpenAI chat completions and legacy completions
	formatResponses                // OpenAI Responses API
	formatEmbeddings               // OpenAI embeddings
	formatImages                   // OpenAI image generation: usage, no model in the answer
	formatAnthropic                // Anthropic messages
	formatClickUp                  // one request, no tokens
	formatBatch                    // a batch's results file: JSON Lines, one answer a line
)

// formatOf classifies a call by its service and path.
func formatOf(svc byok.Service, path string) format {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	path = strings.TrimRight(path, "/")
	switch svc {
	case byok.OpenAI:
		switch {
		case strings.HasSuffix(path, "/completions"): // chat and legacy
			return formatChat
		case strings.HasSuffix(path, "/responses"):
			return formatResponses
		case strings.HasSuffix(path, "/embeddings"):
			return formatEmbeddings
		case strings.HasSuffix(path, "/images/generations"):
			return formatImages
		case strings.HasPrefix(path, "/v1/files/") && strings.HasSuffix(path, "/content"):
			return formatBatch
		}
	case byok.Anthropic:
		switch {
		case strings.HasSuffix(path, "/messages"):
			return formatAnthropic
		case strings.HasPrefix(path, "/v1/messages/batches/") && strings.HasSuffix(path, "/results"):
			return formatBatch
		}
	case byok.ClickUp:
		return formatClickUp
	}
	return formatNone
}

// injectsUsage reports whether path is one of OpenAI's completions
// endpoints, chat or legacy, whose streams report usage only when asked.
func injectsUsage(path string) bool {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	return strings.HasSuffix(strings.TrimRight(path, "/"), "/completions")
}
