package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"byokd.dev/byok"
)

// AddKey stores the metadata of a personal key; the secret itself belongs
// in the keystore. It fails with byok.ErrExists if the service already has
// a key of that name. The first key of a service becomes its primary; a key
// added with Primary set takes over from the previous primary in the same
// transaction. A zero Created is set to now.
func (d *DB) AddKey(ctx context.Context, k byok.KeyInfo) error {
	if k.Service == "" || k.Name == "" {
		return fmt.Errorf("add key: a key needs a service and a name")
	}
	if k.Created.IsZero() {
		k.Created = d.opts.Now()
	}
	err := d.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var n, same int
		if err := tx.QueryRowContext(ctx, `SELECT count(*), count(name = ? OR NULL) FROM keys WHERE service = ?`,
			k.Name, string(k.Service)).Scan(&n, &same); err != nil {
			return err
		}
		if same > 0 {
			return fmt.Errorf("%w: choose another name or remove the old key first", byok.ErrExists)
		}
		primary := k.Primary || n == 0
		if primary {
			if _, err := tx.ExecContext(ctx, `UPDATE keys SET is_primary = 0 WHERE service = ? AND is_primary`,
				string(k.Service)); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO keys (service, name, fingerprint, budget_micros, is_primary, created_us)
VALUES (?, ?, ?, ?, ?, ?)`, string(k.Service), k.Name, k.Fingerprint, int64(k.Budget), primary, k.Created.UnixMicro())
		return err
	})
	if err != nil {
		return fmt.Errorf("add key %s/%s: %w", k.Service, k.Name, err)
	}
	return nil
}

// SetPrimary makes the named key its service's primary. It fails with
// byok.ErrNotFound if there is no such key.
func (d *DB) SetPrimary(ctx context.Context, svc byok.Service, name string) error {
	err := d.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := keyExists(ctx, tx, svc, name); err != nil {
			return err
		}
		// Two statements: the unique index on primaries is checked row by
		// row, so one UPDATE swapping the flag would collide with itself.
		if _, err := tx.ExecContext(ctx, `UPDATE keys SET is_primary = 0 WHERE service = ? AND is_primary`,
			string(svc)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE keys SET is_primary = 1 WHERE service = ? AND name = ?`, string(svc), name)
		return err
	})
	if err != nil {
		return fmt.Errorf("make key %s/%s primary: %w", svc, name, err)
	}
	return nil
}

// RemoveKey deletes a key's metadata. It fails with byok.ErrNotFound if
// there is no such key. Removing the primary makes the service's oldest
// remaining key primary.
func (d *DB) RemoveKey(ctx context.Context, svc byok.Service, name string) error {
	err := d.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := keyExists(ctx, tx, svc, name); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM keys WHERE service = ? AND name = ?`, string(svc), name); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE keys SET is_primary = 1
WHERE service = ?1 AND name = (SELECT name FROM keys WHERE service = ?1 ORDER BY created_us, name LIMIT 1)
AND NOT EXISTS (SELECT 1 FROM keys WHERE service = ?1 AND is_primary)`, string(svc))
		return err
	})
	if err != nil {
		return fmt.Errorf("remove key %s/%s: %w", svc, name, err)
	}
	return nil
}

func keyExists(ctx context.Context, tx *sql.Tx, svc byok.Service, name string) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM keys WHERE service = ? AND name = ?`, string(svc), name).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return byok.ErrNotFound
	}
	return err
}

// Keys lists every key's metadata, ordered by service, then the primary
// first, then by name.
func (d *DB) Keys(ctx context.Context) ([]byok.KeyInfo, error) {
	rows, err := d.rdb.QueryContext(ctx, `SELECT service, name, fingerprint, budget_micros, is_primary, created_us
FROM keys ORDER BY service, is_primary DESC, name`)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", classify(d.path, err))
	}
	defer rows.Close()
	var out []byok.KeyInfo
	for rows.Next() {
		var k byok.KeyInfo
		var svc string
		var budget, created int64
		if err := rows.Scan(&svc, &k.Name, &k.Fingerprint, &budget, &k.Primary, &created); err != nil {
			return nil, fmt.Errorf("list keys: %w", classify(d.path, err))
		}
		k.Service, k.Budget, k.Created = byok.Service(svc), byok.Micros(budget), time.UnixMicro(created)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list keys: %w", classify(d.path, err))
	}
	return out, nil
}
