package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"image/png"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/gen2brain/beeep"

	"byokd.dev/byok/control"
	"byokd.dev/byok/daemon"
	"byokd.dev/byok/internal/icon"
	"byokd.dev/byok/internal/statelock"
	"byokd.dev/byok/notify"
	"byokd.dev/byok/tray"
	"byokd.dev/byok/webui"
)

var trayCmd = command{
	summary: "show the tray menu of a running daemon",
	usage: `Usage: byokd tray

Shows byokd's tray menu for the daemon running with this $BYOKD_HOME:
status, spend this month, which key each service uses, pending approvals,
the Credential Manager page and pause. byokd run shows it by itself when a
desktop session is present; use this when the daemon runs as a service
without one, or after byokd run --no-tray. One icon is shown per state
folder: while another process shows it, this one waits, and takes over
if that one goes. When the daemon is not running the menu offers to
start it. "Hide this icon" hides it until the session ends; byokd keeps
running.

Example:
  byokd tray`,
	run: homeRun(func(ctx context.Context, e env, dir string, fs *flag.FlagSet) error {
		logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
		quietLibraryLog(logger)
		return showTray(ctx, e, dir, logger, nil)
	}),
}

var pauseCmd = command{
	summary: "pause the proxy: every call gets an error until byokd resume",
	usage: `Usage: byokd pause

Makes the proxy refuse every call with a 503 error that says it is paused,
until byokd resume (or Resume proxy in the tray menu). A restart of the
daemon resumes it.

Example:
  byokd pause`,
	run: setPaused(true),
}

var resumeCmd = command{
	summary: "resume a paused proxy",
	usage: `Usage: byokd resume

Example:
  byokd resume`,
	run: setPaused(false),
}

func setPaused(paused bool) runFunc {
	return daemonRun(0, "", nil, func(ctx context.Context, e env, c *control.Client, fs *flag.FlagSet) error {
		if err := c.SetPaused(ctx, paused); err != nil {
			return err
		}
		if paused {
			fmt.Fprintln(e.stdout, "proxy paused: calls get an error until `byokd resume`")
		} else {
			fmt.Fprintln(e.stdout, "proxy resumed")
		}
		return nil
	})
}

// desktopSession reports whether a graphical session with a session bus
// is there for a tray (Linux and BSD); macOS and Windows always have one.
func desktopSession(e env) bool {
	switch runtime.GOOS {
	case "darwin", "windows":
		return true
	}
	return (e.getenv("DISPLAY") != "" || e.getenv("WAYLAND_DISPLAY") != "") && e.getenv("DBUS_SESSION_BUS_ADDRESS") != ""
}

// addDesktop gives the daemon its Credential Manager page and, where
// notifications can be shown, its notifier with approval popups.
func addDesktop(e env, cfg *daemon.Config) {
	logger, now := cfg.Logger, cfg.Now
	cfg.Page = func(b control.Backend, port string) daemon.Page {
		return webui.New(webui.Config{Backend: b, Port: port, Now: now, Logger: logger})
	}
	bus := e.getenv("DBUS_SESSION_BUS_ADDRESS") != ""
	if runtime.GOOS != "darwin" && runtime.GOOS != "windows" && !bus {
		return
	}
	beeep.AppName = "byokd"
	dir := cfg.Home
	ncfg := notify.Config{Poster: notify.Beeep{}, Now: now, Logger: logger,
		Open: func(link string) error { return tray.OpenLink(dir, link) }}
	if bus {
		// On the session bus the notifications are ours to follow: a
		// click opens the page a notification is about.
		if p, err := notify.NewPopups(logger, now); err == nil {
			ncfg.Asker, ncfg.Poster = p, p
		} else {
			logger.Warn("approval popups unavailable; answer in the tray, the page or with byokd approve", "err", err)
		}
	}
	cfg.Notifier = notifierFront{notify.New(ncfg)}
}

// notifierFront runs the notifier on the daemon's own control backend.
type notifierFront struct{ n *notify.Notifier }

func (f notifierFront) Run(ctx context.Context, b control.Backend) error { return f.n.Run(ctx, b) }

// trayConfig reaches the daemon of dir through its control API. stop,
// if set, is "Stop byokd": the daemon in this process.
func trayConfig(e env, dir string, logger *slog.Logger, stop func()) tray.Config {
	colors := map[tray.Look]color.NRGBA{
		tray.LookHubDown:    {0xdc, 0x26, 0x26, 0xff}, // red
		tray.LookTeamPaying: {0xa8, 0x55, 0xf7, 0xff}, // purple
		tray.LookWaiting:    {0xf9, 0x73, 0x16, 0xff}, // orange
		tray.LookPaused:     {0x6b, 0x72, 0x80, 0xff}, // grey
	}
	icons := map[tray.Look][]byte{}
	for _, l := range tray.Looks {
		img := icon.Draw(64)
		switch c, badged := colors[l]; {
		case badged:
			icon.Badge(img, c)
		case l == tray.LookStopped:
			icon.Grey(img)
		}
		var b bytes.Buffer
		_ = png.Encode(&b, img)
		icons[l] = b.Bytes()
	}
	return tray.Config{
		Dial:   func() (tray.Client, error) { return control.Dial(dir) },
		Icons:  icons,
		Open:   func(link string) error { return tray.OpenLink(dir, link) },
		Start:  startDaemon(e, dir, logger),
		Stop:   stop,
		Logger: logger,
	}
}

// startDaemon is the tray's Start: the service where it is installed (on
// Windows always: its Run-key service starts without), else `byokd run`
// in a session of its own, logging to $BYOKD_HOME/byokd.log.
func startDaemon(e env, dir string, logger *slog.Logger) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if s, err := newService(e); err == nil {
			if st, err := s.Status(ctx); err == nil && (st.Installed || runtime.GOOS == "windows") {
				return s.Start(ctx)
			}
		}
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		logf, err := os.OpenFile(filepath.Join(dir, "byokd.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		defer logf.Close()
		cmd := exec.Command(exe, "run")
		cmd.Env = append(os.Environ(), "BYOKD_HOME="+dir)
		cmd.Stdout, cmd.Stderr = logf, logf
		detach(cmd)
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start byokd run: %w", err)
		}
		logger.Info("started byokd run from the tray", "pid", cmd.Process.Pid, "log", logf.Name())
		go cmd.Wait() // it outlives the tray; reap it if not
		return nil
	}
}

// showTray shows dir's tray icon once no other process shows it: one icon
// per state folder, whether the daemon or its autostart entry came first.
// It holds the tray's lock until ctx ends, so an icon hidden from the menu
// stays hidden for the session instead of being taken over.
func showTray(ctx context.Context, e env, dir string, logger *slog.Logger, stop func()) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	told := false
	for {
		release, err := statelock.AcquireFile(dir, statelock.TrayFile, "byokd's tray")
		if err == nil {
			defer release()
			break
		}
		if !errors.Is(err, statelock.ErrHeld) {
			return err
		}
		if !told {
			logger.Info("another process shows byokd's tray icon; this one takes over if it goes", "detail", err)
			told = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	if err := tray.Run(ctx, trayConfig(e, dir, logger, stop)); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// quietLibraryLog sends what libraries print with the standard log
// package (fyne.io/systray reports a missing tray host that way) to the
// debug log.
func quietLibraryLog(logger *slog.Logger) {
	log.SetFlags(0)
	log.SetOutput(logWriter{logger.With("component", "library")})
}

type logWriter struct{ l *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.l.Debug("library message", "msg", strings.TrimSpace(string(p)))
	return len(p), nil
}

// runTray shows the tray of the daemon in this process, whose "Stop
// byokd" stops it.
func runTray(ctx context.Context, e env, dir string, logger *slog.Logger, stop func()) {
	if err := showTray(ctx, e, dir, logger, stop); err != nil {
		logger.Warn("tray stopped", "err", err)
	}
}
