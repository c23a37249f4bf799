// Package sqlstore is the Go the hub's two stores share: the hub.Store
// methods whose SQL both SQLite (sqlitestore) and PostgreSQL (pgstore)
// run, written once on database/sql, and the helpers around them. A
// Dialect carries what really differs (placeholders, error codes, the
// locks and change notices only several replicas need); each store embeds
// a DB and adds the methods it does its own way.
package sqlstore
