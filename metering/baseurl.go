package metering

import (
	"strings"

	"byokd.dev/byok"
)

// The mistakes people make when they point an app at byokd: a base URL
// without the API's version (".../openai" for ".../openai/v1"), with it
// twice, or one service's path on the other's route. Such a call would go
// out signed with a real key to a path the provider does not have; byokd
// answers it itself, with the base URL to use.

// apiRoot is the part of each service's paths that every endpoint starts
// with, and what follows the service prefix in its base URL.
var apiRoot = map[byok.Service]string{byok.OpenAI: "/v1", byok.Anthropic: "/v1", byok.ClickUp: "/api/v2"}

// foreign are paths that belong to the other service: OpenAI's API has no
// /v1/messages, Anthropic's (besides its OpenAI compatibility layer, which
// byokd does not meter) no Responses or embeddings.
var foreign = map[byok.Service]map[string]byok.Service{
	byok.OpenAI:    {"/v1/messages": byok.Anthropic, "/v1/complete": byok.Anthropic},
	byok.Anthropic: {"/v1/responses": byok.OpenAI, "/v1/embeddings": byok.OpenAI, "/v1/chat/completions": byok.OpenAI, "/v1/images/generations": byok.OpenAI},
}

// sdkRoot is what follows the service prefix in the base URL that the
// service's official SDKs take: Anthropic's add /v1 themselves.
var sdkRoot = map[byok.Service]string{byok.OpenAI: "/v1", byok.Anthropic: "", byok.ClickUp: "/api/v2"}

// BaseURLMistake says what is wrong with the base URL of a call to path
// (below the service prefix, unescaped) of svc, and which to use instead
// (base is the proxy's own, "http://127.0.0.1:8787"); "" if the path is
// one the provider may have.
func BaseURLMistake(svc byok.Service, path, base string) string {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	root := apiRoot[svc]
	if root == "" {
		return ""
	}
	// The advice is built only for a mistake: this runs on every call.
	sdk := func() string { return base + "/" + string(svc) + sdkRoot[svc] }
	trimmed := strings.TrimRight(path, "/")
	switch {
	case strings.HasPrefix(path, root+root+"/") || trimmed == root+root:
		return "the base URL has " + root + " twice: use " + sdk()
	case trimmed != root && !strings.HasPrefix(path, root+"/"):
		msg := svc.Title() + "'s API has no " + path + ": the base URL lacks " + root + ": use " + base + "/" + string(svc) + root
		if sdkRoot[svc] != root {
			msg += " (" + sdk() + " with " + svc.Title() + "'s SDKs, which add " + root + " themselves)"
		}
		return msg
	}
	if other, ok := foreign[svc][trimmed]; ok {
		return path + " is " + other.Title() + "'s API, not " + svc.Title() + "'s: for " + other.Title() + " use " +
			base + "/" + string(other) + sdkRoot[other] + " as the base URL"
	}
	return ""
}
