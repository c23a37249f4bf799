package metering

import (
	"testing"

	"byokd.dev/byok"
)

func TestBaseURLMistake(t *testing.T) {
	const base = "http://127.0.0.1:8787"
	for _, c := range []struct {
		svc  byok.Service
		path string
		want string
	}{
		{byok.OpenAI, "/v1/chat/completions", ""},
		{byok.OpenAI, "/v1/files/file-1/content?x=1", ""},
		{byok.OpenAI, "/v1", ""},
		{byok.Anthropic, "/v1/messages", ""},
		{byok.ClickUp, "/api/v2/team", ""},
		{byok.OpenAI, "/chat/completions", "OpenAI's API has no /chat/completions: the base URL lacks /v1: use http://127.0.0.1:8787/openai/v1"},
		{byok.OpenAI, "/v1/v1/chat/completions", "the base URL has /v1 twice: use http://127.0.0.1:8787/openai/v1"},
		{byok.Anthropic, "/v1/v1/messages", "the base URL has /v1 twice: use http://127.0.0.1:8787/anthropic"},
		{byok.Anthropic, "/messages", "Anthropic's API has no /messages: the base URL lacks /v1: use http://127.0.0.1:8787/anthropic/v1 (http://127.0.0.1:8787/anthropic with Anthropic's SDKs, which add /v1 themselves)"},
		{byok.Anthropic, "/v1/chat/completions", "/v1/chat/completions is OpenAI's API, not Anthropic's: for OpenAI use http://127.0.0.1:8787/openai/v1 as the base URL"},
		{byok.OpenAI, "/v1/messages", "/v1/messages is Anthropic's API, not OpenAI's: for Anthropic use http://127.0.0.1:8787/anthropic as the base URL"},
		{byok.ClickUp, "/v2/team", "ClickUp's API has no /v2/team: the base URL lacks /api/v2: use http://127.0.0.1:8787/clickup/api/v2"},
	} {
		if got := BaseURLMistake(c.svc, c.path, base); got != c.want {
			t.Errorf("%s %s:\n got %q\nwant %q", c.svc, c.path, got, c.want)
		}
	}
}
