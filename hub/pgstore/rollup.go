package pgstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"byokd.dev/byok"
	"byokd.dev/byok/hub/sqlstore"
)

// rollRow is what the rollups keep of a usage row.
type rollRow struct {
	timeUS                                                     int64
	member, service, model, payer, project, credential, reason string
	sums
}

type sums struct {
	calls, cost, input, output, cacheRead, cacheWrite, requests, unknown int64
}

func (s *sums) add(o sums, sign int64) {
	s.calls += sign * o.calls
	s.cost += sign * o.cost
	s.input += sign * o.input
	s.output += sign * o.output
	s.cacheRead += sign * o.cacheRead
	s.cacheWrite += sign * o.cacheWrite
	s.requests += sign * o.requests
	s.unknown += sign * o.unknown
}

func rollOf(member string, e byok.UsageEvent) rollRow {
	r := rollRow{timeUS: sqlstore.US(e.Time), member: member, service: string(e.Service), model: e.Model, payer: string(e.Payer),
		project: e.Project, credential: e.Credential.String(), reason: e.FallbackReason,
		sums: sums{calls: 1, cost: int64(e.Cost), input: e.Usage.InputTokens, output: e.Usage.OutputTokens,
			cacheRead: e.Usage.CacheReadTokens, cacheWrite: e.Usage.CacheWrite5mTokens + e.Usage.CacheWrite1hTokens,
			requests: e.Usage.Requests}}
	if !e.CostKnown {
		r.unknown = 1
	}
	return r
}

// rollCols are the usage columns scanRoll reads, for RETURNING.
const rollCols = `time_us, member, service, model, payer, project, credential, fallback_reason, cost_micros,
input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens + cache_write_1h_tokens, requests, NOT cost_known`

func scanRoll(row pgx.Row) (rollRow, error) {
	r := rollRow{sums: sums{calls: 1}}
	var unknown bool
	err := row.Scan(&r.timeUS, &r.member, &r.service, &r.model, &r.payer, &r.project, &r.credential, &r.reason, &r.cost,
		&r.input, &r.output, &r.cacheRead, &r.cacheWrite, &r.requests, &unknown)
	if unknown {
		r.unknown = 1
	}
	return r, err
}

// groupKey is one group of one rollup: its index in sqlstore.Rollups,
// the start of its month or day, and its key columns' values (unused
// ones empty).
type groupKey struct {
	table int
	at    int64
	key   [7]string
}

func (a groupKey) compare(b groupKey) int {
	return cmp.Or(cmp.Compare(a.table, b.table), cmp.Compare(a.at, b.at), slices.Compare(a.key[:], b.key[:]))
}

// col is r's value of a usage key column.
func (r rollRow) col(name string) string {
	switch name {
	case "member":
		return r.member
	case "service":
		return r.service
	case "model":
		return r.model
	case "payer":
		return r.payer
	case "project":
		return r.project
	case "credential":
		return r.credential
	case "fallback_reason":
		return r.reason
	}
	panic("pgstore: no rollup column " + name)
}

// rollup is the change a transaction makes to the rollups, applied at its
// end by apply. The zero value is empty.
type rollup struct{ groups map[groupKey]*sums }

// add counts r in (sign 1) or out (sign -1).
func (u *rollup) add(r rollRow, sign int64) {
	if u.groups == nil {
		u.groups = map[groupKey]*sums{}
	}
	day := time.UnixMicro(r.timeUS).UTC().Truncate(24 * time.Hour).UnixMicro()
	for i, t := range sqlstore.Rollups {
		k := groupKey{table: i, at: day}
		if t.Month {
			k.at = monthOfUS(r.timeUS)
		}
		for j, c := range t.Key {
			k.key[j] = r.col(c)
		}
		s, ok := u.groups[k]
		if !ok {
			s = &sums{}
			u.groups[k] = s
		}
		s.add(r.sums, sign)
	}
}

// apply adds the change to the rollup tables, one statement each, the
// groups in key order: two replicas' transactions that touch the same
// groups then lock them in the same order and cannot deadlock.
func (u *rollup) apply(ctx context.Context, tx pgx.Tx) error {
	keys := make([]groupKey, 0, len(u.groups))
	for k, s := range u.groups {
		// A group whose change nets out (a row moved to another fallback
		// reason, in a rollup without it) is not written, nor locked.
		if *s != (sums{}) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, groupKey.compare)
	for len(keys) > 0 {
		t := sqlstore.Rollups[keys[0].table]
		n := 1
		for n < len(keys) && keys[n].table == keys[0].table {
			n++
		}
		// The columns: the time, the key, the eight sums.
		cols := make([]any, 1+len(t.Key)+8)
		at, sumCols := make([]int64, n), [8][]int64{}
		strs := make([][]string, len(t.Key))
		for i, k := range keys[:n] {
			at[i] = k.at
			for j := range t.Key {
				strs[j] = append(strs[j], k.key[j])
			}
			s := u.groups[k]
			for j, v := range []int64{s.calls, s.cost, s.input, s.output, s.cacheRead, s.cacheWrite, s.requests, s.unknown} {
				sumCols[j] = append(sumCols[j], v)
			}
		}
		cols[0] = at
		params := []string{"$1::bigint[]"}
		for j := range t.Key {
			cols[1+j] = strs[j]
			params = append(params, fmt.Sprintf("$%d::text[]", 2+j))
		}
		for j := range sumCols {
			cols[1+len(t.Key)+j] = sumCols[j]
			params = append(params, fmt.Sprintf("$%d::bigint[]", 2+len(t.Key)+j))
		}
		key := t.TimeCol + ", " + strings.Join(t.Key, ", ")
		q := fmt.Sprintf(`INSERT INTO %s AS m (%s, %s) SELECT * FROM unnest(%s) ON CONFLICT (%s) DO UPDATE SET %s`,
			t.Table, key, strings.Join(sumNames, ", "), strings.Join(params, ", "), key, addSet("m"))
		if _, err := tx.Exec(ctx, q, cols...); err != nil {
			return fmt.Errorf("update %s: %w", t.Table, err)
		}
		keys = keys[n:]
	}
	return nil
}

// sumNames are the rollups' sum columns, in sums' order.
var sumNames = []string{"calls", "cost_micros", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "requests", "unknown_cost"}

func addSet(t string) string {
	set := make([]string, len(sumNames))
	for i, c := range sumNames {
		set[i] = c + " = " + t + "." + c + " + excluded." + c
	}
	return strings.Join(set, ", ")
}
