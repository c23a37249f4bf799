package dashboard_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"byokd.dev/byok/hub"
	"byokd.dev/byok/hub/pgstore"
	"byokd.dev/byok/internal/pgtest"
)

// BenchmarkDashboard measures each page against a year of calls by 50
// members (seedCalls): go test -run '^$' -bench Dashboard ./hub/dashboard/
// The seeded database is built once and cached in the temporary folder;
// each run works on a copy.
//
// With BYOKD_BENCH_STORE=postgres the hub runs on a PostgreSQL store
// (internal/pgtest), seeded anew each run with 10,000,000 calls by 200
// members, or BYOKD_BENCH_CALLS calls.
func BenchmarkDashboard(b *testing.B) {
	var h *testHub
	if os.Getenv("BYOKD_BENCH_STORE") == "postgres" {
		h = seededPostgres(b)
	} else {
		src := seededDB(b)
		db := filepath.Join(b.TempDir(), "hub.db")
		copyFile(b, src, db)
		h = startHub(b, db, time.Now().UTC())
	}
	admin := h.adminBrowser(b, "boss@example.com")
	member := h.memberBrowser(b, "member07@example.com")
	_, body := admin.get("/ui/audit?period=2025-12")
	_, after, ok := strings.Cut(body, `id="older" href="/ui/audit?`)
	if !ok {
		b.Fatal("the audit page has no link to older calls")
	}
	next, _, _ := strings.Cut(after, `"`)
	next = strings.ReplaceAll(next, "&amp;", "&")
	for _, c := range []struct {
		name string
		who  *browser
		path string
	}{
		{"overview/month", admin, "/ui/overview?period=2025-12"},
		{"overview/quarter", admin, "/ui/overview?period=2025-Q4"},
		{"members/quarter", admin, "/ui/members?period=2025-Q4"},
		{"shared/quarter", admin, "/ui/shared?period=2025-Q4"},
		{"projects/quarter", admin, "/ui/projects?period=2025-Q4"},
		{"reports/quarter", admin, "/ui/reports?period=2025-Q4"},
		{"reports.csv/quarter", admin, "/ui/reports.csv?period=2025-Q4"},
		{"audit/first", admin, "/ui/audit?period=2025-Q4"},
		{"audit/older", admin, "/ui/audit?" + next},
		{"audit/filtered", admin, "/ui/audit?period=2025-Q4&project=acme&service=openai&payer=team&fallback=1"},
		{"policy", admin, "/ui/policy"},
		{"devices", admin, "/ui/devices"},
		{"member/overview/quarter", member, "/ui/overview?period=2025-Q4"},
		{"member/audit/quarter", member, "/ui/audit?period=2025-Q4"},
	} {
		if _, body := c.who.get(c.path); strings.Contains(body, "No calls match") {
			b.Fatalf("%s: no calls on the page: the seed or the query is wrong", c.name)
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if st, body := c.who.get(c.path); st != http.StatusOK || len(body) < 500 {
					b.Fatalf("GET %s: status %d: %.300s", c.path, st, body)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/page")
		})
	}
}

func copyFile(tb testing.TB, from, to string) {
	tb.Helper()
	in, err := os.Open(from)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
}

// seededPostgres is a hub on a new PostgreSQL database holding a year of
// calls; see BenchmarkDashboard.
func seededPostgres(b *testing.B) *testHub {
	calls := 10 * seedCalls
	if v := os.Getenv("BYOKD_BENCH_CALLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("BYOKD_BENCH_CALLS=%q: want a number of calls", v)
		}
		calls = n
	}
	ctx := context.Background()
	st, err := pgstore.Open(ctx, pgtest.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := seed(ctx, st, calls, 4*seedMembers); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d calls in %v", calls, time.Since(start).Round(time.Second))
	dir := filepath.Join(b.TempDir(), "hub")
	if err := hub.PrepareData(dir); err != nil {
		b.Fatal(err)
	}
	return startHubOn(b, dir, st, time.Now().UTC())
}
