package ledger

import (
	"context"
	"fmt"
	"strings"
	"time"

	"byokd.dev/byok"
)

// Record stores ev and its outbox entry (for the team hub) in one
// transaction, and returns once that transaction has committed. Concurrent
// calls share commits (group commit).
//
// Recording an ID that is already stored is a no-op and returns nil; the
// stored row is kept. ev must have an ID, a Service and a Time.
//
// If ctx ends while ev is still queued, Record returns ctx.Err() and nothing
// is written. If ctx ends after the writer has taken ev into a transaction,
// Record waits for that transaction and reports its true outcome: nil means
// the row is committed even though ctx has ended.
//
// Errors that mean the ledger cannot be written (disk full, read-only,
// locked, closed) wrap ErrUnavailable.
func (d *DB) Record(ctx context.Context, ev byok.UsageEvent) error {
	if ev.ID == "" || ev.Service == "" || ev.Time.IsZero() {
		return fmt.Errorf("record usage %q: event needs an ID, a service and a time", ev.ID)
	}
	r := &rowRequest{row: ev}
	r.ev = &r.row
	if err := d.journalRow(ctx, &r.request); err != nil {
		return fmt.Errorf("record usage %s: %w", ev.ID, err)
	}
	return nil
}

// A rowRequest is Record's request with the row it points to, in one
// allocation.
type rowRequest struct {
	request
	row byok.UsageEvent
}

// insertEvents inserts evs (duplicate ids are skipped) with their outbox
// entries, and returns how many rows were new.
func insertEvents(ctx context.Context, st *writerStmts, evs []*byok.UsageEvent) (inserted int64, err error) {
	args := make([]any, 0, usageArgs*min(len(evs), rowChunks[0]))
	first, last := int64(-1), int64(-1) // seq of the first and the last new row
	for rest := evs; len(rest) > 0; {
		c := 0
		for rowChunks[c] > len(rest) {
			c++
		}
		args = args[:0]
		for _, ev := range rest[:rowChunks[c]] {
			args = appendUsageArgs(args, ev)
		}
		rest = rest[rowChunks[c]:]
		res, err := st.insertUsage[c].ExecContext(ctx, args...)
		if err != nil {
			return 0, fmt.Errorf("insert usage: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("insert usage: %w", err)
		}
		if n == 0 {
			continue // all duplicates: already stored
		}
		last, err = res.LastInsertId()
		if err != nil {
			return 0, fmt.Errorf("insert usage: %w", err)
		}
		if first < 0 {
			first = last - n + 1
		}
		inserted += n
	}
	if first >= 0 {
		if _, err := st.insertOutbox.ExecContext(ctx, first, last); err != nil {
			return 0, fmt.Errorf("insert outbox: %w", err)
		}
	}
	return inserted, nil
}

// appendUsageArgs appends ev's values in the order of usageInsertRow.
func appendUsageArgs(args []any, ev *byok.UsageEvent) []any {
	model := ev.Model
	if model == "" {
		model = ev.Usage.Model
	}
	u := &ev.Usage
	return append(args,
		ev.ID, ev.Time.UnixMicro(), string(ev.Service), model, ev.App, ev.Project,
		ev.Credential.String(), string(ev.Payer), ev.Member, ev.Status,
		u.InputTokens, u.OutputTokens, u.CacheReadTokens, u.CacheWrite5mTokens, u.CacheWrite1hTokens,
		u.Requests, int64(ev.Cost), ev.CostKnown, ev.Latency.Microseconds(), ev.FallbackReason,
		ev.Relayed, !u.Complete)
}

// usageColumns are the columns scanEvent reads, in order.
const usageColumns = `u.id, u.time_us, u.service, u.model, u.app, u.project, u.credential, u.payer,
u.member, u.status, u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_5m_tokens,
u.cache_write_1h_tokens, u.requests, u.cost_micros, u.cost_known, u.latency_us, u.fallback_reason,
u.relayed, u.incomplete`

type scanner interface{ Scan(dest ...any) error }

// scanEvent reads one row of usageColumns. The stored model fills both
// ev.Model and ev.Usage.Model; times come back in the local zone with
// microsecond precision.
func scanEvent(s scanner) (byok.UsageEvent, error) {
	var (
		ev                byok.UsageEvent
		timeUS, latencyUS int64
		service, payer    string
		credential        string
		cost              int64
		incomplete        bool
	)
	u := &ev.Usage
	err := s.Scan(&ev.ID, &timeUS, &service, &ev.Model, &ev.App, &ev.Project, &credential, &payer,
		&ev.Member, &ev.Status, &u.InputTokens, &u.OutputTokens, &u.CacheReadTokens, &u.CacheWrite5mTokens,
		&u.CacheWrite1hTokens, &u.Requests, &cost, &ev.CostKnown, &latencyUS, &ev.FallbackReason,
		&ev.Relayed, &incomplete)
	if err != nil {
		return ev, err
	}
	if ev.Credential, err = byok.ParseCredentialRef(credential); err != nil {
		return ev, err
	}
	ev.Time = time.UnixMicro(timeUS)
	ev.Service = byok.Service(service)
	ev.Payer = byok.Payer(payer)
	ev.Cost = byok.Micros(cost)
	ev.Latency = time.Duration(latencyUS) * time.Microsecond
	u.Model = ev.Model
	u.Complete = !incomplete
	return ev, nil
}

// Events returns the usage events with from <= Time < to, oldest first.
func (d *DB) Events(ctx context.Context, from, to time.Time) ([]byok.UsageEvent, error) {
	d.settle(ctx)
	rows, err := d.rdb.QueryContext(ctx, `SELECT `+usageColumns+` FROM usage u
WHERE u.time_us >= ? AND u.time_us < ? ORDER BY u.time_us, u.seq`, from.UnixMicro(), to.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("list usage: %w", classify(d.path, err))
	}
	defer rows.Close()
	var evs []byok.UsageEvent
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("list usage: %w", classify(d.path, err))
		}
		evs = append(evs, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list usage: %w", classify(d.path, err))
	}
	return evs, nil
}

// SummaryRow is the usage of one (service, model, app, project, payer)
// group over a time range.
type SummaryRow struct {
	Service            byok.Service
	Model              string
	App                string
	Project            string
	Payer              byok.Payer
	Calls              int64
	InputTokens        int64
	OutputTokens       int64
	CacheReadTokens    int64
	CacheWrite5mTokens int64
	CacheWrite1hTokens int64
	Requests           int64
	Cost               byok.Micros // sum over the rows whose cost is known
	UnknownCost        int64       // rows whose model had no price: their cost is missing from Cost
}

// Summary groups the events with from <= Time < to by service, model, app,
// project and payer, in that order.
func (d *DB) Summary(ctx context.Context, from, to time.Time) ([]SummaryRow, error) {
	d.settle(ctx)
	rows, err := d.rdb.QueryContext(ctx, `SELECT service, model, app, project, payer, count(*),
	sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_5m_tokens),
	sum(cache_write_1h_tokens), sum(requests), sum(CASE WHEN cost_known THEN cost_micros ELSE 0 END),
	sum(NOT cost_known)
FROM usage WHERE time_us >= ? AND time_us < ?
GROUP BY service, model, app, project, payer
ORDER BY service, model, app, project, payer`, from.UnixMicro(), to.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("summarize usage: %w", classify(d.path, err))
	}
	defer rows.Close()
	var out []SummaryRow
	for rows.Next() {
		var r SummaryRow
		var svc, payer string
		var cost int64
		if err := rows.Scan(&svc, &r.Model, &r.App, &r.Project, &payer, &r.Calls,
			&r.InputTokens, &r.OutputTokens, &r.CacheReadTokens, &r.CacheWrite5mTokens,
			&r.CacheWrite1hTokens, &r.Requests, &cost, &r.UnknownCost); err != nil {
			return nil, fmt.Errorf("summarize usage: %w", classify(d.path, err))
		}
		r.Service, r.Payer, r.Cost = byok.Service(svc), byok.Payer(payer), byok.Micros(cost)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("summarize usage: %w", classify(d.path, err))
	}
	return out, nil
}

// Spend is what was charged to payer with from <= Time < to: the known
// cost, and how many calls' cost is unknown.
func (d *DB) Spend(ctx context.Context, from, to time.Time, payer byok.Payer) (byok.Spend, error) {
	d.settle(ctx)
	var known, unknown int64
	err := d.rdb.QueryRowContext(ctx, `SELECT coalesce(sum(CASE WHEN cost_known THEN cost_micros ELSE 0 END), 0),
coalesce(sum(NOT cost_known), 0) FROM usage
WHERE payer = ? AND time_us >= ? AND time_us < ?`, string(payer), from.UnixMicro(), to.UnixMicro()).Scan(&known, &unknown)
	if err != nil {
		return byok.Spend{}, fmt.Errorf("sum %s spend: %w", payer, classify(d.path, err))
	}
	return byok.Spend{Known: byok.Micros(known), Unknown: unknown}, nil
}

// placeholders returns "?, ?, …" with n marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// CountBatch claims the batch results file key (metering.BatchKey) and
// reports whether no one had: the first whole download of a batch's
// results bills it, and a later one costs nothing twice.
func (d *DB) CountBatch(ctx context.Context, key string) (bool, error) {
	first, err := d.insertOnce(ctx, `INSERT INTO counted_batches (key, counted_us) VALUES (?, ?)
ON CONFLICT DO NOTHING`, key, d.opts.Now().UnixMicro())
	if err != nil {
		return false, fmt.Errorf("count batch results %s: %w", key, err)
	}
	return first, nil
}
