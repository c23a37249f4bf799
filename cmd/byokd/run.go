package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/gen2brain/beeep"

	"byokd.dev/byok/daemon"
	"byokd.dev/byok/internal/idlegc"
	"byokd.dev/byok/internal/privfile"
)

var runCmd = command{
	summary: "run the daemon: the local proxy on 127.0.0.1:8787",
	usage: `Usage: byokd run [--listen ADDR] [--no-tray] [--cpuprofile FILE]

Runs the byokd daemon in the foreground: the local proxy that signs your
apps' calls with your own keys, the ledger and the control API. State lives
in $BYOKD_HOME (default: your config folder + /byokd). Logs go to stderr.
In a desktop session it also shows the tray menu (not with --no-tray),
notifications and approval popups; the Credential Manager page opens with
byokd ui. --cpuprofile writes a Go CPU profile of the whole run to FILE
when the daemon stops (for docs/BENCHMARKS.md's "where the time goes").

Environment: BYOKD_HOME, BYOKD_KEYSTORE (keychain|file),
BYOKD_KEYSTORE_PASSPHRASE, BYOKD_UPSTREAM_OPENAI|ANTHROPIC|CLICKUP,
BYOKD_LOG_LEVEL (debug|info|warn|error).

Example:
  byokd run
  byokd run --listen 127.0.0.1:9787`,
	run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
		listen := fs.String("listen", "", "proxy address (loopback only; default 127.0.0.1:8787)")
		noTray := fs.Bool("no-tray", false, "do not show the tray menu")
		cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
		if err := parse(fs, args); err != nil {
			return err
		}
		if os.Getenv("GOGC") == "" {
			// The daemon's live heap is a few MiB and nearly all of its
			// garbage is per-call buffers: collecting at twice the live
			// heap instead of once costs a few MiB and saves about a
			// sixth of its CPU per call (BenchmarkDaemon, docs/BENCHMARKS.md).
			debug.SetGCPercent(200)
		}
		if *cpuProfile != "" {
			f, err := os.Create(*cpuProfile)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		dir, err := home(e)
		if err != nil {
			return err
		}
		cfg, err := daemonConfig(e, dir, *listen, e.stderr)
		if err != nil {
			return err
		}
		addDesktop(e, &cfg)
		gc := idlegc.Start()
		defer gc.Stop()
		cfg.Busy = gc.Busy
		d, err := daemon.Start(ctx, cfg)
		startErr := filepath.Join(dir, daemon.StartErrorFile)
		if err != nil {
			// Kept for `byokd status`; the service is not restarted for it.
			msg := time.Now().Format(time.RFC3339) + " " + strings.TrimPrefix(err.Error(), "byokd: ") + "\n"
			_ = privfile.Write(startErr, []byte(msg))
			if desktopSession(e) {
				beeep.AppName = "byokd"
				_ = beeep.Notify("byokd could not start", strings.TrimPrefix(err.Error(), "byokd: "), "")
			}
			return startFailed{err}
		}
		_ = os.Remove(startErr)
		if *noTray || !desktopSession(e) {
			return d.Run(ctx)
		}
		quietLibraryLog(cfg.Logger)
		ctx, stop := context.WithCancel(ctx)
		defer stop()
		trayDone := make(chan struct{})
		go func() { defer close(trayDone); runTray(ctx, e, dir, cfg.Logger, stop) }()
		err = d.Run(ctx)
		stop()
		<-trayDone
		return err
	},
}
