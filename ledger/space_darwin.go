package ledger

import "golang.org/x/sys/unix"

// diskRoom is the room an unprivileged user has left on the file system
// holding dir, and whether it is mounted read-only.
func diskRoom(dir string) (free uint64, readOnly bool, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, false, err
	}
	return st.Bavail * uint64(st.Bsize), st.Flags&unix.MNT_RDONLY != 0, nil
}
