package metering

import (
	"testing"

	"byokd.dev/byok"
)

func TestMetered(t *testing.T) {
	for _, c := range []struct {
		svc          byok.Service
		method, path string
		want         bool
	}{
		{byok.OpenAI, "POST", "/v1/chat/completions", true},
		{byok.OpenAI, "POST", "/v1/chat/completions/", true},
		{byok.OpenAI, "POST", "/v1/chat/completions?x=1", true},
		{byok.OpenAI, "POST", "/v1/completions", true},
		{byok.OpenAI, "GET", "/v1/models/gpt-4o", true},
		{byok.OpenAI, "GET", "/v1/chat/completions", false}, // stored completions: not metered
		{byok.OpenAI, "POST", "/v1/images/generations", true},
		{byok.OpenAI, "POST", "/v1/images/edits", false}, // multipart: not read
		{byok.OpenAI, "POST", "/v1/audio/speech", false},
		{byok.OpenAI, "POST", "/v1/audio/transcriptions", false},
		{byok.OpenAI, "POST", "/v1/batches", false},
		{byok.OpenAI, "POST", "/v1/files", false},
		{byok.OpenAI, "POST", "/v1/x/../chat/completions", false},
		{byok.OpenAI, "POST", "/v1//chat/completions", false},
		{byok.OpenAI, "POST", "/v2/chat/completions", false},
		{byok.OpenAI, "GET", "/v1/models/a/b", false},
		{byok.Anthropic, "POST", "/v1/messages", true},
		{byok.Anthropic, "POST", "/v1/messages/count_tokens", true},
		{byok.Anthropic, "POST", "/v1/messages/batches", false},
		{byok.Anthropic, "DELETE", "/v1/messages", false},
		{byok.ClickUp, "GET", "/api/v2/team", true},
		{byok.ClickUp, "PUT", "/api/v2/task/abc", true},
		{byok.ClickUp, "GET", "/api/v2", false},
		{byok.ClickUp, "PATCH", "/api/v2/task/abc", false},
	} {
		if got := Metered(c.svc, c.method, c.path); got != c.want {
			t.Errorf("Metered(%s, %s %s) = %v, want %v", c.svc, c.method, c.path, got, c.want)
		}
	}
	extra := []string{"POST /v1/images/generations", "GET /v1/files/*"}
	if !MatchEndpoint(extra, "POST", "/v1/images/generations") || !MatchEndpoint(extra, "GET", "/v1/files/f-1") || MatchEndpoint(extra, "DELETE", "/v1/files/f-1") {
		t.Error("MatchEndpoint does not read the policy's patterns")
	}
}
