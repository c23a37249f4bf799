package e2e

import "testing"

// raiseFileLimit: Windows has no open-file limit to raise for sockets.
func raiseFileLimit(t *testing.T, n uint64) {}
