package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
	"byokd.dev/byok/hub/sqlstore"
)

var _ hub.CapReserver = (*DB)(nil)

// capLock is the advisory lock class of a member's allowance ("cap" in
// ASCII); the member's hashtext is the object.
const capLock int32 = 0x636170

// ReserveShared implements hub.CapReserver. Reservations of one member
// take turns on an advisory lock, and the spend and the holds are read in
// one statement (one snapshot): a row recorded meanwhile is counted once,
// as the row or as its hold, never neither.
func (d *DB) ReserveShared(ctx context.Context, h hub.CapHold) (byok.Micros, bool, error) {
	var used int64
	ok := false
	err := d.tx(ctx, func(tx pgx.Tx) error {
		ok = false
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, capLock, h.Member); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM cap_holds WHERE member = $1 AND expires_us <= $2`, h.Member, sqlstore.US(h.Now)); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT
	(SELECT coalesce(sum(cost_micros), 0) FROM usage WHERE member = $1 AND source = 'hub' AND time_us >= $2 AND time_us < $3) +
	(SELECT coalesce(sum(amount), 0) FROM cap_holds WHERE member = $1 AND id <> $4)`,
			h.Member, sqlstore.US(h.From), sqlstore.US(h.To), h.ID).Scan(&used); err != nil {
			return err
		}
		if used >= int64(h.Cap) {
			return nil
		}
		amount := min(int64(h.Amount), int64(h.Cap)-used)
		if _, err := tx.Exec(ctx, `INSERT INTO cap_holds (member, id, amount, expires_us) VALUES ($1, $2, $3, $4)
ON CONFLICT (member, id) DO UPDATE SET amount = excluded.amount, expires_us = excluded.expires_us`,
			h.Member, h.ID, amount, sqlstore.US(h.Expires)); err != nil {
			return err
		}
		ok = true
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("reserve shared allowance: %w", err)
	}
	return byok.Micros(used), ok, nil
}

// ReleaseShared implements hub.CapReserver.
func (d *DB) ReleaseShared(ctx context.Context, member, id string) error {
	if _, err := d.pool.Exec(ctx, `DELETE FROM cap_holds WHERE member = $1 AND id = $2`, member, id); err != nil {
		return fmt.Errorf("release shared allowance: %w", err)
	}
	return nil
}
