//go:build !linux

package pgtest

import "testing"

// Main runs the tests.
func Main(m *testing.M) int { return m.Run() }

// URL fails the test: the test server is started on Linux only, where CI
// runs.
func URL(t testing.TB) string {
	t.Helper()
	t.Fatal("the PostgreSQL test server runs on Linux only (CI runs Debian)")
	return ""
}

// Dump fails the test, as URL does.
func Dump(t testing.TB, connURL string) string { return URL(t) }
