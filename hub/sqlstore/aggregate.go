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

// A source is a table Aggregate can sum: usage itself or one of the
// rollups (usage_month, usage_day) the stores keep.
type source struct {
	table, timeCol              string
	calls, cacheWrites, unknown string // how to sum them
	rollup                      bool
	dims                        map[hub.Dim]string
}

// sources are the tables Aggregate picks from.
type sources struct{ raw, month, day source }

// newSources is the sources, a day's SQL day's.
func newSources(day func(col string) string) sources {
	// dims is every dimension's SQL over the usage columns; a day (the
	// UTC date) only where there is a time column.
	dims := func(timeCol string) map[hub.Dim]string {
		m := map[hub.Dim]string{hub.DimMember: "member", hub.DimService: "service", hub.DimModel: "model",
			hub.DimPayer: "payer", hub.DimProject: "project", hub.DimCredential: "credential", hub.DimFallback: "fallback_reason"}
		if timeCol != "" {
			m[hub.DimDay] = day(timeCol)
		}
		return m
	}
	return sources{
		raw: source{table: "usage", timeCol: "time_us", calls: "count(*)",
			cacheWrites: "sum(cache_write_5m_tokens + cache_write_1h_tokens)", unknown: "count(*) FILTER (WHERE NOT cost_known)", dims: dims("time_us")},
		month: source{table: "usage_month", timeCol: "month_us", calls: "sum(calls)",
			cacheWrites: "sum(cache_write_tokens)", unknown: "sum(unknown_cost)", rollup: true, dims: dims("")},
		day: source{table: "usage_day", timeCol: "day_us", calls: "sum(calls)",
			cacheWrites: "sum(cache_write_tokens)", unknown: "sum(unknown_cost)", rollup: true, dims: map[hub.Dim]string{
				hub.DimMember: "member", hub.DimService: "service", hub.DimPayer: "payer", hub.DimDay: day("day_us")}},
	}
}

// pick is the smallest source that answers f grouped by by: the monthly
// rollup for whole UTC months, the daily one for whole days by member,
// service and payer, the rows themselves otherwise.
func (s sources) pick(f hub.UsageFilter, by []hub.Dim) source {
	month := func(t time.Time) bool {
		return t.IsZero() || t.Equal(time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC))
	}
	day := func(t time.Time) bool { return t.IsZero() || t.Equal(t.UTC().Truncate(24*time.Hour)) }
	has := func(s source) bool {
		for _, d := range by {
			if _, ok := s.dims[d]; !ok {
				return false
			}
		}
		return true
	}
	if month(f.From) && month(f.To) && has(s.month) {
		return s.month
	}
	if day(f.From) && day(f.To) && has(s.day) && f.Project == "" && f.Model == "" && f.Credential == "" && !f.Fallback {
		return s.day
	}
	return s.raw
}

// Aggregate implements hub.Store with one GROUP BY over the smallest
// source that answers it.
func (d *DB) Aggregate(ctx context.Context, f hub.UsageFilter, by ...hub.Dim) ([]hub.Group, error) {
	src := d.sources.pick(f, by)
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
