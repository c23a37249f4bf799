//go:build !linux

package ledger

import "os"

// allocate makes f to bytes long. Where the file system gives no way to
// allocate ahead (darwin's F_PREALLOCATE does not extend the file), the
// new part is sparse: Ready's free-room check stands alone, and a row the
// full disk cannot take faults in journalFile.put, which says so.
func allocate(f *os.File, _, to int64) error { return f.Truncate(to) }
