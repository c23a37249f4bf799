package pgstore

import (
	"cmp"
	"context"
	"slices"
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

type monthKey struct {
	month                                                      int64
	member, service, model, payer, project, credential, reason string
}

type dayKey struct {
	day                    int64
	member, service, payer string
}

// rollup is the change a transaction makes to usage_month and
// usage_day, applied at its end by apply. The zero value is empty.
type rollup struct {
	months map[monthKey]*sums
	days   map[dayKey]*sums
}

// add counts r in (sign 1) or out (sign -1).
func (u *rollup) add(r rollRow, sign int64) {
	if u.months == nil {
		u.months, u.days = map[monthKey]*sums{}, map[dayKey]*sums{}
	}
	mk := monthKey{monthOfUS(r.timeUS), r.member, r.service, r.model, r.payer, r.project, r.credential, r.reason}
	dk := dayKey{time.UnixMicro(r.timeUS).UTC().Truncate(24 * time.Hour).UnixMicro(), r.member, r.service, r.payer}
	for _, s := range []*sums{get(u.months, mk), get(u.days, dk)} {
		s.add(r.sums, sign)
	}
}

func get[K comparable](m map[K]*sums, k K) *sums {
	s, ok := m[k]
	if !ok {
		s = &sums{}
		m[k] = s
	}
	return s
}

// apply adds the change to the rollup tables, one statement each, the
// groups in key order: two replicas' transactions that touch the same
// groups then lock them in the same order and cannot deadlock.
func (u *rollup) apply(ctx context.Context, tx pgx.Tx) error {
	if len(u.months) == 0 {
		return nil
	}
	mkeys := sortedKeys(u.months, func(a, b monthKey) int {
		return cmp.Or(cmp.Compare(a.month, b.month), cmp.Compare(a.member, b.member), cmp.Compare(a.service, b.service),
			cmp.Compare(a.model, b.model), cmp.Compare(a.payer, b.payer), cmp.Compare(a.project, b.project),
			cmp.Compare(a.credential, b.credential), cmp.Compare(a.reason, b.reason))
	})
	var mt [8][]int64
	var ms [7][]string
	for _, k := range mkeys {
		s := u.months[k]
		mt = appendSums(mt, k.month, s)
		for i, v := range []string{k.member, k.service, k.model, k.payer, k.project, k.credential, k.reason} {
			ms[i] = append(ms[i], v)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO usage_month AS m (month_us, member, service, model, payer, project, credential,
fallback_reason, calls, cost_micros, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, requests, unknown_cost)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
	$9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[])
ON CONFLICT (month_us, member, service, model, payer, project, credential, fallback_reason) DO UPDATE SET `+addSet("m"),
		mt[0], ms[0], ms[1], ms[2], ms[3], ms[4], ms[5], ms[6], mt[1], mt[2], mt[3], mt[4], mt[5], mt[6], mt[7], unknowns(mkeys, u.months)); err != nil {
		return err
	}
	dkeys := sortedKeys(u.days, func(a, b dayKey) int {
		return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.member, b.member), cmp.Compare(a.service, b.service), cmp.Compare(a.payer, b.payer))
	})
	var dt [8][]int64
	var ds [3][]string
	for _, k := range dkeys {
		dt = appendSums(dt, k.day, u.days[k])
		for i, v := range []string{k.member, k.service, k.payer} {
			ds[i] = append(ds[i], v)
		}
	}
	_, err := tx.Exec(ctx, `INSERT INTO usage_day AS m (day_us, member, service, payer, calls, cost_micros, input_tokens,
output_tokens, cache_read_tokens, cache_write_tokens, requests, unknown_cost)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[],
	$8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[])
ON CONFLICT (day_us, member, service, payer) DO UPDATE SET `+addSet("m"),
		dt[0], ds[0], ds[1], ds[2], dt[1], dt[2], dt[3], dt[4], dt[5], dt[6], dt[7], unknowns(dkeys, u.days))
	return err
}

// appendSums appends the key's time and the sums but the unknown count
// (unknowns) to the columns.
func appendSums(cols [8][]int64, at int64, s *sums) [8][]int64 {
	for i, v := range []int64{at, s.calls, s.cost, s.input, s.output, s.cacheRead, s.cacheWrite, s.requests} {
		cols[i] = append(cols[i], v)
	}
	return cols
}

func unknowns[K comparable](keys []K, m map[K]*sums) []int64 {
	out := make([]int64, len(keys))
	for i, k := range keys {
		out[i] = m[k].unknown
	}
	return out
}

func addSet(t string) string {
	s := ""
	for i, c := range []string{"calls", "cost_micros", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "requests", "unknown_cost"} {
		if i > 0 {
			s += ", "
		}
		s += c + " = " + t + "." + c + " + excluded." + c
	}
	return s
}

func sortedKeys[K comparable](m map[K]*sums, cmp func(a, b K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp)
	return keys
}
