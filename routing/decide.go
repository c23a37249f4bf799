package routing

import (
	"fmt"
	"time"

	"byokd.dev/byok"
)

// CredKind says whose credential a step uses.
type CredKind int

// Credential kinds.
const (
	Personal CredKind = iota // one of the member's own keys, from the keystore
	Shared                   // the team's shared key, through the hub relay
)

func (k CredKind) String() string {
	if k == Shared {
		return "shared"
	}
	return "personal"
}

// BudgetAction is what happens to calls on a personal key that has used
// 100% of its monthly budget. The zero value behaves as BudgetWarn.
type BudgetAction string

// Budget actions.
const (
	BudgetWarn   BudgetAction = "warn"   // keep using the key (the member is notified elsewhere)
	BudgetBlock  BudgetAction = "block"  // stop using the key until next month
	BudgetShared BudgetAction = "shared" // use the team's shared key instead, if the team allows it
)

// ParseBudgetAction accepts warn, block or shared.
func ParseBudgetAction(s string) (BudgetAction, error) {
	switch a := BudgetAction(s); a {
	case BudgetWarn, BudgetBlock, BudgetShared:
		return a, nil
	}
	return "", fmt.Errorf("unknown budget action %q: use warn, block or shared", s)
}

// Answer is the member's reply to an approval question.
type Answer int

// Answers.
const (
	AnswerDeny     Answer = iota // refuse the call
	AnswerPersonal               // use my own keys
	AnswerShared                 // use the team's shared key
	AnswerTimeout                // nobody answered in time: refused, and said so
)

func (a Answer) String() string {
	switch a {
	case AnswerPersonal:
		return "personal"
	case AnswerShared:
		return "shared"
	case AnswerTimeout:
		return "timeout"
	}
	return "deny"
}

// Approval is a member's answer: just given for this call (Until zero), or
// standing ("for this app for 30 minutes", Until set). Service and App, when
// set, restrict it to that service and app; an approval for something else,
// or past its Until, is ignored.
type Approval struct {
	Service byok.Service
	App     string
	Answer  Answer
	Until   time.Time
}

func (a *Approval) validFor(in *Input) bool {
	if a == nil {
		return false
	}
	if a.Service != "" && a.Service != in.Service {
		return false
	}
	if a.App != "" && a.App != in.App {
		return false
	}
	return a.Until.IsZero() || in.Now.Before(a.Until)
}

// KeyState is one of the member's personal keys for the service, as routing
// needs to see it. Health.Annotate fills the cooling fields.
type KeyState struct {
	Name          string
	Primary       bool
	CoolingUntil  time.Time // skipped until then after failing as invalid or out of quota
	CoolingReason string    // the failure that started the cool-down
	OverBudget    bool      // used 100% of its monthly budget
}

func (k KeyState) cooling(now time.Time) bool { return now.Before(k.CoolingUntil) }

// Input is everything Decide looks at for one call.
type Input struct {
	Service byok.Service
	App     string // the app token's name, for approvals and messages
	// Pref is the member's preference for the service; empty means the
	// policy's DefaultPreference, and personal if that is empty too.
	Pref byok.Preference
	// Fallback is the member's switch allowing a failing personal key to
	// fall back to the shared one.
	Fallback bool
	// Keys are the member's personal keys for Service, in any order.
	Keys []KeyState
	// OverBudget applies to every key with OverBudget set.
	OverBudget BudgetAction
	Policy     byok.Policy
	// HubLinked says a team hub is configured, so shared keys are reachable.
	HubLinked bool
	// Approved is the member's answer, if one applies; nil if none.
	Approved *Approval
	Now      time.Time
}

// Step is one credential to try. Steps after the first are tried only when
// Classify allowed moving on from the step before.
type Step struct {
	Kind CredKind
	Key  string // the personal key's name; empty for Shared
	// Reason says why this step departs from the member's first choice, as
	// far as Decide can know before any call ("primary key cooling down:
	// invalid key", "budget reached", "no personal key", "fallback"). It is
	// empty for the member's first choice. When a step is reached after a
	// failure, the ledger's fallback reason is that failure's Verdict.Reason.
	Reason string
	// NeedsApproval: ask the member before taking this step. If they decline,
	// Decide with an AnswerDeny approval gives the refusal to return.
	NeedsApproval bool
}

// Plan is Decide's answer. Exactly one of these holds: Refusal is set (no
// credential may be used); NeedsApproval is set (ask the member first, then
// Decide again with their Approval); or Steps holds at least one step.
type Plan struct {
	Steps []Step
	// NeedsApproval: nothing may be sent before the member answers. Choices
	// lists the answers worth offering besides AnswerDeny, preferred first.
	NeedsApproval bool
	Choices       []Answer
	Refusal       *byok.Refusal
}

// Reasons Decide gives in Step.Reason.
const (
	ReasonFallback    = "fallback"        // reached only if the step before could not pay
	ReasonNoKey       = "no personal key" // the member has no personal key for the service
	ReasonBudget      = "budget reached"  // the personal keys are over budget, action shared
	ReasonCoolingDown = "cooling down"    // followed by the failure that started it
	ReasonPrimarySkip = "primary key"     // followed by why the primary was skipped
)

const reasonOverBudget = "over budget"

// Decide plans one call. It never blocks and never fails: a call that no
// credential may serve gets a Refusal whose message tells the member what
// to do.
func Decide(in Input) Plan {
	pref := in.Pref
	if pref == "" {
		pref = in.Policy.DefaultPreference
	}
	if pref == "" {
		pref = byok.PreferPersonal
	}
	blocker := sharedBlocker(&in)
	appr := in.Approved
	if !appr.validFor(&in) {
		appr = nil
	}
	if appr != nil && appr.Answer == AnswerDeny {
		return Plan{Refusal: refuseDenied(&in)}
	}
	if appr != nil && appr.Answer == AnswerTimeout {
		return Plan{Refusal: refuseUnanswered(&in)}
	}
	sharedApproved := appr != nil && appr.Answer == AnswerShared
	sharedNeedsApproval := (in.Policy.SharedNeedsApproval || pref == byok.PreferAsk) && !sharedApproved

	switch pref {
	case byok.PreferAsk:
		switch {
		case sharedApproved:
			return sharedPlan(&in, blocker, false)
		case appr != nil && appr.Answer == AnswerPersonal:
			return personalPlan(&in, blocker, sharedNeedsApproval, true)
		}
		var choices []Answer
		p := personalPlan(&in, blocker, false, true)
		if p.Refusal == nil && p.Steps[0].Kind == Personal {
			choices = append(choices, AnswerPersonal)
		}
		if blocker == blockNone {
			choices = append(choices, AnswerShared)
		}
		if len(choices) == 0 {
			// Only possible when the personal plan was refused too.
			return p
		}
		return Plan{NeedsApproval: true, Choices: choices}
	case byok.PreferShared:
		return sharedPlan(&in, blocker, sharedNeedsApproval)
	}
	return personalPlan(&in, blocker, sharedNeedsApproval, appr != nil && appr.Answer == AnswerPersonal)
}

// blocker is why the shared key cannot be used.
type blocker int

const (
	blockNone   blocker = iota
	blockPolicy         // the team policy does not list the service
	blockNoHub          // no hub is configured
)

func sharedBlocker(in *Input) blocker {
	switch {
	case !in.Policy.SharedAllowed(in.Service):
		return blockPolicy
	case !in.HubLinked:
		return blockNoHub
	}
	return blockNone
}

// sharedPlan is the plan for a member who wants the shared key.
func sharedPlan(in *Input, b blocker, needsApproval bool) Plan {
	if b != blockNone {
		return Plan{Refusal: refuseSharedPref(in, b)}
	}
	if needsApproval {
		return Plan{NeedsApproval: true, Choices: []Answer{AnswerShared}}
	}
	return Plan{Steps: []Step{{Kind: Shared}}}
}

// personalPlan is the plan for a member who wants their own keys.
// chosen says they picked personal in answer to a question, so a cooling
// key is tried before asking about the shared key again.
func personalPlan(in *Input, b blocker, sharedNeedsApproval, chosen bool) Plan {
	action := in.OverBudget
	if action == "" {
		action = BudgetWarn
	}
	sharedOK := b == blockNone
	fallbackOK := sharedOK && in.Fallback && in.Policy.AllowFallback

	// Count the keys by state; walk them primary first without sorting.
	var healthy, cooling, over int
	var firstCooling KeyState
	var overNames []string
	primarySkip := ""
	eachKey(in.Keys, func(k KeyState) {
		switch {
		case k.OverBudget && action != BudgetWarn:
			over++
			overNames = append(overNames, k.Name)
			if k.Primary && primarySkip == "" {
				primarySkip = ReasonPrimarySkip + " " + reasonOverBudget
			}
		case k.cooling(in.Now):
			if cooling == 0 {
				firstCooling = k
			}
			cooling++
			if k.Primary && primarySkip == "" {
				primarySkip = ReasonPrimarySkip + " " + coolingReason(k)
			}
		default:
			healthy++
		}
	})

	shared := Step{Kind: Shared, Reason: ReasonFallback, NeedsApproval: sharedNeedsApproval}
	switch {
	case healthy > 0:
		steps := make([]Step, 0, healthy+1)
		eachKey(in.Keys, func(k KeyState) {
			if (k.OverBudget && action != BudgetWarn) || k.cooling(in.Now) {
				return
			}
			s := Step{Kind: Personal, Key: k.Name, Reason: ReasonFallback}
			if len(steps) == 0 {
				s.Reason = primarySkip
			}
			steps = append(steps, s)
		})
		if fallbackOK {
			steps = append(steps, shared)
		}
		return Plan{Steps: steps}

	case cooling > 0 && (fallbackOK || (action == BudgetShared && over > 0 && sharedOK)) && !chosen:
		// Every usable key is cooling down: go straight to the shared key.
		shared.Reason = coolingReason(firstCooling)
		if over > 0 && !fallbackOK {
			shared.Reason = ReasonBudget
		}
		return firstShared(shared)

	case cooling > 0:
		// Better an honest upstream error than none: try the cooling keys.
		steps := make([]Step, 0, cooling+1)
		eachKey(in.Keys, func(k KeyState) {
			if (k.OverBudget && action != BudgetWarn) || !k.cooling(in.Now) {
				return
			}
			s := Step{Kind: Personal, Key: k.Name, Reason: ReasonFallback}
			if len(steps) == 0 {
				s.Reason = ""
				if !k.Primary && primarySkip != "" {
					s.Reason = primarySkip
				}
			}
			steps = append(steps, s)
		})
		if fallbackOK {
			steps = append(steps, shared)
		}
		return Plan{Steps: steps}

	case over > 0:
		if action == BudgetBlock {
			return Plan{Refusal: refuseBudgetBlocked(in, overNames)}
		}
		if !sharedOK {
			return Plan{Refusal: refuseBudgetNoShared(in, overNames, b)}
		}
		shared.Reason = ReasonBudget
		return firstShared(shared)
	}

	// No personal key at all.
	if !sharedOK {
		return Plan{Refusal: refuseNoKey(in, b)}
	}
	shared.Reason = ReasonNoKey
	return firstShared(shared)
}

// firstShared is a plan whose first step is the shared key: if that needs
// approval, nothing may be sent before the member answers.
func firstShared(s Step) Plan {
	if s.NeedsApproval {
		return Plan{NeedsApproval: true, Choices: []Answer{AnswerShared}}
	}
	return Plan{Steps: []Step{s}}
}

// eachKey calls f for the primary keys, then the others, each group in the
// order given.
func eachKey(keys []KeyState, f func(KeyState)) {
	for _, k := range keys {
		if k.Primary {
			f(k)
		}
	}
	for _, k := range keys {
		if !k.Primary {
			f(k)
		}
	}
}

func coolingReason(k KeyState) string {
	if k.CoolingReason == "" {
		return ReasonCoolingDown
	}
	return ReasonCoolingDown + ": " + k.CoolingReason
}
