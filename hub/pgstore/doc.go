// Package pgstore is the hub's store in PostgreSQL (hub.Store, with pgx),
// for teams that run several hub replicas on one database: the same rows
// and semantics as sqlitestore (most methods are sqlstore's, which both
// share, run through database/sql over the pgx pool), usage partitioned
// by month, migrations applied under an advisory lock, and a
// hub.SecretStore that keeps shared keys sealed in the database under a
// key every replica is given.
package pgstore
