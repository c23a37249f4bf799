//go:build linux

package main

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"time"
)

// idler is a byokd with nothing to do, started with the suite and read at
// its end: a desktop daemon must not wake the CPU (and drain a battery)
// while no app calls it.
type idler struct {
	d     *daemon
	since time.Time
	c0    counters
}

// noTray is `--no-tray` when bin has it (a --before binary may not): the
// tray would be a client of the daemon's event stream, and CI has no
// display.
func noTray(bin string) []string {
	out, _ := exec.Command(bin, "run", "--help").CombinedOutput()
	if strings.Contains(string(out), "--no-tray") {
		return []string{"--no-tray"}
	}
	return nil
}

// startIdle runs a byokd of bin with a fresh home, a file keystore and one
// key that is never used, and reads its counters once it has settled.
func startIdle(ctx context.Context, work, name, bin string, up *child) (*idler, error) {
	d, err := newDaemon(work, name+"-idle", bin, up)
	if err != nil {
		return nil, err
	}
	if err := d.start(ctx, noTray(bin)...); err != nil {
		return nil, err
	}
	if err := d.addKey(ctx); err != nil {
		d.stop()
		return nil, err
	}
	settle() // the key's add is not idling
	c0, err := readCounters(d.proc.pid())
	if err != nil {
		d.stop()
		return nil, err
	}
	return &idler{d: d, since: time.Now(), c0: c0}, nil
}

// read waits until at least d has passed since the daemon settled, then
// returns its CPU in ms per minute and its threads' wake-ups (context
// switches) per second over that time.
func (i *idler) read(ctx context.Context, d time.Duration) (cpuPerMin, wakeups float64, err error) {
	if w := time.Until(i.since.Add(d)); w > 0 {
		select {
		case <-time.After(w):
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		}
	}
	if err := i.d.proc.alive(); err != nil {
		return 0, 0, err
	}
	c1, err := readCounters(i.d.proc.pid())
	if err != nil {
		return 0, 0, err
	}
	elapsed := time.Since(i.since)
	c := c1.sub(i.c0)
	return float64(c.cpu.Milliseconds()) / elapsed.Minutes(), float64(c.switches) / elapsed.Seconds(), nil
}

func (i *idler) stop() { i.d.stop() }

// starter is a home set up for a byokd of bin (its key and app token added
// through a first run: both need a running daemon), which the suite starts
// again to time the start.
type starter struct {
	d    *daemon
	t    *target
	args []string
}

func newStarter(ctx context.Context, work, name, bin string, up *child) (*starter, error) {
	d, err := newDaemon(work, name+"-start", bin, up)
	if err != nil {
		return nil, err
	}
	if err := d.start(ctx, noTray(bin)...); err != nil {
		return nil, err
	}
	defer d.stop()
	if err := d.addKey(ctx); err != nil {
		return nil, err
	}
	t, err := d.target(ctx)
	if err != nil {
		return nil, err
	}
	return &starter{d: d, t: t, args: noTray(bin)}, nil
}

// firstCall starts `byokd run` and sends a real call every millisecond
// until one is answered, as an app started with the session would; it
// returns the time from the start to that answer and stops the daemon.
func (s *starter) firstCall(ctx context.Context) (time.Duration, error) {
	// A new connection per try: a refused dial leaves none to reuse.
	c := &http.Client{Timeout: maxLatency, Transport: &http.Transport{DisableKeepAlives: true}}
	t0 := time.Now()
	if err := s.d.launch(ctx, s.args...); err != nil {
		return 0, err
	}
	defer s.d.stop()
	deadline := t0.Add(30 * time.Second)
	for {
		err := call(ctx, c, s.t, jsonBody)
		if err == nil {
			return time.Since(t0), nil
		}
		if aerr := s.d.proc.alive(); aerr != nil || time.Now().After(deadline) {
			return 0, fmt.Errorf("%s answered no call within 30s of its start (see %s): %v", s.d.name, s.d.logPath(), firstErr(aerr, err))
		}
		time.Sleep(time.Millisecond) // another process starting: no event to wait on
	}
}
