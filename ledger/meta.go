package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"byokd.dev/byok"
)

// Meta returns the value stored under key (the install id, the cached team
// policy JSON, …). It fails with byok.ErrNotFound if none is.
func (d *DB) Meta(ctx context.Context, key string) (string, error) {
	var v string
	err := d.rdb.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("read %s: %w", key, byok.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", key, classify(d.path, err))
	}
	return v, nil
}

// SetMeta stores value under key, replacing any earlier value.
func (d *DB) SetMeta(ctx context.Context, key, value string) error {
	err := d.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
		return err
	})
	if err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	return nil
}
