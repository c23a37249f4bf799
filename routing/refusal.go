package routing

import (
	"net/http"
	"strconv"
	"strings"

	"byokd.dev/byok"
)

// Refusal codes: a Plan's Refusal (a *byok.Refusal, which the proxy
// returns to the app in the provider's error shape) carries one.
const (
	CodeNoKey            = "no_key"             // no personal key, and the policy does not allow shared keys
	CodeNoHub            = "no_hub"             // the shared key would be used, but no hub is joined
	CodeSharedNotAllowed = "shared_not_allowed" // preference shared, but the policy does not allow it
	CodeBudgetBlocked    = "budget_blocked"     // keys over budget, and the member chose block
	CodeBudgetNoShared   = "budget_no_shared"   // keys over budget, action shared, but shared is unavailable
	CodeDenied           = "approval_denied"    // the member declined the call
	CodeUnanswered       = "approval_timeout"   // nobody answered the approval in time
)

// Every refusal is a 403 (no SDK retries it) except budgets, which are a
// 402: the call would be paid for, but not by this key this month.
func refusal(code, msg string) *byok.Refusal {
	status := http.StatusForbidden
	if code == CodeBudgetBlocked || code == CodeBudgetNoShared {
		status = http.StatusPaymentRequired
	}
	return &byok.Refusal{Code: code, Status: status, Message: msg}
}

// why and fix describe a blocker in words.
func (b blocker) why(in *Input) string {
	if b == blockNoHub {
		return "this machine has not joined a team hub"
	}
	return "the team policy does not allow shared keys for " + string(in.Service)
}

func (b blocker) fix() string {
	if b == blockNoHub {
		return "join your team's hub (ask your admin for an invite) to use its shared keys"
	}
	return "ask your admin to allow shared keys"
}

func (b blocker) code() string {
	if b == blockNoHub {
		return CodeNoHub
	}
	return CodeNoKey
}

func addKey(in *Input) string { return "`byokd key add " + string(in.Service) + "`" }

func refuseNoKey(in *Input, b blocker) *byok.Refusal {
	return refusal(b.code(), "byokd: no personal "+in.Service.Title()+" key is configured and "+
		b.why(in)+". Add one with "+addKey(in)+", or "+b.fix()+".")
}

func refuseSharedPref(in *Input, b blocker) *byok.Refusal {
	code := CodeSharedNotAllowed
	if b == blockNoHub {
		code = CodeNoHub
	}
	return refusal(code, "byokd: "+string(in.Service)+" is set to use the team's shared key, but "+
		b.why(in)+". "+upper(b.fix())+", or add your own key with "+addKey(in)+
		" and set the "+string(in.Service)+" preference to personal.")
}

func refuseBudgetBlocked(in *Input, names []string) *byok.Refusal {
	return refusal(CodeBudgetBlocked, "byokd: "+overBudget(in, names)+
		", and calls over budget are set to be blocked. Raise the budget, or choose warn or shared for keys over budget in byokd's settings.")
}

func refuseBudgetNoShared(in *Input, names []string, b blocker) *byok.Refusal {
	return refusal(CodeBudgetNoShared, "byokd: "+overBudget(in, names)+
		", and the team's shared key cannot take over: "+b.why(in)+
		". Raise the budget, or choose warn for keys over budget in byokd's settings.")
}

func refuseDenied(in *Input) *byok.Refusal {
	call := "the " + in.Service.Title() + " call"
	if in.App != "" {
		call += " from app " + strconv.Quote(in.App)
	}
	return refusal(CodeDenied, "byokd: "+call+" was declined in byokd's approval prompt. "+
		"Approve it when asked, or change the "+string(in.Service)+" preference in byokd's settings.")
}

func refuseUnanswered(in *Input) *byok.Refusal {
	call := "the " + in.Service.Title() + " call"
	if in.App != "" {
		call += " from app " + strconv.Quote(in.App)
	}
	return refusal(CodeUnanswered, "byokd: "+call+" waited for approval and nobody answered in time, so it was not sent. "+
		"Answer byokd's popup, the tray or `byokd approvals` when asked, or change the "+string(in.Service)+" preference in byokd's settings.")
}

// overBudget says which keys reached their budgets.
func overBudget(in *Input, names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	// Calls in flight hold their estimated cost against the budget until
	// their rows settle it, so a burst can reach it before anything is
	// spent: say what counts.
	const counted = " (spent this month plus the estimated cost of calls still running)"
	if len(q) == 1 {
		return "your " + in.Service.Title() + " key " + q[0] + " has reached its monthly budget" + counted
	}
	return "your " + in.Service.Title() + " keys " + strings.Join(q, ", ") + " have reached their monthly budgets" + counted
}

func upper(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
