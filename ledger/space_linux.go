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

// diskRoom is the room an unprivileged user has left on the file system
// holding dir, and whether it is mounted read-only.
func diskRoom(dir string) (free uint64, readOnly bool, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, false, err
	}
	return st.Bavail * uint64(st.Bsize), st.Flags&unix.ST_RDONLY != 0, nil
}
