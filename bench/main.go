//go:build linux

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(runRole(role))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// plan is how long and how hard each measurement runs.
type plan struct {
	rounds     int
	warm       time.Duration // per target and shape
	dur        time.Duration // closed-loop and fixed-rate runs
	turn       time.Duration // a closed-loop run's turns: see inTurns (0: one turn)
	lat1       time.Duration // the 1-connection run
	lat1Max    int
	conns      int
	sseStreams int // concurrent stamped streams
	sseRepeat  int
	sseChunks  int
	sseGap     time.Duration
	idle       int // connections and streams held for the memory figures
	quiet      int // calls per target, each after quietGap in which no call was made
	quietGap   time.Duration
	ingestN    int           // simulated daemons syncing to the hub at once
	ingestRows int           // rows in each one's outbox, per round
	idleFor    time.Duration // the idle daemon's least time idle
}

func fullPlan() plan {
	return plan{rounds: 3, warm: 2 * time.Second, dur: 3 * time.Second, turn: 500 * time.Millisecond, lat1: 2 * time.Second, lat1Max: 20000,
		conns: 32, sseStreams: 4, sseRepeat: 2, sseChunks: 20, sseGap: 50 * time.Millisecond, idle: 1000,
		quiet: 40, quietGap: 2500 * time.Millisecond, ingestN: 100, ingestRows: 1000, idleFor: 10 * time.Minute}
}

func smokePlan() plan {
	return plan{rounds: 1, warm: 200 * time.Millisecond, dur: 300 * time.Millisecond, lat1: 300 * time.Millisecond, lat1Max: 2000,
		conns: 32, sseStreams: 2, sseRepeat: 1, sseChunks: 4, sseGap: 50 * time.Millisecond, idle: 100,
		quiet: 2, quietGap: 2500 * time.Millisecond, ingestN: 100, ingestRows: 20}
}

// run measures and prints; it returns what it measured.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (*results, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	smoke := fs.Bool("smoke", false, "measure every figure once, briefly (CI keeps the suite working with it; the figures mean little)")
	rounds := fs.Int("rounds", 0, "rounds after the warm-up (default 3, smoke 1)")
	dur := fs.Duration("duration", 0, "length of each throughput and fixed-rate run (default 3s)")
	only := fs.String("targets", "direct,floor,byokd,relay,peer", "targets to run, in this order (relay: a byokd joined to a real hub, calling through it with the team's key)")
	useWrk := fs.Bool("wrk", true, "also load each target with wrk (Debian's package), the second load generator")
	idle := fs.Duration("idle", -1, "least time the idle daemon idles: the suite waits out the rest at its end (default 10m, smoke 0: the run's own length)")
	byokdBin := fs.String("byokd", "", "a byokd binary to use instead of building ./cmd/byokd")
	before := fs.String("before", "", "another byokd binary (say, built from the commit before a change) to measure as target \"before\", right after byokd in every round")
	portkey := fs.String("portkey", "", "folder with node_modules/@portkey-ai/gateway (default bench/portkey in the module)")
	jsonOut := fs.String("json", "", "also write the results as JSON to this file")
	keep := fs.Bool("keep", false, "keep the work folder (logs, byokd's ledger)")
	cpuProfile := fs.String("cpuprofile", "", "write byokd's CPU profile over the whole run to this file (byokd run --cpuprofile)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	p := fullPlan()
	if *smoke {
		p = smokePlan()
	}
	if *rounds > 0 {
		p.rounds = *rounds
	}
	if *dur > 0 {
		p.dur = *dur
	}
	if *idle >= 0 {
		p.idleFor = *idle
	}
	res := newResults()
	res.Machine = machine()
	res.Command = strings.TrimSpace("go run ./bench " + strings.Join(args, " "))
	res.Rounds = p.rounds

	work, err := os.MkdirTemp("", "byokd-bench-")
	if err != nil {
		return nil, err
	}
	if *keep {
		fmt.Fprintln(stderr, "work folder:", work)
	} else {
		defer os.RemoveAll(work)
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }

	up, err := startSelf(ctx, work, "upstream")
	if err != nil {
		return nil, err
	}
	defer up.stop()
	x := extras{idlers: map[string]*idler{}, starters: map[string]*starter{}, idleFor: p.idleFor}
	if *useWrk {
		w, err := findWrk(work)
		switch {
		case err == nil:
			x.wrk = w
		case *smoke:
			// CI installs wrk (scripts/setup) and TestSmoke fails there
			// without it; elsewhere a smoke run goes on and says why.
			res.Unavailable["wrk"] = err.Error()
			logf("wrk figures left out: %v", err)
		default:
			return nil, err
		}
	}
	var targets []*target
	var th *teamHub
	defer func() {
		for _, t := range targets {
			t.proc.stop()
		}
		for _, i := range x.idlers {
			i.stop()
		}
		if th != nil {
			th.proc.stop()
		}
	}()
	// The byokd binary, built once when a target needs it.
	bins := map[string]string{}
	builtByokd := func() (string, error) {
		if *byokdBin != "" {
			return *byokdBin, nil
		}
		if bins["built"] == "" {
			logf("building byokd")
			bin, err := buildByokd(ctx, work)
			if err != nil {
				return "", err
			}
			bins["built"] = bin
		}
		return bins["built"], nil
	}
	names := strings.Split(*only, ",")
	if *before != "" {
		if i := slices.Index(names, "byokd"); i >= 0 {
			names = slices.Insert(names, i+1, "before")
		} else {
			names = append(names, "before")
		}
	}
	for _, name := range names {
		var t *target
		var err error
		switch strings.TrimSpace(name) {
		case "direct":
			t = directTarget(up)
		case "floor":
			t, err = startFloor(ctx, work, up)
		case "byokd":
			var bin string
			if bin, err = builtByokd(); err != nil {
				return nil, err
			}
			bins["byokd"] = bin
			t, err = startByokd(ctx, work, "byokd", bin, up, *cpuProfile)
		case "before":
			if *before == "" {
				return nil, fmt.Errorf("target before: give its binary with --before")
			}
			bins["before"] = *before
			t, err = startByokd(ctx, work, "before", *before, up, "")
		case "relay":
			var bin string
			if bin, err = builtByokd(); err != nil {
				return nil, err
			}
			if th, err = startHub(ctx, work, bin, up); err != nil {
				return nil, fmt.Errorf("start the hub: %w", err)
			}
			t, err = startRelay(ctx, work, bin, up, th)
		case "peer":
			dir := *portkey
			if dir == "" {
				dir = defaultPortkeyDir()
			}
			if t, err = startPeer(ctx, work, dir, up); err != nil {
				res.Unavailable["peer"] = err.Error()
				logf("peer unavailable: %v", err)
				continue
			}
		default:
			return nil, fmt.Errorf("unknown target %q: use direct, floor, byokd, before, relay or peer", name)
		}
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
		if err := probe(ctx, t); err != nil {
			t.proc.stop()
			return nil, fmt.Errorf("%s does not answer a call correctly: %w", t.name, err)
		}
		targets = append(targets, t)
		res.Targets = append(res.Targets, t.name)
	}
	if th != nil {
		logf("enrolling %d simulated daemons with the hub", p.ingestN)
		if x.fleet, err = enroll(ctx, th, p.ingestN); err != nil {
			return nil, err
		}
		x.fleetFor = "relay"
	}
	// An idle daemon and a home to restart per byokd binary, so that a
	// change's before and after are compared on both.
	for _, name := range []string{"byokd", "before"} {
		bin, ok := bins[name]
		if !ok {
			continue
		}
		i, err := startIdle(ctx, work, name, bin, up)
		if err != nil {
			return nil, fmt.Errorf("start %s's idle daemon: %w", name, err)
		}
		x.idlers[name] = i
		if x.starters[name], err = newStarter(ctx, work, name, bin, up); err != nil {
			return nil, fmt.Errorf("set up %s's home to time its start: %w", name, err)
		}
	}
	if err := measure(ctx, p, res, up, targets, x, logf); err != nil {
		return res, err
	}
	res.writeTable(stdout)
	fmt.Fprintln(stdout)
	res.writeGoals(stdout)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			return res, fmt.Errorf("write %s: %w", *jsonOut, err)
		}
	}
	return res, nil
}

// defaultPortkeyDir is bench/portkey in the module this runs from.
func defaultPortkeyDir() string {
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				return filepath.Join(d, "bench", "portkey")
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return filepath.Join("bench", "portkey")
}
