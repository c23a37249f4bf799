package main

import (
	"context"
	"flag"
	"fmt"

	"byokd.dev/byok/control"
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
	run: openLogin((*control.Client).LoginURL),
}

// openLogin is ui and team: it gets a one-time login link with login,
// prints it and, unless --print, opens it in the browser.
func openLogin(login func(*control.Client, context.Context) (control.Login, error)) runFunc {
	return func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
		printOnly := fs.Bool("print", false, "print the login link instead of opening a browser")
		return daemonRun(0, "", nil, func(ctx context.Context, e env, c *control.Client, fs *flag.FlagSet) error {
			l, err := login(c, ctx)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, l.URL)
			if *printOnly {
				return nil
			}
			dir, err := home(e)
			if err != nil {
				return err
			}
			if err := tray.OpenLink(dir, l.URL); err != nil {
				return fmt.Errorf("%w: open the link above in a browser yourself (it works once, for 5 minutes)", err)
			}
			return nil
		})(ctx, e, fs, args)
	}
}
