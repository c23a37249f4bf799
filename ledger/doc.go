// Package ledger is byokd's local store: a SQLite database (the pure-Go
// modernc.org/sqlite driver) holding usage events and their outbox for the
// team hub, key metadata (never key material), app token hashes, per-service
// preferences and small meta values.
//
// A usage row is committed first to the journal (ledger.db.journal and
// ledger.db.journal2): the rows queued at that moment are copied into the
// file's shared memory mapping and their callers are answered, which
// makes a row as durable as a SQLite commit in WAL mode with
// synchronous=NORMAL for the cost of a copy, without a system call. A call that finds no other journaling writes its row itself, so a
// call alone is not handed to another goroutine and back; rows queued
// meanwhile go to a journaler goroutine. A DB has exactly one writer of
// SQLite: a goroutine that owns the only read-write connection, puts the
// journaled rows into SQLite, many per transaction as multi-row INSERTs,
// once 256 wait, when none has come for 20 ms, or together with any
// other write (which it runs), and empties the journal's file behind them;
// the journal is replayed (idempotently, by event id) at Open after a
// crash. Queries that read usage first let the writer catch up, so a row
// is in every answer as soon as Record returns. Only a batch in which a
// request fails is written again with a savepoint per request. Checkpoints
// run between batches, never inside a commit. Queries use a separate
// read-only connection pool.
//
// The schema is versioned by SQLite's user_version and migrated at Open by
// the embedded files in migrations/, each in its own transaction. Open
// refuses a database from a newer byokd (ErrTooNew) and a damaged file
// (ErrDamaged, which tells the user to run `byokd doctor`). Errors that mean
// "the ledger cannot be written right now" (disk full, read-only file or
// folder, locked by another program) wrap ErrUnavailable so that the proxy
// can fail closed.
package ledger
