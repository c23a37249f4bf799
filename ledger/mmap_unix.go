//go:build unix

package ledger

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps f's first n bytes shared and writable: what is stored there
// is in the page cache, as a write(2)'s bytes are.
func mapFile(f *os.File, n int64) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	return m, nil
}

func unmapFile(m []byte) error {
	if len(m) == 0 {
		return nil
	}
	return os.NewSyscallError("munmap", unix.Munmap(m))
}
