package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"byokd.dev/byok"
)

// CreateToken stores an app token's name, project and the SHA-256 of the
// token; the token itself is never stored. It fails with byok.ErrExists if
// a token of that name exists (revoked or not). A zero Created is set to
// now; Revoked is ignored.
func (d *DB) CreateToken(ctx context.Context, t byok.AppToken, hash [32]byte) error {
	if t.Name == "" {
		return fmt.Errorf("create app token: a token needs a name")
	}
	if t.Created.IsZero() {
		t.Created = d.opts.Now()
	}
	err := d.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM app_tokens WHERE name = ?`, t.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: choose another name", byok.ErrExists)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO app_tokens (name, project, hash, created_us) VALUES (?, ?, ?, ?)`,
			t.Name, t.Project, hash[:], t.Created.UnixMicro())
		return err
	})
	if err != nil {
		return fmt.Errorf("create app token %s: %w", t.Name, err)
	}
	return nil
}

const tokenColumns = `name, project, created_us, revoked_us IS NOT NULL`

func scanToken(s scanner) (byok.AppToken, error) {
	var t byok.AppToken
	var created int64
	if err := s.Scan(&t.Name, &t.Project, &created, &t.Revoked); err != nil {
		return t, err
	}
	t.Created = time.UnixMicro(created)
	return t, nil
}

// TokenByHash returns the app token whose SHA-256 is hash, revoked or not
// (check Revoked). It fails with byok.ErrNotFound if there is none.
func (d *DB) TokenByHash(ctx context.Context, hash [32]byte) (byok.AppToken, error) {
	t, err := scanToken(d.rdb.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM app_tokens WHERE hash = ?`, hash[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return byok.AppToken{}, fmt.Errorf("look up app token: %w", byok.ErrNotFound)
	}
	if err != nil {
		return byok.AppToken{}, fmt.Errorf("look up app token: %w", classify(d.path, err))
	}
	return t, nil
}

// Tokens lists every app token, revoked ones included, by name.
func (d *DB) Tokens(ctx context.Context) ([]byok.AppToken, error) {
	rows, err := d.rdb.QueryContext(ctx, `SELECT `+tokenColumns+` FROM app_tokens ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list app tokens: %w", classify(d.path, err))
	}
	defer rows.Close()
	var out []byok.AppToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list app tokens: %w", classify(d.path, err))
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list app tokens: %w", classify(d.path, err))
	}
	return out, nil
}

// RevokeToken marks the named token revoked; the proxy then refuses it.
// Revoking a revoked token is a no-op. It fails with byok.ErrNotFound if
// there is no token of that name.
func (d *DB) RevokeToken(ctx context.Context, name string) error {
	now := d.opts.Now().UnixMicro()
	err := d.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE app_tokens SET revoked_us = coalesce(revoked_us, ?) WHERE name = ?`, now, name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = byok.ErrNotFound
			}
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("revoke app token %s: %w", name, err)
	}
	return nil
}
