// Package privfile keeps byokd's state folders and secret-bearing files
// private to their user: folders 0700, files 0600, written atomically. The
// daemon and the hub share it.
package privfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// PrepareDir creates dir with mode 0700, or checks that an existing one is
// private. what names it in errors ("state folder", "hub state folder").
func PrepareDir(dir, what string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s %s: %w", what, dir, err)
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s %s is readable by others (mode %04o): run `chmod 700 %s` and start again", what, dir, perm, dir)
	}
	return nil
}

// Check refuses a file that others may read; a missing file is fine.
func Check(path string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s is readable by others (mode %04o): run `chmod 600 %s` and start again", path, perm, path)
	}
	return nil
}

// Write writes data to path with mode 0600, atomically: a reader sees the
// old content or the new, never a part.
func Write(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
