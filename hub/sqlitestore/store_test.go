package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"

	"byokd.dev/byok/hub"
	"byokd.dev/byok/hub/sqlitestore"
	"byokd.dev/byok/hub/storetest"
)

// TestStore runs the hub.Store contract against SQLite in a temporary
// folder.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) hub.Store {
		db, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), hub.DBFile))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}
