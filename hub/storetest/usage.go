package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
)

// usageFixture stores calls of three members around a month's end, then
// replaces device copies with the hub's rows of relayed calls (both
// orders), the way sync and the relay do.
func usageFixture(t *testing.T, open Open) hub.Store {
	t.Helper()
	ctx := context.Background()
	db := open(t)
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 1, 29, 0, 0, 0, 0, time.UTC)
	members := []string{"ann@example.com", "bob@example.com", "cy@example.com"}
	for mi, m := range members {
		var evs, relayed []byok.UsageEvent
		for i := range 300 {
			e := byok.UsageEvent{ID: fmt.Sprintf("ev-%d-%03d", mi, i), Time: start.Add(time.Duration(r.Int64N(int64(6 * 24 * time.Hour)))),
				Service: byok.Services()[r.IntN(3)], Model: []string{"a", "b"}[r.IntN(2)], App: "editor",
				Project: []string{"acme", "", "globex"}[r.IntN(3)], Credential: byok.PersonalKey("work"), Payer: byok.PayerPersonal,
				Status: 200, Cost: byok.Micros(r.IntN(5000)), CostKnown: r.IntN(10) > 0, Usage: byok.Usage{InputTokens: int64(r.IntN(900)), OutputTokens: int64(r.IntN(90)),
					CacheWrite1hTokens: int64(r.IntN(9)), Requests: 1, Complete: true}}
			if i%4 == 0 {
				e.Payer, e.Credential, e.Relayed = byok.PayerTeam, byok.TeamKey("shared"), true
				if i%8 == 0 {
					e.FallbackReason = "insufficient_quota"
				}
				relayed = append(relayed, e)
			}
			evs = append(evs, e)
		}
		hubRow := func(e byok.UsageEvent) {
			e.Member, e.FallbackReason, e.Cost = m, "", e.Cost+7 // the hub's own metering differs
			if err := db.RecordRelayed(ctx, "dev-"+m, e); err != nil {
				t.Fatal(err)
			}
		}
		// Half the relayed calls reach the hub's store before the device's
		// copy, half after.
		for _, e := range relayed[:len(relayed)/2] {
			hubRow(e)
		}
		if err := db.IngestUsage(ctx, m, "dev-"+m, evs); err != nil {
			t.Fatal(err)
		}
		for _, e := range relayed[len(relayed)/2:] {
			hubRow(e)
		}
	}
	return db
}

// sumRows is Aggregate done by hand over the rows Usage returns.
func sumRows(evs []byok.UsageEvent, by []hub.Dim) map[string]hub.Group {
	out := map[string]hub.Group{}
	for _, e := range evs {
		var keys []string
		for _, d := range by {
			keys = append(keys, map[hub.Dim]string{hub.DimMember: e.Member, hub.DimService: string(e.Service), hub.DimModel: e.Model,
				hub.DimPayer: string(e.Payer), hub.DimProject: e.Project, hub.DimCredential: e.Credential.String(),
				hub.DimFallback: e.FallbackReason, hub.DimDay: e.Time.UTC().Format("2006-01-02")}[d])
		}
		k := strings.Join(keys, "|")
		g := out[k]
		g.Keys = keys
		g.Calls++
		g.Cost += e.Cost
		if !e.CostKnown {
			g.UnknownCost++
		}
		g.InputTokens += e.Usage.InputTokens
		g.OutputTokens += e.Usage.OutputTokens
		g.CacheReadTokens += e.Usage.CacheReadTokens
		g.CacheWriteTokens += e.Usage.CacheWriteTokens()
		g.Requests += e.Usage.Requests
		out[k] = g
	}
	return out
}

// testAggregateRollupsEqualRows: whichever table answers (each rollup
// in sqlstore.Rollups, or the rows: sqlstore's TestPick says which
// answers each case), Aggregate's sums are the rows' sums, after
// device copies were replaced and fallback reasons merged.
func testAggregateRollupsEqualRows(t *testing.T, open Open) {
	db := usageFixture(t, open)
	ctx := context.Background()
	jan, feb, mar := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		f     hub.UsageFilter
		by    []hub.Dim
		table string // the one that answers
	}{
		{hub.UsageFilter{From: jan, To: mar}, nil, "usage_day_total"},
		{hub.UsageFilter{From: jan, To: mar}, []hub.Dim{hub.DimDay, hub.DimPayer}, "usage_day_total"},
		{hub.UsageFilter{From: jan, To: mar, Member: "bob@example.com"}, []hub.Dim{hub.DimModel}, "usage_month_member"},
		{hub.UsageFilter{From: jan, To: feb, Payer: byok.PayerTeam}, []hub.Dim{hub.DimMember, hub.DimService}, "usage_month_member"},
		{hub.UsageFilter{From: feb, To: mar}, []hub.Dim{hub.DimMember, hub.DimService, hub.DimPayer, hub.DimProject}, "usage_month"},
		{hub.UsageFilter{From: jan, To: feb, Payer: byok.PayerTeam}, []hub.Dim{hub.DimCredential, hub.DimMember, hub.DimFallback}, "usage_month"},
		{hub.UsageFilter{From: jan, To: mar, Fallback: true}, []hub.Dim{hub.DimMember, hub.DimFallback}, "usage_month"},
		{hub.UsageFilter{From: feb.AddDate(0, 0, -1), To: feb.AddDate(0, 0, 2), Member: "ann@example.com"}, []hub.Dim{hub.DimDay, hub.DimService}, "usage_day"},
		{hub.UsageFilter{From: jan, To: mar, Project: "acme"}, []hub.Dim{hub.DimDay}, "usage"},
		{hub.UsageFilter{From: feb.Add(time.Hour), To: mar}, []hub.Dim{hub.DimPayer}, "usage"},
	} {
		if src, ok := db.(interface {
			SourceOf(hub.UsageFilter, ...hub.Dim) string
		}); ok && src.SourceOf(c.f, c.by...) != c.table {
			t.Errorf("Aggregate(%+v, %v) reads %s, want %s", c.f, c.by, src.SourceOf(c.f, c.by...), c.table)
		}
		got, err := db.Aggregate(ctx, c.f, c.by...)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := db.Usage(ctx, c.f)
		if err != nil {
			t.Fatal(err)
		}
		want := sumRows(evs, c.by)
		gotM := map[string]hub.Group{}
		for _, g := range got {
			gotM[strings.Join(g.Keys, "|")] = g
		}
		if diff := cmp.Diff(want, gotM, cmp.Transformer("keys", func(k []string) string { return strings.Join(k, "|") })); diff != "" {
			t.Errorf("Aggregate(%+v, %v) differs from the rows' sums (-want +got):\n%s", c.f, c.by, diff)
		}
		if !slices.IsSortedFunc(got, func(a, b hub.Group) int { return int(b.Cost - a.Cost) }) {
			t.Errorf("Aggregate(%+v, %v): not largest cost first", c.f, c.by)
		}
	}
	// The fallback reasons of relayed calls survive whichever copy came first.
	fb, err := db.Aggregate(ctx, hub.UsageFilter{Fallback: true, Payer: byok.PayerTeam})
	if err != nil {
		t.Fatal(err)
	}
	if len(fb) != 1 || fb[0].Calls != 3*38 {
		t.Errorf("relayed calls with a fallback reason: got %+v, want %d calls", fb, 3*38)
	}
}

// testAuditKeysetPages walks the audit log page by page with the cursor
// and finds every selected row once, newest first.
func testAuditKeysetPages(t *testing.T, open Open) {
	db := usageFixture(t, open)
	ctx := context.Background()
	for _, f := range []hub.UsageFilter{{}, {Member: "cy@example.com", Service: byok.OpenAI}, {Fallback: true}} {
		all, err := db.Usage(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		slices.Reverse(all)
		var got []byok.UsageEvent
		var cur hub.Cursor
		for {
			page, err := db.Audit(ctx, f, cur, 37)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page...)
			if len(page) < 37 {
				break
			}
			last := page[len(page)-1]
			cur = hub.Cursor{Time: last.Time, Member: last.Member, ID: last.ID}
		}
		if len(all) == 0 {
			t.Fatalf("filter %+v selects nothing: the fixture is wrong", f)
		}
		if diff := cmp.Diff(all, got); diff != "" {
			t.Errorf("audit pages of %+v (-want +got):\n%s", f, diff)
		}
		// And back up from the oldest row with Newer cursors: each page
		// newest first, the rows just newer than the cursor.
		var back []byok.UsageEvent
		cur = hub.Cursor{Time: all[len(all)-1].Time, Member: all[len(all)-1].Member, ID: all[len(all)-1].ID, Newer: true}
		for {
			page, err := db.Audit(ctx, f, cur, 37)
			if err != nil {
				t.Fatal(err)
			}
			back = append(page, back...)
			if len(page) < 37 {
				break
			}
			first := page[0]
			cur = hub.Cursor{Time: first.Time, Member: first.Member, ID: first.ID, Newer: true}
		}
		if diff := cmp.Diff(all[:len(all)-1], back); diff != "" {
			t.Errorf("audit pages of %+v going newer (-want +got):\n%s", f, diff)
		}
	}
}
