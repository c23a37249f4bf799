package main

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"strings"

	"byokd.dev/byok"
)

func completionCommand() command {
	return command{
		summary: "print a shell completion script (bash, zsh or fish)",
		usage: `Usage: byokd completion bash|zsh|fish

Prints a script that completes byokd's commands, subcommands and service
names in your shell.

Examples:
  source <(byokd completion bash)            # in ~/.bashrc
  byokd completion zsh > "${fpath[1]}/_byokd"
  byokd completion fish > ~/.config/fish/completions/byokd.fish`,
		run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
			if err := parse(fs, args); err != nil {
				return err
			}
			if fs.NArg() != 1 {
				return fmt.Errorf("completion takes one shell: bash, zsh or fish (see `byokd completion --help`)")
			}
			script, err := completionScript(fs.Arg(0))
			if err != nil {
				return err
			}
			fmt.Fprint(e.stdout, script)
			return nil
		},
	}
}

// completionScript is the script for shell: the words of each position
// come from the commands themselves, so it never lists a command that is
// gone.
func completionScript(shell string) (string, error) {
	cmds := commands()
	top := sortedNames(cmds)
	var services []string
	for _, s := range byok.Services() {
		services = append(services, string(s))
	}
	svc := strings.Join(services, " ")
	var b strings.Builder
	switch shell {
	case "bash":
		b.WriteString("# byokd completion for bash\n_byokd() {\n  local cur=${COMP_WORDS[COMP_CWORD]} words=\n  case $COMP_CWORD in\n")
		fmt.Fprintf(&b, "    1) words=%q ;;\n    *) case ${COMP_WORDS[1]} in\n", strings.Join(top, " "))
		for _, n := range top {
			if subs := cmds[n].subs; subs != nil {
				fmt.Fprintf(&b, "         %s) [ $COMP_CWORD -eq 2 ] && words=%q || words=%q ;;\n", n, strings.Join(sortedNames(subs), " "), svc)
			} else {
				fmt.Fprintf(&b, "         %s) words=%q ;;\n", n, svc)
			}
		}
		b.WriteString("       esac ;;\n  esac\n  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n}\ncomplete -F _byokd byokd\n")
	case "zsh":
		b.WriteString("#compdef byokd\n# byokd completion for zsh\n_byokd() {\n  local -a words\n  if (( CURRENT == 2 )); then\n")
		fmt.Fprintf(&b, "    words=(%s)\n  else\n    case $words[2] in\n", strings.Join(top, " "))
		for _, n := range top {
			if subs := cmds[n].subs; subs != nil {
				fmt.Fprintf(&b, "      %s) (( CURRENT == 3 )) && words=(%s) || words=(%s) ;;\n", n, strings.Join(sortedNames(subs), " "), svc)
			} else {
				fmt.Fprintf(&b, "      %s) words=(%s) ;;\n", n, svc)
			}
		}
		b.WriteString("    esac\n  fi\n  compadd -- $words\n}\ncompdef _byokd byokd\n")
	case "fish":
		b.WriteString("# byokd completion for fish\ncomplete -c byokd -f\n")
		for _, n := range top {
			fmt.Fprintf(&b, "complete -c byokd -n __fish_use_subcommand -a %s -d %q\n", n, cmds[n].summary)
			for _, sub := range sortedNames(cmds[n].subs) {
				fmt.Fprintf(&b, "complete -c byokd -n '__fish_seen_subcommand_from %s' -a %s -d %q\n", n, sub, cmds[n].subs[sub].summary)
			}
		}
		fmt.Fprintf(&b, "complete -c byokd -n 'not __fish_use_subcommand' -a '%s'\n", svc)
	default:
		return "", fmt.Errorf("no completion for the shell %q: use bash, zsh or fish", shell)
	}
	return b.String(), nil
}

func sortedNames(m map[string]command) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
