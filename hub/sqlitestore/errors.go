package sqlitestore

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// advise names what the hub's admin must do about a write that failed for
// lack of space; other errors are returned unchanged.
func advise(path string, err error) error {
	var sq *sqlite.Error
	if (errors.As(err, &sq) && sq.Code()&0xff == sqlite3.SQLITE_FULL) || errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("hub disk full: free space on the disk holding %s (%w)", path, err)
	}
	return err
}

// isUnique reports a unique or primary key violation.
func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}
