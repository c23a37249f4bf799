package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

func manCommand() command {
	return command{
		summary: "print the manual page (roff), as the packages install it",
		usage: `Usage: byokd man

Prints byokd(1), made from the same help as ` + "`byokd COMMAND --help`" + `.

Example:
  byokd man | man -l -`,
		run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
			if err := parse(fs, args); err != nil {
				return err
			}
			if err := exactArgs(fs, 0, ""); err != nil {
				return err
			}
			manPage(e.stdout)
			return nil
		},
	}
}

// manEnv are the environment variables byokd reads, for the page.
var manEnv = [][2]string{
	{"BYOKD_HOME", "the member's state folder (default: byokd in the user's configuration folder, ~/.config/byokd on Linux)"},
	{"BYOKD_TOKEN", "the app token byokd env and byokd exec give apps, where --token is not given"},
	{"BYOKD_KEYSTORE", "keychain (the default: the OS keychain through the Secret Service, Keychain or Credential Manager) or file (an encrypted file in the state folder, for machines without one)"},
	{"BYOKD_KEYSTORE_PASSPHRASE", "the passphrase of the file keystore"},
	{"BYOKD_LOG_LEVEL", "debug, info (the default), warn or error"},
	{"BYOKD_UPSTREAM_OPENAI, BYOKD_UPSTREAM_ANTHROPIC, BYOKD_UPSTREAM_CLICKUP", "the provider's address, for a gateway in between"},
	{"BYOKD_HUB_HOME", "the team hub's state folder, for byokd hub commands"},
}

// manPage writes byokd(1): every command's help, from the command tree,
// so that the page never describes a command that is gone.
func manPage(w io.Writer) {
	fmt.Fprintf(w, ".TH BYOKD 1 %q \"byokd %s\" \"User Commands\"\n", manDate(), roff(version))
	fmt.Fprint(w, `.SH NAME
byokd \- bring your own API keys: a per-user proxy that signs calls with your own keys
.SH SYNOPSIS
.B byokd
.I COMMAND
.RI [ SUBCOMMAND ]
.RI [ flags ]
.SH DESCRIPTION
byokd keeps each member's OpenAI, Anthropic and ClickUp keys in the OS
keychain and runs a proxy on 127.0.0.1:8787 that apps point their base URL
at. The proxy signs every call with the member's own key, so the member's
own account pays, and records what each call used and cost in a local
SQLite ledger. With a team hub, calls may fall back to the team's shared
keys, which stay on the hub, and usage syncs to the hub for the admin.
.PP
Start the daemon with
.B byokd run
or, at every login,
.BR "byokd service install" .
.SH COMMANDS
`)
	cmds := commands()
	for _, n := range sortedNames(cmds) {
		manEntry(w, n, cmds[n])
	}
	fmt.Fprintln(w, ".SH ENVIRONMENT")
	for _, kv := range manEnv {
		fmt.Fprintf(w, ".TP\n.B %s\n%s\n", roff(kv[0]), roff(kv[1]))
	}
	fmt.Fprint(w, `.SH FILES
.TP
.I ~/.config/byokd/
the state folder: config.json and the usage ledger, ledger.db
.TP
.I ~/.config/systemd/user/byokd.service
the unit
.B byokd service install
writes
.TP
.I /usr/lib/systemd/user/byokd.service
the unit the packages install for every user
.SH EXIT STATUS
0 on success, 1 on an error (said on standard error), 2 for a usage error;
.B byokd run
exits 78 when it cannot start for a reason a restart would not mend.
.SH SEE ALSO
.BR systemctl (1),
.BR secret-tool (1)
`)
}

func manEntry(w io.Writer, name string, c command) {
	if c.subs != nil {
		for _, s := range sortedNames(c.subs) {
			manEntry(w, name+" "+s, c.subs[s])
		}
		return
	}
	fmt.Fprintf(w, ".SS \"byokd %s\"\n%s.\n.PP\n.nf\n", roff(name), roff(c.summary))
	for _, line := range strings.Split(strings.TrimRight(c.usage, "\n"), "\n") {
		fmt.Fprintln(w, roffLine(line))
	}
	fmt.Fprintln(w, ".fi")
}

// manDate is the build's date, so that a package's page is the same
// however often it is built.
func manDate() string {
	if len(date) >= len("2006-01-02") {
		return date[:len("2006-01-02")]
	}
	return date
}

// roff escapes text for the page: backslashes, minus signs (which are
// hyphens otherwise, and would not paste into a shell), and quotes.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	return strings.ReplaceAll(s, `"`, `\(dq`)
}

// roffLine escapes a line of a literal block, where a leading dot or
// apostrophe would be read as a request.
func roffLine(s string) string {
	s = roff(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
