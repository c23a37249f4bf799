package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"golang.org/x/term"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
)

var setupCmd = command{
	summary: "first run: add and test your keys, join the team hub, choose who pays, point apps at byokd",
	usage: `Usage: byokd setup

Walks through the first run with the daemon running: add a key per service
(each is tested with a free call), join the team hub if there is one,
choose which key pays and whether the team's key may take over when yours
fails, and see how apps reach byokd, ending with a check that they do.
Press Enter to skip a step. Without a terminal each answer is one line of
standard input, so a script can run it.

Example:
  byokd setup`,
	run: daemonRun(0, "", nil, func(ctx context.Context, e env, c *control.Client, fs *flag.FlagSet) error {
		return setup(ctx, e, c, newPrompter(e))
	}),
}

// prompter asks one question at a time on standard error. On a terminal
// secrets are typed without echo; from a pipe each answer is a line.
type prompter struct {
	e   env
	in  *bufio.Reader
	tty *os.File
}

func newPrompter(e env) *prompter {
	p := &prompter{e: e, in: bufio.NewReader(e.stdin)}
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = f
	}
	return p
}

func (p *prompter) ask(q string) (string, error) {
	fmt.Fprint(p.e.stderr, q)
	line, err := p.in.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			fmt.Fprintln(p.e.stderr)
			return "", nil // no more answers: skip the rest
		}
		return "", err
	}
	return strings.TrimSpace(line), nil
}

func (p *prompter) secret(q string) (string, error) {
	if p.tty == nil {
		return p.ask(q)
	}
	fmt.Fprint(p.e.stderr, q)
	b, err := term.ReadPassword(int(p.tty.Fd()))
	fmt.Fprintln(p.e.stderr)
	return strings.TrimSpace(string(b)), err
}

func (p *prompter) yes(q string, dflt bool) (bool, error) {
	hint := map[bool]string{true: " [Y/n] ", false: " [y/N] "}[dflt]
	a, err := p.ask(q + hint)
	if err != nil || a == "" {
		return dflt, err
	}
	return strings.HasPrefix(strings.ToLower(a), "y"), nil
}

// setup is the seed's first-run checklist, step by step; what was done
// before (a key added, the hub joined) is shown and not asked again.
func setup(ctx context.Context, e env, c *control.Client, p *prompter) error {
	say := func(format string, a ...any) { fmt.Fprintf(e.stdout, format+"\n", a...) }
	keys, err := c.Keys(ctx)
	if err != nil {
		return err
	}
	has := map[byok.Service]bool{}
	for _, k := range keys {
		has[k.Service] = true
	}

	say("1/4 Your keys: each is kept in the OS keychain, tested, and pays for your own calls.")
	for _, svc := range byok.Services() {
		if has[svc] {
			say("  ✓ %s: a key is already added", svc.Title())
			continue
		}
		secret, err := p.secret(fmt.Sprintf("  %s key (Enter to skip): ", svc.Title()))
		if err != nil {
			return err
		}
		if secret == "" {
			continue
		}
		k, err := c.AddKey(ctx, control.AddKey{Service: svc, Name: "personal", Secret: secret, Primary: true})
		if err != nil {
			return err
		}
		has[svc] = true
		res, err := c.TestKey(ctx, svc, k.Name)
		switch {
		case err != nil:
			say("  ! %s key %q (%s) added, but it could not be tested: %v", svc.Title(), k.Name, k.Fingerprint, err)
		case res.OK:
			say("  ✓ %s key %q (%s) added and works", svc.Title(), k.Name, k.Fingerprint)
		default:
			say("  ! %s key %q (%s) added, but: %s", svc.Title(), k.Name, k.Fingerprint, res.Message)
		}
	}

	say("2/4 Team hub: your usage syncs to it, and the team's shared keys are reached through it.")
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	joined := st.Hub.URL != ""
	if joined {
		say("  ✓ joined %s as %s", st.Hub.URL, st.Hub.Member)
	} else if url, err := p.ask("  Hub URL from your admin (Enter to skip): "); err != nil {
		return err
	} else if url != "" {
		code, err := p.secret("  Invite code: ")
		if err != nil {
			return err
		}
		h, err := c.JoinHub(ctx, control.Join{HubURL: url, Code: code})
		if err != nil {
			return err
		}
		joined = true
		say("  ✓ joined %s as %s", h.URL, h.Member)
	}

	say("3/4 Who pays, per service.")
	prefs, err := c.Prefs(ctx)
	if err != nil {
		return err
	}
	for _, pref := range prefs {
		svc := pref.Service
		pref.Preference = byok.PreferPersonal
		switch {
		case has[svc] && joined:
			if pref.Fallback, err = p.yes(fmt.Sprintf("  %s: your key pays. When it fails (over quota, billing, invalid), may the team's key take over? You are told when it does.", svc.Title()), false); err != nil {
				return err
			}
		case has[svc]:
		case joined:
			pref.Preference = byok.PreferShared
		default:
			say("  - %s: no key; calls to it are refused until you add one (byokd key add %s)", svc.Title(), svc)
			continue
		}
		if err := c.SetPref(ctx, pref); err != nil {
			say("  ! %s: %v", svc.Title(), err) // the team policy may forbid it: say why, go on
			continue
		}
		say("  ✓ %s: %s", svc.Title(), prefWords(pref))
	}

	say("4/4 Apps: point their base URL at byokd.")
	token := ""
	if runtime.GOOS != "linux" {
		if token, err = setupToken(ctx, c, p); err != nil {
			return err
		}
	}
	addr, key, err := proxyFor(ctx, e, token)
	if err != nil {
		return fmt.Errorf("the last check failed: %w", err)
	}
	if token == "" {
		say("  Programs you run need no app token: byokd asks the system which one calls.")
	}
	say("  ✓ byokd answers at http://%s. For one command:  byokd exec -- COMMAND", addr)
	apiKey := "any, such as " + key
	if token != "" {
		apiKey = "your app token"
	}
	say("    or in this shell:  eval \"$(byokd env)\"   (OpenAI base URL http://%s/openai/v1, API key: %s)", addr, apiKey)
	say("Done. `byokd status` shows what byokd is doing; `byokd ui` opens the Credential Manager.")
	return nil
}

// setupToken creates an app token where apps need one.
func setupToken(ctx context.Context, c *control.Client, p *prompter) (string, error) {
	name, err := p.ask("  Apps need an app token on this system. A name for one (Enter for \"apps\"): ")
	if err != nil {
		return "", err
	}
	t, err := c.CreateToken(ctx, control.NewToken{Name: firstOf(name, "apps")})
	if err != nil {
		return "", err
	}
	fmt.Fprintf(p.e.stdout, "  ✓ app token %q, shown once — use it as each app's API key:\n    %s\n", t.Name, t.Value)
	return t.Value, nil
}

// prefWords says a preference for people.
func prefWords(p control.Pref) string {
	switch {
	case p.Preference == byok.PreferShared:
		return "the team's shared key pays"
	case p.Fallback:
		return "your key pays; the team's takes over when yours fails"
	}
	return "your key pays"
}
