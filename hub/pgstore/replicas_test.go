package pgstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
	"byokd.dev/byok/hub/pgstore"
	"byokd.dev/byok/internal/pgtest"
)

func conn(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// TestOpen_ReplicasMigrateOnce: replicas starting together on an empty
// database all start, and the migrations are applied once.
func TestOpen_ReplicasMigrateOnce(t *testing.T) {
	url := pgtest.URL(t)
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := pgstore.Open(context.Background(), url)
			if err != nil {
				t.Error(err)
				return
			}
			db.Close()
		}()
	}
	wg.Wait()
	var n, distinct int
	if err := conn(t, url).QueryRow(context.Background(), `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n == 0 || n != distinct {
		t.Errorf("schema_migrations holds %d rows of %d versions, want each version once", n, distinct)
	}
	// And a later start finds nothing to do.
	open(t, url)
}

// TestIngest_ReplicasMakeOnePartition: replicas (each its own pool)
// storing the first rows of a month at once all succeed; the rows are
// in that month's partition.
func TestIngest_ReplicasMakeOnePartition(t *testing.T) {
	url := pgtest.URL(t)
	var dbs []*pgstore.DB
	for range 4 {
		dbs = append(dbs, open(t, url))
	}
	month := time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var evs []byok.UsageEvent
			for j := range 50 {
				evs = append(evs, byok.UsageEvent{ID: fmt.Sprintf("ev-%d-%d", i%2, j), Time: month.Add(time.Duration(j) * time.Hour),
					Service: byok.OpenAI, Payer: byok.PayerPersonal, Status: 200, Cost: 1, CostKnown: true, Usage: byok.Usage{Complete: true}})
			}
			if err := db.IngestUsage(context.Background(), "ann@example.com", "dev", evs); err != nil {
				t.Errorf("replica %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	rows, err := conn(t, url).Query(context.Background(), `SELECT tableoid::regclass::text, count(*) FROM usage GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	var name string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&name, &n}, func() error { got[name] = n; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["usage_y2025m11"] != 100 {
		t.Errorf("rows by partition: got %v, want 100 in usage_y2025m11", got)
	}
}

// TestIngest_DroppedPartitionIsMadeAgain: a partition an operator
// dropped (retention) is made again by the next write that needs it.
func TestIngest_DroppedPartitionIsMadeAgain(t *testing.T) {
	url := pgtest.URL(t)
	db := open(t, url)
	ctx := context.Background()
	ev := byok.UsageEvent{ID: "ev-1", Time: time.Date(2025, 6, 3, 0, 0, 0, 0, time.UTC), Service: byok.OpenAI, Payer: byok.PayerPersonal}
	if err := db.IngestUsage(ctx, "ann@example.com", "dev", []byok.UsageEvent{ev}); err != nil {
		t.Fatal(err)
	}
	c := conn(t, url)
	if _, err := c.Exec(ctx, `DROP TABLE usage_y2025m06; DELETE FROM usage_keys`); err != nil {
		t.Fatal(err)
	}
	if err := db.IngestUsage(ctx, "ann@example.com", "dev", []byok.UsageEvent{ev}); err != nil {
		t.Fatalf("ingest after the partition was dropped: %v", err)
	}
	if got, err := db.Usage(ctx, hub.UsageFilter{}); err != nil || len(got) != 1 {
		t.Errorf("rows: got %d, %v, want 1", len(got), err)
	}
}

// TestOpen_ErrorsHidePassword: a server that cannot be reached is named
// without the password, with what to check.
func TestOpen_ErrorsHidePassword(t *testing.T) {
	for _, u := range []string{
		"postgres://hub:s3cret-pw@127.0.0.1:1/byokd?sslmode=disable&connect_timeout=5",
		"postgres://hub@127.0.0.1:1/byokd?password=s3cret-pw&sslmode=disable",
		"host=127.0.0.1 port=1 user=hub password=s3cret-pw dbname=byokd sslmode=disable",
		"postgres://hub:s3cret-pw@[::1:bad/byokd",
	} {
		_, err := pgstore.Open(context.Background(), u)
		if err == nil {
			t.Fatalf("Open(%s) worked", pgstore.Redact(u))
		}
		if strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("the error shows the password: %v", err)
		}
		if !strings.Contains(err.Error(), "hub database") {
			t.Errorf("the error does not say what failed: %v", err)
		}
	}
	_, err := pgstore.Open(context.Background(), "postgres://hub:s3cret-pw@127.0.0.1:1/byokd?sslmode=disable")
	if !strings.Contains(err.Error(), "is PostgreSQL running") || !strings.Contains(err.Error(), "hub:xxxxx@127.0.0.1:1") {
		t.Errorf("a refused connection: got %v, want the redacted URL and what to check", err)
	}
}
