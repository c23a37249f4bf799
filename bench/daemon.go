//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"byokd.dev/byok/control"
)

// daemon is one `byokd run` with a BYOKD_HOME of its own and a file
// keystore: the byokd and before targets, the relay's daemon, the idle
// daemon and the one the suite restarts to time its start.
type daemon struct {
	name string
	bin  string
	work string
	home string
	port string
	env  []string
	proc *child // nil while stopped
}

// newDaemon prepares a fresh home for name; start runs it.
func newDaemon(work, name, bin string, up *child) (*daemon, error) {
	home := filepath.Join(work, name+"-home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	return &daemon{name: name, bin: bin, work: work, home: home, port: port, env: append(os.Environ(),
		"BYOKD_HOME="+home,
		"BYOKD_KEYSTORE=file",
		"BYOKD_KEYSTORE_PASSPHRASE=bench-passphrase",
		"BYOKD_UPSTREAM_OPENAI=http://"+up.addr,
		"BYOKD_LOG_LEVEL=warn",
	)}, nil
}

func (d *daemon) logPath() string { return filepath.Join(d.work, d.name+".log") }

// launch starts `byokd run` on d's port, with args after it, and returns
// at once.
func (d *daemon) launch(ctx context.Context, args ...string) error {
	cmd := exec.Command(d.bin, append([]string{"run", "--listen", "127.0.0.1:" + d.port}, args...)...)
	cmd.Env = d.env
	c, err := startChild(ctx, d.name, cmd, d.logPath(), false)
	if err != nil {
		return err
	}
	d.proc = c
	return nil
}

// start launches the daemon and waits until it serves its control API
// (it writes daemon.json once it listens, and removes it as it stops).
func (d *daemon) start(ctx context.Context, args ...string) error {
	if err := d.launch(ctx, args...); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(d.home, control.StateFile)); err == nil {
			return nil
		}
		if err := d.proc.alive(); err != nil || time.Now().After(deadline) {
			d.stop()
			return fmt.Errorf("%s did not start (see %s): %v", d.name, d.logPath(), err)
		}
		time.Sleep(20 * time.Millisecond) // polling another process's file: no event to wait on
	}
}

func (d *daemon) stop() {
	d.proc.stop()
	d.proc = nil
}

// cli runs a byokd command against d, as a member would, and returns its
// standard output.
func (d *daemon) cli(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, d.bin, args...)
	cmd.Env = d.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: byokd %s: %v: %s", d.name, strings.Join(args, " "), err, errb.String())
	}
	return strings.TrimSpace(out.String()), nil
}

// addKey adds the bench key with a monthly budget the load never reaches:
// every call is checked against it, as a member's budgeted key is.
func (d *daemon) addKey(ctx context.Context) error {
	_, err := d.cli(ctx, benchKey+"\n", "key", "add", "openai", "--name", "bench", "--budget", "1000000")
	return err
}

// target creates an app token and returns d as a target.
func (d *daemon) target(ctx context.Context) (*target, error) {
	tok, err := d.cli(ctx, "", "token", "create", "bench", "--project", "bench")
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok)
	return &target{name: d.name, url: "http://127.0.0.1:" + d.port + "/openai/v1/chat/completions",
		header: h, proc: d.proc, ledger: filepath.Join(d.home, "ledger.db")}, nil
}
