package dashboard_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
	"byokd.dev/byok/hub/sqlitestore"
)

// Shape of the benchmark's year of data on SQLite: a team of 50. On
// PostgreSQL (BYOKD_BENCH_STORE=postgres) it is a company of 200 and ten
// times the calls, unless BYOKD_BENCH_CALLS says how many.
const (
	seedMembers = 50
	seedCalls   = 1_000_000
	seedVersion = 1 // bump when the seed changes, to rebuild the cached file
)

var seedYear = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// seededDB returns the path of a hub database holding a year of calls for
// seedMembers members, built once and kept in the temporary folder (it
// takes about a minute); copy it before writing to it.
func seededDB(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("byokd-dashboard-bench-v%d-%d.db", seedVersion, seedCalls))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	tmp := path + ".tmp"
	os.Remove(tmp)
	ctx := context.Background()
	db, err := sqlitestore.Open(ctx, tmp)
	if err != nil {
		tb.Fatal(err)
	}
	if err := seed(ctx, db, seedCalls, seedMembers); err != nil {
		tb.Fatal(err)
	}
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
	return path
}

// seed writes calls calls by members members spread over seedYear through
// IngestUsage, in large batches (one transaction each).
func seed(ctx context.Context, db hub.Store, calls, members int) error {
	type model struct {
		svc  byok.Service
		name string
	}
	models := []model{{"openai", "gpt-4o"}, {"openai", "gpt-4o-mini"}, {"openai", "o3"},
		{"anthropic", "claude-sonnet-4-5"}, {"anthropic", "claude-haiku-4-5"}, {"clickup", ""}}
	projects := []string{"acme", "globex", "initech", "internal", ""}
	apps := []string{"editor", "notebook", "cli"}
	reasons := []string{"insufficient_quota", "rate_limited", "invalid_key"}
	r := rand.New(rand.NewPCG(7, 11))
	span := int64(365 * 24 * time.Hour / time.Microsecond)
	const batch = 50_000
	for start := 0; start < calls; start += batch {
		byMember := map[string][]byok.UsageEvent{}
		for i := start; i < start+batch && i < calls; i++ {
			member := fmt.Sprintf("member%02d@example.com", r.IntN(members))
			m := models[r.IntN(len(models))]
			e := byok.UsageEvent{
				ID: fmt.Sprintf("ev-%07d", i), Time: seedYear.Add(time.Duration(r.Int64N(span)) * time.Microsecond),
				Service: m.svc, Model: m.name, App: apps[r.IntN(len(apps))], Project: projects[r.IntN(len(projects))],
				Credential: byok.PersonalKey("work"), Payer: byok.PayerPersonal, Status: 200, CostKnown: true,
				Latency: time.Duration(200+r.IntN(2000)) * time.Millisecond,
			}
			if m.svc == byok.ClickUp {
				e.Usage = byok.Usage{Requests: 1, Complete: true}
			} else {
				e.Usage = byok.Usage{Model: m.name, InputTokens: int64(100 + r.IntN(4000)), OutputTokens: int64(50 + r.IntN(1500)), Complete: true}
				e.Cost = byok.Micros(e.Usage.InputTokens*3 + e.Usage.OutputTokens*12)
			}
			if r.IntN(5) == 0 && m.svc != byok.ClickUp {
				e.Payer, e.Credential, e.Relayed = byok.PayerTeam, byok.TeamKey("team-"+string(m.svc)), true
				if r.IntN(3) == 0 {
					e.FallbackReason = reasons[r.IntN(len(reasons))]
				}
			}
			byMember[member] = append(byMember[member], e)
		}
		for member, evs := range byMember {
			if err := db.IngestUsage(ctx, member, "device-"+member, evs); err != nil {
				return err
			}
		}
	}
	return nil
}
