package storetest

import (
	"context"
	"testing"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
)

// testReserveShared: holds count against the
// cap while calls are in flight, are capped at what is left, go when the
// call's row is recorded, when released, or when they expire.
func testReserveShared(t *testing.T, open Open) {
	db := open(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	hold := func(id string, at time.Time) (byok.Micros, bool) {
		t.Helper()
		used, ok, err := db.ReserveShared(ctx, hub.CapHold{Member: "ann@example.com", ID: id, From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
			To: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), Cap: 100, Amount: 40, Now: at, Expires: at.Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		return used, ok
	}
	for _, c := range []struct {
		id   string
		used byok.Micros
		ok   bool
	}{{"c1", 0, true}, {"c2", 40, true}, {"c3", 80, true}, {"c4", 100, false}} { // c3 holds the 20 left
		if used, ok := hold(c.id, now); used != c.used || ok != c.ok {
			t.Errorf("hold %s: got %d, %v, want %d, %v", c.id, used, ok, c.used, c.ok)
		}
	}
	// c1 is recorded at a cost of 30: its hold of 40 goes, its 30 counts.
	ev := byok.UsageEvent{ID: "c1", Member: "ann@example.com", Time: now, Service: byok.OpenAI, Payer: byok.PayerTeam,
		Credential: byok.TeamKey("t"), Relayed: true, Cost: 30, CostKnown: true}
	if err := db.RecordRelayed(ctx, "dev", ev); err != nil {
		t.Fatal(err)
	}
	if used, ok := hold("c5", now); used != 90 || !ok {
		t.Errorf("after c1's row: got %d, %v, want 90 used and a hold of the 10 left", used, ok)
	}
	if err := db.ReleaseShared(ctx, "ann@example.com", "c2"); err != nil {
		t.Fatal(err)
	}
	if used, ok := hold("c6", now); used != 60 || !ok {
		t.Errorf("after c2's release: got %d, %v, want 60", used, ok)
	}
	// A minute on, every hold has expired (their hub died): only the row counts.
	if used, ok := hold("c7", now.Add(2*time.Minute)); used != 30 || !ok {
		t.Errorf("after the holds expired: got %d, %v, want 30", used, ok)
	}
}
