package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
)

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// CreateInvite implements hub.Store.
func (d *DB) CreateInvite(ctx context.Context, inv hub.Invite) error {
	_, err := d.w.ExecContext(ctx, `INSERT INTO invites (code_hash, email, created_us, expires_us) VALUES (?, ?, ?, ?)`,
		inv.CodeHash, inv.Email, us(inv.Created), us(inv.Expires))
	if isUnique(err) {
		return fmt.Errorf("create invite: %w", byok.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create invite: %w", err)
	}
	return nil
}

// Redeem implements hub.Store.
func (d *DB) Redeem(ctx context.Context, codeHash string, now time.Time, dev hub.Device) (hub.Device, error) {
	err := d.tx(ctx, func(tx *sql.Tx) error {
		var email string
		err := tx.QueryRowContext(ctx, `UPDATE invites SET used_us = ? WHERE code_hash = ? AND used_us IS NULL AND expires_us > ?
RETURNING email`, us(now), codeHash, us(now)).Scan(&email)
		if errors.Is(err, sql.ErrNoRows) {
			return byok.ErrNotFound
		}
		if err != nil {
			return err
		}
		dev.Member = email
		_, err = tx.ExecContext(ctx, `INSERT INTO devices (id, member, name, cred_hash, created_us) VALUES (?, ?, ?, ?, ?)`,
			dev.ID, dev.Member, dev.Name, dev.CredHash, us(dev.Created))
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
	var revoked sql.NullInt64
	if err := row.Scan(&dv.ID, &dv.Member, &dv.Name, &dv.CredHash, &created, &seen, &revoked); err != nil {
		return dv, err
	}
	dv.Created, dv.LastSeen = fromUS(created), fromUS(seen)
	if revoked.Valid {
		t := fromUS(revoked.Int64)
		dv.Revoked = &t
	}
	return dv, nil
}

// DeviceByCredential implements hub.Store.
func (d *DB) DeviceByCredential(ctx context.Context, hash string) (hub.Device, error) {
	dv, err := scanDevice(d.r.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM devices WHERE cred_hash = ?`, hash))
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
	return out, rows.Err()
}

// RevokeDevice implements hub.Store.
func (d *DB) RevokeDevice(ctx context.Context, id string, at time.Time) error {
	res, err := d.w.ExecContext(ctx, `UPDATE devices SET revoked_us = coalesce(revoked_us, ?) WHERE id = ?`, us(at), id)
	if err != nil {
		return fmt.Errorf("revoke device: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("revoke device %q: %w", id, byok.ErrNotFound)
	}
	return nil
}

// SeenDevice implements hub.Store.
func (d *DB) SeenDevice(ctx context.Context, id string, at time.Time) error {
	if _, err := d.w.ExecContext(ctx, `UPDATE devices SET last_seen_us = ? WHERE id = ?`, us(at), id); err != nil {
		return fmt.Errorf("note device contact: %w", err)
	}
	return nil
}

// AddAdmin implements hub.Store; adding an existing admin is not an error.
func (d *DB) AddAdmin(ctx context.Context, email string, at time.Time) error {
	if _, err := d.w.ExecContext(ctx, `INSERT OR IGNORE INTO admins (email, created_us) VALUES (?, ?)`, email, us(at)); err != nil {
		return fmt.Errorf("add admin: %w", err)
	}
	return nil
}

// IsAdmin implements hub.Store.
func (d *DB) IsAdmin(ctx context.Context, email string) (bool, error) {
	var n int
	if err := d.r.QueryRowContext(ctx, `SELECT count(*) FROM admins WHERE email = ?`, email).Scan(&n); err != nil {
		return false, fmt.Errorf("look up admin: %w", err)
	}
	return n > 0, nil
}

// CreateLogin implements hub.Store.
func (d *DB) CreateLogin(ctx context.Context, l hub.Login) error {
	if _, err := d.w.ExecContext(ctx, `INSERT INTO logins (code_hash, email, expires_us) VALUES (?, ?, ?)`,
		l.CodeHash, l.Email, us(l.Expires)); err != nil {
		return fmt.Errorf("create login link: %w", err)
	}
	return nil
}

// RedeemLogin implements hub.Store.
func (d *DB) RedeemLogin(ctx context.Context, codeHash string, now time.Time) (string, error) {
	var email string
	err := d.w.QueryRowContext(ctx, `UPDATE logins SET used_us = ? WHERE code_hash = ? AND used_us IS NULL AND expires_us > ?
RETURNING email`, us(now), codeHash, us(now)).Scan(&email)
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
	if _, err := d.w.ExecContext(ctx, `INSERT INTO sessions (hash, email, expires_us) VALUES (?, ?, ?)`,
		s.Hash, s.Email, us(s.Expires)); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// DeleteSession implements hub.Store.
func (d *DB) DeleteSession(ctx context.Context, hash string) error {
	if _, err := d.w.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, hash); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// Session implements hub.Store.
func (d *DB) Session(ctx context.Context, hash string, now time.Time) (hub.Session, error) {
	s := hub.Session{Hash: hash}
	var exp int64
	err := d.r.QueryRowContext(ctx, `SELECT email, expires_us FROM sessions WHERE hash = ? AND expires_us > ?`, hash, us(now)).Scan(&s.Email, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return s, byok.ErrNotFound
	}
	if err != nil {
		return s, fmt.Errorf("look up session: %w", err)
	}
	s.Expires = fromUS(exp)
	return s, nil
}
