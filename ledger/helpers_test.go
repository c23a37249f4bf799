package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"byokd.dev/byok"
)

// base is the time of the test events: a fixed instant, so that sums and
// ranges do not depend on when the tests run.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func openAt(t testing.TB, path string, opts Options) *DB {
	t.Helper()
	d, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func openTemp(t testing.TB) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	return openAt(t, path, Options{}), path
}

// event returns a distinct, fully populated usage event.
func event(i int) byok.UsageEvent {
	return byok.UsageEvent{
		ID:         fmt.Sprintf("ev-%04d", i),
		Time:       base.Add(time.Duration(i) * time.Second),
		Service:    byok.OpenAI,
		Model:      "gpt-4o",
		App:        "editor",
		Project:    "alpha",
		Credential: byok.PersonalKey("work"),
		Payer:      byok.PayerPersonal,
		Status:     200,
		Usage: byok.Usage{
			Model: "gpt-4o", InputTokens: int64(100 + i), OutputTokens: 20, CacheReadTokens: 3,
			CacheWrite5mTokens: 4, CacheWrite1hTokens: 5, Requests: 1, Complete: true,
		},
		Cost:      byok.Micros(1000 + i),
		CostKnown: true,
		Latency:   1500 * time.Microsecond,
	}
}

// rawDB opens a second, independent connection pool on the ledger file, as
// another program would.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func countRows(t testing.TB, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// holdWriteLock takes the database's write lock from another connection,
// as another process would, and returns the function that releases it.
func holdWriteLock(t testing.TB, path string) (release func()) {
	t.Helper()
	conn, err := rawDB(t, path).Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("take write lock: %v", err)
	}
	return func() {
		if _, err := conn.ExecContext(context.Background(), "COMMIT"); err != nil {
			t.Errorf("release write lock: %v", err)
		}
		conn.Close()
	}
}

// waitFor yields until cond holds. It is for states another goroutine
// reaches without any timer involved (a call queued, a batch started); the
// test's own deadline bounds it.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if dl, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
			if d, ok := dl.Deadline(); ok && time.Now().After(d.Add(-5*time.Second)) {
				t.Fatalf("gave up waiting for %s", what)
			}
		}
		runtime.Gosched()
	}
}
