package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
)

// ReserveShared implements hub.Store. Reservations of one member take
// turns (Dialect.LockMember, or SQLite's one writer), and the spend and
// the holds are read in one statement (one snapshot): a row recorded
// meanwhile is counted once, as the row or as its hold, never neither.
func (d *DB) ReserveShared(ctx context.Context, h hub.CapHold) (byok.Micros, bool, error) {
	var used int64
	ok := false
	err := d.Tx(ctx, func(tx *sql.Tx) error {
		ok = false
		if d.dialect.LockMember != "" {
			if _, err := tx.ExecContext(ctx, d.q(d.dialect.LockMember), h.Member); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM cap_holds WHERE member = ? AND expires_us <= ?`), h.Member, US(h.Now)); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, d.q(`SELECT `+sharedSpend+` +
	CAST(coalesce((SELECT sum(amount) FROM cap_holds WHERE member = ? AND id <> ?), 0) AS bigint)`),
			h.Member, US(h.From), US(h.To), h.Member, h.ID).Scan(&used); err != nil {
			return err
		}
		if used >= int64(h.Cap) {
			return nil
		}
		amount := min(int64(h.Amount), int64(h.Cap)-used)
		if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO cap_holds (member, id, amount, expires_us) VALUES (?, ?, ?, ?)
ON CONFLICT (member, id) DO UPDATE SET amount = excluded.amount, expires_us = excluded.expires_us`),
			h.Member, h.ID, amount, US(h.Expires)); err != nil {
			return err
		}
		ok = true
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("reserve shared allowance: %w", d.dialect.Advise(err))
	}
	return byok.Micros(used), ok, nil
}

// ReleaseShared implements hub.Store.
func (d *DB) ReleaseShared(ctx context.Context, member, id string) error {
	err := d.Write(func() error {
		_, err := d.w.ExecContext(ctx, d.q(ReleaseHold), member, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("release shared allowance: %w", d.dialect.Advise(err))
	}
	return nil
}

// ReleaseHold is the statement that drops call id's hold as its row is
// recorded, in the same transaction: member, id.
const ReleaseHold = `DELETE FROM cap_holds WHERE member = ? AND id = ?`
