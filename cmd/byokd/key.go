package main

import (
	"context"
	"flag"
	"fmt"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
)

var keyCmd = group("key", "add, list and remove your personal API keys", map[string]command{
	"add": {
		summary: "store a personal key in the OS keychain",
		usage: `Usage: byokd key add SERVICE --name NAME [--budget USD] [--primary]

Reads the key from standard input (a no-echo prompt on a terminal) and
stores it in the OS keychain; never pass a key as an argument. SERVICE is
openai, anthropic or clickup. The key is never shown again: lists show its
last four characters.

Example:
  printf '%s' "$OPENAI_KEY" | byokd key add openai --name work --budget 50 --primary`,
		run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
			name := fs.String("name", "", "a name for the key, such as work (required)")
			budget := fs.String("budget", "", "monthly budget in USD, such as 50")
			primary := fs.Bool("primary", false, "try this key first for the service")
			var svc byok.Service
			var b byok.Micros
			check := func(fs *flag.FlagSet) (err error) {
				if svc, err = byok.ParseService(fs.Arg(0)); err != nil {
					return err
				}
				if *name == "" {
					return fmt.Errorf("give the key a name with --name, such as --name work")
				}
				if *budget != "" {
					b, err = byok.ParseUSD(*budget)
				}
				return err
			}
			return daemonRun(1, "a SERVICE", check, func(ctx context.Context, e env, c *control.Client, fs *flag.FlagSet) error {
				secret, err := readSecret(e, fmt.Sprintf("%s key for %q: ", svc.Title(), *name))
				if err != nil {
					return err
				}
				k, err := c.AddKey(ctx, control.AddKey{Service: svc, Name: *name, Secret: secret, Budget: b, Primary: *primary})
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "added %s key %q (%s)%s\n", svc.Title(), k.Name, k.Fingerprint, map[bool]string{true: ", primary"}[k.Primary])
				return nil
			})(ctx, e, fs, args)
		},
	},
	"list": {
		summary: "list your keys: name, service, fingerprint, budget, primary",
		usage: `Usage: byokd key list [--json]

Lists your personal keys without their secrets.

Example:
  byokd key list`,
		run: listing(onDaemon, (*control.Client).Keys, printKeys),
	},
	"rm": {
		summary: "remove a personal key from the keychain",
		usage: `Usage: byokd key rm SERVICE NAME

Removes the key from the OS keychain and from byokd's list. Past usage rows
keep its name.

Example:
  byokd key rm openai work`,
		run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
			var svc byok.Service
			check := func(fs *flag.FlagSet) (err error) {
				svc, err = byok.ParseService(fs.Arg(0))
				return err
			}
			return daemonRun(2, "SERVICE and NAME", check, func(ctx context.Context, e env, c *control.Client, fs *flag.FlagSet) error {
				if err := c.RemoveKey(ctx, svc, fs.Arg(1)); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "removed %s key %q\n", svc.Title(), fs.Arg(1))
				return nil
			})(ctx, e, fs, args)
		},
	},
})

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "-"
}

func printKeys(e env, keys []control.Key) {
	if len(keys) == 0 {
		fmt.Fprintln(e.stdout, "no personal keys yet: add one with `byokd key add SERVICE --name NAME`")
		return
	}
	var rows [][]string
	for _, k := range keys {
		budget := "-"
		if k.Budget > 0 {
			budget = k.Budget.String()
		}
		rows = append(rows, []string{k.Name, string(k.Service), k.Fingerprint, budget, k.Spent.String(), yes(k.Primary), k.State()})
	}
	table(e, "NAME\tSERVICE\tKEY\tBUDGET\tSPENT (MONTH)\tPRIMARY\tSTATE", rows)
}
