package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
	"byokd.dev/byok/teamsync"
)

// SetInventory implements hub.Store.
func (d *DB) SetInventory(ctx context.Context, deviceID string, inv teamsync.Inventory, at time.Time) error {
	b, err := json.Marshal(inv)
	if err != nil {
		return err
	}
	if _, err := d.w.ExecContext(ctx, d.q(`INSERT INTO inventory (device_id, reported_us, body) VALUES (?, ?, ?)
ON CONFLICT (device_id) DO UPDATE SET reported_us = excluded.reported_us, body = excluded.body`), deviceID, US(at), string(b)); err != nil {
		return fmt.Errorf("store key inventory: %w", err)
	}
	return nil
}

// Inventories implements hub.Store.
func (d *DB) Inventories(ctx context.Context) ([]hub.DeviceInventory, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT i.device_id, d.member, d.name, i.reported_us, i.body
FROM inventory i JOIN devices d ON d.id = i.device_id ORDER BY d.member, d.name`)
	return collect("read key inventories", rows, err, func(rows *sql.Rows) (hub.DeviceInventory, error) {
		var di hub.DeviceInventory
		var at int64
		var body string
		if err := rows.Scan(&di.DeviceID, &di.Member, &di.Device, &at, &body); err != nil {
			return di, err
		}
		di.Reported = FromUS(at)
		if err := json.Unmarshal([]byte(body), &di.Inventory); err != nil {
			return di, fmt.Errorf("device %s: %w", di.DeviceID, err)
		}
		return di, nil
	})
}

// Policy implements hub.Store.
func (d *DB) Policy(ctx context.Context) (byok.Policy, error) {
	var p byok.Policy
	var body string
	err := d.r.QueryRowContext(ctx, `SELECT body FROM policies ORDER BY version DESC LIMIT 1`).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("read policy: %w", err)
	}
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		return p, fmt.Errorf("read policy: %w", err)
	}
	return p, nil
}

// SetPolicy implements hub.Store.
func (d *DB) SetPolicy(ctx context.Context, p byok.Policy) (byok.Policy, error) {
	err := d.addVersion(ctx, "policies", hub.ChangePolicy, func(v int64) (string, error) {
		p.Version = v
		b, err := json.Marshal(p)
		return string(b), err
	})
	if err != nil {
		return p, fmt.Errorf("store policy: %w", err)
	}
	return p, nil
}

// Prices implements hub.Store.
func (d *DB) Prices(ctx context.Context) (teamsync.PriceTable, error) {
	var t teamsync.PriceTable
	var body string
	err := d.r.QueryRowContext(ctx, `SELECT version, body FROM prices ORDER BY version DESC LIMIT 1`).Scan(&t.Version, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return t, nil
	}
	if err != nil {
		return t, fmt.Errorf("read prices: %w", err)
	}
	t.Table = json.RawMessage(body)
	return t, nil
}

// SetPrices implements hub.Store.
func (d *DB) SetPrices(ctx context.Context, table json.RawMessage) (teamsync.PriceTable, error) {
	t := teamsync.PriceTable{Table: table}
	err := d.addVersion(ctx, "prices", hub.ChangePrices, func(v int64) (string, error) {
		t.Version = v
		return string(table), nil
	})
	if err != nil {
		return t, fmt.Errorf("store prices: %w", d.dialect.Advise(err))
	}
	return t, nil
}

// addVersion stores body's text of the next version in table (policies
// or prices) and tells the other hubs of the change.
func (d *DB) addVersion(ctx context.Context, table string, kind hub.ChangeKind, body func(version int64) (string, error)) error {
	return d.Tx(ctx, func(tx *sql.Tx) error {
		if d.dialect.LockVersions != "" {
			// Replicas setting one at once take turns: each version is
			// the one after the newest committed.
			if _, err := tx.ExecContext(ctx, fmt.Sprintf(d.dialect.LockVersions, table)); err != nil {
				return err
			}
		}
		var v int64
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) + 1 FROM `+table).Scan(&v); err != nil {
			return err
		}
		b, err := body(v)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO `+table+` (version, body, created_us) VALUES (?, ?, ?)`), v, b, time.Now().UnixMicro()); err != nil {
			return err
		}
		return d.notify(ctx, tx, hub.Change{Kind: kind})
	})
}

// AddSharedKey implements hub.Store.
func (d *DB) AddSharedKey(ctx context.Context, k hub.SharedKey) error {
	_, err := d.w.ExecContext(ctx, d.q(`INSERT INTO shared_keys (name, service, fingerprint, created_us) VALUES (?, ?, ?, ?)`),
		k.Name, string(k.Service), k.Fingerprint, US(k.Created))
	if d.dialect.IsUnique(err) {
		return fmt.Errorf("a shared key named %q %w", k.Name, byok.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("add shared key: %w", err)
	}
	return nil
}

// SharedKeys implements hub.Store, oldest first.
func (d *DB) SharedKeys(ctx context.Context) ([]hub.SharedKey, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT name, service, fingerprint, created_us FROM shared_keys ORDER BY created_us, name`)
	return collect("list shared keys", rows, err, func(rows *sql.Rows) (hub.SharedKey, error) {
		var k hub.SharedKey
		var at int64
		err := rows.Scan(&k.Name, &k.Service, &k.Fingerprint, &at)
		k.Created = FromUS(at)
		return k, err
	})
}

// RemoveSharedKey implements hub.Store.
func (d *DB) RemoveSharedKey(ctx context.Context, name string) (hub.SharedKey, error) {
	k := hub.SharedKey{Name: name}
	var at int64
	err := d.w.QueryRowContext(ctx, d.q(`DELETE FROM shared_keys WHERE name = ? RETURNING service, fingerprint, created_us`), name).
		Scan(&k.Service, &k.Fingerprint, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return k, fmt.Errorf("shared key %q: %w", name, byok.ErrNotFound)
	}
	if err != nil {
		return k, fmt.Errorf("remove shared key: %w", err)
	}
	k.Created = FromUS(at)
	return k, nil
}
