//go:build linux || darwin

package ledger

import (
	"os"

	"golang.org/x/sys/unix"
)

// diskRoom is the room an unprivileged user has left on the file system
// holding f, and whether it is mounted read-only. It asks through the open
// file: a statfs by path walks the path, which after a quiet spell cost
// Ready 20 µs here, against 8 µs for this.
func diskRoom(f *os.File) (free uint64, readOnly bool, err error) {
	var st unix.Statfs_t
	if err := fstatfs(f, &st); err != nil {
		return 0, false, err
	}
	return st.Bavail * uint64(st.Bsize), st.Flags&rdOnly != 0, nil
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
