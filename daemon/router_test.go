package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
	"byokd.dev/byok/internal/testclock"
	"byokd.dev/byok/ledger"
	"byokd.dev/byok/metering"
	"byokd.dev/byok/routing"
	"byokd.dev/byok/upstream"
)

// fakeKeys is the keyring as the router sees it: keys already read.
type fakeKeys struct {
	keys   map[byok.Service][]personalKey
	locked []string
}

func (k fakeKeys) personal(svc byok.Service) []personalKey { return k.keys[svc] }
func (k fakeKeys) unreadable(byok.Service) ([]string, error) {
	if len(k.locked) == 0 {
		return nil, nil
	}
	return k.locked, errors.New("the keychain is locked")
}
func (fakeKeys) retryLocked(context.Context, time.Time) {}

// askedApprovals answers every prompt with answer and counts the prompts.
type askedApprovals struct {
	answer routing.Answer
	mu     sync.Mutex
	asked  []control.Approval
}

func (*askedApprovals) standingFor(byok.Service, string) *routing.Approval { return nil }
func (a *askedApprovals) ask(_ context.Context, req control.Approval) routing.Approval {
	a.mu.Lock()
	a.asked = append(a.asked, req)
	a.mu.Unlock()
	return routing.Approval{Service: req.Service, Answer: a.answer}
}

type eventLog chan control.Event

// publish keeps the events a person is told of; EventUsage, which only
// tells fronts to redraw, is left out.
func (e eventLog) publish(ev control.Event) {
	if ev.Kind != control.EventUsage {
		e <- ev
	}
}

// next is the next event; a missing one fails the test instead of hanging
// it.
func (e eventLog) next(t *testing.T) control.Event {
	t.Helper()
	select {
	case ev := <-e:
		return ev
	case <-time.After(30 * time.Second):
		t.Fatal("no event was published")
		return control.Event{}
	}
}

// routerCase is one member's setup and the call they make.
type routerCase struct {
	name    string
	pref    ledger.Pref
	keys    []byok.KeyInfo
	locked  []string
	spent   byok.Micros   // already spent this month on the first key
	back    time.Duration // the clock is then set back by this much
	hub     bool
	policy  byok.Policy
	paused  bool
	answer  routing.Answer
	want    []string // the credentials tried, in order
	refusal string   // or the refusal code
	status  int
	asked   int // approval prompts shown
}

func TestRouter_Plan(t *testing.T) {
	work := byok.KeyInfo{Service: byok.OpenAI, Name: "work", Primary: true}
	budgeted := work
	budgeted.Budget = byok.Micros(1_000_000)
	second := byok.KeyInfo{Service: byok.OpenAI, Name: "spare"}
	shared := byok.Policy{SharedServices: []byok.Service{byok.OpenAI}, AllowFallback: true}
	for _, c := range []routerCase{
		{name: "personal key, personal preference", pref: ledger.Pref{Preference: byok.PreferPersonal},
			keys: []byok.KeyInfo{work}, want: []string{"personal/work"}},
		{name: "primary first, then the other personal key", pref: ledger.Pref{Preference: byok.PreferPersonal},
			keys: []byok.KeyInfo{work, second}, want: []string{"personal/work", "personal/spare"}},
		{name: "fallback to the team key where the policy allows it", pref: ledger.Pref{Preference: byok.PreferPersonal, Fallback: true},
			keys: []byok.KeyInfo{work}, hub: true, policy: shared, want: []string{"personal/work", "team/openai"}},
		{name: "fallback chosen but the policy forbids it", pref: ledger.Pref{Preference: byok.PreferPersonal, Fallback: true},
			keys: []byok.KeyInfo{work}, hub: true, policy: byok.Policy{SharedServices: []byok.Service{byok.OpenAI}}, want: []string{"personal/work"}},
		{name: "shared preference through the hub", pref: ledger.Pref{Preference: byok.PreferShared},
			hub: true, policy: shared, want: []string{"team/openai"}},
		{name: "shared preference, no hub joined", pref: ledger.Pref{Preference: byok.PreferShared},
			policy: shared, refusal: routing.CodeNoHub, status: 403},
		{name: "no key and no shared service", pref: ledger.Pref{Preference: byok.PreferPersonal},
			hub: true, refusal: routing.CodeNoKey, status: 403},
		{name: "paused", pref: ledger.Pref{Preference: byok.PreferPersonal}, keys: []byok.KeyInfo{work}, paused: true,
			refusal: "proxy_paused", status: 503},
		{name: "a locked keychain is named, not \"add a key\"", pref: ledger.Pref{Preference: byok.PreferPersonal},
			locked: []string{"work"}, hub: true, policy: shared, refusal: "keychain_locked", status: 503},
		{name: "over budget, block", pref: ledger.Pref{Preference: byok.PreferPersonal, OverBudget: "block"},
			keys: []byok.KeyInfo{budgeted}, spent: budgeted.Budget, refusal: routing.CodeBudgetBlocked, status: 402},
		{name: "over budget, shared takes over", pref: ledger.Pref{Preference: byok.PreferPersonal, OverBudget: "shared"},
			keys: []byok.KeyInfo{budgeted}, spent: budgeted.Budget, hub: true, policy: shared, want: []string{"team/openai"}},
		{name: "over budget, block, and the clock set back into last month", pref: ledger.Pref{Preference: byok.PreferPersonal, OverBudget: "block"},
			keys: []byok.KeyInfo{budgeted}, spent: budgeted.Budget, back: 20 * 24 * time.Hour, refusal: routing.CodeBudgetBlocked, status: 402},
		{name: "under budget, block", pref: ledger.Pref{Preference: byok.PreferPersonal, OverBudget: "block"},
			keys: []byok.KeyInfo{budgeted}, spent: budgeted.Budget / 2, want: []string{"personal/work"}},
		{name: "ask each time, answered personal", pref: ledger.Pref{Preference: byok.PreferAsk},
			keys: []byok.KeyInfo{work}, hub: true, policy: shared, answer: routing.AnswerPersonal, want: []string{"personal/work"}, asked: 1},
		{name: "ask each time, answered shared", pref: ledger.Pref{Preference: byok.PreferAsk},
			keys: []byok.KeyInfo{work}, hub: true, policy: shared, answer: routing.AnswerShared, want: []string{"team/openai"}, asked: 1},
		{name: "ask each time, declined", pref: ledger.Pref{Preference: byok.PreferAsk},
			keys: []byok.KeyInfo{work}, hub: true, policy: shared, answer: routing.AnswerDeny, refusal: routing.CodeDenied, status: 403, asked: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, appr, _ := newTestRouter(t, c)
			call := &upstream.Call{Service: byok.OpenAI, Path: "/v1/chat/completions",
				Meter: metering.Call{Service: byok.OpenAI, Path: "/v1/chat/completions", Model: "gpt-4o-mini", MaxTokens: 100},
				Row:   byok.UsageEvent{ID: "call-1", App: "editor"}}
			creds, err := r.Plan(context.Background(), call)
			if len(appr.asked) != c.asked {
				t.Errorf("%d approval prompts, want %d", len(appr.asked), c.asked)
			}
			if c.refusal != "" {
				var ref *byok.Refusal
				if !errors.As(err, &ref) || ref.Code != c.refusal || ref.Status != c.status {
					t.Fatalf("Plan: %v %v, want refusal %s (%d)", creds, err, c.refusal, c.status)
				}
				return
			}
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			var got []string
			for _, cr := range creds {
				got = append(got, cr.Ref.String())
				if cr.Ref.Payer == byok.PayerTeam && (cr.Relay == nil || cr.Relay.String() != "https://hub.example/relay/openai") {
					t.Errorf("team credential relays to %v, want the hub's relay", cr.Relay)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("credentials %v, want %v", got, c.want)
			}
		})
	}
}

// TestRouter_Record: a row is in the ledger before Record returns. Calls
// the team pays while the member's key is skipped are one spell, told
// when it begins and when a personal key pays again, with what the team
// paid; each budget threshold crossed is told once, on its own, even when
// one call crosses two.
func TestRouter_Record(t *testing.T) {
	key := byok.KeyInfo{Service: byok.OpenAI, Name: "work", Primary: true, Budget: 1_000_000}
	r, _, events := newTestRouter(t, routerCase{keys: []byok.KeyInfo{key}})
	now := r.now()
	rec := func(id string, ev byok.UsageEvent) {
		t.Helper()
		ev.ID, ev.Service, ev.Time, ev.Status, ev.CostKnown = id, byok.OpenAI, now, 200, true
		if err := r.Record(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	team := byok.UsageEvent{Payer: byok.PayerTeam, Credential: byok.TeamKey("team-openai"), App: "editor", Cost: 10}
	team.FallbackReason = "over quota"
	rec("team-1", team)
	if ev := events.next(t); ev.Kind != control.EventFallback || ev.Title != "The team is paying for your OpenAI calls" ||
		!strings.Contains(ev.Body, "could not pay (over quota)") {
		t.Errorf("after the first fallback row: %+v, want the spell's first notice", ev)
	}
	team.FallbackReason = "cooling down: over quota"
	rec("team-2", team)
	rec("team-3", team)
	if len(events) != 0 {
		t.Errorf("the spell's later calls raised %d more events, want none", len(events))
	}
	if spells := r.episodes.list(); len(spells) != 1 || spells[0].Calls != 3 || spells[0].Cost.Known != 30 {
		t.Errorf("team-paying spells %+v, want OpenAI's with 3 calls, 30 micro-dollars", spells)
	}

	rec("p-1", byok.UsageEvent{Payer: byok.PayerPersonal, Credential: key.Ref(), Cost: 850_000})
	if ev := events.next(t); ev.Title != "Your OpenAI key pays again" || !strings.Contains(ev.Body, "The team paid for 3 calls ($0.00003)") {
		t.Errorf("when the personal key paid again: %+v, want the spell's end with its count", ev)
	}
	for _, want := range []string{`Your OpenAI key "work" is at 50% of its monthly budget`, `Your OpenAI key "work" is at 80% of its monthly budget`} {
		if ev := events.next(t); ev.Kind != control.EventBudget || ev.Title != want {
			t.Errorf("after 85%% of the budget: %+v, want %q", ev, want)
		}
	}
	if len(r.episodes.list()) != 0 {
		t.Error("the spell is still listed after the personal key paid")
	}
	rec("p-2", byok.UsageEvent{Payer: byok.PayerPersonal, Credential: key.Ref(), Cost: 10_000})
	rows, err := r.ledger.(*ledger.DB).Events(context.Background(), now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil || len(rows) != 5 {
		t.Fatalf("ledger holds %d rows (%v), want the 5 recorded", len(rows), err)
	}
	// Neither earlier alert is repeated: the next event is the 100% one.
	rec("p-3", byok.UsageEvent{Payer: byok.PayerPersonal, Credential: key.Ref(), Cost: 200_000})
	if ev := events.next(t); ev.Title != `Your OpenAI key "work" has used its monthly budget` || !strings.Contains(ev.Body, "$1.06 of $1.00 spent this month. Its calls go on") {
		t.Errorf("after 106%% of the budget: %+v, want the 100%% alert and no repeat", ev)
	}
}

// newTestRouter is a router on a real ledger in a temporary folder.
func newTestRouter(t *testing.T, c routerCase) (*router, *askedApprovals, eventLog) {
	t.Helper()
	clock := testclock.New(time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC))
	ctx := context.Background()
	db, err := ledger.Open(ctx, filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if c.pref.Preference != "" {
		if err := db.SetPref(ctx, byok.OpenAI, c.pref); err != nil {
			t.Fatal(err)
		}
	}
	keys := fakeKeys{keys: map[byok.Service][]personalKey{}, locked: c.locked}
	for _, k := range c.keys {
		keys.keys[k.Service] = append(keys.keys[k.Service], personalKey{info: k,
			cred: upstream.Credential{Ref: k.Ref(), Secret: byok.NewSecret("sk-" + k.Name)}})
	}
	if c.spent > 0 {
		err := db.Record(ctx, byok.UsageEvent{ID: "earlier", Service: byok.OpenAI, Time: clock.Now().Add(-time.Hour),
			Payer: byok.PayerPersonal, Credential: c.keys[0].Ref(), Cost: c.spent, CostKnown: true, Status: 200})
		if err != nil {
			t.Fatal(err)
		}
	}
	clock.Add(-c.back)
	var link *hubLink
	if c.hub {
		u, _ := url.Parse("https://hub.example")
		link = &hubLink{url: u, device: byok.NewSecret("byokd_dev_test")}
	}
	appr := &askedApprovals{answer: c.answer}
	events := make(eventLog, 10)
	r := newRouter(routerDeps{
		ledger: db, keys: keys, approvals: appr, events: events,
		hub:    func() (*hubLink, byok.Policy) { return link, c.policy },
		paused: func() bool { return c.paused }, wake: func() {},
		prices: metering.NewBook(metering.DefaultPrices()), now: clock.Now, log: slog.New(slog.DiscardHandler),
	})
	if err := r.loadPrefs(ctx); err != nil {
		t.Fatal(err)
	}
	return r, appr, events
}

// Fronts that show spend hear of new rows at most once a second: a burst
// of calls is one redraw.
func TestRouter_SpendEventsAtMostOnceASecond(t *testing.T) {
	clock := testclock.New(time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC))
	var said int
	r := &router{routerDeps: routerDeps{now: clock.Now, events: countUsage{&said}}}
	for range 5 {
		r.saySpend()
	}
	clock.Add(time.Second)
	r.saySpend()
	r.saySpend()
	if said != 2 {
		t.Errorf("%d spend events for two bursts a second apart, want 2", said)
	}
}

type countUsage struct{ n *int }

func (c countUsage) publish(ev control.Event) {
	if ev.Kind == control.EventUsage {
		*c.n++
	}
}
