package metering

import (
	"strings"

	"byokd.dev/byok"
)

// endpoints are the provider endpoints byokd meters and prices, by
// service, as "METHOD /path" below the service prefix; a last segment "*"
// stands for one segment, "**" for any rest. The team's relay passes only
// these (and what the team policy adds).
var endpoints = map[byok.Service][]string{
	byok.OpenAI: {
		"POST /v1/chat/completions",
		"POST /v1/completions",
		"POST /v1/responses",
		"POST /v1/embeddings",
		"POST /v1/images/generations",
		"GET /v1/files/*/content", // batch results; other files cost nothing
		"GET /v1/models",
		"GET /v1/models/*",
	},
	byok.Anthropic: {
		"POST /v1/messages",
		"POST /v1/messages/count_tokens",
		"GET /v1/messages/batches/*/results",
		"GET /v1/models",
		"GET /v1/models/*",
	},
	// ClickUp bills by seat, not by call: every API call is metered as
	// one request that costs nothing.
	byok.ClickUp: {
		"GET /api/v2/**", "POST /api/v2/**", "PUT /api/v2/**", "DELETE /api/v2/**",
	},
}

// free are the endpoints that cost nothing besides reads and deletes.
var free = map[byok.Service][]string{
	byok.Anthropic: {"POST /v1/messages/count_tokens"},
}

// Free reports whether method path of svc costs nothing: ClickUp bills
// by seat; reads and deletes are never billed, except that a batch's
// results carry the batch's bill; nor are token counts.
func Free(svc byok.Service, method, path string) bool {
	switch method {
	case "GET":
		return formatOf(svc, path) != formatBatch
	case "HEAD", "DELETE":
		return true
	}
	return svc == byok.ClickUp || MatchEndpoint(free[svc], method, path)
}

// Metered reports whether byokd meters and prices method path of svc
// (the path below the service prefix, unescaped; a query is ignored).
func Metered(svc byok.Service, method, path string) bool {
	return MatchEndpoint(endpoints[svc], method, path)
}

// MatchEndpoint reports whether method path matches one of patterns
// ("METHOD /path", with "*" for one segment and a last "**" for any rest).
// It allocates nothing: every recorded call asks it.
func MatchEndpoint(patterns []string, method, path string) bool {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if path != "/" {
		path = strings.TrimRight(path, "/")
	}
	if !oneSpelling(path) {
		return false
	}
	for _, p := range patterns {
		if m, pp, ok := strings.Cut(p, " "); ok && m == method && matchPath(pp, path) {
			return true
		}
	}
	return false
}

// oneSpelling reports whether path has no empty, "." or ".." segment: an
// endpoint has one spelling.
func oneSpelling(path string) bool {
	rest, ok := strings.CutPrefix(path, "/")
	for ok && rest != "" {
		var seg string
		seg, rest, ok = strings.Cut(rest, "/")
		if seg == "" || seg == "." || seg == ".." || (ok && rest == "") {
			return false
		}
	}
	return true
}

// matchPath walks the pattern's and the path's segments in step.
func matchPath(pat, path string) bool {
	have := true // path holds a segment yet
	for {
		p, prest, pmore := strings.Cut(pat, "/")
		if p == "**" && !pmore {
			return have
		}
		if !have {
			return false
		}
		seg, srest, smore := strings.Cut(path, "/")
		if (p == "*" && seg == "") || (p != "*" && p != seg) {
			return false
		}
		if !pmore {
			return !smore
		}
		pat, path, have = prest, srest, smore
	}
}
