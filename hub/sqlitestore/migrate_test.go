package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
	"byokd.dev/byok/hub/sqlstore"
)

// TestMigrate_SmallRollupsFilledFromTheOld: a hub database from before
// migration 0006, with a month of calls, opens with the smaller rollups
// already holding those calls: the overview read from them equals the
// sums of the rows.
func TestMigrate_SmallRollupsFilledFromTheOld(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hub.db")
	old, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	all, err := sqlstore.Pending(migrationFS, 0)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(all, func(m sqlstore.Migration) bool { return m.Name == "0006_small_rollups.sql" })
	for _, m := range all[:i] {
		if _, err := old.ExecContext(ctx, m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := old.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.Version)); err != nil {
			t.Fatal(err)
		}
	}
	feb := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	for n := range 300 {
		e := byok.UsageEvent{ID: fmt.Sprintf("ev-%03d", n), Time: feb.Add(time.Duration(n*97+1) * time.Minute),
			Service: []byok.Service{byok.OpenAI, byok.Anthropic}[n%2], Model: []string{"a", "b", "c"}[n%3],
			Payer: []byok.Payer{byok.PayerPersonal, byok.PayerTeam}[n%5/4], Credential: byok.PersonalKey("work"),
			Status: 200, Cost: byok.Micros(n), CostKnown: n%7 != 0}
		member := []string{"ann@example.com", "bob@example.com"}[n%2]
		if _, err := old.ExecContext(ctx, sqlstore.UsageInsert, sqlstore.UsageArgs(member, "dev-"+member, "device", e)...); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mar := feb.AddDate(0, 1, 0)
	for _, c := range []struct {
		f     hub.UsageFilter
		by    []hub.Dim
		table string
	}{
		{hub.UsageFilter{From: feb, To: mar}, []hub.Dim{hub.DimDay, hub.DimPayer}, "usage_day_total"},
		{hub.UsageFilter{From: feb, To: mar}, []hub.Dim{hub.DimService, hub.DimPayer}, "usage_day_total"},
		{hub.UsageFilter{From: feb, To: mar}, []hub.Dim{hub.DimService, hub.DimModel}, "usage_month_member"},
		{hub.UsageFilter{From: feb, To: mar, Member: "bob@example.com"}, []hub.Dim{hub.DimModel, hub.DimPayer}, "usage_month_member"},
	} {
		if got := db.SourceOf(c.f, c.by...); got != c.table {
			t.Fatalf("Aggregate(%+v, %v) reads %s, want %s", c.f, c.by, got, c.table)
		}
		got, err := db.Aggregate(ctx, c.f, c.by...)
		if err != nil {
			t.Fatal(err)
		}
		rows := c.f
		rows.From = feb.Add(time.Microsecond) // not a whole day: read from the rows (none is this early)
		want, err := db.Aggregate(ctx, rows, c.by...)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 || !slices.EqualFunc(got, want, func(a, b hub.Group) bool { return fmt.Sprint(a) == fmt.Sprint(b) }) {
			t.Errorf("Aggregate(%+v, %v) from %s after the migration:\n got %v\nwant %v (the rows')", c.f, c.by, c.table, got, want)
		}
	}
}
