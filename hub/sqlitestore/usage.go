package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
)

const usageInsert = `INSERT INTO usage (member, id, device_id, source, time_us, service, model, app, project,
credential, payer, status, input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens,
cache_write_1h_tokens, requests, cost_micros, cost_known, latency_us, fallback_reason, relayed, incomplete)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func usageArgs(member, deviceID, source string, e byok.UsageEvent) []any {
	return []any{member, e.ID, deviceID, source, us(e.Time), string(e.Service), e.Model, e.App, e.Project,
		e.Credential, string(e.Payer), e.Status, e.Usage.InputTokens, e.Usage.OutputTokens, e.Usage.CacheReadTokens,
		e.Usage.CacheWrite5mTokens, e.Usage.CacheWrite1hTokens, e.Usage.Requests, int64(e.Cost), e.CostKnown,
		e.Latency.Microseconds(), e.FallbackReason, e.Relayed, !e.Usage.Complete}
}

// IngestUsage implements hub.Store: INSERT OR IGNORE, in one transaction.
func (d *DB) IngestUsage(ctx context.Context, member, deviceID string, evs []byok.UsageEvent) error {
	err := d.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, "INSERT OR IGNORE"+usageInsert[len("INSERT"):])
		if err != nil {
			return err
		}
		defer st.Close()
		for _, e := range evs {
			if _, err := st.ExecContext(ctx, usageArgs(member, deviceID, "device", e)...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store %d usage events: %w", len(evs), advise(d.path, err))
	}
	return nil
}

// RecordRelayed implements hub.Store.
func (d *DB) RecordRelayed(ctx context.Context, deviceID string, e byok.UsageEvent) error {
	err := d.tx(ctx, func(tx *sql.Tx) error {
		var source string
		err := tx.QueryRowContext(ctx, `SELECT source FROM usage WHERE member = ? AND id = ?`, e.Member, e.ID).Scan(&source)
		switch {
		case err == sql.ErrNoRows:
		case err != nil:
			return err
		case source == "hub":
			return byok.ErrExists
		default:
			if _, err := tx.ExecContext(ctx, `DELETE FROM usage WHERE member = ? AND id = ?`, e.Member, e.ID); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, usageInsert, usageArgs(e.Member, deviceID, "hub", e)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("record relayed call: %w", advise(d.path, err))
	}
	return nil
}

// Usage implements hub.Store.
func (d *DB) Usage(ctx context.Context, f hub.UsageFilter) ([]byok.UsageEvent, error) {
	q := `SELECT member, id, time_us, service, model, app, project, credential, payer, status, input_tokens,
output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, requests, cost_micros,
cost_known, latency_us, fallback_reason, relayed, incomplete FROM usage WHERE time_us >= ? AND time_us < ?`
	args := []any{us(f.From), us(f.To)}
	if f.To.IsZero() {
		args[1] = int64(1<<63 - 1)
	}
	if f.Member != "" {
		q += ` AND member = ?`
		args = append(args, f.Member)
	}
	rows, err := d.r.QueryContext(ctx, q+` ORDER BY time_us, member, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read usage: %w", err)
	}
	defer rows.Close()
	out := []byok.UsageEvent{}
	for rows.Next() {
		var e byok.UsageEvent
		var t, cost, lat int64
		var incomplete bool
		if err := rows.Scan(&e.Member, &e.ID, &t, &e.Service, &e.Model, &e.App, &e.Project, &e.Credential, &e.Payer,
			&e.Status, &e.Usage.InputTokens, &e.Usage.OutputTokens, &e.Usage.CacheReadTokens, &e.Usage.CacheWrite5mTokens,
			&e.Usage.CacheWrite1hTokens, &e.Usage.Requests, &cost, &e.CostKnown, &lat, &e.FallbackReason, &e.Relayed,
			&incomplete); err != nil {
			return nil, fmt.Errorf("read usage: %w", err)
		}
		e.Time, e.Cost, e.Latency = fromUS(t), byok.Micros(cost), time.Duration(lat)*time.Microsecond
		e.Usage.Model, e.Usage.Complete = e.Model, !incomplete
		out = append(out, e)
	}
	return out, rows.Err()
}

// SharedSpend implements hub.Store: only rows the hub metered count.
func (d *DB) SharedSpend(ctx context.Context, member string, from, to time.Time) (byok.Micros, error) {
	var sum int64
	err := d.r.QueryRowContext(ctx, `SELECT coalesce(sum(cost_micros), 0) FROM usage
WHERE member = ? AND source = 'hub' AND time_us >= ? AND time_us < ?`, member, us(from), us(to)).Scan(&sum)
	if err != nil {
		return 0, fmt.Errorf("sum shared spend: %w", err)
	}
	return byok.Micros(sum), nil
}
