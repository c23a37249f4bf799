package ledger

import (
	"context"
	"database/sql"
	"errors"
)

// writerStmts are the statements the writer runs for every request,
// prepared once on the write connection.
type writerStmts struct {
	savepoint, release, rollbackTo *sql.Stmt
	insertUsage, insertOutbox      *sql.Stmt
	settle                         *sql.Stmt
}

const (
	sqlInsertUsage = `INSERT INTO usage (
	id, time_us, service, model, app, project, credential, payer, member, status,
	input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
	requests, cost_micros, cost_known, latency_us, fallback_reason, relayed, incomplete
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO NOTHING`
	sqlInsertOutbox = `INSERT INTO outbox (seq) VALUES (?)`
	sqlSettle       = `DELETE FROM reservations WHERE id = ?`
)

func prepareWriter(ctx context.Context, db *sql.DB) (*writerStmts, error) {
	st := &writerStmts{}
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&st.savepoint, "SAVEPOINT item"},
		{&st.release, "RELEASE item"},
		{&st.rollbackTo, "ROLLBACK TO item"},
		{&st.insertUsage, sqlInsertUsage},
		{&st.insertOutbox, sqlInsertOutbox},
		{&st.settle, sqlSettle},
	} {
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
	return &writerStmts{
		savepoint:    tx.StmtContext(ctx, st.savepoint),
		release:      tx.StmtContext(ctx, st.release),
		rollbackTo:   tx.StmtContext(ctx, st.rollbackTo),
		insertUsage:  tx.StmtContext(ctx, st.insertUsage),
		insertOutbox: tx.StmtContext(ctx, st.insertOutbox),
		settle:       tx.StmtContext(ctx, st.settle),
	}
}

func (st *writerStmts) close() error {
	var errs []error
	for _, s := range []*sql.Stmt{st.savepoint, st.release, st.rollbackTo, st.insertUsage, st.insertOutbox, st.settle} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}
