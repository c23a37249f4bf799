package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image/png"
	"log"
	"log/slog"
	"runtime"
	"strings"

	"github.com/gen2brain/beeep"

	"byokd.dev/byok/control"
	"byokd.dev/byok/daemon"
	"byokd.dev/byok/internal/icon"
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
without one, or after byokd run --no-tray. Quit closes the menu only.

Example:
  byokd tray`,
	run: homeRun(func(ctx context.Context, e env, dir string, fs *flag.FlagSet) error {
		logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
		quietLibraryLog(logger)
		return tray.Run(ctx, trayConfig(dir, logger, nil))
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
	return daemonRun(anyArgs, "", nil, func(ctx context.Context, e env, c *control.Client, fs *flag.FlagSet) error {
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
	ncfg := notify.Config{Poster: notify.Beeep{}, Now: now, Logger: logger}
	if bus {
		if p, err := notify.NewPopups(logger, now); err == nil {
			ncfg.Asker = p
		} else {
			logger.Warn("approval popups unavailable; answer in the tray, the page or with byokd approve", "err", err)
		}
	}
	cfg.Notifier = notifierFront{notify.New(ncfg)}
}

// notifierFront runs the notifier on the daemon's own control backend.
type notifierFront struct{ n *notify.Notifier }

func (f notifierFront) Run(ctx context.Context, b control.Backend) error { return f.n.Run(ctx, b) }

// trayConfig reaches the daemon of dir through its control API.
func trayConfig(dir string, logger *slog.Logger, quit func()) tray.Config {
	var png64 bytes.Buffer
	_ = png.Encode(&png64, icon.Draw(64))
	return tray.Config{
		Dial:   func() (tray.Client, error) { return control.Dial(dir) },
		Icon:   png64.Bytes(),
		Open:   func(link string) error { return tray.OpenLink(dir, link) },
		Quit:   quit,
		Logger: logger,
	}
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

// runTray shows the tray of the daemon in this process; Quit stops it.
func runTray(ctx context.Context, dir string, logger *slog.Logger, stop func()) {
	if err := tray.Run(ctx, trayConfig(dir, logger, stop)); err != nil {
		logger.Warn("tray stopped", "err", err)
	}
}
