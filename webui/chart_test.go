package webui

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"byokd.dev/byok"
)

func TestSummarize(t *testing.T) {
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 1, 0)
	at := func(day, hour int) time.Time { return time.Date(2026, 3, day, hour, 0, 0, 0, time.UTC) }
	ev := []byok.UsageEvent{
		{Time: at(2, 9), Service: byok.OpenAI, Payer: byok.PayerPersonal, Cost: byok.USD(1.50), CostKnown: true},
		{Time: at(2, 17), Service: byok.OpenAI, Payer: byok.PayerTeam, Cost: byok.USD(0.50), CostKnown: true},
		{Time: at(15, 11), Service: byok.Anthropic, Payer: byok.PayerPersonal, Cost: byok.USD(4), CostKnown: true},
		{Time: at(31, 23), Service: byok.ClickUp, Payer: byok.PayerPersonal, CostKnown: true},
		{Time: at(31, 23), Service: byok.Anthropic, Payer: byok.PayerPersonal}, // a model without a price
	}
	usd := func(d float64) byok.Spend { return byok.Spend{Known: byok.USD(d)} }
	d := summarize(ev, from, to)
	if d.Personal != (byok.Spend{Known: byok.USD(5.50), Unknown: 1}) || d.Team != usd(0.50) || d.Calls != 5 {
		t.Errorf("totals: got %s, %s, %d calls, want $5.50 + 1 unknown, $0.50, 5 calls", d.Personal, d.Team, d.Calls)
	}
	if len(d.Days) != 31 {
		t.Fatalf("days: got %d, want 31", len(d.Days))
	}
	type row struct {
		Day            int
		Personal, Team byok.Spend
		Calls          int
	}
	var got []row
	for _, r := range d.ActiveDays {
		got = append(got, row{r.Day, r.Personal, r.Team, r.Calls})
	}
	want := []row{{2, usd(1.5), usd(0.5), 2}, {15, usd(4), usd(0), 1}, {31, byok.Spend{Unknown: 1}, usd(0), 2}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("days with calls (-want +got):\n%s", diff)
	}
	// The busiest day fills the plot; bars stack team on personal.
	day15, day2 := d.Days[14], d.Days[1]
	if day15.PH != chartH || day15.PY != chartTop {
		t.Errorf("day 15 bar: got height %d at %d, want %d at %d", day15.PH, day15.PY, chartH, chartTop)
	}
	if day2.PH != chartH*3/8 || day2.TH != chartH/8 || day2.TY != day2.PY-day2.TH {
		t.Errorf("day 2 bars: got personal %d, team %d at %d, want %d and %d stacked", day2.PH, day2.TH, day2.TY, chartH*3/8, chartH/8)
	}
	var svcs []row
	for _, s := range d.Services {
		svcs = append(svcs, row{Personal: s.Personal, Team: s.Team, Calls: s.Calls})
	}
	wantSvcs := []row{{0, usd(1.5), usd(0.5), 2}, {0, byok.Spend{Known: byok.USD(4), Unknown: 1}, usd(0), 2}, {0, usd(0), usd(0), 1}}
	if diff := cmp.Diff(wantSvcs, svcs); diff != "" {
		t.Errorf("by service (-want +got):\n%s", diff)
	}
}
