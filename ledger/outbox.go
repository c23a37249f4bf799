package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

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
JOIN usage u ON u.seq BETWEEN o.first_seq AND o.last_seq ORDER BY o.first_seq, u.seq LIMIT ?`, limit)
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
		var seqs []int64
		for start := 0; start < len(ids); start += markChunk {
			chunk := ids[start:min(start+markChunk, len(ids))]
			args := make([]any, len(chunk))
			for i, id := range chunk {
				args[i] = id
			}
			rows, err := tx.QueryContext(ctx, `SELECT seq FROM usage WHERE id IN (`+placeholders(len(chunk))+`)`, args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var seq int64
				if err := rows.Scan(&seq); err != nil {
					rows.Close()
					return err
				}
				seqs = append(seqs, seq)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return unqueue(ctx, tx, seqs)
	})
	if err != nil {
		return fmt.Errorf("mark %d events synced: %w", len(ids), err)
	}
	return nil
}

// unqueue takes the usage rows seqs out of the outbox: each run of
// consecutive ones is cut out of the outbox's runs it overlaps.
func unqueue(ctx context.Context, tx *sql.Tx, seqs []int64) error {
	slices.Sort(seqs)
	for len(seqs) > 0 {
		n := 1
		for n < len(seqs) && seqs[n] <= seqs[n-1]+1 {
			n++
		}
		if err := cutRun(ctx, tx, seqs[0], seqs[n-1]); err != nil {
			return err
		}
		seqs = seqs[n:]
	}
	return nil
}

// cutRun takes the rows from a to b out of the outbox, keeping the parts
// of the runs it overlaps that lie outside.
func cutRun(ctx context.Context, tx *sql.Tx, a, b int64) error {
	// Runs do not overlap: walking down from b, the first that ends
	// before a ends the overlapping ones.
	rows, err := tx.QueryContext(ctx, `SELECT first_seq, last_seq FROM outbox WHERE first_seq <= ? ORDER BY first_seq DESC`, b)
	if err != nil {
		return err
	}
	var hit [][2]int64
	for rows.Next() {
		var first, last int64
		if err := rows.Scan(&first, &last); err != nil {
			rows.Close()
			return err
		}
		if last < a {
			break
		}
		hit = append(hit, [2]int64{first, last})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range hit {
		if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE first_seq = ?`, r[0]); err != nil {
			return err
		}
		for _, keep := range [][2]int64{{r[0], a - 1}, {b + 1, r[1]}} {
			if keep[0] > keep[1] {
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (first_seq, last_seq) VALUES (?, ?)`, keep[0], keep[1]); err != nil {
				return err
			}
		}
	}
	return nil
}

// Unsynced counts the events waiting in the outbox.
func (d *DB) Unsynced(ctx context.Context) (int, error) {
	d.settle(ctx)
	var n int
	if err := d.rdb.QueryRowContext(ctx, sqlCountOutbox).Scan(&n); err != nil {
		return 0, fmt.Errorf("count outbox: %w", classify(d.path, err))
	}
	return n, nil
}

// sqlCountOutbox counts the usage rows in the outbox's runs.
const sqlCountOutbox = `SELECT count(*) FROM outbox o JOIN usage u ON u.seq BETWEEN o.first_seq AND o.last_seq`

// MarkRejected takes the events the hub refused out of the outbox and
// keeps them with the hub's reason (by id). Unknown IDs are ignored.
func (d *DB) MarkRejected(ctx context.Context, reasons map[string]string) error {
	d.settle(ctx)
	if len(reasons) == 0 {
		return nil
	}
	now := d.opts.Now().UnixMicro()
	err := d.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var seqs []int64
		for id, why := range reasons {
			var seq int64
			err := tx.QueryRowContext(ctx, `SELECT seq FROM usage WHERE id = ?`, id).Scan(&seq)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO rejected (seq, reason, rejected_us) VALUES (?, ?, ?)
ON CONFLICT (seq) DO UPDATE SET reason = excluded.reason`, seq, why, now); err != nil {
				return err
			}
			seqs = append(seqs, seq)
		}
		return unqueue(ctx, tx, seqs)
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
