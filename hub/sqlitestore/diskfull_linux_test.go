package sqlitestore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
	"byokd.dev/byok/hub/sqlitestore"
	"byokd.dev/byok/internal/smalldisk"
)

// TestIngest_DiskFullThenFreed fills the filesystem under the hub's
// database for real (a small tmpfs). Ingest fails with an error that says
// the disk is full and where, every time it is tried; once space is freed
// the same batch is stored, exactly once.
func TestIngest_DiskFullThenFreed(t *testing.T) {
	dir := smalldisk.Mount(t, 4<<20)
	ctx := context.Background()
	path := filepath.Join(dir, hub.DBFile)
	db, err := sqlitestore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	at := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	evs := make([]byok.UsageEvent, 500)
	for i := range evs {
		evs[i] = byok.UsageEvent{ID: fmt.Sprintf("ev-%04d", i), Time: at.Add(time.Duration(i) * time.Millisecond),
			Service: byok.OpenAI, Model: strings.Repeat("m", 200), Payer: byok.PayerPersonal, Status: 200}
	}

	free := smalldisk.Fill(t, dir)
	// One row fails at COMMIT (its WAL frame), many before it.
	for _, n := range []int{1, len(evs), 1} {
		err := db.IngestUsage(ctx, "ann@example.com", "dev-1", evs[:n])
		if err == nil {
			t.Fatalf("ingest of %d rows on a full disk succeeded", n)
		}
		if !strings.Contains(err.Error(), "hub disk full: free space on the disk holding "+path) {
			t.Fatalf("ingest of %d rows on a full disk: %v, want an error saying the hub's disk is full and where", n, err)
		}
	}
	free()
	if err := db.IngestUsage(ctx, "ann@example.com", "dev-1", evs); err != nil {
		t.Fatalf("ingest after space was freed: %v", err)
	}
	if err := db.IngestUsage(ctx, "ann@example.com", "dev-1", evs); err != nil {
		t.Fatalf("the same batch again: %v", err)
	}
	rows, err := db.Usage(ctx, hub.UsageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range rows {
		seen[r.ID]++
	}
	if len(rows) != len(evs) || len(seen) != len(evs) {
		t.Errorf("rows stored: %d (%d distinct), want %d, each once", len(rows), len(seen), len(evs))
	}
}

// TestWritable_DiskFull: on a full disk Writable says so (and where), not
// only the first time; once space is freed it succeeds again.
func TestWritable_DiskFull(t *testing.T) {
	dir := smalldisk.Mount(t, 4<<20)
	ctx := context.Background()
	path := filepath.Join(dir, hub.DBFile)
	db, err := sqlitestore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Writable(ctx); err != nil {
		t.Fatalf("Writable on an empty disk: %v", err)
	}
	free := smalldisk.Fill(t, dir)
	// A failed write ends the trust a recent commit gives: the probe
	// writes, and fails.
	big := make([]byok.UsageEvent, 200)
	for i := range big {
		big[i] = byok.UsageEvent{ID: fmt.Sprintf("ev-%04d", i), Time: time.Now(), Service: byok.OpenAI,
			Model: strings.Repeat("m", 200), Payer: byok.PayerPersonal, Status: 200}
	}
	if err := db.IngestUsage(ctx, "ann@example.com", "dev-1", big); err == nil {
		t.Fatal("ingest on a full disk succeeded")
	}
	for range 2 {
		if err := db.Writable(ctx); err == nil || !strings.Contains(err.Error(), "hub disk full: free space on the disk holding "+path) {
			t.Fatalf("Writable on a full disk: %v, want the disk-full error", err)
		}
	}
	free()
	if err := db.Writable(ctx); err != nil {
		t.Fatalf("Writable after space was freed: %v", err)
	}
}
