package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"

	"byokd.dev/byok/control"
)

// runKeyPath is the per-user Run key: Windows starts its values at login,
// and writing it needs no administrator rights (a Windows service would).
const runKeyPath = `Software\Microsoft\Windows\CurrentVersion\Run`

// runKey runs byokd at login from the per-user Run key, detached, with
// its log in $BYOKD_HOME\byokd.log; kardianos/service has no per-user
// services on Windows.
type runKey struct {
	cfg ServiceConfig
	cmd string // the Run key value
}

func newPlatform(cfg ServiceConfig) (platform, error) {
	return &runKey{cfg: cfg, cmd: RunKeyCommand(cfg.Executable, cfg.Home)}, nil
}

func (r *runKey) install(ctx context.Context) (ServiceStatus, error) {
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runKeyPath, registry.SET_VALUE|registry.QUERY_VALUE)
	if err != nil {
		return ServiceStatus{}, fmt.Errorf("open HKCU\\%s: %w", runKeyPath, err)
	}
	defer k.Close()
	if err := k.SetStringValue(ServiceName, r.cmd); err != nil {
		return ServiceStatus{}, fmt.Errorf("write HKCU\\%s\\%s: %w", runKeyPath, ServiceName, err)
	}
	if serviceRunning(r.cfg.Home) {
		if err := r.stop(ctx); err != nil {
			return ServiceStatus{}, err
		}
	}
	if err := r.start(ctx); err != nil {
		return ServiceStatus{}, err
	}
	return r.status(ctx)
}

func (r *runKey) value() (string, error) {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKeyPath, registry.QUERY_VALUE)
	if err != nil {
		return "", err
	}
	defer k.Close()
	v, _, err := k.GetStringValue(ServiceName)
	return v, err
}

func (r *runKey) uninstall(ctx context.Context) error {
	if err := r.stop(ctx); err != nil {
		return err
	}
	k, err := registry.OpenKey(registry.CURRENT_USER, runKeyPath, registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf("open HKCU\\%s: %w", runKeyPath, err)
	}
	defer k.Close()
	if err := k.DeleteValue(ServiceName); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return fmt.Errorf("remove HKCU\\%s\\%s: %w", runKeyPath, ServiceName, err)
	}
	return nil
}

func (r *runKey) start(ctx context.Context) error {
	if serviceRunning(r.cfg.Home) {
		return nil // already running
	}
	cmd := exec.Command(r.cfg.Executable, "service", "run", "--home", r.cfg.Home)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		CreationFlags: windows.DETACHED_PROCESS | windows.CREATE_NEW_PROCESS_GROUP,
		HideWindow:    true,
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start byokd: %w", err)
	}
	return cmd.Process.Release()
}

// stop signals the running daemon's stop event and waits for it to exit:
// Windows has no SIGTERM for a process without a console.
func (r *runKey) stop(ctx context.Context) error {
	name, _ := windows.UTF16PtrFromString(stopEventName(r.cfg.Home))
	ev, err := windows.OpenEvent(windows.EVENT_MODIFY_STATE, false, name)
	if err != nil {
		return nil // not running
	}
	defer windows.CloseHandle(ev)
	var proc windows.Handle
	if pid := daemonPID(r.cfg.Home); pid > 0 {
		proc, _ = windows.OpenProcess(windows.SYNCHRONIZE, false, uint32(pid))
	}
	if err := windows.SetEvent(ev); err != nil {
		return fmt.Errorf("ask byokd to stop: %w", err)
	}
	if proc != 0 {
		defer windows.CloseHandle(proc)
		// The daemon's grace period is 30 s; give it a little more.
		if ev, _ := windows.WaitForSingleObject(proc, 45_000); ev != windows.WAIT_OBJECT_0 {
			return errors.New("byokd did not stop within 45 s: see `byokd logs`")
		}
	}
	return nil
}

func daemonPID(home string) int {
	b, err := os.ReadFile(filepath.Join(home, control.StateFile))
	if err != nil {
		return 0
	}
	var st control.State
	if json.Unmarshal(b, &st) != nil {
		return 0
	}
	return st.PID
}

func (r *runKey) restart(ctx context.Context) error {
	if err := r.stop(ctx); err != nil {
		return err
	}
	return r.start(ctx)
}

func (r *runKey) status(ctx context.Context) (ServiceStatus, error) {
	v, err := r.value()
	st := ServiceStatus{Manager: "Run key", Path: `HKCU\` + runKeyPath + `\` + ServiceName, Installed: err == nil && v == r.cmd}
	if err == nil && v != r.cmd {
		st.Note = "the Run key starts a different binary or state folder: run `byokd service install` again"
	}
	st.Running = serviceRunning(r.cfg.Home)
	return st, nil
}

func (r *runKey) logs(ctx context.Context, n int, w io.Writer) error {
	return tailFile(ServiceLogPath(r.cfg.Home), n, w)
}

// serviceRunning reports whether a daemon for home is running: its stop
// event exists.
func serviceRunning(home string) bool {
	name, _ := windows.UTF16PtrFromString(stopEventName(home))
	ev, err := windows.OpenEvent(windows.SYNCHRONIZE, false, name)
	if err != nil {
		return false
	}
	windows.CloseHandle(ev)
	return true
}
