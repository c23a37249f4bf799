package main

import (
	"context"
	"flag"
	"fmt"

	"byokd.dev/byok/tray"
)

var uiCmd = command{
	summary: "open the Credential Manager page in your browser",
	usage: `Usage: byokd ui [--print]

Opens the Credential Manager, the daemon's local page for your keys,
preferences, app tokens, usage and pending approvals, with a one-time
login link (valid for 5 minutes, once). --print only prints the link.

Example:
  byokd ui
  byokd ui --print`,
	run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
		printOnly := fs.Bool("print", false, "print the login link instead of opening a browser")
		if err := parse(fs, args); err != nil {
			return err
		}
		c, err := client(e)
		if err != nil {
			return err
		}
		l, err := c.LoginURL(ctx)
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
