package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"byokd.dev/byok"
	"byokd.dev/byok/hub/sqlstore"
)

// ingestConflict keeps the row already stored under (member, id), but
// takes a device's fallback reason onto the hub's own row of a relayed
// call: only the daemon knows why the call left the member's key, and the
// reason is no amount the member could shrink.
const ingestConflict = ` ON CONFLICT (member, id) DO UPDATE SET fallback_reason = excluded.fallback_reason
WHERE usage.source = 'hub' AND usage.fallback_reason = ''`

// IngestUsage implements hub.Store, in one transaction.
func (d *DB) IngestUsage(ctx context.Context, member, deviceID string, evs []byok.UsageEvent) error {
	err := d.Tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, sqlstore.UsageInsert+ingestConflict)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, e := range evs {
			if _, err := st.ExecContext(ctx, sqlstore.UsageArgs(member, deviceID, "device", e)...); err != nil {
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
	err := d.Tx(ctx, func(tx *sql.Tx) error {
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
		if _, err := tx.ExecContext(ctx, sqlstore.UsageInsert, sqlstore.UsageArgs(e.Member, deviceID, "hub", e)...); err != nil {
			return err
		}
		// The row now counts against the member's cap: its hold goes in
		// the same commit.
		_, err = tx.ExecContext(ctx, sqlstore.ReleaseHold, e.Member, e.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("record relayed call: %w", advise(d.path, err))
	}
	return nil
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
