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
// holding f, and whether it is mounted read-only. It asks through the open
// file: a statfs by path walks the path, which after a quiet spell cost
// Ready 20 µs here, against 8 µs for this.
func diskRoom(f *os.File) (free uint64, readOnly bool, err error) {
	var st unix.Statfs_t
	if err := fstatfs(f, &st); err != nil {
		return 0, false, err
	}
	return st.Bavail * uint64(st.Bsize), st.Flags&unix.ST_RDONLY != 0, nil
}

func fstatfs(f *os.File, st *unix.Statfs_t) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	if cerr := rc.Control(func(fd uintptr) { err = unix.Fstatfs(int(fd), st) }); cerr != nil {
		return cerr
	}
	return err
}
