package notify

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
)

func TestCoalescer(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	fb := func(svc byok.Service, body string) control.Event {
		return control.Event{Kind: control.EventFallback, Service: svc, Title: "Team key used for " + svc.Title(), Body: body}
	}
	c := NewCoalescer(time.Minute)

	steps := []struct {
		name string
		ev   control.Event
		at   int
		want bool
	}{
		{"first fallback shows", fb(byok.OpenAI, "a"), 0, true},
		{"same kind and service within the minute is counted", fb(byok.OpenAI, "b"), 10, false},
		{"and again", fb(byok.OpenAI, "c"), 50, false},
		{"another service shows", fb(byok.Anthropic, "d"), 20, true},
		{"another kind shows", control.Event{Kind: control.EventBudget, Service: byok.OpenAI, Title: "50%"}, 30, true},
	}
	for _, s := range steps {
		if got := c.Add(s.ev, at(s.at)); got != s.want {
			t.Errorf("%s: got %v, want %v", s.name, got, s.want)
		}
	}
	if next, ok := c.Next(); !ok || !next.Equal(at(60)) {
		t.Errorf("Next: got %v %v, want the end of OpenAI's minute, %v", next, ok, at(60))
	}
	if got := c.Due(at(59)); len(got) != 0 {
		t.Errorf("before the minute ends: got %v, want no summary", got)
	}
	want := []control.Event{{Kind: control.EventFallback, Service: byok.OpenAI, Title: "Team key used for OpenAI",
		Body: "c (2 more like this since 10:00.)"}}
	if diff := cmp.Diff(want, c.Due(at(60))); diff != "" {
		t.Errorf("summary at the end of the minute (-want +got):\n%s", diff)
	}
	// The summary was that minute's notification: the next event within a
	// minute of it is counted, not shown.
	if c.Add(fb(byok.OpenAI, "e"), at(90)) {
		t.Error("an event 30 s after the summary was shown")
	}
	if got := c.Due(at(119)); len(got) != 0 {
		t.Errorf("Due at 119 s: got %v, want nothing", got)
	}
	if got := c.Due(at(120)); len(got) != 1 || got[0].Body != "e (1 more like this since 10:01.)" {
		t.Errorf("second summary: got %v", got)
	}
	if next, ok := c.Next(); ok {
		t.Errorf("Next after every summary was given: got %v, want none (no timer while nothing waits)", next)
	}
	// A quiet minute later, the group is forgotten and the next event shows.
	if got := c.Due(at(181)); len(got) != 0 {
		t.Errorf("quiet minute: got %v, want nothing", got)
	}
	if !c.Add(fb(byok.OpenAI, "f"), at(200)) {
		t.Error("the first event after a quiet minute was not shown")
	}
}

// TestNotifier_SummaryComesWhenTheWindowEnds follows a real event stream:
// the first of a burst shows at once, the rest as one summary when the
// window ends, from the timer the notifier sets only while one waits.
func TestNotifier_SummaryComesWhenTheWindowEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan control.Event)
	posts := make(chan string, 10)
	n := New(Config{Poster: posterFunc(func(title, body string, _ func()) error {
		posts <- body
		return nil
	}), Window: 300 * time.Millisecond})
	go n.Run(ctx, streamBackend{events})
	for _, body := range []string{"a", "b", "c"} {
		events <- control.Event{Kind: control.EventKey, Service: byok.OpenAI, Title: "Key", Body: body}
	}
	want := []string{"a", "c (2 more like this since "}
	for _, w := range want {
		select {
		case got := <-posts:
			if !strings.HasPrefix(got, w) {
				t.Fatalf("notification %q, want one starting %q", got, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no notification %q within 10 s", w)
		}
	}
}

type posterFunc func(title, body string, clicked func()) error

func (f posterFunc) Post(title, body string, clicked func()) error { return f(title, body, clicked) }

// streamBackend serves one event stream; the notifier asks nothing else.
type streamBackend struct{ ch chan control.Event }

func (b streamBackend) Subscribe(context.Context) (<-chan control.Event, error) { return b.ch, nil }
func (streamBackend) Approvals(context.Context) ([]control.Approval, error)     { return nil, nil }
func (streamBackend) Answer(context.Context, string, control.Answer) error      { return nil }
func (streamBackend) LoginURL(context.Context) (control.Login, error) {
	return control.Login{}, errors.New("no page in this test")
}
