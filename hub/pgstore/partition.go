package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// monthOf is the first microsecond of t's UTC month: the lower bound of
// its usage partition.
func monthOf(t time.Time) int64 {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC).UnixMicro()
}

// monthOfUS is monthOf for a time in microseconds.
func monthOfUS(v int64) int64 { return monthOf(time.UnixMicro(v)) }

// partitionLock is the advisory lock key family for making partitions;
// a month's key adds its lower bound ("byokdpar" in ASCII, shifted).
const partitionLock int64 = 0x62796f6b64706172

// ensurePartitions makes the usage partitions of the months (monthOf)
// that this process has not yet seen. Each is made in its own short
// transaction, not in a batch's: making a partition locks the whole
// usage table, which a batch holding rows of it must not wait on. Two
// replicas making one partition take turns on an advisory lock, and the
// second finds it made (IF NOT EXISTS alone races on the catalog).
func (d *DB) ensurePartitions(ctx context.Context, months ...int64) error {
	d.partMu.Lock()
	defer d.partMu.Unlock()
	for _, m := range months {
		if d.parts[m] {
			continue
		}
		from := time.UnixMicro(m).UTC()
		to := from.AddDate(0, 1, 0)
		name := fmt.Sprintf("usage_y%04dm%02d", from.Year(), from.Month())
		err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, partitionLock+m); err != nil {
				return err
			}
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists); err != nil || exists {
				return err
			}
			_, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s PARTITION OF usage FOR VALUES FROM (%d) TO (%d)`,
				pgx.Identifier{name}.Sanitize(), m, to.UnixMicro()))
			return err
		})
		if err != nil {
			return fmt.Errorf("make the usage partition %s: %w", name, err)
		}
		d.parts[m] = true
	}
	return nil
}

// forgetPartitions drops what ensurePartitions knows, after a write found
// a partition missing (dropped by an operator, say).
func (d *DB) forgetPartitions() {
	d.partMu.Lock()
	defer d.partMu.Unlock()
	clear(d.parts)
}

// noPartition reports a row for which usage has no partition.
func noPartition(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23514" && strings.Contains(pe.Message, "no partition")
}

// writeUsage runs f in a write transaction once the partitions of months
// exist, making them again and retrying once should one have gone.
func (d *DB) writeUsage(ctx context.Context, months []int64, f func(pgx.Tx) error) error {
	// Next month's partition too, made during this one: a replica that
	// runs for months does not make it in the first minute of the month,
	// racing every other replica's first batch.
	months = append(months, monthOf(time.Now().AddDate(0, 1, 0)))
	for attempt := 0; ; attempt++ {
		if err := d.ensurePartitions(ctx, months...); err != nil {
			return err
		}
		err := d.tx(ctx, f)
		if attempt == 0 && noPartition(err) {
			d.forgetPartitions()
			continue
		}
		return err
	}
}
