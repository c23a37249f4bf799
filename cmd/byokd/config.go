package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
	"byokd.dev/byok/daemon"
	"byokd.dev/byok/keystore"
)

// ConfigFile is the optional config file in $BYOKD_HOME.
const ConfigFile = "config.json"

// fileConfig is config.json. Environment variables override it, flags
// override both.
type fileConfig struct {
	Listen     string            `json:"listen"`
	Upstreams  map[string]string `json:"upstreams"`
	MaxBodyMiB int64             `json:"max_body_mib"`
	Keystore   string            `json:"keystore"`
	LogLevel   string            `json:"log_level"`
	// ApprovalTimeout is how long a held call waits for an answer, e.g. "60s".
	ApprovalTimeout string `json:"approval_timeout"`
}

// home is $BYOKD_HOME, default the OS user config dir + /byokd.
func home(e env) (string, error) {
	if h := e.getenv("BYOKD_HOME"); h != "" {
		return filepath.Abs(h)
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no state folder: set BYOKD_HOME (%w)", err)
	}
	return filepath.Join(dir, "byokd"), nil
}

func loadFileConfig(dir string) (fileConfig, error) {
	var c fileConfig
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("read config: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("config file %s: %s", filepath.Join(dir, ConfigFile), configProblem(b, err))
	}
	return c, nil
}

// configProblem says what is wrong in config.json in the words of the
// file (line, column, field), not of Go's decoder.
func configProblem(b []byte, err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := position(b, syn.Offset-1) // Offset is just past the wrong byte
		return fmt.Sprintf("not valid JSON at line %d, column %d (%s)", line, col, strings.TrimPrefix(syn.Error(), "invalid character "))
	case errors.As(err, &typ):
		line, _ := position(b, typ.Offset)
		return fmt.Sprintf("field %q at line %d: give a %s, not a %s", typ.Field, line, jsonKind(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Sprintf("unknown field %s; the fields are listen, upstreams, max_body_mib, keystore, log_level and approval_timeout",
			strings.TrimPrefix(err.Error(), "json: unknown field "))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the file is empty or cut short: it must hold one JSON object, such as {\"log_level\": \"debug\"}"
	}
	return err.Error()
}

// position is the line and column of byte offset off in b.
func position(b []byte, off int64) (line, col int) {
	line, col = 1, 1
	for _, c := range b[:min(int(off), len(b))] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// jsonKind names a Go kind as JSON does.
func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"), strings.HasPrefix(k, "float"):
		return "number"
	case k == "map", k == "struct":
		return "JSON object"
	case k == "bool":
		return "true or false"
	}
	return k
}

// daemonConfig builds the daemon's config from the file, the environment
// and the flags already parsed into listen.
func daemonConfig(e env, dir, listen string, logOut io.Writer) (daemon.Config, error) {
	fc, err := loadFileConfig(dir)
	if err != nil {
		return daemon.Config{}, err
	}
	cfg := daemon.Config{Home: dir, Listen: firstOf(listen, fc.Listen), MaxBody: fc.MaxBodyMiB << 20, Version: version}
	cfg.Upstreams = map[byok.Service]*url.URL{}
	for _, svc := range byok.Services() {
		raw := firstOf(e.getenv("BYOKD_UPSTREAM_"+strings.ToUpper(string(svc))), fc.Upstreams[string(svc)])
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return daemon.Config{}, fmt.Errorf("upstream for %s %q: give a base URL such as http://127.0.0.1:9000", svc, raw)
		}
		cfg.Upstreams[svc] = u
	}
	if fc.ApprovalTimeout != "" {
		if cfg.ApprovalTimeout, err = time.ParseDuration(fc.ApprovalTimeout); err != nil || cfg.ApprovalTimeout <= 0 {
			return daemon.Config{}, fmt.Errorf("config file %s: field \"approval_timeout\" is %q: give a duration such as 60s", filepath.Join(dir, ConfigFile), fc.ApprovalTimeout)
		}
	}
	cfg.Keystore = keystore.Config{
		Backend:    firstOf(e.getenv("BYOKD_KEYSTORE"), fc.Keystore),
		Passphrase: passphrase(e),
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(firstOf(e.getenv("BYOKD_LOG_LEVEL"), fc.LogLevel, "info"))); err != nil {
		return daemon.Config{}, fmt.Errorf("log level %q (BYOKD_LOG_LEVEL, or log_level in %s): use debug, info, warn or error",
			firstOf(e.getenv("BYOKD_LOG_LEVEL"), fc.LogLevel), filepath.Join(dir, ConfigFile))
	}
	cfg.Logger = slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level}))
	return cfg, nil
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// passphrase gets the key-file passphrase from BYOKD_KEYSTORE_PASSPHRASE or,
// on a terminal, a no-echo prompt.
func passphrase(e env) func() ([]byte, error) {
	return func() ([]byte, error) {
		if p := e.getenv("BYOKD_KEYSTORE_PASSPHRASE"); p != "" {
			return []byte(p), nil
		}
		f, ok := e.stdin.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return nil, errors.New("no passphrase: set BYOKD_KEYSTORE_PASSPHRASE or run from a terminal")
		}
		fmt.Fprint(e.stderr, "Passphrase for the byokd key file: ")
		p, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		return p, err
	}
}

// readSecret reads a secret from standard input: a no-echo prompt on a
// terminal, else everything piped in (one trailing newline dropped).
func readSecret(e env, prompt string) (string, error) {
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(e.stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		return strings.TrimSpace(string(b)), err
	}
	b, err := io.ReadAll(io.LimitReader(e.stdin, 64<<10))
	if err != nil {
		return "", fmt.Errorf("read the key from standard input: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// client connects to the running daemon.
func client(e env) (*control.Client, error) {
	dir, err := home(e)
	if err != nil {
		return nil, err
	}
	c, err := control.Dial(dir)
	return c, whyNotRunning(dir, err)
}

// whyNotRunning adds to "the daemon is not running" why its last start
// failed, if it did: the service that stopped retrying says so here.
func whyNotRunning(dir string, err error) error {
	if !errors.Is(err, control.ErrNotRunning) {
		return err
	}
	b, rerr := os.ReadFile(filepath.Join(dir, daemon.StartErrorFile))
	at, why, ok := strings.Cut(strings.TrimSpace(string(b)), " ")
	if rerr != nil || !ok {
		return err
	}
	when := at
	if t, perr := time.Parse(time.RFC3339, at); perr == nil {
		when = t.Local().Format("Jan 2 15:04:05")
	}
	return fmt.Errorf("%w\nIts last start, at %s, failed: %s", err, when, byok.CleanText(why, 2000))
}

// readClient connects to the running daemon with the read-only token.
func readClient(e env) (*control.Client, error) {
	dir, err := home(e)
	if err != nil {
		return nil, err
	}
	c, err := control.DialReadOnly(dir)
	return c, whyNotRunning(dir, err)
}

// homeRun is runWith for commands that only need the state folder.
func homeRun(f func(ctx context.Context, e env, dir string, fs *flag.FlagSet) error) runFunc {
	return runWith(home, 0, "", nil, f)
}

// daemonRun is runWith for commands that talk to the running daemon.
func daemonRun(n int, what string, check func(fs *flag.FlagSet) error, f func(ctx context.Context, e env, c *control.Client, fs *flag.FlagSet) error) runFunc {
	return runWith(client, n, what, check, f)
}

// anyArgs tells runWith not to count positional arguments.
const anyArgs = -1

// runWith is the skeleton of a command that works through something it
// opens first (the daemon's control API, the hub's admin API, the service
// manager): parse the flags (the caller has put them on fs), check there
// are n positional arguments (what says which, for the error), run check,
// then open with dial and call f. check, which may be nil, is for bad
// input that should be reported even when the daemon is not running.
func runWith[C any](dial func(env) (C, error), n int, what string, check func(fs *flag.FlagSet) error, f func(ctx context.Context, e env, c C, fs *flag.FlagSet) error) runFunc {
	return func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
		if err := parse(fs, args); err != nil {
			return err
		}
		if n != anyArgs {
			if err := exactArgs(fs, n, what); err != nil {
				return err
			}
		}
		if check != nil {
			if err := check(fs); err != nil {
				return err
			}
		}
		c, err := dial(e)
		if err != nil {
			return err
		}
		return f(ctx, e, c, fs)
	}
}
