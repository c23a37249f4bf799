package pgtest_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"byokd.dev/byok/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestURL_FreshDatabaseEachTest: two tests' databases are separate, and
// the server is a real PostgreSQL that is not running as root.
func TestURL_FreshDatabaseEachTest(t *testing.T) {
	ctx := context.Background()
	var urls []string
	for range 2 {
		u := pgtest.URL(t)
		urls = append(urls, u)
		c, err := pgx.Connect(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		var n int
		if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("a fresh database holds %d tables, want 0", n)
		}
		if _, err := c.Exec(ctx, `CREATE TABLE t (x int)`); err != nil {
			t.Fatal(err)
		}
		var super bool
		if err := c.QueryRow(ctx, `SELECT current_setting('is_superuser') = 'on'`).Scan(&super); err != nil {
			t.Fatal(err)
		}
		if !super {
			t.Error("the test user is not the superuser")
		}
	}
	if urls[0] == urls[1] {
		t.Errorf("two calls gave the same database %s", urls[0])
	}
	if d := pgtest.Dump(t, urls[0]); d == "" {
		t.Error("pg_dump wrote nothing")
	}
}
