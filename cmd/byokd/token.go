package main

import (
	"context"
	"flag"
	"fmt"

	"byokd.dev/byok/control"
)

var tokenCmd = group("token", "create, list and revoke local app tokens", map[string]command{
	"create": {
		summary: "create an app token; prints it alone on stdout",
		usage: `Usage: byokd token create NAME [--project PROJECT]

Creates a local app token. Give it to one app as its API key; the proxy
swaps it for your real key. Usage is attributed to NAME and PROJECT. The
token is printed once, alone on standard output.

Example:
  byokd token create my-editor --project acme`,
		run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
			project := fs.String("project", "", "project or client the app's usage is billed to")
			return daemonRun(1, "a NAME", nil, func(ctx context.Context, e env, c *control.Client, fs *flag.FlagSet) error {
				t, err := c.CreateToken(ctx, control.NewToken{Name: fs.Arg(0), Project: *project})
				if err != nil {
					return err
				}
				fmt.Fprintln(e.stdout, t.Value)
				return nil
			})(ctx, e, fs, args)
		},
	},
	"list": {
		summary: "list app tokens (names and projects, never the tokens)",
		usage: `Usage: byokd token list [--json]

Example:
  byokd token list`,
		run: listing(onDaemon, (*control.Client).Tokens, printTokens),
	},
	"revoke": {
		summary: "revoke an app token at once",
		usage: `Usage: byokd token revoke NAME

Example:
  byokd token revoke my-editor`,
		run: daemonRun(1, "a NAME", nil, func(ctx context.Context, e env, c *control.Client, fs *flag.FlagSet) error {
			if err := c.RevokeToken(ctx, fs.Arg(0)); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "revoked app token %q\n", fs.Arg(0))
			return nil
		}),
	},
})

func printTokens(e env, toks []control.Token) {
	if len(toks) == 0 {
		fmt.Fprintln(e.stdout, "no app tokens yet: create one with `byokd token create NAME`")
		return
	}
	var rows [][]string
	for _, t := range toks {
		state := "active"
		if t.Revoked {
			state = "revoked"
		}
		rows = append(rows, []string{t.Name, firstOf(t.Project, "-"), t.Created.Local().Format("2006-01-02 15:04"), state})
	}
	table(e, "NAME\tPROJECT\tCREATED\tSTATE", rows)
}
