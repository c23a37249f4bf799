package daemon

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
	"byokd.dev/byok/routing"
)

// DefaultApprovalTimeout is how long a held call waits for an answer
// before it is denied.
const DefaultApprovalTimeout = 60 * time.Second

// approvals holds calls that wait for the member's answer ("ask each
// time"). The first answer wins; later ones find nothing to answer. A
// standing answer ("for this app for N minutes") is remembered.
type approvals struct {
	now     func() time.Time
	timeout time.Duration
	events  *events

	mu       sync.Mutex
	pending  map[string]*pendingApproval
	standing map[standingKey]routing.Approval
}

type standingKey struct {
	svc byok.Service
	app string
}

type pendingApproval struct {
	info   control.Approval
	answer chan given // buffered 1: the first answer
}

// given is an answer as delivered: until is set for a standing one.
type given struct {
	Answer string
	until  time.Time
}

func newApprovals(now func() time.Time, timeout time.Duration, ev *events) *approvals {
	if timeout <= 0 {
		timeout = DefaultApprovalTimeout
	}
	return &approvals{now: now, timeout: timeout, events: ev,
		pending: map[string]*pendingApproval{}, standing: map[standingKey]routing.Approval{}}
}

// standingFor returns a still-valid standing answer for svc and app.
func (a *approvals) standingFor(svc byok.Service, app string) *routing.Approval {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.standing[standingKey{svc, app}]
	if !ok {
		return nil
	}
	if !s.Until.IsZero() && !a.now().Before(s.Until) {
		delete(a.standing, standingKey{svc, app})
		return nil
	}
	return &s
}

// ask holds the call until an answer, the timeout (deny) or ctx's end.
func (a *approvals) ask(ctx context.Context, req control.Approval) routing.Approval {
	now := a.now()
	req.ID = uuid.NewString()[:8]
	req.Created, req.Expires = now, now.Add(a.timeout)
	p := &pendingApproval{info: req, answer: make(chan given, 1)}
	a.mu.Lock()
	a.pending[req.ID] = p
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.pending, req.ID)
		a.mu.Unlock()
		a.events.publish(control.Event{Kind: control.EventChanged, Service: req.Service, ApprovalID: req.ID})
	}()
	a.events.publish(control.Event{
		Kind: control.EventApproval, Service: req.Service, ApprovalID: req.ID,
		Title: fmt.Sprintf("%s call from %s waits for you", req.Service.Title(), req.App),
		Body: fmt.Sprintf("Model %s, project %s, about %s. %s, or deny; unanswered in %s, it is not sent.",
			orDash(req.Model), orDash(req.Project), req.Estimate, offered(req.Choices), seconds(a.timeout)),
	})
	deny := routing.Approval{Service: req.Service, App: req.App, Answer: routing.AnswerDeny}
	timer := time.NewTimer(a.timeout)
	defer timer.Stop()
	select {
	case ans := <-p.answer:
		return routing.Approval{Service: req.Service, App: req.App, Answer: parseAnswer(ans.Answer), Until: ans.until}
	case <-timer.C:
		a.events.publish(control.Event{
			Kind: control.EventUnanswered, Service: req.Service,
			Title: fmt.Sprintf("%s %s call from %s was not sent", article(req.Service.Title()), req.Service.Title(), orDash(req.App)),
			Body: fmt.Sprintf("Nobody answered its approval in %s (model %s, project %s).",
				seconds(a.timeout), orDash(req.Model), orDash(req.Project)),
		})
		deny.Answer = routing.AnswerTimeout
		return deny
	case <-ctx.Done():
		return deny // the app went away: nobody to tell
	}
}

// offered names the ways to pay an approval offers: "Use your key or the
// team's".
func offered(choices []string) string {
	var mine, team bool
	for _, c := range choices {
		mine, team = mine || c == "personal", team || c == "shared"
	}
	switch {
	case mine && team:
		return "Use your key or the team's"
	case team:
		return "Use the team's key"
	}
	return "Use your key"
}

// seconds says a wait as people do: "60 seconds", "2 minutes".
func seconds(d time.Duration) string {
	if d >= 2*time.Minute {
		return minutes(d)
	}
	if n := int(d.Round(time.Second) / time.Second); n != 1 {
		return fmt.Sprintf("%d seconds", n)
	}
	return "1 second"
}

// article is "An" before a vowel ("An OpenAI call"), else "A".
func article(word string) string {
	if word != "" && strings.ContainsRune("AEIOUaeiou", rune(word[0])) {
		return "An"
	}
	return "A"
}

func parseAnswer(s string) routing.Answer {
	switch s {
	case "personal":
		return routing.AnswerPersonal
	case "shared":
		return routing.AnswerShared
	}
	return routing.AnswerDeny
}

// answer delivers the first answer to a pending approval.
func (a *approvals) answer(id string, ans control.Answer) error {
	switch ans.Answer {
	case "personal", "shared", "deny":
	default:
		return fmt.Errorf("%w: answer %q: use personal, shared or deny", control.ErrInvalid, ans.Answer)
	}
	if ans.Minutes < 0 || ans.Minutes > 24*60 {
		return fmt.Errorf("%w: minutes must be between 0 and 1440", control.ErrInvalid)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	p, ok := a.pending[id]
	if !ok {
		return fmt.Errorf("%w: no call waits for approval %q (it was answered or timed out)", byok.ErrNotFound, id)
	}
	delete(a.pending, id)
	g := given{Answer: ans.Answer}
	if ans.Minutes <= 0 {
		p.answer <- g
		return nil
	}
	// A standing answer is for the app: it answers the app's other calls
	// waiting now, too.
	g.until = a.now().Add(time.Duration(ans.Minutes) * time.Minute)
	k := standingKey{p.info.Service, p.info.App}
	a.standing[k] = routing.Approval{Service: k.svc, App: k.app, Answer: parseAnswer(ans.Answer), Until: g.until}
	p.answer <- g
	for oid, o := range a.pending {
		if (standingKey{o.info.Service, o.info.App}) == k {
			delete(a.pending, oid)
			o.answer <- g
		}
	}
	return nil
}

func (a *approvals) list() []control.Approval {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]control.Approval, 0, len(a.pending))
	for _, p := range a.pending {
		out = append(out, p.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
