package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
)

// where is the SQL condition and arguments that select f's rows of a
// table whose time column is timeCol.
func where(f hub.UsageFilter, timeCol string) (string, []any) {
	to := US(f.To)
	if f.To.IsZero() {
		to = 1<<63 - 1
	}
	c := []string{timeCol + " >= ?", timeCol + " < ?"}
	args := []any{US(f.From), to}
	for _, eq := range []struct{ col, v string }{
		{"member", f.Member}, {"service", string(f.Service)}, {"payer", string(f.Payer)},
		{"project", f.Project}, {"model", f.Model}, {"credential", f.Credential},
	} {
		if eq.v != "" {
			c = append(c, eq.col+" = ?")
			args = append(args, eq.v)
		}
	}
	if f.Fallback {
		c = append(c, "fallback_reason <> ''")
	}
	return strings.Join(c, " AND "), args
}

// A Rollup is a table of usage's sums by a UTC month or day and key
// columns, changed by the store in the same transaction as every change
// to usage. Its columns: the time, the key, then calls, cost_micros,
// input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
// requests and unknown_cost. A group whose last call went (a device copy
// replaced by the hub's row) stays, with calls = 0.
type Rollup struct {
	Table, TimeCol string
	Month          bool     // months; days otherwise
	Key            []string // usage's columns, in the primary key's order
}

// Rollups are the tables both stores keep, roughly smallest first: the
// team's days (the overview's chart), each member's month by model (the
// overview, the members' pages), the month by everything (reports), each
// member's days.
var Rollups = []Rollup{
	{Table: "usage_day_total", TimeCol: "day_us", Key: []string{"service", "payer"}},
	{Table: "usage_month_member", TimeCol: "month_us", Month: true, Key: []string{"member", "service", "model", "payer"}},
	{Table: "usage_month", TimeCol: "month_us", Month: true, Key: []string{"member", "service", "model", "payer", "project", "credential", "fallback_reason"}},
	{Table: "usage_day", TimeCol: "day_us", Key: []string{"member", "service", "payer"}},
}

// A source is a table Aggregate can sum: usage itself or a rollup.
type source struct {
	table, timeCol              string
	calls, cacheWrites, unknown string // how to sum them
	rollup, month               bool
	dims                        map[hub.Dim]string // each dimension's SQL
}

// newSources is the rollups, smallest first, then usage; day is the
// dialect's SQL for the UTC date of a time column.
func newSources(day func(col string) string) []source {
	var srcs []source
	for _, r := range Rollups {
		s := source{table: r.Table, timeCol: r.TimeCol, calls: "sum(calls)", cacheWrites: "sum(cache_write_tokens)",
			unknown: "sum(unknown_cost)", rollup: true, month: r.Month, dims: map[hub.Dim]string{}}
		for _, k := range r.Key {
			s.dims[hub.Dim(k)] = k
		}
		if !r.Month {
			s.dims[hub.DimDay] = day(r.TimeCol)
		}
		srcs = append(srcs, s)
	}
	raw := source{table: "usage", timeCol: "time_us", calls: "count(*)",
		cacheWrites: "sum(cache_write_5m_tokens + cache_write_1h_tokens)", unknown: "count(*) FILTER (WHERE NOT cost_known)",
		dims: map[hub.Dim]string{hub.DimDay: day("time_us")}}
	for _, d := range []hub.Dim{hub.DimMember, hub.DimService, hub.DimModel, hub.DimPayer, hub.DimProject, hub.DimCredential, hub.DimFallback} {
		raw.dims[d] = string(d)
	}
	return append(srcs, raw)
}

// pick is the first (smallest) source that answers f grouped by by: one
// whose grain divides f's range and that has every dimension grouped by
// or filtered on; the rows themselves otherwise.
func pick(srcs []source, f hub.UsageFilter, by []hub.Dim) source {
	need := slices.Clone(by)
	for _, eq := range []struct {
		dim hub.Dim
		set bool
	}{
		{hub.DimMember, f.Member != ""}, {hub.DimService, f.Service != ""}, {hub.DimPayer, f.Payer != ""},
		{hub.DimProject, f.Project != ""}, {hub.DimModel, f.Model != ""}, {hub.DimCredential, f.Credential != ""},
		{hub.DimFallback, f.Fallback},
	} {
		if eq.set {
			need = append(need, eq.dim)
		}
	}
	whole := func(t time.Time, month bool) bool {
		if t.IsZero() {
			return true
		}
		if month {
			return t.Equal(time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC))
		}
		return t.Equal(t.UTC().Truncate(24 * time.Hour))
	}
	for _, s := range srcs {
		ok := s.rollup && whole(f.From, s.month) && whole(f.To, s.month)
		for _, d := range need {
			_, has := s.dims[d]
			ok = ok && has
		}
		if ok {
			return s
		}
	}
	return srcs[len(srcs)-1]
}

// SourceOf is the table Aggregate reads for f grouped by by: a rollup
// or usage.
func (d *DB) SourceOf(f hub.UsageFilter, by ...hub.Dim) string { return pick(d.sources, f, by).table }

// Aggregate implements hub.Store with one GROUP BY over the smallest
// source that answers it.
func (d *DB) Aggregate(ctx context.Context, f hub.UsageFilter, by ...hub.Dim) ([]hub.Group, error) {
	src := pick(d.sources, f, by)
	cols := make([]string, 0, len(by))
	for _, dim := range by {
		e, ok := src.dims[dim]
		if !ok {
			return nil, fmt.Errorf("%w: cannot group usage by %q", hub.ErrInvalid, dim)
		}
		cols = append(cols, e)
	}
	cond, args := where(f, src.timeCol)
	q := "SELECT "
	for _, c := range cols {
		q += c + ", "
	}
	// The casts: PostgreSQL sums bigints to numeric.
	q += fmt.Sprintf(`CAST(coalesce(%s, 0) AS bigint), CAST(coalesce(sum(cost_micros), 0) AS bigint),
CAST(coalesce(sum(input_tokens), 0) AS bigint), CAST(coalesce(sum(output_tokens), 0) AS bigint),
CAST(coalesce(sum(cache_read_tokens), 0) AS bigint), CAST(coalesce(%s, 0) AS bigint),
CAST(coalesce(sum(requests), 0) AS bigint), CAST(coalesce(%s, 0) AS bigint) FROM %s WHERE %s`,
		src.calls, src.cacheWrites, src.unknown, src.table, cond)
	if len(cols) > 0 {
		q += " GROUP BY " + strings.Join(cols, ", ")
		if src.rollup {
			q += " HAVING sum(calls) > 0" // a group whose calls were all replaced
		}
	}
	q += fmt.Sprintf(" ORDER BY %d DESC", len(cols)+2) // the cost, then the keys: a stable order
	for i := range cols {
		q += fmt.Sprintf(", %d", i+1)
	}
	rows, err := d.r.QueryContext(ctx, d.q(q), args...)
	return collect("sum usage", rows, err, func(rows *sql.Rows) (hub.Group, error) {
		g := hub.Group{Keys: make([]string, len(by))}
		dst := make([]any, 0, len(by)+8)
		for i := range g.Keys {
			dst = append(dst, &g.Keys[i])
		}
		var cost int64
		dst = append(dst, &g.Calls, &cost, &g.InputTokens, &g.OutputTokens, &g.CacheReadTokens, &g.CacheWriteTokens, &g.Requests, &g.UnknownCost)
		err := rows.Scan(dst...)
		g.Cost = byok.Micros(cost)
		return g, err
	})
}

// Audit implements hub.Store: a seek on (time_us, member, id), newest
// first, which the index on time_us serves (it carries the key).
func (d *DB) Audit(ctx context.Context, f hub.UsageFilter, at hub.Cursor, limit int) ([]byok.UsageEvent, error) {
	cond, args := where(f, "time_us")
	cmp, order := "<", "DESC"
	if at.Newer {
		// The rows just newer than the cursor are the nearest ones in
		// ascending order; the page shows them newest first.
		cmp, order = ">", "ASC"
	}
	if !at.Time.IsZero() {
		cond += " AND (time_us, member, id) " + cmp + " (?, ?, ?)"
		args = append(args, US(at.Time), at.Member, at.ID)
	}
	args = append(args, limit)
	rows, err := d.query(ctx, "read the audit log", "WHERE "+cond+" ORDER BY time_us "+order+", member "+order+", id "+order+" LIMIT ?", args)
	if at.Newer {
		slices.Reverse(rows)
	}
	return rows, err
}
