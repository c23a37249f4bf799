package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"time"

	"byokd.dev/byok/control"
)

var approvalsCmd = command{
	summary: "list calls waiting for your approval (\"ask each time\")",
	usage: `Usage: byokd approvals [--json]

Lists the calls held until you answer them with byokd approve or byokd
deny. A call nobody answers is refused after its timeout (60 s).

Example:
  byokd approvals`,
	run: listing(onDaemon, (*control.Client).Approvals, printApprovals),
}

func printApprovals(e env, list []control.Approval) {
	if len(list) == 0 {
		fmt.Fprintln(e.stdout, "no calls are waiting for approval")
		return
	}
	var rows [][]string
	for _, a := range list {
		rows = append(rows, []string{a.ID, string(a.Service), firstOf(a.Model, "-"), a.App, firstOf(a.Project, "-"),
			a.Estimate.String(), fmt.Sprint(time.Until(a.Expires).Round(time.Second))})
	}
	table(e, "ID\tSERVICE\tMODEL\tAPP\tPROJECT\tESTIMATE\tEXPIRES IN", rows)
}

var approveCmd = command{
	summary: "let a waiting call go out on your key or the team's",
	usage: `Usage: byokd approve ID [--shared] [--for DURATION]

Releases the waiting call ID on your personal key, or with --shared on the
team's shared key (the team pays). --for makes the answer stand for the same
app and service for that long.

Example:
  byokd approve 3f2a9c1e
  byokd approve 3f2a9c1e --shared --for 10m`,
	run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
		shared := fs.Bool("shared", false, "use the team's shared key")
		dur := fs.Duration("for", 0, "let the answer stand for this long for the same app, e.g. 10m")
		return daemonRun(1, answerArgs, nil, func(ctx context.Context, e env, c *control.Client, fs *flag.FlagSet) error {
			answer := "personal"
			if *shared {
				answer = "shared"
			}
			return answerCall(ctx, e, c, fs.Arg(0), answer, *dur)
		})(ctx, e, fs, args)
	},
}

var denyCmd = command{
	summary: "refuse a waiting call",
	usage: `Usage: byokd deny ID [--for DURATION]

Example:
  byokd deny 3f2a9c1e`,
	run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
		dur := fs.Duration("for", 0, "refuse the same app's calls for this long, e.g. 10m")
		return daemonRun(1, answerArgs, nil, func(ctx context.Context, e env, c *control.Client, fs *flag.FlagSet) error {
			return answerCall(ctx, e, c, fs.Arg(0), "deny", *dur)
		})(ctx, e, fs, args)
	},
}

// answerArgs is what approve and deny take.
const answerArgs = "an approval ID (see `byokd approvals`)"

func answerCall(ctx context.Context, e env, c *control.Client, id, answer string, dur time.Duration) error {
	if err := c.Answer(ctx, id, control.Answer{Answer: answer, Minutes: int(dur.Round(time.Minute) / time.Minute)}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: %s\n", id, answer)
	return nil
}

var eventsCmd = command{
	summary: "follow the daemon's events as JSON lines",
	usage: `Usage: byokd events

Prints each event (fallback to the team key, budget alerts, failing keys,
approvals) as one JSON line until interrupted.

Example:
  byokd events`,
	run: daemonRun(0, "", nil, func(ctx context.Context, e env, c *control.Client, fs *flag.FlagSet) error {
		ch, err := c.Subscribe(ctx)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(e.stdout)
		for ev := range ch {
			if err := enc.Encode(ev); err != nil {
				return err
			}
		}
		return nil
	}),
}
