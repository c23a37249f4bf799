package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/jackc/pgx/v5"
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
	if _, err := d.pool.Exec(ctx, `INSERT INTO inventory (device_id, reported_us, body) VALUES ($1, $2, $3)
ON CONFLICT (device_id) DO UPDATE SET reported_us = excluded.reported_us, body = excluded.body`, deviceID, us(at), string(b)); err != nil {
		return fmt.Errorf("store key inventory: %w", err)
	}
	return nil
}

// Inventories implements hub.Store.
func (d *DB) Inventories(ctx context.Context) ([]hub.DeviceInventory, error) {
	rows, err := d.pool.Query(ctx, `SELECT i.device_id, d.member, d.name, i.reported_us, i.body
FROM inventory i JOIN devices d ON d.id = i.device_id ORDER BY d.member, d.name`)
	if err != nil {
		return nil, fmt.Errorf("read key inventories: %w", err)
	}
	defer rows.Close()
	out := []hub.DeviceInventory{}
	for rows.Next() {
		var di hub.DeviceInventory
		var at int64
		var body string
		if err := rows.Scan(&di.DeviceID, &di.Member, &di.Device, &at, &body); err != nil {
			return nil, fmt.Errorf("read key inventories: %w", err)
		}
		di.Reported = fromUS(at)
		if err := json.Unmarshal([]byte(body), &di.Inventory); err != nil {
			return nil, fmt.Errorf("read key inventory of %s: %w", di.DeviceID, err)
		}
		out = append(out, di)
	}
	return out, rows.Err()
}

// Policy implements hub.Store.
func (d *DB) Policy(ctx context.Context) (byok.Policy, error) {
	var p byok.Policy
	var body string
	err := d.pool.QueryRow(ctx, `SELECT body FROM policies ORDER BY version DESC LIMIT 1`).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
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
	err := d.tx(ctx, func(tx pgx.Tx) error {
		// Replicas setting one at once take turns: each version is
		// the one after the newest committed.
		if _, err := tx.Exec(ctx, `LOCK TABLE policies IN EXCLUSIVE MODE`); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) + 1 FROM policies`).Scan(&p.Version); err != nil {
			return err
		}
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, `INSERT INTO policies (version, body, created_us) VALUES ($1, $2, $3)`, p.Version, string(b), time.Now().UnixMicro()); err != nil {
			return err
		}
		return notify(ctx, tx, hub.Change{Kind: hub.ChangePolicy})
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
	err := d.pool.QueryRow(ctx, `SELECT version, body FROM prices ORDER BY version DESC LIMIT 1`).Scan(&t.Version, &body)
	if errors.Is(err, pgx.ErrNoRows) {
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
	err := d.tx(ctx, func(tx pgx.Tx) error {
		// Replicas setting one at once take turns: each version is
		// the one after the newest committed.
		if _, err := tx.Exec(ctx, `LOCK TABLE prices IN EXCLUSIVE MODE`); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) + 1 FROM prices`).Scan(&t.Version); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO prices (version, body, created_us) VALUES ($1, $2, $3)`, t.Version, string(table), time.Now().UnixMicro()); err != nil {
			return err
		}
		return notify(ctx, tx, hub.Change{Kind: hub.ChangePrices})
	})
	if err != nil {
		return t, fmt.Errorf("store prices: %w", advise(err))
	}
	return t, nil
}

// AddSharedKey implements hub.Store.
func (d *DB) AddSharedKey(ctx context.Context, k hub.SharedKey) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO shared_keys (name, service, fingerprint, created_us) VALUES ($1, $2, $3, $4)`,
		k.Name, string(k.Service), k.Fingerprint, us(k.Created))
	if isUnique(err) {
		return fmt.Errorf("a shared key named %q %w", k.Name, byok.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("add shared key: %w", err)
	}
	return nil
}

// SharedKeys implements hub.Store, oldest first.
func (d *DB) SharedKeys(ctx context.Context) ([]hub.SharedKey, error) {
	rows, err := d.pool.Query(ctx, `SELECT name, service, fingerprint, created_us FROM shared_keys ORDER BY created_us, name`)
	if err != nil {
		return nil, fmt.Errorf("list shared keys: %w", err)
	}
	defer rows.Close()
	out := []hub.SharedKey{}
	for rows.Next() {
		var k hub.SharedKey
		var at int64
		if err := rows.Scan(&k.Name, &k.Service, &k.Fingerprint, &at); err != nil {
			return nil, fmt.Errorf("list shared keys: %w", err)
		}
		k.Created = fromUS(at)
		out = append(out, k)
	}
	return out, rows.Err()
}

// RemoveSharedKey implements hub.Store.
func (d *DB) RemoveSharedKey(ctx context.Context, name string) (hub.SharedKey, error) {
	k := hub.SharedKey{Name: name}
	var at int64
	err := d.pool.QueryRow(ctx, `DELETE FROM shared_keys WHERE name = $1 RETURNING service, fingerprint, created_us`, name).
		Scan(&k.Service, &k.Fingerprint, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, fmt.Errorf("shared key %q: %w", name, byok.ErrNotFound)
	}
	if err != nil {
		return k, fmt.Errorf("remove shared key: %w", err)
	}
	k.Created = fromUS(at)
	return k, nil
}
