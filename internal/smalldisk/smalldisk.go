//go:build linux

// Package smalldisk gives tests a real filesystem that fills up: a tmpfs of
// a chosen size mounted on a temporary folder, and a filler file that takes
// every free byte until it is removed. Mounting needs root (CI runs the
// tests as root); without it the test fails saying so, since a skipped
// disk-full test would prove nothing.
package smalldisk

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Mount mounts a tmpfs of size bytes, mode 0700, on a new temporary folder
// and returns the folder. The tmpfs is unmounted when the test ends, after
// anything registered with t.Cleanup later (processes using it).
func Mount(t testing.TB, size int64) string {
	t.Helper()
	dir := t.TempDir()
	opts := fmt.Sprintf("size=%d,mode=0700", size)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, opts); err != nil {
		t.Fatalf("mount a %d-byte tmpfs on %s for the disk-full test: %v (this test needs root, as in CI's scripts/test)", size, dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount the test tmpfs %s: %v", dir, err)
		}
	})
	return dir
}

// Fill writes a file in dir until the filesystem has no room left and
// returns a function that removes it, freeing the space. It fails the test
// if the write stops for any other reason than a full disk.
func Fill(t testing.TB, dir string) (free func()) {
	t.Helper()
	path := filepath.Join(dir, "smalldisk-filler")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatalf("fill %s: %v", dir, err)
	}
	defer f.Close()
	// Big chunks first, then ever smaller ones down to a byte, so that not
	// even a partial page is left.
	for chunk := 1 << 20; chunk >= 1; chunk /= 2 {
		buf := make([]byte, chunk)
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("fill %s: %v", dir, err)
				}
				break
			}
		}
	}
	return func() {
		if err := os.Remove(path); err != nil {
			t.Errorf("free %s: %v", dir, err)
		}
	}
}
