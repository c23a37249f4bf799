package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
)

var at = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func call(id string, t time.Time, cost byok.Micros) byok.UsageEvent {
	return byok.UsageEvent{ID: id, Time: t, Service: byok.OpenAI, Model: "gpt-x", App: "editor",
		Credential: byok.PersonalKey("work"), Payer: byok.PayerPersonal, Status: 200, Cost: cost, CostKnown: true,
		Latency: 1500 * time.Millisecond, Usage: byok.Usage{Model: "gpt-x", InputTokens: 10, OutputTokens: 5, Requests: 1, Complete: true}}
}

func ids(evs []byok.UsageEvent) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.Member+"/"+e.ID)
	}
	return out
}

// testIngestIdempotent: a batch sent again, or overlapping one stored,
// adds only its new rows; the first copy of an id wins, within a batch
// too; one member's ids never pre-empt another's; every field comes back.
func testIngestIdempotent(t *testing.T, open Open) {
	db := open(t)
	ctx := context.Background()
	a := call("ev-1", at, 100)
	a.Project, a.FallbackReason = "acme", "rate_limited"
	a.Usage.CacheReadTokens, a.Usage.CacheWrite5mTokens, a.Usage.CacheWrite1hTokens = 3, 4, 6
	b := call("ev-2", at.Add(time.Minute), 200)
	b.Usage.Complete, b.CostKnown = false, false
	// Across a month's end: two partitions, where the store has them.
	c := call("ev-3", time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), 300)
	for range 2 {
		if err := db.IngestUsage(ctx, "ann@example.com", "dev-a", []byok.UsageEvent{a, b, c}); err != nil {
			t.Fatal(err)
		}
	}
	changed := a
	changed.Cost = 999
	if err := db.IngestUsage(ctx, "ann@example.com", "dev-a", []byok.UsageEvent{changed, call("ev-4", at, 1), call("ev-4", at, 2)}); err != nil {
		t.Fatal(err)
	}
	if err := db.IngestUsage(ctx, "bob@example.com", "dev-b", []byok.UsageEvent{call("ev-1", at, 7)}); err != nil {
		t.Fatal(err)
	}
	got, err := db.Usage(ctx, hub.UsageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ann@example.com/ev-1", "ann@example.com/ev-4", "bob@example.com/ev-1", "ann@example.com/ev-2", "ann@example.com/ev-3"}, ids(got)); diff != "" {
		t.Fatalf("rows (-want +got):\n%s", diff)
	}
	for _, e := range []*byok.UsageEvent{&a, &b, &c} {
		e.Member = "ann@example.com"
	}
	want := map[string]byok.UsageEvent{"ev-1": a, "ev-2": b, "ev-3": c}
	for _, e := range got {
		if e.Member != "ann@example.com" {
			continue
		}
		if e.ID == "ev-4" {
			if e.Cost != 1 {
				t.Errorf("ev-4 sent twice in one batch: cost %v, want the first copy's 1", e.Cost)
			}
			continue
		}
		if diff := cmp.Diff(want[e.ID], e); diff != "" {
			t.Errorf("row %s as stored (-sent +read):\n%s", e.ID, diff)
		}
	}
	total, err := db.Aggregate(ctx, hub.UsageFilter{From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if len(total) != 1 || total[0].Calls != 5 || total[0].Cost != 100+200+300+1+7 || total[0].UnknownCost != 1 {
		t.Errorf("total of March and April: got %+v, want 5 calls, 608 µ$, 1 unknown", total)
	}
	if err := db.Writable(ctx); err != nil {
		t.Errorf("Writable: %v", err)
	}
}

// testIngestConcurrent: devices of one member, reconnecting, send the
// same and overlapping batches at once (to any replica): every row is
// stored exactly once and the rollups agree with the rows.
func testIngestConcurrent(t *testing.T, open Open) {
	db := open(t)
	ctx := context.Background()
	var evs []byok.UsageEvent
	for i := range 400 {
		// Spread over three months, so that several partitions are
		// made while batches race.
		evs = append(evs, call(fmt.Sprintf("ev-%03d", i), at.AddDate(0, i%3, 0).Add(time.Duration(i)*time.Second), byok.Micros(i)))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Worker w sends windows of 100 starting at different
			// places, in reverse for odd workers.
			for start := (w * 37) % 300; start < 400; start += 100 {
				batch := append([]byok.UsageEvent(nil), evs[start:min(start+100, 400)]...)
				if w%2 == 1 {
					for i, j := 0, len(batch)-1; i < j; i, j = i+1, j-1 {
						batch[i], batch[j] = batch[j], batch[i]
					}
				}
				if err := db.IngestUsage(ctx, "ann@example.com", fmt.Sprintf("dev-%d", w%3), batch); err != nil {
					errs <- err
					return
				}
			}
			if err := db.IngestUsage(ctx, "ann@example.com", "dev-0", evs[:50]); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, err := db.Usage(ctx, hub.UsageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 400 {
		t.Errorf("got %d rows, want 400", len(got))
	}
	g, err := db.Aggregate(ctx, hub.UsageFilter{}, hub.DimMember)
	if err != nil {
		t.Fatal(err)
	}
	if len(g) != 1 || g[0].Calls != 400 || g[0].Cost != 399*400/2 {
		t.Errorf("rollup: got %+v, want 400 calls costing %d", g, 399*400/2)
	}
}

// testRecordRelayed: the hub's row of a relayed call replaces a device's
// copy (keeping the device's fallback reason), whichever came first, and
// a second hub row under the id is byok.ErrExists. HubMetered and
// SharedSpend count only the hub's rows.
func testRecordRelayed(t *testing.T, open Open) {
	db := open(t)
	ctx := context.Background()
	team := func(id string, cost byok.Micros) byok.UsageEvent {
		e := call(id, at, cost)
		e.Member, e.Payer, e.Credential, e.Relayed = "ann@example.com", byok.PayerTeam, byok.TeamKey("shared"), true
		return e
	}
	dev := team("r-1", 50)
	dev.FallbackReason, dev.Time = "insufficient_quota", at.Add(-time.Hour) // the device's clock
	if err := db.IngestUsage(ctx, "ann@example.com", "dev-a", []byok.UsageEvent{dev, team("r-2", 60)}); err != nil {
		t.Fatal(err)
	}
	if err := db.RecordRelayed(ctx, "dev-a", team("r-1", 70)); err != nil {
		t.Fatal(err)
	}
	if err := db.RecordRelayed(ctx, "dev-a", team("r-3", 80)); err != nil {
		t.Fatal(err)
	}
	late := team("r-3", 1)
	late.FallbackReason = "rate_limited"
	if err := db.IngestUsage(ctx, "ann@example.com", "dev-a", []byok.UsageEvent{late}); err != nil {
		t.Fatal(err)
	}
	if err := db.RecordRelayed(ctx, "dev-a", team("r-1", 90)); !errors.Is(err, byok.ErrExists) {
		t.Errorf("a second hub row for r-1: got %v, want byok.ErrExists", err)
	}
	got, err := db.Usage(ctx, hub.UsageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		ID, Reason string
		Cost       byok.Micros
		Time       time.Time
	}
	var rows []row
	for _, e := range got {
		rows = append(rows, row{e.ID, e.FallbackReason, e.Cost, e.Time})
	}
	want := []row{{"r-1", "insufficient_quota", 70, at}, {"r-2", "", 60, at}, {"r-3", "rate_limited", 80, at}}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	m, err := db.HubMetered(ctx, "ann@example.com", []string{"r-1", "r-2", "r-3", "r-4"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]bool{"r-1": true, "r-3": true}, m); diff != "" {
		t.Errorf("HubMetered (-want +got):\n%s", diff)
	}
	if m, err := db.HubMetered(ctx, "bob@example.com", []string{"r-1"}); err != nil || len(m) != 0 {
		t.Errorf("HubMetered for another member: got %v, %v, want none", m, err)
	}
	spent, err := db.SharedSpend(ctx, "ann@example.com", at.Add(-24*time.Hour), at.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if spent != 150 {
		t.Errorf("SharedSpend: got %v, want 150 (the hub's rows only)", spent)
	}
	g, err := db.Aggregate(ctx, hub.UsageFilter{}, hub.DimFallback)
	if err != nil {
		t.Fatal(err)
	}
	want2 := map[string]int64{"insufficient_quota": 70, "": 60, "rate_limited": 80}
	for _, x := range g {
		if want2[x.Keys[0]] != int64(x.Cost) || x.Calls != 1 {
			t.Errorf("rollup group %q: %d calls costing %d, want 1 costing %d", x.Keys[0], x.Calls, x.Cost, want2[x.Keys[0]])
		}
	}
	if len(g) != 3 {
		t.Errorf("rollup groups by fallback reason: got %+v, want 3", g)
	}
}
