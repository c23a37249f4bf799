package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"

	"byokd.dev/byok"
	"byokd.dev/byok/localproxy"
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

// localKey is the API key env and exec give apps where no app token is
// needed: SDKs refuse to start without one, and the proxy, which names
// the calling process instead, ignores it.
const localKey = "byokd-local"

func tokenFlag(fs *flag.FlagSet) *string {
	return fs.String("token", "", "the app token (default $BYOKD_TOKEN), from byokd token create; none is needed where byokd names the calling program (Linux)")
}

// proxyFor checks what an app would meet: the daemon runs, its proxy
// answers, and it takes the token (or, with none, calls from this user's
// programs). It returns the proxy's address and the API key to give apps.
func proxyFor(ctx context.Context, e env, token string) (addr, key string, err error) {
	c, err := readClient(e)
	if err != nil {
		return "", "", err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return "", "", err
	}
	if st.Paused {
		fmt.Fprintln(e.stderr, "byokd: warning: the proxy is paused and refuses calls until `byokd resume`")
	}
	key = firstOf(token, localKey)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+st.Proxy+localproxy.WhoAmIPath, nil)
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("byokd runs, but its proxy at %s does not answer (%v): see `byokd logs`", st.Proxy, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return st.Proxy, key, nil
	}
	var refusal struct {
		Error struct{ Message string } `json:"error"`
	}
	json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&refusal)
	why := strings.TrimPrefix(byok.CleanText(refusal.Error.Message, 500), "byokd: ")
	if token == "" && resp.StatusCode == http.StatusUnauthorized {
		why = "apps need an app token here, as byokd cannot tell which program calls: create one with `byokd token create NAME` and pass it with --token or $BYOKD_TOKEN"
	}
	return "", "", fmt.Errorf("the proxy at %s refuses calls so made (%d): %s", st.Proxy, resp.StatusCode, firstOf(why, resp.Status))
}

// services parses a comma list of services; empty is all of them.
func services(list string) ([]byok.Service, error) {
	if list == "" {
		return byok.Services(), nil
	}
	var out []byok.Service
	for _, name := range strings.Split(list, ",") {
		svc, err := byok.ParseService(strings.TrimSpace(name))
		if err != nil {
			return nil, err
		}
		out = append(out, svc)
	}
	return out, nil
}

var envCmd = command{
	summary: "print export lines that point an SDK at the proxy",
	usage: `Usage: byokd env [SERVICE] [--token TOKEN]

Prints shell export lines for the SDK environment variables of SERVICE
(openai, anthropic, clickup; default all) so that apps use the proxy, after
checking that the daemon runs and takes the token. Where byokd names the
calling program (Linux) no token is needed.

Example:
  eval "$(byokd env openai)"
  eval "$(byokd env openai --token "$(byokd token create scripts)")"`,
	run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
		tok := tokenFlag(fs)
		var svcs []byok.Service
		check := func(fs *flag.FlagSet) (err error) {
			if fs.NArg() > 1 {
				return exactArgs(fs, 1, "at most one SERVICE")
			}
			svcs, err = services(fs.Arg(0))
			return err
		}
		return runWith(home, anyArgs, "", check, func(ctx context.Context, e env, _ string, fs *flag.FlagSet) error {
			addr, key, err := proxyFor(ctx, e, firstOf(*tok, e.getenv("BYOKD_TOKEN")))
			if err != nil {
				return err
			}
			for _, svc := range svcs {
				for _, kv := range sdkEnv(svc, addr, key) {
					fmt.Fprintf(e.stdout, "export %s=%s\n", kv[0], shellQuote(kv[1]))
				}
			}
			return nil
		})(ctx, e, fs, args)
	},
}

var execCmd = command{
	summary: "run a command with the SDKs pointed at the proxy",
	usage: `Usage: byokd exec [--service LIST] [--token TOKEN] -- COMMAND [ARGS...]

Checks that the daemon runs and takes the token, then runs COMMAND with the
SDK environment variables of the services in LIST (openai, anthropic,
clickup, comma-separated; default all) set to use the proxy, and exits with
its status. Where byokd names the calling program (Linux) no token is
needed.

Example:
  byokd exec -- python my_script.py
  byokd exec --service openai --token "$TOKEN" -- python my_script.py`,
	run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
		tok := tokenFlag(fs)
		only := fs.String("service", "", "only these services' variables: openai, anthropic or clickup, comma-separated")
		var svcs []byok.Service
		check := func(fs *flag.FlagSet) (err error) {
			if fs.NArg() == 0 {
				fs.Usage()
				return errors.New("exec needs a COMMAND to run, after --")
			}
			svcs, err = services(*only)
			return err
		}
		return runWith(home, anyArgs, "", check, func(ctx context.Context, e env, _ string, fs *flag.FlagSet) error {
			addr, key, err := proxyFor(ctx, e, firstOf(*tok, e.getenv("BYOKD_TOKEN")))
			if err != nil {
				return err
			}
			cmd := exec.CommandContext(ctx, fs.Arg(0), fs.Args()[1:]...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = e.stdin, e.stdout, e.stderr
			cmd.Env = os.Environ()
			for _, svc := range svcs {
				for _, kv := range sdkEnv(svc, addr, key) {
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
		})(ctx, e, fs, args)
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
