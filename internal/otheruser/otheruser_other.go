//go:build !linux

package otheruser

import "testing"

// Main does nothing here: no request is run as another user.
func Main() {}

// Get skips the test: the owner of a loopback connection is told on Linux
// only.
func Get(t testing.TB, url, header string) string {
	t.Helper()
	t.Skip("the owner of a loopback connection is told on Linux only")
	return ""
}
