package pgstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
)

// args are a query's arguments; add appends one and returns its
// placeholder.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// where is the SQL condition that selects f's rows of a table whose time
// column is timeCol, its arguments added to a.
func where(f hub.UsageFilter, timeCol string, a *args) string {
	to := us(f.To)
	if f.To.IsZero() {
		to = 1<<63 - 1
	}
	c := []string{timeCol + " >= " + a.add(us(f.From)), timeCol + " < " + a.add(to)}
	for _, eq := range []struct{ col, v string }{
		{"member", f.Member}, {"service", string(f.Service)}, {"payer", string(f.Payer)},
		{"project", f.Project}, {"model", f.Model}, {"credential", f.Credential},
	} {
		if eq.v != "" {
			c = append(c, eq.col+" = "+a.add(eq.v))
		}
	}
	if f.Fallback {
		c = append(c, "fallback_reason <> ''")
	}
	return strings.Join(c, " AND ")
}

// A source is a table Aggregate can sum: usage itself or a rollup.
type source struct {
	table, timeCol              string
	calls, cacheWrites, unknown string // how to sum them
	rollup                      bool
	dims                        map[hub.Dim]string
}

var (
	rawSource = source{table: "usage", timeCol: "time_us", calls: "count(*)",
		cacheWrites: "sum(cache_write_5m_tokens + cache_write_1h_tokens)", unknown: "count(*) FILTER (WHERE NOT cost_known)", dims: dims("time_us")}
	monthSource = source{table: "usage_month", timeCol: "month_us", calls: "sum(calls)",
		cacheWrites: "sum(cache_write_tokens)", unknown: "sum(unknown_cost)", rollup: true, dims: dims("")}
	daySource = source{table: "usage_day", timeCol: "day_us", calls: "sum(calls)",
		cacheWrites: "sum(cache_write_tokens)", unknown: "sum(unknown_cost)", rollup: true, dims: map[hub.Dim]string{
			hub.DimMember: "member", hub.DimService: "service", hub.DimPayer: "payer", hub.DimDay: day("day_us")}}
)

// day is the UTC date of a microsecond time column, "2006-01-02".
func day(col string) string {
	return "to_char(to_timestamp(div(" + col + ", 1000000)) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
}

// dims is every dimension's SQL over the usage columns; a day (the UTC
// date) only where there is a time column.
func dims(timeCol string) map[hub.Dim]string {
	m := map[hub.Dim]string{hub.DimMember: "member", hub.DimService: "service", hub.DimModel: "model",
		hub.DimPayer: "payer", hub.DimProject: "project", hub.DimCredential: "credential", hub.DimFallback: "fallback_reason"}
	if timeCol != "" {
		m[hub.DimDay] = day(timeCol)
	}
	return m
}

// pick is the smallest source that answers f grouped by by: the monthly
// rollup for whole UTC months, the daily one for whole days by member,
// service and payer, the rows themselves otherwise.
func pick(f hub.UsageFilter, by []hub.Dim) source {
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
	if month(f.From) && month(f.To) && has(monthSource) {
		return monthSource
	}
	if day(f.From) && day(f.To) && has(daySource) && f.Project == "" && f.Model == "" && f.Credential == "" && !f.Fallback {
		return daySource
	}
	return rawSource
}

// Aggregate implements hub.Store with one GROUP BY over the smallest
// source that answers it.
func (d *DB) Aggregate(ctx context.Context, f hub.UsageFilter, by ...hub.Dim) ([]hub.Group, error) {
	src := pick(f, by)
	cols := make([]string, 0, len(by))
	for _, dim := range by {
		e, ok := src.dims[dim]
		if !ok {
			return nil, fmt.Errorf("%w: cannot group usage by %q", hub.ErrInvalid, dim)
		}
		cols = append(cols, e)
	}
	var a args
	cond := where(f, src.timeCol, &a)
	q := "SELECT "
	for _, c := range cols {
		q += c + ", "
	}
	q += fmt.Sprintf(`coalesce(%s, 0)::bigint, coalesce(sum(cost_micros), 0)::bigint, coalesce(sum(input_tokens), 0)::bigint,
coalesce(sum(output_tokens), 0)::bigint, coalesce(sum(cache_read_tokens), 0)::bigint, coalesce(%s, 0)::bigint,
coalesce(sum(requests), 0)::bigint, coalesce(%s, 0)::bigint FROM %s WHERE %s`, src.calls, src.cacheWrites, src.unknown, src.table, cond)
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
	rows, err := d.pool.Query(ctx, q, a...)
	if err != nil {
		return nil, fmt.Errorf("sum usage: %w", err)
	}
	defer rows.Close()
	out := []hub.Group{}
	for rows.Next() {
		g := hub.Group{Keys: make([]string, len(by))}
		dst := make([]any, 0, len(by)+8)
		for i := range g.Keys {
			dst = append(dst, &g.Keys[i])
		}
		var cost int64
		dst = append(dst, &g.Calls, &cost, &g.InputTokens, &g.OutputTokens, &g.CacheReadTokens, &g.CacheWriteTokens, &g.Requests, &g.UnknownCost)
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("sum usage: %w", err)
		}
		g.Cost = byok.Micros(cost)
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sum usage: %w", err)
	}
	return out, nil
}

// Audit implements hub.Store: a seek on (time_us, member, id), newest
// first, which the index usage_time serves.
func (d *DB) Audit(ctx context.Context, f hub.UsageFilter, at hub.Cursor, limit int) ([]byok.UsageEvent, error) {
	var a args
	cond := where(f, "time_us", &a)
	cmp, order := "<", "DESC"
	if at.Newer {
		// The rows just newer than the cursor are the nearest ones in
		// ascending order; the page shows them newest first.
		cmp, order = ">", "ASC"
	}
	if !at.Time.IsZero() {
		cond += " AND (time_us, member, id) " + cmp + " (" + a.add(us(at.Time)) + ", " + a.add(at.Member) + ", " + a.add(at.ID) + ")"
	}
	lim := a.add(limit)
	rows, err := d.query(ctx, "read the audit log", "WHERE "+cond+" ORDER BY time_us "+order+", member "+order+", id "+order+" LIMIT "+lim, a)
	if at.Newer {
		slices.Reverse(rows)
	}
	return rows, err
}
