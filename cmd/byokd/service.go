package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"byokd.dev/byok/daemon"
)

// newService returns the per-user service for $BYOKD_HOME and this binary.
func newService(e env) (*daemon.Service, error) {
	dir, err := home(e)
	if err != nil {
		return nil, err
	}
	return daemon.NewService(daemon.ServiceConfig{Home: dir, ConfigHome: e.getenv("XDG_CONFIG_HOME")})
}

// serviceRun is runWith for commands that work on the per-user service;
// none of them takes positional arguments.
func serviceRun(check func(fs *flag.FlagSet) error, f func(ctx context.Context, e env, s *daemon.Service, fs *flag.FlagSet) error) runFunc {
	return runWith(newService, 0, "", check, f)
}

// serviceAction is a service subcommand that takes no arguments.
func serviceAction(summary, name string, act func(*daemon.Service, context.Context) error, done string) command {
	return command{
		summary: summary,
		usage:   fmt.Sprintf("Usage: byokd service %s\n\n%s.\n\nExample:\n  byokd service %s", name, summary, name),
		run: serviceRun(nil, func(ctx context.Context, e env, s *daemon.Service, fs *flag.FlagSet) error {
			if err := act(s, ctx); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, done)
			return nil
		}),
	}
}

var serviceCmd = group("service", "run byokd at login as a per-user service", map[string]command{
	"install": {
		summary: "start byokd at login and now (idempotent)",
		usage: `Usage: byokd service install

Sets byokd up to run ` + "`byokd run`" + ` at every login with this $BYOKD_HOME, and
starts it. Linux: a systemd user unit in ~/.config/systemd/user; macOS: a
LaunchAgent in ~/Library/LaunchAgents; Windows: the per-user Run key (no
administrator rights needed). Installing again replaces the entry, so it
picks up a moved binary or another state folder.

Example:
  byokd service install`,
		run: serviceRun(nil, func(ctx context.Context, e env, s *daemon.Service, fs *flag.FlagSet) error {
			st, err := s.Install(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "installed: %s (%s)\n", st.Path, st.Manager)
			printStatus(e, st)
			return nil
		}),
	},
	"uninstall": {
		summary: "stop byokd and stop starting it at login; keeps keys and ledger",
		usage: `Usage: byokd service uninstall [--purge [--yes]]

Stops the service and removes it. Your keys, app tokens and usage ledger
stay in $BYOKD_HOME and the keychain unless you add --purge, which deletes
them too, after asking (with no terminal to ask, --purge needs --yes).

Example:
  byokd service uninstall
  byokd service uninstall --purge`,
		run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
			purge := fs.Bool("purge", false, "also delete keys, tokens and the ledger")
			yes := fs.Bool("yes", false, "with --purge: do not ask")
			return serviceRun(nil, func(ctx context.Context, e env, s *daemon.Service, fs *flag.FlagSet) error {
				dir, err := home(e)
				if err != nil {
					return err
				}
				if *purge && !*yes {
					if err := confirmPurge(e, dir); err != nil {
						return err
					}
				}
				if err := s.Uninstall(ctx); err != nil {
					return err
				}
				fmt.Fprintln(e.stdout, "uninstalled: byokd no longer starts at login")
				if !*purge {
					fmt.Fprintf(e.stdout, "kept your keys, tokens and ledger in %s (delete them with --purge)\n", dir)
					return nil
				}
				if err := daemon.Purge(ctx, dir); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "deleted %s and your keys' secrets\n", dir)
				return nil
			})(ctx, e, fs, args)
		},
	},
	"start":   serviceAction("start the installed service", "start", (*daemon.Service).Start, "started"),
	"stop":    serviceAction("stop the service gracefully: in-flight calls finish, the ledger is flushed", "stop", (*daemon.Service).Stop, "stopped"),
	"restart": serviceAction("restart the service", "restart", (*daemon.Service).Restart, "restarted"),
	"status": {
		summary: "show whether the service is installed and running",
		usage: `Usage: byokd service status [--json]

Example:
  byokd service status`,
		run: listing(onService, (*daemon.Service).Status, func(e env, st daemon.ServiceStatus) {
			fmt.Fprintf(e.stdout, "manager:   %s\nentry:     %s\n", st.Manager, st.Path)
			printStatus(e, st)
		}),
	},
	"unit": {
		summary: "print the systemd user unit install would write",
		usage: `Usage: byokd service unit

Prints the systemd user unit for this binary and $BYOKD_HOME, for
machines where you manage units yourself.

Example:
  byokd service unit > ~/.config/systemd/user/byokd.service`,
		run: homeRun(func(ctx context.Context, e env, dir string, fs *flag.FlagSet) error {
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find the byokd binary: %w", err)
			}
			if p, err := filepath.EvalSymlinks(exe); err == nil {
				exe = p
			}
			fmt.Fprint(e.stdout, daemon.SystemdUnit(exe, dir))
			return nil
		}),
	},
	"run": {
		summary: "run the daemon as the service does (the Windows login entry)",
		usage: `Usage: byokd service run [--home DIR]

Runs ` + "`byokd run`" + ` for the state folder DIR (default $BYOKD_HOME). On
Windows the log goes to DIR\byokd.log and ` + "`byokd service stop`" + ` stops it
gracefully; elsewhere it is ` + "`byokd run`" + `.

Example:
  byokd service run --home "%APPDATA%\byokd"`,
		run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
			dirFlag := fs.String("home", "", "state folder (default $BYOKD_HOME)")
			if err := parse(fs, args); err != nil {
				return err
			}
			dir := *dirFlag
			if dir == "" {
				d, err := home(e)
				if err != nil {
					return err
				}
				dir = d
			}
			dir, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			sctx, logw, done, err := daemon.ServiceContext(ctx, dir)
			if err != nil {
				return err
			}
			defer done()
			re := e
			re.getenv = func(k string) string {
				if k == "BYOKD_HOME" {
					return dir
				}
				return e.getenv(k)
			}
			if logw != nil {
				re.stdout, re.stderr = logw, logw
			}
			err = runCmd.run(sctx, re, flags(re, "run", runCmd.usage), nil)
			if err != nil && logw != nil {
				fmt.Fprintln(logw, "byokd:", err)
			}
			return err
		},
	},
})

func printStatus(e env, st daemon.ServiceStatus) {
	state := "not installed: run `byokd service install`"
	switch {
	case st.Installed && st.Running:
		state = "installed, running"
	case st.Installed:
		state = "installed, not running"
	case st.Running:
		state = "running, not installed"
	}
	fmt.Fprintf(e.stdout, "state:     %s\n", state)
	if st.Note != "" {
		fmt.Fprintf(e.stdout, "note:      %s\n", st.Note)
	}
}

// confirmPurge asks before --purge deletes everything; with no terminal
// to ask on, it refuses.
func confirmPurge(e env, dir string) error {
	f, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return errors.New("--purge deletes your keys, tokens and usage ledger for good; there is no terminal to ask on, so add --yes to confirm")
	}
	fmt.Fprintf(e.stderr, "Delete your byokd keys, app tokens and usage ledger in %s for good? [y/N] ", dir)
	line, _ := bufio.NewReader(f).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
		return errors.New("nothing deleted")
	}
	return nil
}
