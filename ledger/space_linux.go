package ledger

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// reserveSpace allocates [off, off+n) of f without changing its size;
// errors.ErrUnsupported where the file system cannot.
func reserveSpace(f *os.File, off, n int64) error {
	err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, off, n)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		return errors.ErrUnsupported
	}
	return err
}

// rdOnly is the read-only flag of Statfs_t.Flags.
const rdOnly = unix.ST_RDONLY
