package main

import (
	"context"
	"flag"

	"byokd.dev/byok/daemon"
)

var runCmd = command{
	summary: "run the daemon: the local proxy on 127.0.0.1:8787",
	usage: `Usage: byokd run [--listen ADDR] [--no-tray]

Runs the byokd daemon in the foreground: the local proxy that signs your
apps' calls with your own keys, the ledger and the control API. State lives
in $BYOKD_HOME (default: your config folder + /byokd). Logs go to stderr.
In a desktop session it also shows the tray menu (not with --no-tray),
notifications and approval popups; the Credential Manager page opens with
byokd ui.

Environment: BYOKD_HOME, BYOKD_KEYSTORE (keychain|file),
BYOKD_KEYSTORE_PASSPHRASE, BYOKD_UPSTREAM_OPENAI|ANTHROPIC|CLICKUP,
BYOKD_LOG_LEVEL (debug|info|warn|error).

Example:
  byokd run
  byokd run --listen 127.0.0.1:9787`,
	run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
		listen := fs.String("listen", "", "proxy address (loopback only; default 127.0.0.1:8787)")
		noTray := fs.Bool("no-tray", false, "do not show the tray menu")
		if err := parse(fs, args); err != nil {
			return err
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
		d, err := daemon.Start(ctx, cfg)
		if err != nil {
			return err
		}
		if *noTray || !desktopSession(e) {
			return d.Run(ctx)
		}
		quietLibraryLog(cfg.Logger)
		ctx, stop := context.WithCancel(ctx)
		defer stop()
		trayDone := make(chan struct{})
		go func() { defer close(trayDone); runTray(ctx, dir, cfg.Logger, stop) }()
		err = d.Run(ctx)
		stop()
		<-trayDone
		return err
	},
}
