//go:build !unix && !windows

package statelock

import "os"

// lock is not available here: two processes on one folder are not stopped.
func lock(*os.File) error { return nil }
