package pgstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
	"byokd.dev/byok/internal/pgtest"
)

// batch is n calls of 20 members over March 2026, ids from seq on.
func batch(r *rand.Rand, seq, n int) []byok.UsageEvent {
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	evs := make([]byok.UsageEvent, n)
	for i := range evs {
		evs[i] = byok.UsageEvent{ID: fmt.Sprintf("ev-%09d", seq+i), Time: at.Add(time.Duration(r.Int64N(int64(30 * 24 * time.Hour)))),
			Service: byok.Services()[r.IntN(3)], Model: []string{"a", "b", "c"}[r.IntN(3)], Project: []string{"acme", "globex", ""}[r.IntN(3)],
			Credential: byok.PersonalKey("work"), Payer: byok.PayerPersonal, Status: 200, Cost: byok.Micros(r.IntN(5000)), CostKnown: true,
			Usage: byok.Usage{InputTokens: int64(r.IntN(900)), OutputTokens: int64(r.IntN(90)), Requests: 1, Complete: true}}
	}
	return evs
}

// BenchmarkIngest stores batches of 500 new rows (the daemon's batch
// size order), one member's each.
func BenchmarkIngest(b *testing.B) {
	db := open(b, pgtest.URL(b))
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := db.IngestUsage(ctx, fmt.Sprintf("m%02d@example.com", i%20), "dev", batch(r, i*500, 500)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*500)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkAggregate reads the admin view's month report over 200,000
// rows: from the monthly rollup, and from the rows (a filter the
// rollups cannot answer).
func BenchmarkAggregate(b *testing.B) {
	db := open(b, pgtest.URL(b))
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 400 {
		if err := db.IngestUsage(ctx, fmt.Sprintf("m%02d@example.com", i%20), "dev", batch(r, i*500, 500)); err != nil {
			b.Fatal(err)
		}
	}
	mar, apr := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		f    hub.UsageFilter
	}{{"rollup", hub.UsageFilter{From: mar, To: apr}}, {"rows", hub.UsageFilter{From: mar.Add(time.Hour), To: apr}}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := db.Aggregate(ctx, c.f, hub.DimMember, hub.DimService, hub.DimPayer, hub.DimProject); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("audit-page", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.Audit(ctx, hub.UsageFilter{Member: "m07@example.com"}, hub.Cursor{}, 50); err != nil {
				b.Fatal(err)
			}
		}
	})
}
