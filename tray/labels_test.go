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
