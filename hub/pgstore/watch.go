package pgstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"byokd.dev/byok/hub"
)

// changeChannel is the NOTIFY channel of hub.Change: "policy", "prices",
// "revoked:DEVICE".
const changeChannel = "byokd_hub_change"

var _ hub.Watcher = (*DB)(nil)

// notify queues c for every listening hub; PostgreSQL delivers it when
// tx commits, and not at all if it rolls back.
func notify(ctx context.Context, tx *sql.Tx, c hub.Change) error {
	payload := string(c.Kind)
	if c.Device != "" {
		payload += ":" + c.Device
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, changeChannel, payload)
	return err
}

// Watch implements hub.Watcher with LISTEN on a connection of its own
// (a pooled one would be handed to others between notifications).
func (d *DB) Watch(ctx context.Context, changed func(hub.Change)) error {
	conn, err := pgx.ConnectConfig(ctx, d.pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("connect to listen for changes: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+changeChannel); err != nil {
		return fmt.Errorf("listen for changes: %w", err)
	}
	changed(hub.Change{Kind: hub.ChangeResync})
	for {
		n, err := conn.WaitForNotification(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("wait for changes: %w", err)
		}
		kind, dev, _ := strings.Cut(n.Payload, ":")
		changed(hub.Change{Kind: hub.ChangeKind(kind), Device: dev})
	}
}
