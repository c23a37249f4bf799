package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
)

var usageCols = []string{"member", "id", "device_id", "source", "time_us", "service", "model", "app", "project",
	"credential", "payer", "status", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens",
	"cache_write_1h_tokens", "requests", "cost_micros", "cost_known", "latency_us", "fallback_reason", "relayed", "incomplete"}

func usageArgs(member, deviceID, source string, e byok.UsageEvent) []any {
	return []any{member, e.ID, deviceID, source, us(e.Time), string(e.Service), e.Model, e.App, e.Project,
		e.Credential.String(), string(e.Payer), int32(e.Status), e.Usage.InputTokens, e.Usage.OutputTokens, e.Usage.CacheReadTokens,
		e.Usage.CacheWrite5mTokens, e.Usage.CacheWrite1hTokens, e.Usage.Requests, int64(e.Cost), e.CostKnown,
		e.Latency.Microseconds(), e.FallbackReason, e.Relayed, !e.Usage.Complete}
}

var usageInsert = func() string {
	ph := make([]string, len(usageCols))
	for i := range ph {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	return "INSERT INTO usage (" + strings.Join(usageCols, ", ") + ") VALUES (" + strings.Join(ph, ", ") + ")"
}()

// months is the partitions evs' rows go to.
func months(evs []byok.UsageEvent) []int64 {
	var out []int64
	for _, e := range evs {
		if m := monthOf(e.Time); !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// IngestUsage implements hub.Store, in one transaction. A row already
// stored under (member, id), by any replica, is kept (the first of a
// batch's duplicates wins, as in sqlitestore), but a device's fallback
// reason is taken onto the hub's own row of a relayed call: only the
// daemon knows why the call left the member's key, and the reason is no
// amount the member could shrink.
func (d *DB) IngestUsage(ctx context.Context, member, deviceID string, evs []byok.UsageEvent) error {
	// Claim ids in one order in every transaction, so that two replicas
	// storing overlapping batches wait for each other, not deadlock.
	seen := make(map[string]bool, len(evs))
	batch := make([]byok.UsageEvent, 0, len(evs))
	for _, e := range evs {
		if !seen[e.ID] {
			seen[e.ID] = true
			batch = append(batch, e)
		}
	}
	slices.SortFunc(batch, func(a, b byok.UsageEvent) int { return strings.Compare(a.ID, b.ID) })
	ids := make([]string, len(batch))
	times := make([]int64, len(batch))
	for i, e := range batch {
		ids[i], times[i] = e.ID, us(e.Time)
	}
	err := d.writeUsage(ctx, months(batch), func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `INSERT INTO usage_keys (member, id, time_us, source)
SELECT $1, id, t, 'device' FROM unnest($2::text[], $3::bigint[]) AS u(id, t)
ON CONFLICT (member, id) DO NOTHING RETURNING id`, member, ids, times)
		if err != nil {
			return err
		}
		claimed, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		isNew := make(map[string]bool, len(claimed))
		for _, id := range claimed {
			isNew[id] = true
		}
		var roll rollup
		var fresh [][]any
		var reasons []byok.UsageEvent // kept rows whose copy here says why it fell back
		for _, e := range batch {
			switch {
			case isNew[e.ID]:
				fresh = append(fresh, usageArgs(member, deviceID, "device", e))
				roll.add(rollOf(member, e), 1)
			case e.FallbackReason != "":
				reasons = append(reasons, e)
			}
		}
		if len(fresh) > 0 {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"usage"}, usageCols, pgx.CopyFromRows(fresh)); err != nil {
				return err
			}
		}
		if err := mergeReasons(ctx, tx, member, reasons, &roll); err != nil {
			return err
		}
		return roll.apply(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("store %d usage events: %w", len(evs), advise(err))
	}
	return nil
}

// mergeReasons puts the fallback reasons of evs onto the hub's rows of
// the same calls, where those have none.
func mergeReasons(ctx context.Context, tx pgx.Tx, member string, evs []byok.UsageEvent, roll *rollup) error {
	if len(evs) == 0 {
		return nil
	}
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	rows, err := tx.Query(ctx, `SELECT id, time_us FROM usage_keys WHERE member = $1 AND id = ANY($2) AND source = 'hub'`, member, ids)
	if err != nil {
		return err
	}
	at := map[string]int64{}
	var id string
	var t int64
	if _, err := pgx.ForEachRow(rows, []any{&id, &t}, func() error { at[id] = t; return nil }); err != nil {
		return err
	}
	for _, e := range evs {
		t, ok := at[e.ID]
		if !ok {
			continue
		}
		// Only the reason changes, and it was empty: the old row is the
		// new one without it.
		now, err := scanRoll(tx.QueryRow(ctx, `UPDATE usage SET fallback_reason = $4
WHERE member = $1 AND id = $2 AND time_us = $3 AND source = 'hub' AND fallback_reason = ''
RETURNING `+rollCols, member, e.ID, t, e.FallbackReason))
		if errors.Is(err, pgx.ErrNoRows) {
			continue // the hub's row has a reason already
		}
		if err != nil {
			return err
		}
		old := now
		old.reason = ""
		roll.add(old, -1)
		roll.add(now, 1)
	}
	return nil
}

// RecordRelayed implements hub.Store.
func (d *DB) RecordRelayed(ctx context.Context, deviceID string, e byok.UsageEvent) error {
	err := d.writeUsage(ctx, []int64{monthOf(e.Time)}, func(tx pgx.Tx) error {
		var roll rollup
		tag, err := tx.Exec(ctx, `INSERT INTO usage_keys (member, id, time_us, source) VALUES ($1, $2, $3, 'hub')
ON CONFLICT (member, id) DO NOTHING`, e.Member, e.ID, us(e.Time))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var source string
			var t int64
			if err := tx.QueryRow(ctx, `SELECT source, time_us FROM usage_keys WHERE member = $1 AND id = $2 FOR UPDATE`,
				e.Member, e.ID).Scan(&source, &t); err != nil {
				return err
			}
			if source == "hub" {
				return byok.ErrExists
			}
			old, err := scanRoll(tx.QueryRow(ctx, `DELETE FROM usage WHERE member = $1 AND id = $2 AND time_us = $3 RETURNING `+rollCols,
				e.Member, e.ID, t))
			if err != nil {
				return fmt.Errorf("replace the device's copy: %w", err)
			}
			roll.add(old, -1)
			if e.FallbackReason == "" {
				e.FallbackReason = old.reason // the device's copy says why (see IngestUsage)
			}
			if _, err := tx.Exec(ctx, `UPDATE usage_keys SET source = 'hub', time_us = $3 WHERE member = $1 AND id = $2`,
				e.Member, e.ID, us(e.Time)); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, usageInsert, usageArgs(e.Member, deviceID, "hub", e)...); err != nil {
			return err
		}
		// The row now counts against the member's cap: its hold goes in
		// the same commit.
		if _, err := tx.Exec(ctx, `DELETE FROM cap_holds WHERE member = $1 AND id = $2`, e.Member, e.ID); err != nil {
			return err
		}
		roll.add(rollOf(e.Member, e), 1)
		return roll.apply(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("record relayed call: %w", advise(err))
	}
	return nil
}

// Usage implements hub.Store.
func (d *DB) Usage(ctx context.Context, f hub.UsageFilter) ([]byok.UsageEvent, error) {
	var a args
	cond := where(f, "time_us", &a)
	return d.query(ctx, "read usage", "WHERE "+cond+" ORDER BY time_us, member, id", a)
}

// query reads usage rows; tail is the WHERE clause onwards.
func (d *DB) query(ctx context.Context, doing, tail string, a args) ([]byok.UsageEvent, error) {
	q := `SELECT member, id, time_us, service, model, app, project, credential, payer, status, input_tokens,
output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, requests, cost_micros,
cost_known, latency_us, fallback_reason, relayed, incomplete FROM usage ` + tail
	rows, err := d.pool.Query(ctx, q, a...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doing, err)
	}
	defer rows.Close()
	out := []byok.UsageEvent{}
	for rows.Next() {
		var e byok.UsageEvent
		var t, cost, lat int64
		var status int32
		var incomplete bool
		var cred, svc, payer string
		if err := rows.Scan(&e.Member, &e.ID, &t, &svc, &e.Model, &e.App, &e.Project, &cred, &payer,
			&status, &e.Usage.InputTokens, &e.Usage.OutputTokens, &e.Usage.CacheReadTokens, &e.Usage.CacheWrite5mTokens,
			&e.Usage.CacheWrite1hTokens, &e.Usage.Requests, &cost, &e.CostKnown, &lat, &e.FallbackReason, &e.Relayed,
			&incomplete); err != nil {
			return nil, fmt.Errorf("%s: %w", doing, err)
		}
		var err error
		if e.Credential, err = byok.ParseCredentialRef(cred); err != nil {
			return nil, fmt.Errorf("%s: %w", doing, err)
		}
		e.Service, e.Payer, e.Status = byok.Service(svc), byok.Payer(payer), int(status)
		e.Time, e.Cost, e.Latency = fromUS(t), byok.Micros(cost), time.Duration(lat)*time.Microsecond
		e.Usage.Model, e.Usage.Complete = e.Model, !incomplete
		out = append(out, e)
	}
	return out, rows.Err()
}

// HubMetered implements hub.Store.
func (d *DB) HubMetered(ctx context.Context, member string, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := d.pool.Query(ctx, `SELECT id FROM usage_keys WHERE member = $1 AND id = ANY($2) AND source = 'hub'`, member, ids)
	if err != nil {
		return nil, fmt.Errorf("look up relayed calls: %w", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("look up relayed calls: %w", err)
	}
	for _, id := range got {
		out[id] = true
	}
	return out, nil
}

// SharedSpend implements hub.Store: only rows the hub metered count.
func (d *DB) SharedSpend(ctx context.Context, member string, from, to time.Time) (byok.Micros, error) {
	var sum int64
	err := d.pool.QueryRow(ctx, `SELECT coalesce(sum(cost_micros), 0)::bigint FROM usage
WHERE member = $1 AND source = 'hub' AND time_us >= $2 AND time_us < $3`, member, us(from), us(to)).Scan(&sum)
	if err != nil {
		return 0, fmt.Errorf("sum shared spend: %w", err)
	}
	return byok.Micros(sum), nil
}
