package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"text/tabwriter"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
	"byokd.dev/byok/daemon"
	"byokd.dev/byok/hub"
)

// group runs one of a command's subcommands ("key add", "token list").
func group(parent, summary string, subs map[string]command) command {
	names := make([]string, 0, len(subs))
	for n := range subs {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: byokd %s SUBCOMMAND [flags]\n\n%s\n\nSubcommands:\n", parent, summary)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, n := range names {
		fmt.Fprintf(tw, "  %s\t%s\n", n, subs[n].summary)
	}
	tw.Flush()
	fmt.Fprintf(&b, "\nRun `byokd %s SUBCOMMAND --help` for its flags and an example.", parent)
	usage := b.String()
	return command{
		summary: summary,
		usage:   usage,
		subs:    subs,
		run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
			if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
				fmt.Fprintln(e.stderr, usage)
				if len(args) == 0 {
					return errUsage
				}
				return flag.ErrHelp
			}
			sub, ok := subs[args[0]]
			if !ok {
				return fmt.Errorf("unknown subcommand %q of %s; see `byokd %s --help`", args[0], parent, parent)
			}
			return sub.run(ctx, e, flags(e, parent+" "+args[0], sub.usage), args[1:])
		},
	}
}

// table writes aligned columns.
func table(e env, header string, rows [][]string) {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		// Cells hold names from providers and members; a control
		// character would reach the terminal (and a tab, the table).
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = byok.CleanText(c, 1<<10)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
}

// exactArgs checks the number of positional arguments.
func exactArgs(fs *flag.FlagSet, n int, what string) error {
	switch {
	case fs.NArg() == n:
		return nil
	case n == 0:
		return fmt.Errorf("byokd %s takes no arguments, but was given %q; see `byokd %s --help`", fs.Name(), strings.Join(fs.Args(), " "), fs.Name())
	}
	fs.Usage()
	return fmt.Errorf("%s needs %s", fs.Name(), what)
}

// listing is a command that prints what read gets through what open
// opens (the daemon, the hub, the service manager): for a person as show
// writes it, or with --json as JSON. A listing takes no arguments.
func listing[C, T any](open func(func(context.Context, env, C, *flag.FlagSet) error) runFunc, read func(C, context.Context) (T, error), show func(env, T)) runFunc {
	return func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
		asJSON := jsonFlag(fs)
		return open(func(ctx context.Context, e env, c C, fs *flag.FlagSet) error {
			v, err := read(c, ctx)
			if err != nil {
				return err
			}
			return emit(e, *asJSON, v, show)
		})(ctx, e, fs, args)
	}
}

// The openers of listings.
func onDaemon(f func(context.Context, env, *control.Client, *flag.FlagSet) error) runFunc {
	return daemonRun(0, "", nil, f)
}

func onDaemonReadOnly(f func(context.Context, env, *control.Client, *flag.FlagSet) error) runFunc {
	return runWith(readClient, 0, "", nil, f)
}

func onHub(f func(context.Context, env, *hub.AdminClient, *flag.FlagSet) error) runFunc {
	return hubRun(0, "", f)
}

func onService(f func(context.Context, env, *daemon.Service, *flag.FlagSet) error) runFunc {
	return serviceRun(nil, f)
}

// jsonFlag adds --json to a command that prints a listing or a status.
func jsonFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("json", false, "print JSON, for scripts")
}

// emit prints v as show writes it for a person, or, asJSON, as indented
// JSON; an empty list is [] rather than null, so scripts can range over it.
func emit[T any](e env, asJSON bool, v T, show func(env, T)) error {
	if !asJSON {
		show(e, v)
		return nil
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice && rv.IsNil() {
		return enc.Encode([]struct{}{})
	}
	return enc.Encode(v)
}
