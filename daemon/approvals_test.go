package daemon

import (
	"context"
	"testing"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
	"byokd.dev/byok/routing"
)

// A call nobody answers comes back as unanswered, not declined, and the
// member is told; a standing answer ("for 10 minutes") answers the same
// app's other waiting calls at once, and the next call does not wait.
func TestApprovals_TimeoutAndStandingAnswers(t *testing.T) {
	ev := newEvents(time.Now)
	sub := ev.subscribe(t.Context())
	a := newApprovals(time.Now, 50*time.Millisecond, ev)
	req := control.Approval{Service: byok.OpenAI, App: "editor", Model: "gpt-4o-mini", Choices: []string{"personal", "shared"}}
	if got := a.ask(context.Background(), req); got.Answer != routing.AnswerTimeout {
		t.Fatalf("unanswered: %v, want timeout", got.Answer)
	}
	for e := range sub {
		if e.Kind == control.EventUnanswered {
			if e.Title != "An OpenAI call from editor was not sent" {
				t.Errorf("unanswered notice %q", e.Title)
			}
			break
		}
	}

	a = newApprovals(time.Now, time.Minute, ev)
	answers := make(chan routing.Approval, 3)
	for range 3 {
		go func() { answers <- a.ask(context.Background(), req) }()
	}
	for len(a.list()) < 3 {
		time.Sleep(time.Millisecond)
	}
	if err := a.answer(a.list()[0].ID, control.Answer{Answer: "personal", Minutes: 10}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if got := <-answers; got.Answer != routing.AnswerPersonal {
			t.Errorf("a waiting call of the app got %v, want the standing answer", got.Answer)
		}
	}
	if s := a.standingFor(byok.OpenAI, "editor"); s == nil || s.Answer != routing.AnswerPersonal {
		t.Errorf("standing answer %+v", s)
	}
	if n := len(a.list()); n != 0 {
		t.Errorf("%d calls still wait", n)
	}
}
