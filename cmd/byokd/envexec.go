package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
	"byokd.dev/byok/daemon"
)

// sdkEnv returns the environment variables that point svc's SDKs at the
// proxy at addr with the app token.
func sdkEnv(svc byok.Service, addr, token string) [][2]string {
	base := "http://" + addr + "/" + string(svc)
	switch svc {
	case byok.OpenAI:
		return [][2]string{{"OPENAI_BASE_URL", base + "/v1"}, {"OPENAI_API_KEY", token}}
	case byok.Anthropic:
		return [][2]string{{"ANTHROPIC_BASE_URL", base}, {"ANTHROPIC_API_KEY", token}}
	case byok.ClickUp:
		return [][2]string{{"CLICKUP_API_URL", base + "/api/v2"}, {"CLICKUP_API_TOKEN", token}}
	}
	return nil
}

// proxyAddr is the running daemon's proxy address, else the default.
func proxyAddr(e env) string {
	dir, err := home(e)
	if err == nil {
		if b, err := os.ReadFile(filepath.Join(dir, control.StateFile)); err == nil {
			var st control.State
			if json.Unmarshal(b, &st) == nil && st.Proxy != "" {
				return st.Proxy
			}
		}
	}
	return daemon.DefaultListen
}

func tokenFlag(fs *flag.FlagSet) *string {
	return fs.String("token", "", "the app token (default $BYOKD_TOKEN), from byokd token create")
}

func tokenValue(e env, flagVal string) (string, error) {
	t := firstOf(flagVal, e.getenv("BYOKD_TOKEN"))
	if t == "" {
		return "", errors.New("no app token: pass --token or set BYOKD_TOKEN (create one with `byokd token create NAME`)")
	}
	return t, nil
}

var envCmd = command{
	summary: "print export lines that point an SDK at the proxy",
	usage: `Usage: byokd env [SERVICE] [--token TOKEN]

Prints shell export lines for the SDK environment variables of SERVICE
(openai, anthropic, clickup; default all) so that apps use the proxy with
your app token.

Example:
  eval "$(byokd env openai --token "$(byokd token create scripts)")"`,
	run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
		tok := tokenFlag(fs)
		if err := parse(fs, args); err != nil {
			return err
		}
		token, err := tokenValue(e, *tok)
		if err != nil {
			return err
		}
		svcs := byok.Services()
		if fs.NArg() > 1 {
			return errors.New("give at most one SERVICE")
		}
		if fs.NArg() == 1 {
			svc, err := byok.ParseService(fs.Arg(0))
			if err != nil {
				return err
			}
			svcs = []byok.Service{svc}
		}
		addr := proxyAddr(e)
		for _, svc := range svcs {
			for _, kv := range sdkEnv(svc, addr, token) {
				fmt.Fprintf(e.stdout, "export %s=%s\n", kv[0], shellQuote(kv[1]))
			}
		}
		return nil
	},
}

var execCmd = command{
	summary: "run a command with every SDK pointed at the proxy",
	usage: `Usage: byokd exec [--token TOKEN] -- COMMAND [ARGS...]

Runs COMMAND with the OpenAI, Anthropic and ClickUp SDK environment
variables set to use the proxy with your app token, and exits with its
status.

Example:
  byokd exec --token "$TOKEN" -- python my_script.py`,
	run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
		tok := tokenFlag(fs)
		if err := parse(fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			fs.Usage()
			return errUsage
		}
		token, err := tokenValue(e, *tok)
		if err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, fs.Arg(0), fs.Args()[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = e.stdin, e.stdout, e.stderr
		cmd.Env = os.Environ()
		addr := proxyAddr(e)
		for _, svc := range byok.Services() {
			for _, kv := range sdkEnv(svc, addr, token) {
				cmd.Env = append(cmd.Env, kv[0]+"="+kv[1])
			}
		}
		err = cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return exitError{code: ee.ExitCode()}
		}
		if err != nil {
			return fmt.Errorf("run %s: %w", fs.Arg(0), err)
		}
		return nil
	},
}

func shellQuote(s string) string {
	out := "'"
	for _, r := range s {
		if r == '\'' {
			out += `'\''`
		} else {
			out += string(r)
		}
	}
	return out + "'"
}
