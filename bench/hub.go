//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
	"byokd.dev/byok/hub"
)

// teamHub is a `byokd hub serve` with the bench key as the team's shared
// OpenAI key, whose upstream is the suite's: the relay target calls through
// it, and the ingest figure syncs to it.
type teamHub struct {
	proc  *child
	data  string
	url   string // what daemons join
	admin *hub.AdminClient
}

// startHub runs bin's hub in a fresh state folder, adds the shared key and
// allows it for OpenAI, through the hub's admin API (what `byokd hub key
// add` and `byokd hub policy set` call).
func startHub(ctx context.Context, work, bin string, up *child) (*teamHub, error) {
	data := filepath.Join(work, "hub-data")
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "hub", "serve", "--listen", "127.0.0.1:"+port, "--data", data)
	cmd.Env = append(os.Environ(),
		"BYOKD_KEYSTORE=file",
		"BYOKD_KEYSTORE_PASSPHRASE=bench-hub-passphrase",
		"BYOKD_UPSTREAM_OPENAI=http://"+up.addr,
		"BYOKD_LOG_LEVEL=warn",
	)
	logPath := filepath.Join(work, "hub.log")
	c, err := startChild(ctx, "hub", cmd, logPath, false)
	if err != nil {
		return nil, err
	}
	h := &teamHub{proc: c, data: data, url: "http://127.0.0.1:" + port}
	if err := h.waitAdmin(ctx, logPath); err != nil {
		c.stop()
		return nil, err
	}
	if _, err := h.admin.AddKey(ctx, byok.OpenAI, "bench-team", byok.NewSecret(benchKey)); err != nil {
		c.stop()
		return nil, fmt.Errorf("add the hub's shared key: %w", err)
	}
	p, err := h.admin.Policy(ctx)
	if err == nil {
		p.SharedServices = []byok.Service{byok.OpenAI}
		_, err = h.admin.SetPolicy(ctx, p)
	}
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("share the hub's OpenAI key: %w", err)
	}
	return h, nil
}

// waitAdmin waits until the hub's admin API answers: the hub writes its
// address and token to its state folder once it serves.
func (h *teamHub) waitAdmin(ctx context.Context, logPath string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := hub.DialAdmin(h.data)
		if err == nil {
			if _, err = c.Status(ctx); err == nil {
				h.admin = c
				return nil
			}
		}
		if aerr := h.proc.alive(); aerr != nil || time.Now().After(deadline) {
			return fmt.Errorf("hub did not serve (see %s): %v", logPath, firstErr(aerr, err))
		}
		time.Sleep(20 * time.Millisecond) // another process's state: no event to wait on
	}
}

func (h *teamHub) dbPath() string { return filepath.Join(h.data, hub.DBFile) }

// startRelay runs a daemon with no key of its own, joined to h with
// `byokd join` and set to the team's key with `byokd pref set openai
// shared`: its calls go daemon → hub → upstream, signed by the hub.
func startRelay(ctx context.Context, work, bin string, up *child, h *teamHub) (*target, error) {
	d, err := newDaemon(work, "relay", bin, up)
	if err != nil {
		return nil, err
	}
	if err := d.start(ctx); err != nil {
		return nil, err
	}
	t, err := joinRelay(ctx, d, h)
	if err != nil {
		d.stop()
		return nil, err
	}
	return t, nil
}

func joinRelay(ctx context.Context, d *daemon, h *teamHub) (*target, error) {
	inv, err := h.admin.Invite(ctx, "relay@bench.invalid", 0)
	if err != nil {
		return nil, fmt.Errorf("invite the relay's member: %w", err)
	}
	if _, err := d.cli(ctx, inv.Code+"\n", "join", h.url); err != nil {
		return nil, err
	}
	if _, err := d.cli(ctx, "", "pref", "set", "openai", "shared"); err != nil {
		return nil, err
	}
	if err := waitShared(ctx, d); err != nil {
		return nil, err
	}
	t, err := d.target(ctx)
	if err != nil {
		return nil, err
	}
	t.hub = h.proc
	return t, nil
}

// waitShared waits until the daemon's hub link is up and the policy it
// holds shares OpenAI: before that, its calls are refused.
func waitShared(ctx context.Context, d *daemon) error {
	c, err := control.Dial(d.home)
	if err != nil {
		return err
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		st, err := c.Status(ctx)
		if err != nil {
			return fmt.Errorf("byokd status: %w", err)
		}
		if ok, _ := st.TeamKey(byok.OpenAI); ok && st.Hub.Connected {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the relay's daemon did not connect to the hub with OpenAI shared within 30s (status %+v; see %s)", st.Hub, d.logPath())
		}
		time.Sleep(20 * time.Millisecond) // another process's state: no event to wait on
	}
}
