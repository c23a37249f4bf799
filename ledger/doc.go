// Package ledger is byokd's local store: a SQLite database (the pure-Go
// modernc.org/sqlite driver) holding usage events and their outbox for the
// team hub, key metadata (never key material), app token hashes, per-service
// preferences and small meta values.
//
// A DB has exactly one writer: a goroutine that owns the only read-write
// connection and runs every change. Record calls are group-committed: the
// writer drains everything queued (up to Options.MaxBatch) into one
// transaction, and while the proxy has announced more calls in flight
// (Expect) it holds the transaction open for up to Options.CommitWindow so
// that they share it; runs of rows go in as multi-row INSERTs, and only a
// batch in which a request fails is written again with a savepoint per
// request. Checkpoints run after a batch's callers have their answers,
// never inside their commit. Queries use a separate read-only connection
// pool and never wait for the writer.
//
// The schema is versioned by SQLite's user_version and migrated at Open by
// the embedded files in migrations/, each in its own transaction. Open
// refuses a database from a newer byokd (ErrTooNew) and a damaged file
// (ErrDamaged, which tells the user to run `byokd doctor`). Errors that mean
// "the ledger cannot be written right now" (disk full, read-only file or
// folder, locked by another program) wrap ErrUnavailable so that the proxy
// can fail closed.
package ledger
