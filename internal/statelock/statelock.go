// Package statelock keeps one process per state folder: a second `byokd
// run` or `byokd hub serve` on a folder in use refuses to start, naming
// the one that holds it, before it opens anything there. The lock is the
// OS's on a file in the folder (flock on Unix, LockFileEx on Windows):
// it dies with its process, so a killed daemon leaves nothing stale.
package statelock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// File is the lock file's name in the state folder.
const File = "lock"

// TrayFile is the lock of the one process that shows the folder's tray
// icon, whichever way it was started (the daemon, its autostart entry).
const TrayFile = "tray.lock"

// ErrHeld: another process holds the folder.
var ErrHeld = errors.New("the state folder is in use")

// Acquire takes dir's lock for what ("byokd", "the byokd hub") and
// returns the function that gives it up. While held the file names this
// process.
func Acquire(dir, what string) (release func(), err error) { return AcquireFile(dir, File, what) }

// AcquireFile is Acquire of another lock in dir, named name: one holder
// of something besides the folder itself (the tray: TrayFile).
func AcquireFile(dir, name, what string) (release func(), err error) {
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the state folder's lock %s: %w", path, err)
	}
	if err := lock(f); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		holder := "another process"
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b[:n]))); perr == nil && pid > 0 {
			holder = fmt.Sprintf("process %d", pid)
		}
		if errors.Is(err, ErrHeld) {
			return nil, fmt.Errorf("%w: %s is already running on %s (%s holds %s); stop it first, or give this one another state folder",
				ErrHeld, what, dir, holder, path)
		}
		return nil, fmt.Errorf("lock the state folder %s: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil // closing gives the lock up
}
