package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
)

// CreateInvite implements hub.Store.
func (d *DB) CreateInvite(ctx context.Context, inv hub.Invite) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO invites (code_hash, email, created_us, expires_us) VALUES ($1, $2, $3, $4)`,
		inv.CodeHash, inv.Email, us(inv.Created), us(inv.Expires))
	if isUnique(err) {
		return fmt.Errorf("create invite: %w", byok.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create invite: %w", err)
	}
	return nil
}

// Redeem implements hub.Store. The UPDATE takes the invite's row lock, so
// of two replicas redeeming one code at once, one finds it used.
func (d *DB) Redeem(ctx context.Context, codeHash string, now time.Time, dev hub.Device) (hub.Device, error) {
	err := d.tx(ctx, func(tx pgx.Tx) error {
		var email string
		err := tx.QueryRow(ctx, `UPDATE invites SET used_us = $1 WHERE code_hash = $2 AND used_us IS NULL AND expires_us > $1
RETURNING email`, us(now), codeHash).Scan(&email)
		if errors.Is(err, pgx.ErrNoRows) {
			return byok.ErrNotFound
		}
		if err != nil {
			return err
		}
		dev.Member = email
		_, err = tx.Exec(ctx, `INSERT INTO devices (id, member, name, cred_hash, created_us) VALUES ($1, $2, $3, $4, $5)`,
			dev.ID, dev.Member, dev.Name, dev.CredHash, us(dev.Created))
		if isUnique(err) {
			return byok.ErrExists
		}
		return err
	})
	if err != nil {
		return hub.Device{}, fmt.Errorf("redeem invite: %w", err)
	}
	return dev, nil
}

const deviceColumns = `id, member, name, cred_hash, created_us, last_seen_us, revoked_us`

func scanDevice(row pgx.Row) (hub.Device, error) {
	var dv hub.Device
	var created, seen int64
	var revoked *int64
	if err := row.Scan(&dv.ID, &dv.Member, &dv.Name, &dv.CredHash, &created, &seen, &revoked); err != nil {
		return dv, err
	}
	dv.Created, dv.LastSeen = fromUS(created), fromUS(seen)
	if revoked != nil {
		t := fromUS(*revoked)
		dv.Revoked = &t
	}
	return dv, nil
}

// DeviceByCredential implements hub.Store.
func (d *DB) DeviceByCredential(ctx context.Context, hash string) (hub.Device, error) {
	dv, err := scanDevice(d.pool.QueryRow(ctx, `SELECT `+deviceColumns+` FROM devices WHERE cred_hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return dv, byok.ErrNotFound
	}
	if err != nil {
		return dv, fmt.Errorf("look up device: %w", err)
	}
	return dv, nil
}

// Devices implements hub.Store.
func (d *DB) Devices(ctx context.Context) ([]hub.Device, error) {
	rows, err := d.pool.Query(ctx, `SELECT `+deviceColumns+` FROM devices ORDER BY member, created_us`)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	defer rows.Close()
	out := []hub.Device{}
	for rows.Next() {
		dv, err := scanDevice(rows)
		if err != nil {
			return nil, fmt.Errorf("list devices: %w", err)
		}
		out = append(out, dv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	return out, nil
}

// RevokeDevice implements hub.Store.
func (d *DB) RevokeDevice(ctx context.Context, id string, at time.Time) error {
	var found bool
	err := d.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE devices SET revoked_us = coalesce(revoked_us, $1) WHERE id = $2`, us(at), id)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		found = true
		// Every hub ends the device's sessions, not only this one.
		return notify(ctx, tx, hub.Change{Kind: hub.ChangeRevoked, Device: id})
	})
	if err != nil {
		return fmt.Errorf("revoke device: %w", err)
	}
	if !found {
		return fmt.Errorf("revoke device %q: %w", id, byok.ErrNotFound)
	}
	return nil
}

// SeenDevice implements hub.Store.
func (d *DB) SeenDevice(ctx context.Context, id string, at time.Time) error {
	if _, err := d.pool.Exec(ctx, `UPDATE devices SET last_seen_us = $1 WHERE id = $2`, us(at), id); err != nil {
		return fmt.Errorf("note device contact: %w", err)
	}
	return nil
}

// AddAdmin implements hub.Store; adding an existing admin is not an error.
func (d *DB) AddAdmin(ctx context.Context, email string, at time.Time) error {
	if _, err := d.pool.Exec(ctx, `INSERT INTO admins (email, created_us) VALUES ($1, $2) ON CONFLICT DO NOTHING`, email, us(at)); err != nil {
		return fmt.Errorf("add admin: %w", err)
	}
	return nil
}

// IsAdmin implements hub.Store.
func (d *DB) IsAdmin(ctx context.Context, email string) (bool, error) {
	var ok bool
	if err := d.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM admins WHERE email = $1)`, email).Scan(&ok); err != nil {
		return false, fmt.Errorf("look up admin: %w", err)
	}
	return ok, nil
}

// CreateLogin implements hub.Store.
func (d *DB) CreateLogin(ctx context.Context, l hub.Login) error {
	if _, err := d.pool.Exec(ctx, `INSERT INTO logins (code_hash, email, expires_us) VALUES ($1, $2, $3)`,
		l.CodeHash, l.Email, us(l.Expires)); err != nil {
		return fmt.Errorf("create login link: %w", err)
	}
	return nil
}

// RedeemLogin implements hub.Store: one replica wins a code used twice.
func (d *DB) RedeemLogin(ctx context.Context, codeHash string, now time.Time) (string, error) {
	var email string
	err := d.pool.QueryRow(ctx, `UPDATE logins SET used_us = $1 WHERE code_hash = $2 AND used_us IS NULL AND expires_us > $1
RETURNING email`, us(now), codeHash).Scan(&email)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", byok.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("redeem login link: %w", err)
	}
	return email, nil
}

// CreateSession implements hub.Store.
func (d *DB) CreateSession(ctx context.Context, s hub.Session) error {
	if _, err := d.pool.Exec(ctx, `INSERT INTO sessions (hash, email, expires_us) VALUES ($1, $2, $3)`,
		s.Hash, s.Email, us(s.Expires)); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// DeleteSession implements hub.Store.
func (d *DB) DeleteSession(ctx context.Context, hash string) error {
	if _, err := d.pool.Exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// Session implements hub.Store.
func (d *DB) Session(ctx context.Context, hash string, now time.Time) (hub.Session, error) {
	s := hub.Session{Hash: hash}
	var exp int64
	err := d.pool.QueryRow(ctx, `SELECT email, expires_us FROM sessions WHERE hash = $1 AND expires_us > $2`, hash, us(now)).Scan(&s.Email, &exp)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, byok.ErrNotFound
	}
	if err != nil {
		return s, fmt.Errorf("look up session: %w", err)
	}
	s.Expires = fromUS(exp)
	return s, nil
}
