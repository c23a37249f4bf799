package main

import (
	"context"
	"flag"
	"fmt"

	"byokd.dev/byok/daemon"
)

var logsCmd = command{
	summary: "show the service's recent log lines",
	usage: `Usage: byokd logs [-n LINES]

Shows the last lines the byokd service logged: from the journal on Linux
(` + "`journalctl --user -u byokd`" + `), ~/Library/Logs/byokd.log on macOS,
$BYOKD_HOME\byokd.log on Windows.

Example:
  byokd logs -n 200`,
	run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
		n := fs.Int("n", 50, "number of lines")
		check := func(*flag.FlagSet) error {
			if *n < 1 {
				return fmt.Errorf("-n %d: give a positive number of lines", *n)
			}
			return nil
		}
		return serviceRun(check, func(ctx context.Context, e env, s *daemon.Service, fs *flag.FlagSet) error {
			return s.Logs(ctx, *n, e.stdout)
		})(ctx, e, fs, args)
	},
}
