package daemon

import (
	"strings"
	"testing"

	"byokd.dev/byok"
	"byokd.dev/byok/routing"
)

// A test call's failure says what it means for the key: a 404 or a 5xx
// judges nothing, a refusal says what to do.
func TestKeyTestMessage(t *testing.T) {
	for _, c := range []struct {
		status int
		v      routing.Verdict
		want   string
	}{
		{401, routing.Verdict{CoolDown: true, Fallback: true, Reason: routing.ReasonInvalidKey}, "OpenAI does not accept the key (invalid key, HTTP 401): check that it was copied whole"},
		{429, routing.Verdict{CoolDown: true, Fallback: true, Reason: routing.ReasonQuota}, "OpenAI knows the key but will not bill it: over quota (HTTP 429)"},
		{429, routing.Verdict{RateLimit: true, Reason: routing.ReasonRateLimited}, "The key was not judged: OpenAI is rate limited (HTTP 429)"},
		{404, routing.Verdict{}, "The key was not judged: OpenAI answered 404 to the test call"},
		{503, routing.Verdict{}, "The key was not judged: OpenAI had a problem answering (HTTP 503)"},
	} {
		if got := keyTestMessage(byok.OpenAI, c.status, c.v); !strings.HasPrefix(got, c.want) {
			t.Errorf("%d %+v: %q, want %q…", c.status, c.v, got, c.want)
		}
	}
}
