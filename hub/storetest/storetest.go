// Package storetest is the contract every hub.Store keeps, as tests that
// each implementation runs against a real database of its kind:
// storetest.Run(t, open) from the implementation's own tests.
package storetest

import (
	"testing"

	"byokd.dev/byok/hub"
)

// Open returns a new, empty store for t, closed when t ends.
type Open func(t *testing.T) hub.Store

// Run runs every contract test against stores from open, as subtests.
func Run(t *testing.T, open Open) {
	for _, c := range []struct {
		name string
		f    func(*testing.T, Open)
	}{
		{"Aggregate_RollupsEqualRows", testAggregateRollupsEqualRows},
		{"Audit_KeysetPages", testAuditKeysetPages},
		{"Ingest_Idempotent", testIngestIdempotent},
		{"Ingest_ConcurrentOverlappingBatches", testIngestConcurrent},
		{"RecordRelayed_ReplacesDeviceCopy", testRecordRelayed},
		{"Enrollment", testEnrollment},
		{"AdminsLoginsSessions", testAdminsLoginsSessions},
		{"PolicyAndPrices_Versions", testVersions},
		{"SharedKeys", testSharedKeys},
		{"Inventories", testInventories},
		{"ReserveShared_HoldsUntilRecordedOrExpired", testReserveShared},
	} {
		t.Run(c.name, func(t *testing.T) { c.f(t, open) })
	}
}
