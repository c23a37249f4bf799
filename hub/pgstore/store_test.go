package pgstore_test

import (
	"context"
	"os"
	"testing"

	"byokd.dev/byok/hub"
	"byokd.dev/byok/hub/pgstore"
	"byokd.dev/byok/hub/storetest"
	"byokd.dev/byok/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// open opens a store on a fresh database, closed when t ends.
func open(t testing.TB, url string) *pgstore.DB {
	t.Helper()
	db, err := pgstore.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestStore runs the hub.Store contract against a real PostgreSQL.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) hub.Store { return open(t, pgtest.URL(t)) })
}
