package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ServiceConfig describes the per-user service that runs `byokd run` at
// login.
type ServiceConfig struct {
	// Executable is the absolute path of the byokd binary the service
	// starts; default os.Executable.
	Executable string
	// Home is the state folder ($BYOKD_HOME) the service runs with; required.
	Home string
	// UserHome is the member's home folder, where the unit (Linux) or
	// LaunchAgent and log (macOS) go; default os.UserHomeDir.
	UserHome string
	// ConfigHome is $XDG_CONFIG_HOME when set (Linux only): the unit must go
	// where systemd looks.
	ConfigHome string
}

// ServiceStatus is what `byokd service status` shows.
type ServiceStatus struct {
	Manager   string `json:"manager"`   // "systemd --user", "launchd" or "Run key"
	Path      string `json:"path"`      // the unit file, the plist, or the registry value
	Installed bool   `json:"installed"` // the service is set up to start at login
	Running   bool   `json:"running"`
	// Note says something the member should know, such as that the
	// service manager is not running in this session.
	Note string `json:"note,omitempty"`
}

// Service is the per-user service: on Linux a systemd user unit, on macOS
// a LaunchAgent (both through kardianos/service), on Windows a value
// under the per-user Run key, which needs no administrator rights. Create
// it with NewService; it holds no state between calls.
type Service struct {
	cfg ServiceConfig
	p   platform
}

// platform is one operating system's way of running the service.
type platform interface {
	install(ctx context.Context) (ServiceStatus, error)
	uninstall(ctx context.Context) error
	start(ctx context.Context) error
	stop(ctx context.Context) error
	restart(ctx context.Context) error
	status(ctx context.Context) (ServiceStatus, error)
	logs(ctx context.Context, n int, w io.Writer) error
}

// NewService returns the service for this machine, or an error that says
// what to do instead when it has no per-user service manager byokd can
// use.
func NewService(cfg ServiceConfig) (*Service, error) {
	if cfg.Home == "" {
		return nil, errors.New("no state folder: set BYOKD_HOME")
	}
	if !filepath.IsAbs(cfg.Home) {
		return nil, fmt.Errorf("state folder %q must be an absolute path", cfg.Home)
	}
	if cfg.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find the byokd binary: %w", err)
		}
		cfg.Executable = exe
	}
	if exe, err := filepath.EvalSymlinks(cfg.Executable); err == nil {
		cfg.Executable = exe
	}
	if cfg.UserHome == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("find your home folder: %w", err)
		}
		cfg.UserHome = h
	}
	p, err := newPlatform(cfg)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, p: p}, nil
}

// Install sets the service up to start at login and starts it (restarting
// it when it already runs, so a new binary or state folder takes effect).
// Installing again is harmless.
func (s *Service) Install(ctx context.Context) (ServiceStatus, error) {
	return s.p.install(ctx)
}

// Uninstall stops the service and removes it. The state folder (keys,
// ledger) stays; see Purge.
func (s *Service) Uninstall(ctx context.Context) error { return s.p.uninstall(ctx) }

// Start starts the installed service.
func (s *Service) Start(ctx context.Context) error { return s.p.start(ctx) }

// Stop stops the service gracefully: in-flight calls get the daemon's
// ShutdownGrace to finish and the ledger is flushed.
func (s *Service) Stop(ctx context.Context) error { return s.p.stop(ctx) }

// Restart stops and starts the service.
func (s *Service) Restart(ctx context.Context) error { return s.p.restart(ctx) }

// Status reports whether the service is installed and running.
func (s *Service) Status(ctx context.Context) (ServiceStatus, error) { return s.p.status(ctx) }

// Logs writes the service's last n log lines to w: from the journal on
// Linux, ~/Library/Logs/byokd.log on macOS, $BYOKD_HOME\byokd.log on
// Windows.
func (s *Service) Logs(ctx context.Context, n int, w io.Writer) error { return s.p.logs(ctx, n, w) }

// tailFile writes the last n lines of path to w.
func tailFile(path string, n int, w io.Writer) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no log yet at %s: has the service run? see `byokd service status`", path)
	}
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	ring := make([]string, 0, n)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if len(ring) == n {
			ring = append(ring[:0], ring[1:]...)
		}
		if n > 0 {
			ring = append(ring, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read log %s: %w", path, err)
	}
	for _, l := range ring {
		if _, err := fmt.Fprintln(w, l); err != nil {
			return err
		}
	}
	return nil
}
