package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"byokd.dev/byok/control"
)

var joinCmd = command{
	summary: "join your team's hub with an invite code",
	usage: `Usage: byokd join HUB_URL [--name DEVICE] [--insecure]

Joins the team hub at HUB_URL with the one-time invite code your admin gave
you (byokd hub invite), read from standard input (a prompt on a terminal):
on the command line every local user could read it. The old form
byokd join HUB_URL CODE still works, with a warning. The device
credential is kept in your keychain. From then on your usage syncs to the
hub, team policies reach this daemon, and calls may use the team's shared
keys where your preferences and the policy allow. A hub off this machine must use https unless --insecure.

Example:
  byokd join https://hub.example:8443       # then type or paste the code
  echo 7KQ2-XJ4M-PL9D | byokd join https://hub.example:8443`,
	run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
		name := fs.String("name", "", "this device's name in the admin's list (default: the host name)")
		insecure := fs.Bool("insecure", false, "allow plain http to a hub off this machine")
		return daemonRun(anyArgs, "", func(fs *flag.FlagSet) error {
			if fs.NArg() < 1 || fs.NArg() > 2 {
				fs.Usage()
				return fmt.Errorf("join needs the HUB_URL (the invite code comes on standard input)")
			}
			return nil
		}, func(ctx context.Context, e env, c *control.Client, fs *flag.FlagSet) error {
			code := fs.Arg(1)
			if code != "" {
				fmt.Fprintln(e.stderr, "byokd: warning: the invite code was on the command line, where every local user can read it; next time give it on standard input")
			} else {
				var err error
				if code, err = readSecret(e, "invite code: "); err != nil {
					return err
				}
				if code = strings.TrimSpace(code); code == "" {
					return fmt.Errorf("no invite code on standard input: ask your admin for one (byokd hub invite EMAIL) and paste it")
				}
			}
			st, err := c.JoinHub(ctx, control.Join{HubURL: fs.Arg(0), Code: code, DeviceName: *name, Insecure: *insecure})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "joined %s as %s\n", st.URL, st.Member)
			return nil
		})(ctx, e, fs, args)
	},
}
