package tray

import (
	"fmt"
	"strings"

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

// Look is what the icon shows: the most pressing of the daemon's states.
type Look int

const (
	LookNormal     Look = iota
	LookHubDown         // a hub is joined and cannot be reached
	LookTeamPaying      // the team's key pays because the member's is skipped
	LookWaiting         // calls wait for the member's answer
	LookPaused          // the proxy refuses every call
	LookStopped         // the daemon is not running
)

// Looks are every Look, for drawing their icons.
var Looks = []Look{LookNormal, LookHubDown, LookTeamPaying, LookWaiting, LookPaused, LookStopped}

// look is the icon and the tooltip for the daemon's state: the icon shows
// the most pressing state, the tooltip says each that holds.
func look(st control.Status, pending int, err error) (Look, string) {
	if err != nil {
		return LookStopped, "byokd is not running: apps pointed at it get no answer"
	}
	l := LookNormal
	var says []string
	if st.Hub.URL != "" && !st.Hub.Connected {
		l = LookHubDown
		says = append(says, "the team hub is unreachable; usage waits to be sent")
	}
	if len(st.TeamPaying) > 0 {
		l = LookTeamPaying
		says = append(says, teamPayingLine(st.TeamPaying))
	}
	if pending > 0 {
		l = LookWaiting
		says = append([]string{fmt.Sprintf("%d %s for your answer", pending, plural(pending, "call waits", "calls wait"))}, says...)
	}
	if st.Paused {
		l = LookPaused
		says = append([]string{"paused: every call is refused"}, says...)
	}
	if len(says) == 0 {
		return l, "byokd: your own keys pay"
	}
	return l, "byokd: " + strings.Join(says, "; ")
}

// teamPayingLine names the services the team pays for now.
func teamPayingLine(spells []control.TeamPaying) string {
	parts := make([]string, 0, len(spells))
	for _, s := range spells {
		parts = append(parts, fmt.Sprintf("%s since %s (%d %s)", s.Service.Title(), s.Since.Local().Format("15:04"), s.Calls, plural(s.Calls, "call", "calls")))
	}
	return "the team pays for " + strings.Join(parts, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// teamChoice labels a choice of the team's key, marked where it cannot
// be had (the tooltip says why).
func teamChoice(label string, ok bool) string {
	if ok {
		return label
	}
	return label + " (not available)"
}
