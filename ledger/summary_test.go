package ledger

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"byokd.dev/byok"
)

// summaryEvents is a small day of usage with hand-computed totals below.
func summaryEvents() []byok.UsageEvent {
	mk := func(id string, minute int, svc byok.Service, model, app string, payer byok.Payer, cred string,
		in, out, cr, cw5, cw1, req int64, cost byok.Micros, known bool) byok.UsageEvent {
		ref, err := byok.ParseCredentialRef(cred)
		if err != nil {
			panic(err)
		}
		return byok.UsageEvent{
			ID: id, Time: base.Add(time.Duration(minute) * time.Minute), Service: svc, Model: model, App: app,
			Project: "alpha", Credential: ref, Payer: payer, Status: 200,
			Usage: byok.Usage{Model: model, InputTokens: in, OutputTokens: out, CacheReadTokens: cr,
				CacheWrite5mTokens: cw5, CacheWrite1hTokens: cw1, Requests: req, Complete: true},
			Cost: cost, CostKnown: known,
		}
	}
	return []byok.UsageEvent{
		mk("a1", 0, byok.OpenAI, "gpt-4o", "editor", byok.PayerPersonal, "personal/work", 1000, 200, 50, 0, 0, 1, 3_500, true),
		mk("a2", 1, byok.OpenAI, "gpt-4o", "editor", byok.PayerPersonal, "personal/work", 2000, 300, 0, 0, 0, 1, 6_250, true),
		mk("a3", 2, byok.OpenAI, "gpt-4o", "editor", byok.PayerPersonal, "personal/home", 10, 1, 0, 0, 0, 1, 0, false),
		mk("b1", 3, byok.OpenAI, "gpt-4o", "editor", byok.PayerTeam, "team/shared", 500, 100, 0, 0, 0, 1, 1_750, true),
		mk("c1", 4, byok.Anthropic, "claude-sonnet-4", "cli", byok.PayerPersonal, "personal/main", 100, 400, 7000, 300, 200, 1, 9_999, true),
		mk("d1", 5, byok.ClickUp, "", "cli", byok.PayerPersonal, "personal/me", 0, 0, 0, 0, 0, 3, 0, true),
		// Just outside [base, base+1h): must not count.
		mk("early", -1, byok.OpenAI, "gpt-4o", "editor", byok.PayerPersonal, "personal/work", 1, 1, 1, 1, 1, 1, 1_000_000, true),
		mk("late", 60, byok.OpenAI, "gpt-4o", "editor", byok.PayerPersonal, "personal/work", 1, 1, 1, 1, 1, 1, 1_000_000, true),
	}
}

func TestSummary_ExactSums(t *testing.T) {
	ctx := context.Background()
	d, _ := openTemp(t)
	for _, ev := range summaryEvents() {
		if err := d.Record(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	from, to := base, base.Add(time.Hour)

	got, err := d.Summary(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	want := []SummaryRow{
		{Service: byok.Anthropic, Model: "claude-sonnet-4", App: "cli", Project: "alpha", Payer: byok.PayerPersonal,
			Calls: 1, InputTokens: 100, OutputTokens: 400, CacheReadTokens: 7000, CacheWrite5mTokens: 300,
			CacheWrite1hTokens: 200, Requests: 1, Cost: 9_999},
		{Service: byok.ClickUp, Model: "", App: "cli", Project: "alpha", Payer: byok.PayerPersonal,
			Calls: 1, Requests: 3},
		{Service: byok.OpenAI, Model: "gpt-4o", App: "editor", Project: "alpha", Payer: byok.PayerPersonal,
			Calls: 3, InputTokens: 3010, OutputTokens: 501, CacheReadTokens: 50, Requests: 3, Cost: 9_750, UnknownCost: 1},
		{Service: byok.OpenAI, Model: "gpt-4o", App: "editor", Project: "alpha", Payer: byok.PayerTeam,
			Calls: 1, InputTokens: 500, OutputTokens: 100, Requests: 1, Cost: 1_750},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Summary (-want +got):\n%s", diff)
	}

	for _, tt := range []struct {
		payer byok.Payer
		want  byok.Spend
	}{
		{byok.PayerPersonal, byok.Spend{Known: 3_500 + 6_250 + 9_999, Unknown: 1}},
		{byok.PayerTeam, byok.Spend{Known: 1_750}},
		{"nobody", byok.Spend{}},
	} {
		got, err := d.Spend(ctx, from, to, tt.payer)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("Spend(%s): got %v, want %v", tt.payer, got, tt.want)
		}
	}

	evs, err := d.Events(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	var idsInRange []string
	for _, ev := range evs {
		idsInRange = append(idsInRange, ev.ID)
	}
	if diff := cmp.Diff([]string{"a1", "a2", "a3", "b1", "c1", "d1"}, idsInRange); diff != "" {
		t.Errorf("Events in [from, to) (-want +got):\n%s", diff)
	}
}

// TestSummary_LargeSumsStayExact sums amounts whose float64 total would
// round, to show cost is kept in integers end to end.
func TestSummary_LargeSumsStayExact(t *testing.T) {
	ctx := context.Background()
	d, _ := openTemp(t)
	const n = 1000
	var want byok.Micros
	for i := range n {
		ev := event(i)
		ev.Cost = byok.Micros(9_007_199_254_740 + i) // ~ 2^53 / 1000
		want += ev.Cost
		if err := d.Record(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	got, err := d.Spend(ctx, base, base.Add(time.Hour), byok.PayerPersonal)
	if err != nil {
		t.Fatal(err)
	}
	if got != (byok.Spend{Known: want}) {
		t.Errorf("Spend: got %d (%d unknown), want %d", int64(got.Known), got.Unknown, int64(want))
	}
}
