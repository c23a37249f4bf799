package daemon

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
	"byokd.dev/byok/routing"
)

// episodes keeps, per service, the spell in which the team's shared key
// pays for the member's calls because their own key is skipped: it begins
// with the first such call and ends when a personal key pays again. The
// member hears of it twice, when it begins and when it ends (with what the
// team paid), not once a call; the tray shows it in between.
type episodes struct {
	mu  sync.Mutex
	now map[byok.Service]*control.TeamPaying
}

// record counts a recorded call; it returns the event a person should
// see, if the call began or ended a spell. until is when byokd tries the
// member's key again (zero if it will not by itself), asked only of calls
// the team paid for a skipped key: every call is recorded here.
func (e *episodes) record(ev byok.UsageEvent, until func() time.Time) (control.Event, bool) {
	served := ev.Status > 0 && ev.Status < 400
	if !served {
		return control.Event{}, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.now == nil {
		e.now = map[byok.Service]*control.TeamPaying{}
	}
	cur := e.now[ev.Service]
	switch {
	case ev.Payer == byok.PayerTeam && ev.FallbackReason != "":
		if cur != nil {
			cur.Calls++
			cur.Cost.Add(ev.Cost, ev.CostKnown)
			cur.Until, cur.Reason = until(), ev.FallbackReason
			return control.Event{}, false
		}
		cur = &control.TeamPaying{Service: ev.Service, Since: ev.Time, Until: until(), Reason: ev.FallbackReason, Calls: 1}
		cur.Cost.Add(ev.Cost, ev.CostKnown)
		e.now[ev.Service] = cur
		return beganEvent(*cur, ev.Time), true
	case ev.Payer == byok.PayerPersonal && cur != nil:
		delete(e.now, ev.Service)
		return endedEvent(*cur, ev.Time), true
	}
	return control.Event{}, false
}

// list is the spells going on, by service.
func (e *episodes) list() []control.TeamPaying {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]control.TeamPaying, 0, len(e.now))
	for _, ep := range e.now {
		out = append(out, *ep)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out
}

func beganEvent(p control.TeamPaying, now time.Time) control.Event {
	svc := p.Service.Title()
	var body string
	switch why := strings.TrimPrefix(p.Reason, routing.ReasonCoolingDown+": "); {
	case p.Reason == routing.ReasonNoKey:
		body = fmt.Sprintf("You have no %s key of your own in byokd, so the team's shared key pays. Add yours: byokd key add %s.", svc, p.Service)
	case p.Reason == routing.ReasonBudget:
		body = fmt.Sprintf("Your %s keys have used their monthly budget, so the team's shared key pays until next month, or until you raise the budget.", svc)
	case !p.Until.IsZero():
		body = fmt.Sprintf("Your %s key could not pay (%s), so the team's shared key pays until %s, when byokd tries your key again.", svc, why, clock(p.Until, now))
	default:
		body = fmt.Sprintf("Your %s key could not pay (%s), so the team's shared key pays until it can.", svc, why)
	}
	return control.Event{Kind: control.EventFallback, Service: p.Service,
		Title: fmt.Sprintf("The team is paying for your %s calls", svc), Body: body}
}

func endedEvent(p control.TeamPaying, at time.Time) control.Event {
	calls := "1 call"
	if p.Calls != 1 {
		calls = fmt.Sprintf("%d calls", p.Calls)
	}
	return control.Event{Kind: control.EventFallback, Service: p.Service,
		Title: fmt.Sprintf("Your %s key pays again", p.Service.Title()),
		Body:  fmt.Sprintf("The team paid for %s (%s) from %s to %s.", calls, p.Cost, clock(p.Since, at), clock(at, at))}
}

// clock is a time as people read it on their own clock: "14:35", with
// the day when it is not the day of now.
func clock(t, now time.Time) string {
	t, now = t.Local(), now.Local()
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04")
	}
	return t.Format("Jan 2 15:04")
}
