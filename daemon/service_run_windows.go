package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows"

	"byokd.dev/byok/internal/privfile"
)

// ServiceContext returns a context that also ends when `byokd service
// stop` asks the daemon for home to stop (a named event; Windows has no
// SIGTERM for a detached process), and the log the service writes to:
// $BYOKD_HOME\byokd.log, started afresh past 10 MiB. Call done when the
// daemon has stopped.
func ServiceContext(ctx context.Context, home string) (_ context.Context, log io.Writer, done func(), err error) {
	// Started from the Run key, a console program gets a console window;
	// letting go of it closes the window.
	_, _, _ = windows.NewLazySystemDLL("kernel32.dll").NewProc("FreeConsole").Call()
	if err := privfile.PrepareDir(home, "state folder"); err != nil {
		return nil, nil, nil, err
	}
	path := ServiceLogPath(home)
	if fi, err := os.Stat(path); err == nil && fi.Size() > 10<<20 {
		_ = os.Rename(path, path+".1")
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open log %s: %w", path, err)
	}
	name, _ := windows.UTF16PtrFromString(stopEventName(home))
	ev, err := windows.CreateEvent(nil, 1, 0, name)
	if err != nil {
		f.Close()
		return nil, nil, nil, fmt.Errorf("create stop event: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		windows.WaitForSingleObject(ev, windows.INFINITE)
		cancel()
	}()
	return ctx, f, func() {
		cancel()
		windows.SetEvent(ev) // ends the waiting goroutine
		windows.CloseHandle(ev)
		f.Close()
	}, nil
}

// stopEventName names the Windows event that asks the daemon for home to
// stop, in the session's namespace.
func stopEventName(home string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(filepath.Clean(home))))
	return `Local\byokd-stop-` + hex.EncodeToString(sum[:8])
}

// ServiceLogFile is the log file name in the state folder, used on
// Windows where there is no journal and no launchd to collect stderr.
const ServiceLogFile = "byokd.log"

// ServiceLogPath is where the Windows service's log goes.
func ServiceLogPath(home string) string { return filepath.Join(home, ServiceLogFile) }
