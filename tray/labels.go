package tray

import (
	"fmt"

	"byokd.dev/byok/control"
)

// statusLine is the menu's first line.
func statusLine(st control.Status, err error) string {
	switch {
	case err != nil:
		return "byokd is not running"
	case st.Paused:
		return "byokd: proxy paused"
	}
	return fmt.Sprintf("byokd: proxy on %s", st.Proxy)
}

// spendLine is this month's spend, yours and the team's.
func spendLine(st control.Status) string {
	return fmt.Sprintf("This month: %s yours, %s team", st.PersonalSpend, st.TeamSpend)
}

// pendingLine heads the approvals submenu.
func pendingLine(n int) string { return fmt.Sprintf("Pending approvals (%d)", n) }

// approvalLine describes one held call.
func approvalLine(a control.Approval) string {
	model := a.Model
	if model == "" {
		model = "-"
	}
	return fmt.Sprintf("%s · %s · %s · about %s", a.Service.Title(), a.App, model, a.Estimate)
}

// pauseLine is the pause item's label.
func pauseLine(paused bool) string {
	if paused {
		return "Resume proxy"
	}
	return "Pause proxy"
}
