package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
	"byokd.dev/byok/ledger"
	"byokd.dev/byok/metering"
	"byokd.dev/byok/routing"
	"byokd.dev/byok/upstream"
)

// router is the proxy's Planner, Fallback and Recorder: it turns the
// member's preferences, keys, budgets and the team policy into the
// credentials a call tries (routing.Decide), asks the member where the
// plan needs it, reserves budget, and after each call raises the events a
// person should see. It reaches the rest of the daemon only through
// routerDeps.
type router struct {
	routerDeps
	health   *routing.Health
	episodes episodes

	mu          sync.RWMutex
	prefs       map[byok.Service]ledger.Pref
	warnedClock time.Time // when the clock was last said to be set back
	usageSaid   time.Time // when EventUsage was last published
	// alertsMarked is the highest budget threshold each key's month is
	// known to have marked in the ledger.
	alertsMarked map[alertMonth]int
}

// routerDeps is what the router uses, each part as small as it needs.
type routerDeps struct {
	ledger    routerLedger
	keys      routerKeys
	approvals routerApprovals
	events    interface{ publish(control.Event) }
	// hub returns the joined hub (nil if none) and the policy in force.
	hub    func() (*hubLink, byok.Policy)
	paused func() bool
	wake   func() // a row was recorded: the hub sync may send it
	prices *metering.Book
	now    func() time.Time
	log    *slog.Logger
}

// routerLedger is the part of *ledger.DB the router uses.
type routerLedger interface {
	Prefs(ctx context.Context) (map[byok.Service]ledger.Pref, error)
	KeepWorking() bool
	Ready(ctx context.Context) error
	Reserve(ctx context.Context, r ledger.Reservation) (ledger.BudgetState, error)
	Record(ctx context.Context, ev byok.UsageEvent) error
	Budget(ctx context.Context, svc byok.Service, cred byok.CredentialRef, from, to time.Time) (ledger.BudgetState, error)
	LoadedBudget(svc byok.Service, cred byok.CredentialRef, from, to time.Time) (ledger.BudgetState, bool)
	MarkAlert(ctx context.Context, svc byok.Service, cred byok.CredentialRef, month string, percent int) (bool, error)
	Newest() time.Time
}

// routerKeys is the part of the keyring the router uses.
type routerKeys interface {
	personal(svc byok.Service) []personalKey
	unreadable(svc byok.Service) ([]string, error)
	retryLocked(ctx context.Context, now time.Time)
}

// routerApprovals asks the member about a call.
type routerApprovals interface {
	standingFor(svc byok.Service, app string) *routing.Approval
	ask(ctx context.Context, req control.Approval) routing.Approval
}

var (
	_ routerLedger    = (*ledger.DB)(nil)
	_ routerKeys      = (*keyring)(nil)
	_ routerApprovals = (*approvals)(nil)
)

func newRouter(deps routerDeps) *router {
	return &router{routerDeps: deps, health: routing.NewHealth(deps.now, coolDown)}
}

func (r *router) loadPrefs(ctx context.Context) error {
	p, err := r.ledger.Prefs(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.prefs = p
	r.mu.Unlock()
	return nil
}

func (r *router) pref(svc byok.Service) ledger.Pref {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.prefs[svc]
}

// Plan implements localproxy.Planner.
func (r *router) Plan(ctx context.Context, c *upstream.Call) ([]upstream.Credential, error) {
	if r.paused() {
		return nil, &byok.Refusal{Status: 503, Code: "proxy_paused", Message: pausedMessage}
	}
	if err := r.ledgerWritable(ctx); err != nil {
		return nil, err
	}
	svc := c.Service
	pref := r.pref(svc)
	keys := r.keys.personal(svc)
	if len(keys) == 0 {
		unlocked, err := r.lockedKeys(ctx, svc)
		if err != nil {
			return nil, err
		}
		keys = unlocked
	}
	link, policy := r.hub()
	in := routing.Input{
		Service:    svc,
		App:        c.Row.App,
		Pref:       pref.Preference,
		Fallback:   pref.Fallback,
		OverBudget: overBudgetAction(pref.OverBudget),
		Policy:     policy,
		HubLinked:  link != nil,
		Approved:   r.approvals.standingFor(svc, c.Row.App),
		Now:        r.now(),
	}
	for _, k := range keys {
		in.Keys = append(in.Keys, routing.KeyState{Name: k.info.Name, Primary: k.info.Primary})
	}
	r.health.Annotate(svc, in.Keys)
	estimate := r.prices.Prices().Estimate(c.Meter)
	asked := false
	for range len(keys) + 3 {
		plan := routing.Decide(in)
		switch {
		case plan.Refusal != nil:
			return nil, plan.Refusal
		case plan.NeedsApproval:
			if asked {
				return nil, &byok.Refusal{Status: 403, Code: "approval_denied", Message: "byokd: this call was not approved"}
			}
			asked = true
			ans := r.approvals.ask(ctx, control.Approval{
				Service: svc, Model: c.Meter.Model, App: c.Row.App, Project: c.Row.Project,
				Estimate: estimate, Choices: choices(plan.Choices),
			})
			in.Approved = &ans
			continue
		}
		first := plan.Steps[0]
		if first.Kind == routing.Personal && in.OverBudget != routing.BudgetWarn && !isOver(in.Keys, first.Key) {
			if over, err := r.reserve(ctx, c, keys, first.Key, estimate); err != nil {
				return nil, err
			} else if over {
				markOver(in.Keys, first.Key)
				continue
			}
		}
		return r.credentials(c, plan, keys, link, estimate), nil
	}
	return nil, errors.New("routing did not settle on a plan")
}

func choices(as []routing.Answer) []string {
	out := make([]string, 0, len(as)+1)
	for _, a := range as {
		out = append(out, a.String())
	}
	return append(out, routing.AnswerDeny.String())
}

// overBudgetAction is the member's choice; no choice means warn.
func overBudgetAction(s string) routing.BudgetAction {
	if s == "" {
		return routing.BudgetWarn
	}
	return routing.BudgetAction(s)
}

func isOver(keys []routing.KeyState, name string) bool {
	for _, k := range keys {
		if k.Name == name {
			return k.OverBudget
		}
	}
	return false
}

func markOver(keys []routing.KeyState, name string) {
	for i := range keys {
		if keys[i].Name == name {
			keys[i].OverBudget = true
		}
	}
}

// reserve holds the call's estimate against the key's monthly budget; over
// reports that the key has no room left.
func (r *router) reserve(ctx context.Context, c *upstream.Call, keys []personalKey, name string, estimate byok.Micros) (over bool, err error) {
	for _, k := range keys {
		if k.info.Name != name || k.info.Budget <= 0 {
			continue
		}
		from, to := monthBounds(r.budgetNow())
		_, err := r.ledger.Reserve(ctx, ledger.Reservation{
			ID: c.Row.ID, Service: c.Service, Credential: k.info.Ref(),
			Amount: estimate, Budget: k.info.Budget, From: from, To: to,
		})
		if errors.Is(err, ledger.ErrOverBudget) {
			return true, nil
		}
		if err != nil {
			return false, &byok.Refusal{Status: 503, Code: "ledger_unavailable",
				Message: "byokd: cannot check the budget because the ledger is unavailable: " + err.Error()}
		}
	}
	return false, nil
}

// budgetNow is the time a budget month is chosen by: the clock, unless it
// is behind the newest recorded row (set back, by hand or by a bad sync),
// which would reopen a month whose budget is spent. Then the newest row's
// time, and a warning.
func (r *router) budgetNow() time.Time {
	now, newest := r.now(), r.ledger.Newest()
	if !now.Before(newest.Add(-clockSlack)) {
		return now
	}
	r.mu.Lock()
	warn := now.Sub(r.warnedClock) > 10*time.Minute || now.Before(r.warnedClock)
	if warn {
		r.warnedClock = now
	}
	r.mu.Unlock()
	if warn {
		r.log.Warn("the clock is behind the newest usage row: budgets count from that row's month, not the clock's",
			"clock", now, "newest_row", newest)
	}
	return newest
}

// clockSlack is how far behind the newest row the clock may be without
// being called set back: rows of calls that started a little earlier.
const clockSlack = time.Minute

// credentials turns plan steps into the proxy's credentials.
func (r *router) credentials(c *upstream.Call, plan routing.Plan, keys []personalKey, link *hubLink, estimate byok.Micros) []upstream.Credential {
	var out []upstream.Credential
	for _, s := range plan.Steps {
		var cred upstream.Credential
		switch s.Kind {
		case routing.Personal:
			for _, k := range keys {
				if k.info.Name == s.Key {
					cred = k.cred
				}
			}
			if cred.Ref.IsZero() {
				continue
			}
		case routing.Shared:
			if link == nil {
				continue
			}
			cred = link.credential(c.Service)
		}
		if len(out) == 0 {
			cred.Reason = s.Reason
		}
		if s.NeedsApproval && len(out) > 0 {
			cred.Approve = func(ctx context.Context) bool {
				ans := r.approvals.ask(ctx, control.Approval{
					Service: c.Service, Model: c.Meter.Model, App: c.Row.App, Project: c.Row.Project,
					Estimate: estimate, Choices: []string{"shared", "deny"},
				})
				return ans.Answer == routing.AnswerShared
			}
		}
		out = append(out, cred)
	}
	return out
}

// Fallback implements localproxy.Fallback with routing.Classify; a personal
// key that cannot pay cools down and the member hears of it.
func (r *router) Fallback(c *upstream.Call, cred upstream.Credential, resp *upstream.FailedResponse, err error) (bool, string) {
	f := routing.Failure{ConnErr: err}
	if resp != nil {
		f.Status, f.Header, f.Body = resp.Status, resp.Header, resp.Body
	}
	v := routing.Classify(c.Service, f, r.pref(c.Service).FallbackOnRateLimit)
	if cred.Ref.Payer == byok.PayerPersonal && v.CoolDown {
		name := cred.Ref.Name
		r.health.Failed(c.Service, name, v)
		// If the team's key takes the call over, the spell it begins is
		// the one notification (episodes); otherwise say it here.
		if !v.Fallback || !nextIsTeam(c, cred) {
			r.events.publish(control.Event{
				Kind: control.EventKey, Service: c.Service,
				Title: fmt.Sprintf("Your %s key %q stopped working", c.Service.Title(), name),
				Body:  fmt.Sprintf("%s. byokd skips it for %s, then tries it again.", upperFirst(v.Reason), minutes(coolDown)),
			})
		}
	}
	return v.Fallback, v.Reason
}

// nextIsTeam reports whether the credential after cred in c is the team's.
func nextIsTeam(c *upstream.Call, cred upstream.Credential) bool {
	for i, x := range c.Credentials[:len(c.Credentials)-1] {
		if x.Ref == cred.Ref {
			return c.Credentials[i+1].Ref.Payer == byok.PayerTeam
		}
	}
	return false
}

// minutes says a duration as people do: "10 minutes", "1 minute".
func minutes(d time.Duration) string {
	n := int(d.Round(time.Minute) / time.Minute)
	if n == 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", n)
}

// coolDown is how long a personal key that cannot pay is skipped.
const coolDown = 10 * time.Minute

// Record implements localproxy.Recorder: the row first, then what the
// member should hear about it, off the call's path.
func (r *router) Record(ctx context.Context, ev byok.UsageEvent) error {
	if err := r.ledger.Record(ctx, ev); err != nil {
		return err
	}
	r.wake()
	if ev.Payer == byok.PayerPersonal && ev.Status < 400 {
		r.health.Succeeded(ev.Service, ev.Credential.Name)
	}
	if note, ok := r.episodes.record(ev, func() time.Time { return r.retryAt(ev.Service) }); ok {
		r.events.publish(note)
	}
	r.saySpend()
	if ev.Payer == byok.PayerPersonal && ev.Cost > 0 {
		r.budgetAlerts(ev)
	}
	return nil
}

// saySpend tells the fronts that spend changed, at most once a second:
// a page or tray showing it redraws, and a burst of calls costs one redraw.
func (r *router) saySpend() {
	now := r.now()
	r.mu.Lock()
	due := now.Sub(r.usageSaid) >= time.Second || now.Before(r.usageSaid)
	if due {
		r.usageSaid = now
	}
	r.mu.Unlock()
	if due {
		r.events.publish(control.Event{Kind: control.EventUsage})
	}
}

// retryAt is when byokd next tries one of the member's svc keys that is
// cooling down: the soonest cool-down end; zero if none cools.
func (r *router) retryAt(svc byok.Service) time.Time {
	var at time.Time
	for _, k := range r.keys.personal(svc) {
		if until, _ := r.health.CoolingUntil(svc, k.info.Name); !until.IsZero() && (at.IsZero() || until.Before(at)) {
			at = until
		}
	}
	return at
}

// budgetAlerts announces each threshold of its monthly budget that ev's
// key has reached, once. Nothing of it waits on I/O on the call's path:
// the month's spend is read from memory, or loaded off the path when not
// yet in memory; a threshold is marked in the ledger (a write, which
// survives a restart) off the path too, and only when the router has not
// seen it marked this month, so most calls start no goroutine.
func (r *router) budgetAlerts(ev byok.UsageEvent) {
	var budget byok.Micros
	for _, k := range r.keys.personal(ev.Service) {
		if k.info.Ref() == ev.Credential {
			budget = k.info.Budget
		}
	}
	if budget <= 0 {
		return
	}
	from, to := monthBounds(ev.Time)
	month := alertMonth{svc: ev.Service, cred: ev.Credential, year: from.Year(), month: from.Month()}
	if st, ok := r.ledger.LoadedBudget(ev.Service, ev.Credential, from, to); ok {
		if due := r.dueAlerts(month, st.Spent, budget); len(due) > 0 {
			go r.markAlerts(ev, month, due, st.Spent, budget)
		}
		return
	}
	// The goroutine gets a copy made here: capturing ev itself would move
	// it to the heap on every call.
	later := ev
	go func() {
		st, err := r.ledger.Budget(context.Background(), later.Service, later.Credential, from, to)
		if err != nil {
			r.log.Warn("budget check failed", "err", err)
			return
		}
		r.markAlerts(later, month, r.dueAlerts(month, st.Spent, budget), st.Spent, budget)
	}()
}

// dueAlerts are the thresholds spent reaches that the router has not seen
// marked for month, lowest first.
func (r *router) dueAlerts(month alertMonth, spent, budget byok.Micros) []int {
	pct := int(int64(spent) * 100 / int64(budget))
	r.mu.RLock()
	marked := r.alertsMarked[month]
	r.mu.RUnlock()
	var due []int
	for _, threshold := range []int{50, 80, 100} {
		if pct >= threshold && threshold > marked {
			due = append(due, threshold)
		}
	}
	return due
}

// alertMonth is one key's budget month. It is built on every call with a
// budget; its text form is needed only when an alert is marked.
type alertMonth struct {
	svc   byok.Service
	cred  byok.CredentialRef
	year  int
	month time.Month
}

// String is the month as the ledger keeps it: "2006-01".
func (m alertMonth) String() string { return fmt.Sprintf("%04d-%02d", m.year, int(m.month)) }

// markAlerts marks the thresholds due, lowest first, and announces each
// that no one announced before: one call may cross two, and neither stands
// for the other.
func (r *router) markAlerts(ev byok.UsageEvent, month alertMonth, due []int, spent, budget byok.Micros) {
	for _, threshold := range due {
		first, err := r.ledger.MarkAlert(context.Background(), month.svc, month.cred, month.String(), threshold)
		if err != nil {
			r.log.Warn("budget alert not recorded", "err", err)
			return
		}
		r.mu.Lock()
		if r.alertsMarked == nil {
			r.alertsMarked = map[alertMonth]int{}
		}
		r.alertsMarked[month] = max(r.alertsMarked[month], threshold)
		r.mu.Unlock()
		if first {
			r.events.publish(budgetEvent(ev.Service, ev.Credential.Name, threshold, spent, budget, r.pref(ev.Service).OverBudget))
		}
	}
}

// budgetEvent is the alert for a key's monthly budget reaching threshold
// percent; at 100 it says what happens to the next calls.
func budgetEvent(svc byok.Service, key string, threshold int, spent, budget byok.Micros, overBudget string) control.Event {
	ev := control.Event{Kind: control.EventBudget, Service: svc,
		Title: fmt.Sprintf("Your %s key %q is at %d%% of its monthly budget", svc.Title(), key, threshold),
		Body:  fmt.Sprintf("%s of %s spent this month.", spent, budget)}
	if threshold < 100 {
		return ev
	}
	ev.Title = fmt.Sprintf("Your %s key %q has used its monthly budget", svc.Title(), key)
	switch overBudgetAction(overBudget) {
	case routing.BudgetBlock:
		ev.Body += " Its calls are refused until next month, or until you raise the budget."
	case routing.BudgetShared:
		ev.Body += " Its calls now go to the team's shared key, if the team allows it."
	default:
		ev.Body += " Its calls go on; you chose to be warned only."
	}
	return ev
}

func upperFirst(s string) string {
	if s == "" {
		return "It failed"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// ledgerWritable refuses the call, before any key is read or anything is
// sent, when its usage row could not be written: no call goes out without
// its record. It costs nothing while the ledger is healthy and busy, and
// one fstatfs when it has been idle (ledger.DB.Ready).
func (r *router) ledgerWritable(ctx context.Context) error {
	db := r.ledger
	if db.KeepWorking() {
		return nil // the member's choice; the ledger keeps or counts every row
	}
	err := db.Ready(ctx)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	r.log.Error("call refused: ledger cannot be written", "err", err)
	return &byok.Refusal{Status: 503, Code: "ledger_unavailable",
		Message: "byokd: this call was not sent because its usage could not be recorded: " + err.Error()}
}

// lockedKeys is asked when svc has no usable personal key. If the member
// has keys whose secrets the keychain would not give, it tries them again
// and, still locked, refuses the call saying what to unlock: the call must
// neither go out on the team's key unasked nor read "add a key".
func (r *router) lockedKeys(ctx context.Context, svc byok.Service) ([]personalKey, error) {
	names, _ := r.keys.unreadable(svc)
	if len(names) == 0 {
		return nil, nil
	}
	r.keys.retryLocked(ctx, r.now())
	if keys := r.keys.personal(svc); len(keys) > 0 {
		return keys, nil
	}
	names, err := r.keys.unreadable(svc)
	if len(names) == 0 {
		return nil, nil
	}
	return nil, &byok.Refusal{Status: 503, Code: "keychain_locked",
		Message: fmt.Sprintf("byokd: your %s key %q is in the OS keychain, which byokd cannot read now: %v; then try again",
			svc.Title(), names[0], err)}
}
