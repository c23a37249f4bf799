package tray

import (
	"errors"
	"testing"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
)

func TestLabels(t *testing.T) {
	st := control.Status{Proxy: "127.0.0.1:8787", PersonalSpend: byok.Spend{Known: byok.USD(12.5)}, TeamSpend: byok.Spend{Known: byok.USD(0.25)}}
	unpriced := st
	unpriced.PersonalSpend.Unknown = 3
	paused := st
	paused.Paused = true
	tests := []struct{ got, want string }{
		{statusLine(st, nil), "byokd: proxy on 127.0.0.1:8787"},
		{statusLine(paused, nil), "byokd: proxy paused"},
		{statusLine(control.Status{}, errors.New("connection refused")), "byokd is not running"},
		{spendLine(st), "This month: $12.50 yours, $0.25 team"},
		{spendLine(unpriced), "This month: $12.50 + 3 calls of unknown cost yours, $0.25 team"},
		{pendingLine(2), "Pending approvals (2)"},
		{approvalLine(control.Approval{Service: byok.Anthropic, App: "notebook", Estimate: byok.USD(0.004), Expires: time.Now()}), "Anthropic · notebook · - · about $0.004"},
		{pauseLine(false), "Pause proxy"},
		{pauseLine(true), "Resume proxy"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// The icon shows the most pressing state and the tooltip says each that
// holds.
func TestLook(t *testing.T) {
	since := time.Date(2026, 3, 15, 14, 2, 0, 0, time.Local)
	spell := []control.TeamPaying{{Service: byok.OpenAI, Since: since, Calls: 12}}
	hubDown := control.HubStatus{URL: "https://hub.example", Connected: false}
	for _, c := range []struct {
		name    string
		st      control.Status
		pending int
		err     error
		look    Look
		tip     string
	}{
		{"all well", control.Status{Hub: control.HubStatus{URL: "https://hub.example", Connected: true}}, 0, nil, LookNormal, "byokd: your own keys pay"},
		{"not running", control.Status{}, 0, errors.New("dial: connection refused"), LookStopped, "byokd is not running: apps pointed at it get no answer"},
		{"hub down", control.Status{Hub: hubDown}, 0, nil, LookHubDown, "byokd: the team hub is unreachable; usage waits to be sent"},
		{"team paying", control.Status{TeamPaying: spell}, 0, nil, LookTeamPaying, "byokd: the team pays for OpenAI since 14:02 (12 calls)"},
		{"waiting and team paying", control.Status{TeamPaying: spell, Hub: hubDown}, 2, nil, LookWaiting,
			"byokd: 2 calls wait for your answer; the team hub is unreachable; usage waits to be sent; the team pays for OpenAI since 14:02 (12 calls)"},
		{"paused", control.Status{Paused: true}, 1, nil, LookPaused, "byokd: paused: every call is refused; 1 call waits for your answer"},
	} {
		l, tip := look(c.st, c.pending, c.err)
		if l != c.look || tip != c.tip {
			t.Errorf("%s: look %d %q, want %d %q", c.name, l, tip, c.look, c.tip)
		}
	}
}
