package ledger

import (
	"context"
	"database/sql"
	"fmt"

	"byokd.dev/byok"
)

// Outbox returns up to limit usage events not yet acknowledged by the team
// hub, in the order they were recorded.
func (d *DB) Outbox(ctx context.Context, limit int) ([]byok.UsageEvent, error) {
	d.settle(ctx)
	if limit <= 0 {
		return nil, nil
	}
	rows, err := d.rdb.QueryContext(ctx, `SELECT `+usageColumns+` FROM outbox o
JOIN usage u ON u.seq = o.seq ORDER BY o.seq LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", classify(d.path, err))
	}
	defer rows.Close()
	var evs []byok.UsageEvent
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("read outbox: %w", classify(d.path, err))
		}
		evs = append(evs, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read outbox: %w", classify(d.path, err))
	}
	return evs, nil
}

// markChunk bounds the bound parameters of one statement.
const markChunk = 500

// MarkSynced removes the events with these IDs from the outbox, once the
// hub has acknowledged them. Unknown or already synced IDs are ignored.
func (d *DB) MarkSynced(ctx context.Context, ids []string) error {
	d.settle(ctx) // the rows it names may still be in the journal
	if len(ids) == 0 {
		return nil
	}
	err := d.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for start := 0; start < len(ids); start += markChunk {
			chunk := ids[start:min(start+markChunk, len(ids))]
			args := make([]any, len(chunk))
			for i, id := range chunk {
				args[i] = id
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM outbox
WHERE seq IN (SELECT seq FROM usage WHERE id IN (`+placeholders(len(chunk))+`))`, args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark %d events synced: %w", len(ids), err)
	}
	return nil
}

// Unsynced counts the events waiting in the outbox.
func (d *DB) Unsynced(ctx context.Context) (int, error) {
	d.settle(ctx)
	var n int
	if err := d.rdb.QueryRowContext(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count outbox: %w", classify(d.path, err))
	}
	return n, nil
}

// MarkRejected takes the events the hub refused out of the outbox and
// keeps them with the hub's reason (by id). Unknown IDs are ignored.
func (d *DB) MarkRejected(ctx context.Context, reasons map[string]string) error {
	d.settle(ctx)
	if len(reasons) == 0 {
		return nil
	}
	now := d.opts.Now().UnixMicro()
	err := d.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for id, why := range reasons {
			if _, err := tx.ExecContext(ctx, `INSERT INTO rejected (seq, reason, rejected_us)
SELECT seq, ?, ? FROM usage WHERE id = ? ON CONFLICT (seq) DO UPDATE SET reason = excluded.reason`, why, now, id); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE seq IN (SELECT seq FROM usage WHERE id = ?)`, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark %d events rejected: %w", len(reasons), err)
	}
	return nil
}

// Rejections are the rows the hub refused: how many, and the newest with
// its reason.
type Rejections struct {
	Count  int
	Last   byok.UsageEvent
	Reason string
}

// Rejected summarises the rows the hub refused to store.
func (d *DB) Rejected(ctx context.Context) (Rejections, error) {
	d.settle(ctx)
	var r Rejections
	if err := d.rdb.QueryRowContext(ctx, `SELECT count(*) FROM rejected`).Scan(&r.Count); err != nil {
		return r, fmt.Errorf("count rejected rows: %w", classify(d.path, err))
	}
	if r.Count == 0 {
		return r, nil
	}
	row := d.rdb.QueryRowContext(ctx, `SELECT `+usageColumns+`, r.reason FROM rejected r
JOIN usage u ON u.seq = r.seq ORDER BY r.rejected_us DESC, r.seq DESC LIMIT 1`)
	ev, err := scanEvent(withReason{row, &r.Reason})
	if err != nil {
		return r, fmt.Errorf("read rejected rows: %w", classify(d.path, err))
	}
	r.Last = ev
	return r, nil
}

// withReason scans a row of usageColumns followed by a reason.
type withReason struct {
	s      scanner
	reason *string
}

func (w withReason) Scan(dest ...any) error { return w.s.Scan(append(dest, w.reason)...) }
