package ledger

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// allocate makes f to bytes long, allocating [from, to) on the disk; it
// extends f sparse where the file system cannot allocate.
func allocate(f *os.File, from, to int64) error {
	err := unix.Fallocate(int(f.Fd()), 0, from, to-from)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		return f.Truncate(to)
	}
	return err
}

// rdOnly is the read-only flag of Statfs_t.Flags.
const rdOnly = unix.ST_RDONLY
