package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
)

// UsageColumns are the columns of a usage row, in UsageArgs' order.
var UsageColumns = []string{"member", "id", "device_id", "source", "time_us", "service", "model", "app", "project",
	"credential", "payer", "status", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens",
	"cache_write_1h_tokens", "requests", "cost_micros", "cost_known", "latency_us", "fallback_reason", "relayed", "incomplete"}

// UsageInsert inserts one usage row (UsageArgs), with ? placeholders.
var UsageInsert = "INSERT INTO usage (" + strings.Join(UsageColumns, ", ") + ") VALUES (?" +
	strings.Repeat(", ?", len(UsageColumns)-1) + ")"

// UsageArgs is e's row of member's usage, stored by deviceID from
// source ("device" or "hub").
func UsageArgs(member, deviceID, source string, e byok.UsageEvent) []any {
	return []any{member, e.ID, deviceID, source, US(e.Time), string(e.Service), e.Model, e.App, e.Project,
		e.Credential.String(), string(e.Payer), int32(e.Status), e.Usage.InputTokens, e.Usage.OutputTokens, e.Usage.CacheReadTokens,
		e.Usage.CacheWrite5mTokens, e.Usage.CacheWrite1hTokens, e.Usage.Requests, int64(e.Cost), e.CostKnown,
		e.Latency.Microseconds(), e.FallbackReason, e.Relayed, !e.Usage.Complete}
}

// Usage implements hub.Store.
func (d *DB) Usage(ctx context.Context, f hub.UsageFilter) ([]byok.UsageEvent, error) {
	cond, args := where(f, "time_us")
	return d.query(ctx, "read usage", "WHERE "+cond+" ORDER BY time_us, member, id", args)
}

// query reads usage rows; tail is the WHERE clause onwards.
func (d *DB) query(ctx context.Context, doing, tail string, args []any) ([]byok.UsageEvent, error) {
	q := `SELECT member, id, time_us, service, model, app, project, credential, payer, status, input_tokens,
output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, requests, cost_micros,
cost_known, latency_us, fallback_reason, relayed, incomplete FROM usage ` + tail
	rows, err := d.r.QueryContext(ctx, d.q(q), args...)
	return collect(doing, rows, err, func(rows *sql.Rows) (byok.UsageEvent, error) {
		var e byok.UsageEvent
		var t, cost, lat int64
		var incomplete bool
		var cred string
		if err := rows.Scan(&e.Member, &e.ID, &t, &e.Service, &e.Model, &e.App, &e.Project, &cred, &e.Payer,
			&e.Status, &e.Usage.InputTokens, &e.Usage.OutputTokens, &e.Usage.CacheReadTokens, &e.Usage.CacheWrite5mTokens,
			&e.Usage.CacheWrite1hTokens, &e.Usage.Requests, &cost, &e.CostKnown, &lat, &e.FallbackReason, &e.Relayed,
			&incomplete); err != nil {
			return e, err
		}
		var err error
		if e.Credential, err = byok.ParseCredentialRef(cred); err != nil {
			return e, err
		}
		e.Time, e.Cost, e.Latency = FromUS(t), byok.Micros(cost), time.Duration(lat)*time.Microsecond
		e.Usage.Model, e.Usage.Complete = e.Model, !incomplete
		return e, nil
	})
}

// sharedSpend is the SQL of a member's hub-metered spend in a range, for
// SharedSpend and ReserveShared: member, from, to.
const sharedSpend = `CAST(coalesce((SELECT sum(cost_micros) FROM usage
WHERE member = ? AND source = 'hub' AND time_us >= ? AND time_us < ?), 0) AS bigint)`

// SharedSpend implements hub.Store: only rows the hub metered count.
func (d *DB) SharedSpend(ctx context.Context, member string, from, to time.Time) (byok.Micros, error) {
	var sum int64
	err := d.r.QueryRowContext(ctx, d.q(`SELECT `+sharedSpend), member, US(from), US(to)).Scan(&sum)
	if err != nil {
		return 0, fmt.Errorf("sum shared spend: %w", err)
	}
	return byok.Micros(sum), nil
}
