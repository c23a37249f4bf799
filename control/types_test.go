package control

import (
	"testing"
	"time"

	"byokd.dev/byok"
)

func TestKeyState(t *testing.T) {
	until := time.Date(2026, 3, 15, 14, 35, 0, 0, time.Local)
	for _, c := range []struct {
		k    Key
		want string
	}{
		{Key{Budget: 100, Spent: 99}, "working"},
		{Key{Budget: 100, Spent: 100}, "over its budget"},
		{Key{SkippedUntil: until, SkippedFor: "over quota", Budget: 100, Spent: 200}, "skipped until 14:35 (over quota)"},
	} {
		if got := c.k.State(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.k, got, c.want)
		}
	}
}

func TestStatusTeamKey(t *testing.T) {
	shared := HubStatus{URL: "https://hub.example", Policy: byok.Policy{SharedServices: []byok.Service{byok.OpenAI}}}
	for _, c := range []struct {
		st  Status
		svc byok.Service
		ok  bool
		why string
	}{
		{Status{}, byok.OpenAI, false, "this computer has not joined a team hub"},
		{Status{Hub: shared}, byok.Anthropic, false, "your team shares no Anthropic key"},
		{Status{Hub: shared}, byok.OpenAI, true, ""},
	} {
		if ok, why := c.st.TeamKey(c.svc); ok != c.ok || why != c.why {
			t.Errorf("%s: %v %q, want %v %q", c.svc, ok, why, c.ok, c.why)
		}
	}
}
