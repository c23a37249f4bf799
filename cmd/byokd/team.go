package main

import (
	"context"
	"flag"
	"fmt"

	"byokd.dev/byok/tray"
)

var teamCmd = command{
	summary: "open the team hub's web view, signed in as you",
	usage: `Usage: byokd team [--print]

Opens the team hub's web view (your spend, your calls, the team's shared
keys as they concern you) in your browser. Your daemon asks the hub for a
one-time login link with this device's credential (from byokd join); the
link works once and expires after 15 minutes. --print only prints it.

Example:
  byokd team
  byokd team --print`,
	run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
		printOnly := fs.Bool("print", false, "print the login link instead of opening a browser")
		if err := parse(fs, args); err != nil {
			return err
		}
		c, err := client(e)
		if err != nil {
			return err
		}
		l, err := c.HubLoginURL(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, l.URL)
		if *printOnly {
			return nil
		}
		if err := tray.OpenBrowser(l.URL); err != nil {
			return fmt.Errorf("open a browser: %w; open the link above yourself", err)
		}
		return nil
	},
}
