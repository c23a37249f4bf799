package ledger

import (
	"context"
	"database/sql"
	"errors"
	"strings"
)

// rowChunks are the row counts of the prepared multi-row inserts, largest
// first: n rows go out as the fewest statements of these sizes. One
// statement for many rows is what makes a shared commit cheap per row.
var rowChunks = [...]int{64, 16, 4, 1}

// writerStmts are the statements the writer runs for every request,
// prepared once on the write connection.
type writerStmts struct {
	savepoint, release, rollbackTo *sql.Stmt
	insertUsage                    [len(rowChunks)]*sql.Stmt // one per rowChunks size
	insertOutbox                   *sql.Stmt
}

const (
	usageInsertColumns = `INSERT INTO usage (
	id, time_us, service, model, app, project, credential, payer, member, status,
	input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
	requests, cost_micros, cost_known, latency_us, fallback_reason, relayed, incomplete
) VALUES `
	usageInsertRow = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// usageArgs is the number of values a row binds.
	usageArgs = 22
	// sqlInsertOutbox queues the rows from ?1 to ?2, just inserted, for the
	// hub: they extend the last run when it ends at ?1 - 1, which it does
	// unless the hub has taken its rows (new rows take seq = max(seq) + 1,
	// so the rows a transaction inserts are consecutive and come last).
	sqlInsertOutbox = `INSERT INTO outbox (first_seq, last_seq) VALUES (coalesce((
	SELECT first_seq FROM (SELECT first_seq, last_seq FROM outbox ORDER BY first_seq DESC LIMIT 1)
	WHERE last_seq = ?1 - 1), ?1), ?2)
ON CONFLICT (first_seq) DO UPDATE SET last_seq = excluded.last_seq`
)

// sqlInsertUsage is the insert of n rows; a duplicate id is skipped.
func sqlInsertUsage(n int) string {
	return usageInsertColumns + strings.Repeat(usageInsertRow+", ", n-1) + usageInsertRow + " ON CONFLICT (id) DO NOTHING"
}

func prepareWriter(ctx context.Context, db *sql.DB) (*writerStmts, error) {
	st := &writerStmts{}
	type prep struct {
		dst   **sql.Stmt
		query string
	}
	preps := []prep{
		{&st.savepoint, "SAVEPOINT item"},
		{&st.release, "RELEASE item"},
		{&st.rollbackTo, "ROLLBACK TO item"},
		{&st.insertOutbox, sqlInsertOutbox},
	}
	for i, n := range rowChunks {
		preps = append(preps, prep{&st.insertUsage[i], sqlInsertUsage(n)})
	}
	for _, p := range preps {
		s, err := db.PrepareContext(ctx, p.query)
		if err != nil {
			st.close()
			return nil, err
		}
		*p.dst = s
	}
	return st, nil
}

// in returns the statements bound to tx.
func (st *writerStmts) in(ctx context.Context, tx *sql.Tx) *writerStmts {
	b := &writerStmts{
		savepoint:    tx.StmtContext(ctx, st.savepoint),
		release:      tx.StmtContext(ctx, st.release),
		rollbackTo:   tx.StmtContext(ctx, st.rollbackTo),
		insertOutbox: tx.StmtContext(ctx, st.insertOutbox),
	}
	for i, s := range st.insertUsage {
		b.insertUsage[i] = tx.StmtContext(ctx, s)
	}
	return b
}

func (st *writerStmts) close() error {
	var errs []error
	all := append([]*sql.Stmt{st.savepoint, st.release, st.rollbackTo, st.insertOutbox}, st.insertUsage[:]...)
	for _, s := range all {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}
