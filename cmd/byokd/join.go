package main

import (
	"context"
	"flag"
	"fmt"

	"byokd.dev/byok/control"
)

var joinCmd = command{
	summary: "join your team's hub with an invite code",
	usage: `Usage: byokd join HUB_URL CODE [--name DEVICE] [--insecure]

Joins the team hub at HUB_URL with the one-time invite code your admin gave
you (byokd hub invite). The device credential is kept in your keychain. From
then on your usage syncs to the hub, team policies reach this daemon, and
calls may use the team's shared keys where your preferences and the policy
allow. A hub off this machine must use https unless --insecure.

Example:
  byokd join https://hub.example:8443 7KQ2-XJ4M-PL9D`,
	run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
		name := fs.String("name", "", "this device's name in the admin's list (default: the host name)")
		insecure := fs.Bool("insecure", false, "allow plain http to a hub off this machine")
		return daemonRun(2, "HUB_URL and CODE", nil, func(ctx context.Context, e env, c *control.Client, fs *flag.FlagSet) error {
			st, err := c.JoinHub(ctx, control.Join{HubURL: fs.Arg(0), Code: fs.Arg(1), DeviceName: *name, Insecure: *insecure})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "joined %s as %s\n", st.URL, st.Member)
			return nil
		})(ctx, e, fs, args)
	},
}
