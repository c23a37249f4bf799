package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
)

// CreateInvite implements hub.Store.
func (d *DB) CreateInvite(ctx context.Context, inv hub.Invite) error {
	_, err := d.w.ExecContext(ctx, d.q(`INSERT INTO invites (code_hash, email, created_us, expires_us) VALUES (?, ?, ?, ?)`),
		inv.CodeHash, inv.Email, US(inv.Created), US(inv.Expires))
	if d.dialect.IsUnique(err) {
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
	err := d.Tx(ctx, func(tx *sql.Tx) error {
		var email string
		err := tx.QueryRowContext(ctx, d.q(`UPDATE invites SET used_us = ? WHERE code_hash = ? AND used_us IS NULL AND expires_us > ?
RETURNING email`), US(now), codeHash, US(now)).Scan(&email)
		if errors.Is(err, sql.ErrNoRows) {
			return byok.ErrNotFound
		}
		if err != nil {
			return err
		}
		dev.Member = email
		_, err = tx.ExecContext(ctx, d.q(`INSERT INTO devices (id, member, name, cred_hash, created_us) VALUES (?, ?, ?, ?, ?)`),
			dev.ID, dev.Member, dev.Name, dev.CredHash, US(dev.Created))
		if d.dialect.IsUnique(err) {
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

func scanDevice(row interface{ Scan(...any) error }) (hub.Device, error) {
	var dv hub.Device
	var created, seen int64
	var revoked *int64
	if err := row.Scan(&dv.ID, &dv.Member, &dv.Name, &dv.CredHash, &created, &seen, &revoked); err != nil {
		return dv, err
	}
	dv.Created, dv.LastSeen = FromUS(created), FromUS(seen)
	if revoked != nil {
		t := FromUS(*revoked)
		dv.Revoked = &t
	}
	return dv, nil
}

// DeviceByCredential implements hub.Store.
func (d *DB) DeviceByCredential(ctx context.Context, hash string) (hub.Device, error) {
	dv, err := scanDevice(d.r.QueryRowContext(ctx, d.q(`SELECT `+deviceColumns+` FROM devices WHERE cred_hash = ?`), hash))
	if errors.Is(err, sql.ErrNoRows) {
		return dv, byok.ErrNotFound
	}
	if err != nil {
		return dv, fmt.Errorf("look up device: %w", err)
	}
	return dv, nil
}

// Devices implements hub.Store.
func (d *DB) Devices(ctx context.Context) ([]hub.Device, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT `+deviceColumns+` FROM devices ORDER BY member, created_us`)
	return collect("list devices", rows, err, func(rows *sql.Rows) (hub.Device, error) { return scanDevice(rows) })
}

// RevokeDevice implements hub.Store.
func (d *DB) RevokeDevice(ctx context.Context, id string, at time.Time) error {
	var found bool
	err := d.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, d.q(`UPDATE devices SET revoked_us = coalesce(revoked_us, ?) WHERE id = ?`), US(at), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		found = true
		// Every hub ends the device's sessions, not only this one.
		return d.notify(ctx, tx, hub.Change{Kind: hub.ChangeRevoked, Device: id})
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
	if _, err := d.w.ExecContext(ctx, d.q(`UPDATE devices SET last_seen_us = ? WHERE id = ?`), US(at), id); err != nil {
		return fmt.Errorf("note device contact: %w", err)
	}
	return nil
}

// AddAdmin implements hub.Store; adding an existing admin is not an error.
func (d *DB) AddAdmin(ctx context.Context, email string, at time.Time) error {
	if _, err := d.w.ExecContext(ctx, d.q(`INSERT INTO admins (email, created_us) VALUES (?, ?) ON CONFLICT DO NOTHING`), email, US(at)); err != nil {
		return fmt.Errorf("add admin: %w", err)
	}
	return nil
}

// IsAdmin implements hub.Store.
func (d *DB) IsAdmin(ctx context.Context, email string) (bool, error) {
	var ok bool
	if err := d.r.QueryRowContext(ctx, d.q(`SELECT EXISTS (SELECT 1 FROM admins WHERE email = ?)`), email).Scan(&ok); err != nil {
		return false, fmt.Errorf("look up admin: %w", err)
	}
	return ok, nil
}

// CreateLogin implements hub.Store.
func (d *DB) CreateLogin(ctx context.Context, l hub.Login) error {
	if _, err := d.w.ExecContext(ctx, d.q(`INSERT INTO logins (code_hash, email, expires_us) VALUES (?, ?, ?)`),
		l.CodeHash, l.Email, US(l.Expires)); err != nil {
		return fmt.Errorf("create login link: %w", err)
	}
	return nil
}

// RedeemLogin implements hub.Store: one replica wins a code used twice.
func (d *DB) RedeemLogin(ctx context.Context, codeHash string, now time.Time) (string, error) {
	var email string
	err := d.w.QueryRowContext(ctx, d.q(`UPDATE logins SET used_us = ? WHERE code_hash = ? AND used_us IS NULL AND expires_us > ?
RETURNING email`), US(now), codeHash, US(now)).Scan(&email)
	if errors.Is(err, sql.ErrNoRows) {
		return "", byok.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("redeem login link: %w", err)
	}
	return email, nil
}

// CreateSession implements hub.Store.
func (d *DB) CreateSession(ctx context.Context, s hub.Session) error {
	if _, err := d.w.ExecContext(ctx, d.q(`INSERT INTO sessions (hash, email, expires_us) VALUES (?, ?, ?)`),
		s.Hash, s.Email, US(s.Expires)); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// DeleteSession implements hub.Store.
func (d *DB) DeleteSession(ctx context.Context, hash string) error {
	if _, err := d.w.ExecContext(ctx, d.q(`DELETE FROM sessions WHERE hash = ?`), hash); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// Session implements hub.Store.
func (d *DB) Session(ctx context.Context, hash string, now time.Time) (hub.Session, error) {
	s := hub.Session{Hash: hash}
	var exp int64
	err := d.r.QueryRowContext(ctx, d.q(`SELECT email, expires_us FROM sessions WHERE hash = ? AND expires_us > ?`), hash, US(now)).Scan(&s.Email, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return s, byok.ErrNotFound
	}
	if err != nil {
		return s, fmt.Errorf("look up session: %w", err)
	}
	s.Expires = FromUS(exp)
	return s, nil
}
