// Command byokd is the byokd daemon and its command line. It only parses
// arguments, the environment and the config file, and calls the packages
// that do the work.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"

	"byokd.dev/byok/daemon"
	"github.com/google/uuid"
)

// Stamped at build time with -ldflags "-X main.version=… -X main.commit=… -X main.date=…".
var (
	version = "dev"
	commit  = "none"
	date    = "unknown"
)

// A binary built without the stamp (`go install ./cmd/byokd` in a clone)
// still says which commit it is: Go records it in the build info.
func init() {
	if commit != "none" {
		return
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value[:min(len(s.Value), 12)]
		case "vcs.modified":
			if s.Value == "true" {
				commit += "-dirty"
			}
		}
	}
}

// env is the process's outside world, injected so commands can be tested.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

type command struct {
	summary string
	usage   string // full help: synopsis, what it does, an example
	run     runFunc
	subs    map[string]command // a group's subcommands, for completion
}

// runFunc runs a command: fs is its empty FlagSet, args what follows its name.
type runFunc func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error

func commands() map[string]command {
	return map[string]command{
		"run":        runCmd,
		"key":        keyCmd,
		"token":      tokenCmd,
		"env":        envCmd,
		"exec":       execCmd,
		"usage":      usageCmd,
		"status":     statusCmd,
		"prices":     pricesCmd,
		"pref":       prefCmd,
		"version":    versionCmd,
		"approvals":  approvalsCmd,
		"join":       joinCmd,
		"approve":    approveCmd,
		"deny":       denyCmd,
		"events":     eventsCmd,
		"service":    serviceCmd,
		"logs":       logsCmd,
		"hub":        hubCmd,
		"tray":       trayCmd,
		"ui":         uiCmd,
		"team":       teamCmd,
		"pause":      pauseCmd,
		"resume":     resumeCmd,
		"doctor":     doctorCmd,
		"completion": completionCommand(),
		"man":        manCommand(),
		"setup":      setupCmd,
	}
}

func main() {
	// Every proxied call gets a UUIDv7 event id, the hub's relay one more:
	// drawn from a pool, 16 ids cost one read of the system's randomness
	// instead of one each. Ids are not secrets. Set before any goroutine
	// makes one, as the package requires.
	uuid.EnableRandPool()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	os.Exit(runMain(ctx, e, os.Args[1:]))
}

// startFailed: the daemon could not start, for a reason restarting will
// not mend; `byokd run` exits daemon.ExitNotRestarted.
type startFailed struct{ err error }

func (e startFailed) Error() string { return e.err.Error() }
func (e startFailed) Unwrap() error { return e.err }

// exitError carries a child's exit code through `byokd exec`.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func runMain(ctx context.Context, e env, args []string) int {
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-V") {
		args = []string{"version"}
	}
	if helpAsked(args) {
		// Asked for, help is the answer: it goes to standard output.
		e.stderr = e.stdout
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		topHelp(e.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "byokd: unknown command %q; see `byokd --help`\n", args[0])
		return 2
	}
	err := cmd.run(ctx, e, flags(e, args[0], cmd.usage), args[1:])
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, errUsage):
		return 2
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "byokd:") {
		msg = "byokd: " + msg
	}
	fmt.Fprintln(e.stderr, msg)
	if errors.As(err, new(startFailed)) {
		return daemon.ExitNotRestarted
	}
	return 1
}

func topHelp(w io.Writer) {
	fmt.Fprintln(w, "byokd — bring your own API keys: a local proxy that signs OpenAI, Anthropic and ClickUp calls with your keys.")
	fmt.Fprintln(w, "\nUsage: byokd COMMAND [flags]\n\nCommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun `byokd COMMAND --help` for a command's flags and an example.")
}

// helpAsked reports whether args ask for help (-h, -help, --help) before
// any "--", after which they belong to another program.
func helpAsked(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// errUsage: the flags were wrong; the flag package already said why.
var errUsage = errors.New("usage")

// flags returns a FlagSet that prints usage on -h.
func flags(e env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, strings.TrimSpace(usage))
		if hasFlags(fs) {
			fmt.Fprintln(e.stderr, "\nFlags:")
			printFlags(e.stderr, fs)
		}
	}
	return fs
}

// printFlags lists fs's flags as they are typed: "--name VALUE".
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintf(w, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parse parses args, turning flag errors into errUsage. Flags may come
// before or after positional arguments; everything after "--" is
// positional.
func parse(fs *flag.FlagSet, args []string) error {
	var tail []string
	for i, a := range args {
		if a == "--" {
			args, tail = args[:i], args[i+1:]
			break
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	return fs.Parse(append(append([]string{"--"}, pos...), tail...))
}
