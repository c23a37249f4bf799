//go:build unix

package e2e

import (
	"os"
	"syscall"
	"testing"
)

// raiseFileLimit makes room for n more open files in this process (the
// daemon, a Go program, raises its own soft limit to the hard one).
func raiseFileLimit(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	want := lim
	want.Cur = min(n, lim.Max)
	if os.Geteuid() == 0 && lim.Max < n {
		want.Cur, want.Max = n, n
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil || want.Cur < n {
		t.Fatalf("raise the open-file limit to %d (now %d, hard %d): %v; run the tests where ulimit -Hn allows it", n, lim.Cur, lim.Max, err)
	}
}
