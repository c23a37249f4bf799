package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
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
		e.Credential.String(), string(e.Payer), e.Status, e.Usage.InputTokens, e.Usage.OutputTokens, e.Usage.CacheReadTokens,
		e.Usage.CacheWrite5mTokens, e.Usage.CacheWrite1hTokens, e.Usage.Requests, int64(e.Cost), e.CostKnown,
		e.Latency.Microseconds(), e.FallbackReason, e.Relayed, !e.Usage.Complete}
}

// ingestConflict keeps the row already stored under (member, id), but
// takes a device's fallback reason onto the hub's own row of a relayed
// call: only the daemon knows why the call left the member's key, and the
// reason is no amount the member could shrink.
const ingestConflict = ` ON CONFLICT (member, id) DO UPDATE SET fallback_reason = excluded.fallback_reason
WHERE usage.source = 'hub' AND usage.fallback_reason = ''`

// IngestUsage implements hub.Store, in one transaction.
func (d *DB) IngestUsage(ctx context.Context, member, deviceID string, evs []byok.UsageEvent) error {
	err := d.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, usageInsert+ingestConflict)
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
		var source, reason string
		err := tx.QueryRowContext(ctx, `SELECT source, fallback_reason FROM usage WHERE member = ? AND id = ?`, e.Member, e.ID).Scan(&source, &reason)
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
			if e.FallbackReason == "" {
				e.FallbackReason = reason // the device's copy says why (see ingestConflict)
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
	cond, args := where(f, "time_us")
	return d.query(ctx, "read usage", "WHERE "+cond+" ORDER BY time_us, member, id", args)
}

// query reads usage rows; tail is the WHERE clause onwards.
func (d *DB) query(ctx context.Context, doing, tail string, args []any) ([]byok.UsageEvent, error) {
	q := `SELECT member, id, time_us, service, model, app, project, credential, payer, status, input_tokens,
output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, requests, cost_micros,
cost_known, latency_us, fallback_reason, relayed, incomplete FROM usage ` + tail
	rows, err := d.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doing, err)
	}
	defer rows.Close()
	out := []byok.UsageEvent{}
	for rows.Next() {
		var e byok.UsageEvent
		var t, cost, lat int64
		var incomplete bool
		var cred string
		if err := rows.Scan(&e.Member, &e.ID, &t, &e.Service, &e.Model, &e.App, &e.Project, &cred, &e.Payer,
			&e.Status, &e.Usage.InputTokens, &e.Usage.OutputTokens, &e.Usage.CacheReadTokens, &e.Usage.CacheWrite5mTokens,
			&e.Usage.CacheWrite1hTokens, &e.Usage.Requests, &cost, &e.CostKnown, &lat, &e.FallbackReason, &e.Relayed,
			&incomplete); err != nil {
			return nil, fmt.Errorf("%s: %w", doing, err)
		}
		var err error
		if e.Credential, err = byok.ParseCredentialRef(cred); err != nil {
			return nil, fmt.Errorf("%s: %w", doing, err)
		}
		e.Time, e.Cost, e.Latency = fromUS(t), byok.Micros(cost), time.Duration(lat)*time.Microsecond
		e.Usage.Model, e.Usage.Complete = e.Model, !incomplete
		out = append(out, e)
	}
	return out, rows.Err()
}

// HubMetered implements hub.Store.
func (d *DB) HubMetered(ctx context.Context, member string, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	st, err := d.r.PrepareContext(ctx, `SELECT 1 FROM usage WHERE member = ? AND id = ? AND source = 'hub'`)
	if err != nil {
		return nil, fmt.Errorf("look up relayed calls: %w", err)
	}
	defer st.Close()
	for _, id := range ids {
		var one int
		switch err := st.QueryRowContext(ctx, member, id).Scan(&one); {
		case err == nil:
			out[id] = true
		case !errors.Is(err, sql.ErrNoRows):
			return nil, fmt.Errorf("look up relayed calls: %w", err)
		}
	}
	return out, nil
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
