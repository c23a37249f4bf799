package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/kardianos/service"
)

// systemdUser runs byokd as a systemd user unit through kardianos/service,
// with byokd's own unit text (see SystemdUnit).
type systemdUser struct {
	cfg  ServiceConfig
	svc  service.Service
	unit string // path of the unit file
}

// errNoSystemd: kardianos/service would silently fall back to a SysV
// script in /etc/init.d, which is neither per-user nor started at login.
var errNoSystemd = errors.New("this system has no systemd, and byokd runs as a per-user systemd service on Linux: start `byokd run` from your desktop session's autostart instead (or install systemd)")

func newPlatform(cfg ServiceConfig) (platform, error) {
	if !systemdInstalled() {
		return nil, errNoSystemd
	}
	var sys service.System
	for _, s := range service.AvailableSystems() {
		if s.String() == "linux-systemd" {
			sys = s
		}
	}
	if sys == nil {
		return nil, errNoSystemd
	}
	// kardianos/service writes user units to ~/.config/systemd/user
	// whatever XDG_CONFIG_HOME says; systemd would not look there.
	if x := cfg.ConfigHome; x != "" && filepath.Clean(x) != filepath.Join(cfg.UserHome, ".config") {
		return nil, fmt.Errorf("XDG_CONFIG_HOME is %s, not %s: byokd writes its unit to ~/.config/systemd/user; unset XDG_CONFIG_HOME for `byokd service` or copy the unit from `byokd service unit`", x, filepath.Join(cfg.UserHome, ".config"))
	}
	svc, err := sys.New(noProgram{}, &service.Config{
		Name:        ServiceName,
		DisplayName: ServiceName,
		Description: "byokd: bring-your-own-keys proxy",
		Executable:  cfg.Executable,
		Arguments:   []string{serviceArg},
		Option: service.KeyValue{
			"UserService":   true,
			"SystemdScript": SystemdUnit(cfg.Executable, cfg.Home),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("set up the systemd user service: %w", err)
	}
	return &systemdUser{cfg: cfg, svc: svc, unit: filepath.Join(cfg.UserHome, ".config", "systemd", "user", ServiceName+".service")}, nil
}

// systemdInstalled reports whether systemd is this system's init or at
// least installed (a container or WSL without a running systemd still
// reads the unit at its next boot).
func systemdInstalled() bool {
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		return true
	}
	_, err := exec.LookPath("systemctl")
	return err == nil
}

// managerRunning reports whether this session has a systemd user manager
// to talk to.
func managerRunning(ctx context.Context) bool {
	return exec.CommandContext(ctx, "systemctl", "--user", "show-environment").Run() == nil
}

const noManagerNote = "systemd's user manager is not running in this session: byokd starts at your next login under systemd (or run `byokd run` now)"

// packageUnit is the unit the .deb and .rpm install. Each user enables it
// in their own unit folder (the package's byokd-enable.service does, at
// their first login), so each user can disable it for good.
const packageUnit = "/usr/lib/systemd/user/" + ServiceName + ".service"

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func (s *systemdUser) wantsLink() string {
	return filepath.Join(filepath.Dir(s.unit), "default.target.wants", ServiceName+".service")
}

func (s *systemdUser) install(ctx context.Context) (ServiceStatus, error) {
	running := managerRunning(ctx)
	wasActive := false
	if running {
		st, _ := s.svc.Status()
		wasActive = st == service.StatusRunning
	}
	// kardianos/service refuses to overwrite a unit; replacing ours makes
	// install idempotent and picks up a moved binary or state folder.
	if err := os.Remove(s.unit); err != nil && !errors.Is(err, os.ErrNotExist) {
		return ServiceStatus{}, fmt.Errorf("replace %s: %w", s.unit, err)
	}
	// Install writes the unit, runs `systemctl --user enable` (which works
	// without a running manager) and then daemon-reload (which does not).
	if err := s.svc.Install(); err != nil {
		if running || !s.enabled() {
			return ServiceStatus{}, fmt.Errorf("install the systemd user unit %s: %w", s.unit, err)
		}
	}
	if running {
		act := s.svc.Start
		if wasActive {
			act = s.svc.Restart
		}
		if err := act(); err != nil {
			return ServiceStatus{}, fmt.Errorf("start byokd.service: %w; see `byokd logs`", err)
		}
	}
	return s.status(ctx)
}

func (s *systemdUser) enabled() bool {
	_, err1 := os.Stat(s.unit)
	_, err2 := os.Lstat(s.wantsLink())
	return err1 == nil && err2 == nil
}

func (s *systemdUser) uninstall(ctx context.Context) error {
	running := managerRunning(ctx)
	if !exists(s.unit) {
		// The package's unit: disabling it for this user sticks, as it
		// is only ever enabled in this user's folder.
		if !exists(packageUnit) || !exists(s.wantsLink()) {
			return nil
		}
		if running {
			return wrapCtl("disable --now", exec.CommandContext(ctx, "systemctl", "--user", "disable", "--now", ServiceName+".service").Run())
		}
		return os.Remove(s.wantsLink())
	}
	if running {
		_ = s.svc.Stop()
	}
	err := s.svc.Uninstall()
	if err != nil && (running || s.enabled()) {
		return fmt.Errorf("remove the systemd user unit %s: %w", s.unit, err)
	}
	// Without a manager, Uninstall stops at daemon-reload or earlier.
	_ = os.Remove(s.wantsLink())
	if err := os.Remove(s.unit); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", s.unit, err)
	}
	return nil
}

func (s *systemdUser) needManager(ctx context.Context) error {
	if !managerRunning(ctx) {
		return errors.New("systemd's user manager is not running in this session, so the service cannot be controlled from here: run `byokd run` in the foreground instead")
	}
	if !exists(s.unit) && !exists(packageUnit) {
		return errors.New("byokd is not installed as a service: run `byokd service install`")
	}
	return nil
}

func (s *systemdUser) start(ctx context.Context) error {
	if err := s.needManager(ctx); err != nil {
		return err
	}
	return wrapCtl("start", s.svc.Start())
}

func (s *systemdUser) stop(ctx context.Context) error {
	if err := s.needManager(ctx); err != nil {
		return err
	}
	return wrapCtl("stop", s.svc.Stop())
}

func (s *systemdUser) restart(ctx context.Context) error {
	if err := s.needManager(ctx); err != nil {
		return err
	}
	return wrapCtl("restart", s.svc.Restart())
}

func wrapCtl(action string, err error) error {
	if err != nil {
		return fmt.Errorf("systemctl --user %s byokd.service: %w; see `byokd logs`", action, err)
	}
	return nil
}

func (s *systemdUser) status(ctx context.Context) (ServiceStatus, error) {
	st := ServiceStatus{Manager: "systemd --user", Path: s.unit, Installed: s.enabled()}
	if !exists(s.unit) && exists(packageUnit) {
		st.Path, st.Installed = packageUnit, exists(s.wantsLink())
		if !st.Installed {
			st.Note = "the package's unit is not enabled for you; enable it with `systemctl --user enable --now byokd` or `byokd service install`"
		}
	}
	if !managerRunning(ctx) {
		if st.Installed {
			st.Note = noManagerNote
		}
		return st, nil
	}
	ks, err := s.svc.Status()
	st.Running = err == nil && ks == service.StatusRunning
	return st, nil
}

func (s *systemdUser) logs(ctx context.Context, n int, w io.Writer) error {
	cmd := exec.CommandContext(ctx, "journalctl", journalArgs(n)...)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("journalctl: %w", err)
	}
	return nil
}

// journalArgs are journalctl's arguments for the last n lines of the
// service's log.
func journalArgs(n int) []string {
	return []string{"--user", "-u", ServiceName, "-n", fmt.Sprint(n), "--no-pager"}
}
