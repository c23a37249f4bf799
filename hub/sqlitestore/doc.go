// Package sqlitestore is the hub's default Store: one SQLite file (the
// pure-Go modernc.org/sqlite driver) in WAL mode, with embedded, versioned
// migrations. Writes go through a single connection; reads use a pool.
// Most of its methods are sqlstore's, which it shares with pgstore.
package sqlitestore
