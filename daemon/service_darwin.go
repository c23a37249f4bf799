package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kardianos/service"
)

// launchAgent runs byokd as a per-user LaunchAgent through
// kardianos/service, with byokd's own property list (see
// LaunchAgentPlist): started at login, logging to ~/Library/Logs/byokd.log.
type launchAgent struct {
	cfg   ServiceConfig
	svc   service.Service
	plist string
	log   string
}

func newPlatform(cfg ServiceConfig) (platform, error) {
	logPath := filepath.Join(cfg.UserHome, "Library", "Logs", ServiceName+".log")
	svc, err := service.New(noProgram{}, &service.Config{
		Name:        ServiceName,
		DisplayName: ServiceName,
		Description: "byokd: bring-your-own-keys proxy",
		Executable:  cfg.Executable,
		Arguments:   []string{serviceArg},
		Option: service.KeyValue{
			"UserService":   true,
			"LaunchdConfig": LaunchAgentPlist(cfg.Executable, cfg.Home, logPath),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("set up the LaunchAgent: %w", err)
	}
	return &launchAgent{
		cfg:   cfg,
		svc:   svc,
		plist: filepath.Join(cfg.UserHome, "Library", "LaunchAgents", ServiceName+".plist"),
		log:   logPath,
	}, nil
}

func (l *launchAgent) install(ctx context.Context) (ServiceStatus, error) {
	if err := os.MkdirAll(filepath.Dir(l.log), 0o700); err != nil {
		return ServiceStatus{}, fmt.Errorf("create log folder: %w", err)
	}
	if _, err := os.Stat(l.plist); err == nil {
		// kardianos/service refuses to overwrite; unload and replace ours.
		_ = l.svc.Stop()
		if err := os.Remove(l.plist); err != nil {
			return ServiceStatus{}, fmt.Errorf("replace %s: %w", l.plist, err)
		}
	}
	if err := l.svc.Install(); err != nil {
		return ServiceStatus{}, fmt.Errorf("install the LaunchAgent %s: %w", l.plist, err)
	}
	if err := l.svc.Start(); err != nil {
		return ServiceStatus{}, fmt.Errorf("launchctl load %s: %w; see `byokd logs`", l.plist, err)
	}
	return l.status(ctx)
}

func (l *launchAgent) uninstall(ctx context.Context) error {
	if _, err := os.Stat(l.plist); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := l.svc.Uninstall(); err != nil {
		return fmt.Errorf("remove the LaunchAgent %s: %w", l.plist, err)
	}
	return nil
}

func (l *launchAgent) installed() error {
	if _, err := os.Stat(l.plist); err != nil {
		return errors.New("byokd is not installed as a service: run `byokd service install`")
	}
	return nil
}

func (l *launchAgent) start(ctx context.Context) error {
	if err := l.installed(); err != nil {
		return err
	}
	return l.svc.Start()
}

func (l *launchAgent) stop(ctx context.Context) error {
	if err := l.installed(); err != nil {
		return err
	}
	return l.svc.Stop()
}

func (l *launchAgent) restart(ctx context.Context) error {
	if err := l.installed(); err != nil {
		return err
	}
	return l.svc.Restart()
}

func (l *launchAgent) status(ctx context.Context) (ServiceStatus, error) {
	st := ServiceStatus{Manager: "launchd", Path: l.plist}
	if _, err := os.Stat(l.plist); err != nil {
		return st, nil
	}
	st.Installed = true
	ks, err := l.svc.Status()
	st.Running = err == nil && ks == service.StatusRunning
	return st, nil
}

func (l *launchAgent) logs(ctx context.Context, n int, w io.Writer) error {
	return tailFile(l.log, n, w)
}
