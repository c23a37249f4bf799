package routing

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"byokd.dev/byok"
)

var t0 = time.Date(2025, 10, 14, 9, 0, 0, 0, time.UTC)

// base is a member with one primary OpenAI key, on a team that allows
// shared OpenAI keys and fallback, with the hub joined.
func base() Input {
	return Input{
		Service:   byok.OpenAI,
		App:       "cursor",
		Pref:      byok.PreferPersonal,
		Keys:      []KeyState{{Name: "work", Primary: true}},
		Policy:    byok.Policy{SharedServices: []byok.Service{byok.OpenAI}, AllowFallback: true},
		HubLinked: true,
		Now:       t0,
	}
}

func with(f func(*Input)) Input {
	in := base()
	f(&in)
	return in
}

func personal(key, reason string) Step { return Step{Kind: Personal, Key: key, Reason: reason} }
func shared(reason string) Step        { return Step{Kind: Shared, Reason: reason} }
func steps(s ...Step) Plan             { return Plan{Steps: s} }
func ask(c ...Answer) Plan             { return Plan{NeedsApproval: true, Choices: c} }

func refused(code string) Plan { return Plan{Refusal: &byok.Refusal{Code: code}} }

var (
	coolingKey = KeyState{Name: "work", Primary: true, CoolingUntil: t0.Add(5 * time.Minute), CoolingReason: ReasonQuota}
	fallback   = shared(ReasonFallback)
	askFirst   = Step{Kind: Shared, Reason: ReasonFallback, NeedsApproval: true}
)

func TestDecide(t *testing.T) {
	cases := []struct {
		name string
		in   Input
		want Plan
	}{
		// The seed scenarios.
		{"personal key, personal preference", base(), steps(personal("work", ""))},
		{"no key, shared preference", with(func(in *Input) { in.Keys = nil; in.Pref = byok.PreferShared }), steps(shared(""))},
		{"personal key, fallback on: personal then shared",
			with(func(in *Input) { in.Fallback = true }), steps(personal("work", ""), fallback)},

		// Fallback needs the member, the policy's fallback switch, the
		// service among the shared ones and a hub.
		{"member's fallback off", base(), steps(personal("work", ""))},
		{"policy forbids fallback", with(func(in *Input) { in.Fallback = true; in.Policy.AllowFallback = false }),
			steps(personal("work", ""))},
		{"service not shared", with(func(in *Input) { in.Fallback = true; in.Policy.SharedServices = []byok.Service{byok.Anthropic} }),
			steps(personal("work", ""))},
		{"no hub", with(func(in *Input) { in.Fallback = true; in.HubLinked = false }), steps(personal("work", ""))},

		// Several personal keys: primary first, then the rest in order.
		{"primary first, then the others", with(func(in *Input) {
			in.Fallback = true
			in.Keys = []KeyState{{Name: "side"}, {Name: "old"}, {Name: "work", Primary: true}}
		}), steps(personal("work", ""), personal("side", ReasonFallback), personal("old", ReasonFallback), fallback)},
		{"no primary: the order given", with(func(in *Input) { in.Keys = []KeyState{{Name: "a"}, {Name: "b"}} }),
			steps(personal("a", ""), personal("b", ReasonFallback))},

		// Key health.
		{"primary cooling: next key, then shared", with(func(in *Input) {
			in.Fallback = true
			in.Keys = []KeyState{coolingKey, {Name: "side"}}
		}), steps(personal("side", "primary key cooling down: over quota"), fallback)},
		{"every key cooling, fallback allowed: shared", with(func(in *Input) {
			in.Fallback = true
			in.Keys = []KeyState{coolingKey}
		}), steps(shared("cooling down: over quota"))},
		{"every key cooling, no fallback: tried anyway", with(func(in *Input) {
			in.Keys = []KeyState{{Name: "side", CoolingUntil: t0.Add(time.Minute)}, coolingKey}
		}), steps(personal("work", ""), personal("side", ReasonFallback))},
		{"every key cooling, service not shared: tried anyway", with(func(in *Input) {
			in.Fallback = true
			in.Policy.SharedServices = nil
			in.Keys = []KeyState{coolingKey}
		}), steps(personal("work", ""))},
		{"cool-down over at Now", with(func(in *Input) {
			in.Keys = []KeyState{{Name: "work", Primary: true, CoolingUntil: t0}}
		}), steps(personal("work", ""))},

		// Budgets.
		{"over budget, warn", with(func(in *Input) { in.Keys[0].OverBudget = true; in.OverBudget = BudgetWarn }),
			steps(personal("work", ""))},
		{"over budget, no action set: warn", with(func(in *Input) { in.Keys[0].OverBudget = true }),
			steps(personal("work", ""))},
		{"over budget, block", with(func(in *Input) { in.Keys[0].OverBudget = true; in.OverBudget = BudgetBlock }),
			refused(CodeBudgetBlocked)},
		{"over budget, block, another key under budget", with(func(in *Input) {
			in.OverBudget = BudgetBlock
			in.Keys = []KeyState{{Name: "work", Primary: true, OverBudget: true}, {Name: "side"}}
		}), steps(personal("side", "primary key over budget"))},
		{"over budget, shared", with(func(in *Input) { in.Keys[0].OverBudget = true; in.OverBudget = BudgetShared }),
			steps(shared(ReasonBudget))},
		{"over budget, shared, member's fallback off still goes shared", with(func(in *Input) {
			in.Keys[0].OverBudget = true
			in.OverBudget = BudgetShared
			in.Fallback = false
		}), steps(shared(ReasonBudget))},
		{"over budget, shared, policy does not share the service", with(func(in *Input) {
			in.Keys[0].OverBudget = true
			in.OverBudget = BudgetShared
			in.Policy.SharedServices = nil
		}), refused(CodeBudgetNoShared)},
		{"over budget, shared, no hub", with(func(in *Input) {
			in.Keys[0].OverBudget = true
			in.OverBudget = BudgetShared
			in.HubLinked = false
		}), refused(CodeBudgetNoShared)},
		{"one key over budget (shared), the other cooling", with(func(in *Input) {
			in.OverBudget = BudgetShared
			in.Keys = []KeyState{{Name: "work", Primary: true, OverBudget: true}, {Name: "side", CoolingUntil: t0.Add(time.Minute)}}
		}), steps(shared(ReasonBudget))},

		// No personal key.
		{"no key, personal preference, shared allowed", with(func(in *Input) { in.Keys = nil }), steps(shared(ReasonNoKey))},
		{"no key, shared not allowed", with(func(in *Input) { in.Keys = nil; in.Policy.SharedServices = nil }), refused(CodeNoKey)},
		{"no key, no hub", with(func(in *Input) { in.Keys = nil; in.HubLinked = false }), refused(CodeNoHub)},

		// Shared preference.
		{"shared preference, key present: shared only", with(func(in *Input) { in.Pref = byok.PreferShared; in.Fallback = true }),
			steps(shared(""))},
		{"shared preference, not allowed", with(func(in *Input) { in.Pref = byok.PreferShared; in.Policy.SharedServices = nil }),
			refused(CodeSharedNotAllowed)},
		{"shared preference, no hub", with(func(in *Input) { in.Pref = byok.PreferShared; in.HubLinked = false }),
			refused(CodeNoHub)},
		{"no preference: the policy's default", with(func(in *Input) { in.Pref = ""; in.Policy.DefaultPreference = byok.PreferShared }),
			steps(shared(""))},
		{"no preference, no default: personal", with(func(in *Input) { in.Pref = "" }), steps(personal("work", ""))},

		// Approval of shared use required by the policy.
		{"shared needs approval, shared preference", with(func(in *Input) {
			in.Pref = byok.PreferShared
			in.Policy.SharedNeedsApproval = true
		}), ask(AnswerShared)},
		{"shared needs approval, standing approval for this app", with(func(in *Input) {
			in.Pref = byok.PreferShared
			in.Policy.SharedNeedsApproval = true
			in.Approved = &Approval{Service: byok.OpenAI, App: "cursor", Answer: AnswerShared, Until: t0.Add(30 * time.Minute)}
		}), steps(shared(""))},
		{"shared needs approval, approval just given", with(func(in *Input) {
			in.Pref = byok.PreferShared
			in.Policy.SharedNeedsApproval = true
			in.Approved = &Approval{Answer: AnswerShared}
		}), steps(shared(""))},
		{"standing approval expired", with(func(in *Input) {
			in.Pref = byok.PreferShared
			in.Policy.SharedNeedsApproval = true
			in.Approved = &Approval{App: "cursor", Answer: AnswerShared, Until: t0}
		}), ask(AnswerShared)},
		{"approval for another app", with(func(in *Input) {
			in.Pref = byok.PreferShared
			in.Policy.SharedNeedsApproval = true
			in.Approved = &Approval{App: "zed", Answer: AnswerShared, Until: t0.Add(time.Hour)}
		}), ask(AnswerShared)},
		{"approval for another service", with(func(in *Input) {
			in.Pref = byok.PreferShared
			in.Policy.SharedNeedsApproval = true
			in.Approved = &Approval{Service: byok.Anthropic, Answer: AnswerShared}
		}), ask(AnswerShared)},
		{"shared needs approval, fallback step asks when reached", with(func(in *Input) {
			in.Fallback = true
			in.Policy.SharedNeedsApproval = true
		}), steps(personal("work", ""), askFirst)},
		{"shared needs approval, every key cooling", with(func(in *Input) {
			in.Fallback = true
			in.Policy.SharedNeedsApproval = true
			in.Keys = []KeyState{coolingKey}
		}), ask(AnswerShared)},
		{"shared needs approval, no key", with(func(in *Input) {
			in.Keys = nil
			in.Policy.SharedNeedsApproval = true
		}), ask(AnswerShared)},

		// Preference ask.
		{"ask: key and shared", with(func(in *Input) { in.Pref = byok.PreferAsk }), ask(AnswerPersonal, AnswerShared)},
		{"ask: no key", with(func(in *Input) { in.Pref = byok.PreferAsk; in.Keys = nil }), ask(AnswerShared)},
		{"ask: shared not allowed", with(func(in *Input) { in.Pref = byok.PreferAsk; in.Policy.SharedServices = nil }),
			ask(AnswerPersonal)},
		{"ask: nothing possible", with(func(in *Input) {
			in.Pref = byok.PreferAsk
			in.Keys = nil
			in.Policy.SharedServices = nil
		}), refused(CodeNoKey)},
		{"ask: key blocked by budget, no hub", with(func(in *Input) {
			in.Pref = byok.PreferAsk
			in.Keys[0].OverBudget = true
			in.OverBudget = BudgetBlock
			in.HubLinked = false
		}), refused(CodeBudgetBlocked)},
		{"ask, answered personal: shared fallback still asks", with(func(in *Input) {
			in.Pref = byok.PreferAsk
			in.Fallback = true
			in.Approved = &Approval{Answer: AnswerPersonal}
		}), steps(personal("work", ""), askFirst)},
		{"ask, answered personal, every key cooling: the keys first", with(func(in *Input) {
			in.Pref = byok.PreferAsk
			in.Fallback = true
			in.Keys = []KeyState{coolingKey}
			in.Approved = &Approval{Answer: AnswerPersonal}
		}), steps(personal("work", ""), askFirst)},
		{"ask, answered shared", with(func(in *Input) {
			in.Pref = byok.PreferAsk
			in.Approved = &Approval{Answer: AnswerShared, Until: t0.Add(time.Minute)}
		}), steps(shared(""))},
		{"ask, answered shared, but no hub", with(func(in *Input) {
			in.Pref = byok.PreferAsk
			in.HubLinked = false
			in.Approved = &Approval{Answer: AnswerShared}
		}), refused(CodeNoHub)},

		// Denied.
		{"denied", with(func(in *Input) {
			in.Pref = byok.PreferShared
			in.Policy.SharedNeedsApproval = true
			in.Approved = &Approval{App: "cursor", Answer: AnswerDeny}
		}), refused(CodeDenied)},
		{"denied, standing, for this app", with(func(in *Input) {
			in.Pref = byok.PreferAsk
			in.Approved = &Approval{App: "cursor", Answer: AnswerDeny, Until: t0.Add(time.Minute)}
		}), refused(CodeDenied)},
	}
	onlyCode := cmp.Comparer(func(a, b *byok.Refusal) bool {
		if a == nil || b == nil {
			return a == b
		}
		return a.Code == b.Code
	})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Decide(c.in)
			if diff := cmp.Diff(c.want, got, onlyCode); diff != "" {
				t.Errorf("got %+v, want %+v (-want +got):\n%s", got, c.want, diff)
			}
			checkShape(t, got)
		})
	}
}

// checkShape asserts what Plan promises: exactly one of Refusal,
// NeedsApproval and Steps; refusals start with "byokd:"; only the first
// step can be the member's first choice, later steps say why they exist.
func checkShape(t *testing.T, p Plan) {
	t.Helper()
	n := 0
	if p.Refusal != nil {
		n++
		if !strings.HasPrefix(p.Refusal.Message, "byokd: ") || p.Refusal.Status < 400 {
			t.Errorf("refusal %+v: want a status and a message starting with byokd:", p.Refusal)
		}
	}
	if p.NeedsApproval {
		n++
		if len(p.Choices) == 0 {
			t.Error("approval needed with nothing to choose")
		}
	}
	if len(p.Steps) > 0 {
		n++
		if p.Steps[0].NeedsApproval {
			t.Error("the first step needs approval: Plan.NeedsApproval should say so")
		}
		for i, s := range p.Steps[1:] {
			if s.Reason == "" {
				t.Errorf("step %d has no reason", i+1)
			}
		}
	}
	if n != 1 {
		t.Errorf("plan %+v: want exactly one of refusal, approval, steps", p)
	}
}

// The refusals reach SDK users verbatim: each names the service and says
// what to do.
func TestDecide_RefusalMessages(t *testing.T) {
	cases := []struct {
		name string
		in   Input
		want byok.Refusal
	}{
		{"no key, shared not allowed", with(func(in *Input) { in.Keys = nil; in.Policy.SharedServices = nil }),
			byok.Refusal{Status: 403, Code: CodeNoKey, Message: "byokd: no personal OpenAI key is configured and the team policy does not allow shared keys for openai. " +
				"Add one with `byokd key add openai`, or ask your admin to allow shared keys."}},
		{"no key, no hub", with(func(in *Input) { in.Keys = nil; in.HubLinked = false }),
			byok.Refusal{Status: 403, Code: CodeNoHub, Message: "byokd: no personal OpenAI key is configured and this machine has not joined a team hub. " +
				"Add one with `byokd key add openai`, or join your team's hub (ask your admin for an invite) to use its shared keys."}},
		{"shared preference, not allowed", with(func(in *Input) {
			in.Service = byok.Anthropic
			in.Pref = byok.PreferShared
		}), byok.Refusal{Status: 403, Code: CodeSharedNotAllowed, Message: "byokd: anthropic is set to use the team's shared key, but the team policy does not allow shared keys for anthropic. " +
			"Ask your admin to allow shared keys, or add your own key with `byokd key add anthropic` and set the anthropic preference to personal."}},
		{"budget reached, block", with(func(in *Input) { in.Keys[0].OverBudget = true; in.OverBudget = BudgetBlock }),
			byok.Refusal{Status: 402, Code: CodeBudgetBlocked, Message: `byokd: your OpenAI key "work" has reached its monthly budget (spent this month plus the estimated cost of calls still running), and calls over budget are set to be blocked. ` +
				"Raise the budget, or choose warn or shared for keys over budget in byokd's settings."}},
		{"budget reached, two keys, block", with(func(in *Input) {
			in.Keys = []KeyState{{Name: "side", OverBudget: true}, {Name: "work", Primary: true, OverBudget: true}}
			in.OverBudget = BudgetBlock
		}), byok.Refusal{Status: 402, Code: CodeBudgetBlocked, Message: `byokd: your OpenAI keys "work", "side" have reached their monthly budgets (spent this month plus the estimated cost of calls still running), and calls over budget are set to be blocked. ` +
			"Raise the budget, or choose warn or shared for keys over budget in byokd's settings."}},
		{"budget reached, shared unavailable", with(func(in *Input) {
			in.Keys[0].OverBudget = true
			in.OverBudget = BudgetShared
			in.HubLinked = false
		}), byok.Refusal{Status: 402, Code: CodeBudgetNoShared, Message: `byokd: your OpenAI key "work" has reached its monthly budget (spent this month plus the estimated cost of calls still running), and the team's shared key cannot take over: ` +
			"this machine has not joined a team hub. Raise the budget, or choose warn for keys over budget in byokd's settings."}},
		{"approval denied", with(func(in *Input) { in.Approved = &Approval{Answer: AnswerDeny} }),
			byok.Refusal{Status: 403, Code: CodeDenied, Message: `byokd: the OpenAI call from app "cursor" was declined in byokd's approval prompt. ` +
				"Approve it when asked, or change the openai preference in byokd's settings."}},
		{"approval unanswered", with(func(in *Input) { in.Approved = &Approval{Answer: AnswerTimeout} }),
			byok.Refusal{Status: 403, Code: CodeUnanswered, Message: `byokd: the OpenAI call from app "cursor" waited for approval and nobody answered in time, so it was not sent. ` +
				"Answer byokd's popup, the tray or `byokd approvals` when asked, or change the openai preference in byokd's settings."}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Decide(c.in).Refusal
			if got == nil {
				t.Fatalf("got no refusal, want %+v", c.want)
			}
			if diff := cmp.Diff(c.want, *got); diff != "" {
				t.Errorf("got %+v, want %+v (-want +got):\n%s", *got, c.want, diff)
			}
			if got.Error() != got.Message {
				t.Errorf("Error() = %q, want the message", got.Error())
			}
		})
	}
}

// Decide must not change the caller's keys, which the proxy may share
// between calls.
func TestDecide_LeavesInputAlone(t *testing.T) {
	in := with(func(in *Input) { in.Keys = []KeyState{{Name: "b"}, coolingKey, {Name: "a", OverBudget: true}} })
	keep := append([]KeyState(nil), in.Keys...)
	Decide(in)
	if diff := cmp.Diff(keep, in.Keys); diff != "" {
		t.Errorf("keys changed (-before +after):\n%s", diff)
	}
}

func TestParseBudgetAction(t *testing.T) {
	for _, s := range []string{"warn", "block", "shared"} {
		if got, err := ParseBudgetAction(s); err != nil || string(got) != s {
			t.Errorf("ParseBudgetAction(%q) = %q, %v; want %q", s, got, err, s)
		}
	}
	if _, err := ParseBudgetAction("stop"); err == nil || !strings.Contains(err.Error(), "warn, block or shared") {
		t.Errorf("ParseBudgetAction(stop): got %v, want an error listing the actions", err)
	}
}
