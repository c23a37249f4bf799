package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"byokd.dev/byok"
	"byokd.dev/byok/hub/sqlstore"
)

// usageInsert inserts one usage row (sqlstore.UsageArgs).
var usageInsert = sqlstore.Rebind(sqlstore.UsageInsert)

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
		ids[i], times[i] = e.ID, sqlstore.US(e.Time)
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
				fresh = append(fresh, sqlstore.UsageArgs(member, deviceID, "device", e))
				roll.add(rollOf(member, e), 1)
			case e.FallbackReason != "":
				reasons = append(reasons, e)
			}
		}
		if len(fresh) > 0 {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"usage"}, sqlstore.UsageColumns, pgx.CopyFromRows(fresh)); err != nil {
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
ON CONFLICT (member, id) DO NOTHING`, e.Member, e.ID, sqlstore.US(e.Time))
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
				e.Member, e.ID, sqlstore.US(e.Time)); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, usageInsert, sqlstore.UsageArgs(e.Member, deviceID, "hub", e)...); err != nil {
			return err
		}
		// The row now counts against the member's cap: its hold goes in
		// the same commit.
		if _, err := tx.Exec(ctx, sqlstore.Rebind(sqlstore.ReleaseHold), e.Member, e.ID); err != nil {
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
