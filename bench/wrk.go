//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// wrk is the second load generator (Debian's wrk 4.1): a C program with
// its own HTTP client, so that a figure does not hold only for Go's
// net/http client. It runs as a process of its own with two threads
// (`wrk -t2`), like the Go generator's 32 connections on this machine's
// cores.
type wrk struct {
	bin  string
	work string
}

// findWrk finds wrk on PATH; the error says how to install it.
func findWrk(work string) (*wrk, error) {
	bin, err := exec.LookPath("wrk")
	if err != nil {
		return nil, fmt.Errorf("wrk is not installed (the second load generator): `apt-get install wrk` (scripts/setup does), or leave its figures out with --wrk=false")
	}
	return &wrk{bin: bin, work: work}, nil
}

// wrkScript makes every request the target's POST: wrk sends a GET of the
// URL unless a script says otherwise, and a script is also the only way to
// give it a body. done() prints the counts for parseWrk in one line.
func wrkScript(t *target, body string) string {
	var b strings.Builder
	b.WriteString("wrk.method = \"POST\"\n")
	fmt.Fprintf(&b, "wrk.body = %s\n", luaString(body))
	b.WriteString("wrk.headers[\"Content-Type\"] = \"application/json\"\n")
	keys := make([]string, 0, len(t.header))
	for k := range t.header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "wrk.headers[ %s ] = %s\n", luaString(k), luaString(t.header.Get(k))) // spaced: "[[[" would open a long string
	}
	b.WriteString(`function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout))
end
`)
	return b.String()
}

// luaString quotes s as a Lua long string, which has no escapes.
func luaString(s string) string {
	eq := ""
	for strings.Contains(s, "]"+eq+"]") {
		eq += "="
	}
	return "[" + eq + "[" + s + "]" + eq + "]"
}

// run is a closed-loop run of d with conns connections against t: wrk's
// throughput and what the target's processes did meanwhile.
func (w *wrk) run(ctx context.Context, t *target, up *child, conns int, d time.Duration, body string) (closedResult, error) {
	var res closedResult
	script := filepath.Join(w.work, "wrk-"+t.name+".lua")
	if err := os.WriteFile(script, []byte(wrkScript(t, body)), 0o600); err != nil {
		return res, err
	}
	// wrk takes whole seconds.
	secs := max(1, int(math.Ceil(d.Seconds())))
	cmd := exec.CommandContext(ctx, w.bin, "-t2", fmt.Sprintf("-c%d", conns), fmt.Sprintf("-d%ds", secs),
		"--timeout", fmt.Sprintf("%ds", int(maxLatency/time.Second)), "-s", script, t.url)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	used0, err := snapshot(t, up)
	if err != nil {
		return res, err
	}
	err = cmd.Run()
	used1, serr := snapshot(t, up)
	if err != nil {
		return res, fmt.Errorf("wrk against %s: %v: %s", t.name, err, errb.String())
	}
	if serr != nil {
		return res, serr
	}
	res, err = parseWrk(out.String())
	if err != nil {
		return res, fmt.Errorf("wrk against %s: %w\n%s", t.name, err, out.String())
	}
	// The counters also span wrk's start and exit, when the target has
	// nothing to do: they are the requests' alone.
	res.used = used1.sub(used0)
	return res, nil
}

// parseWrk reads the line wrkScript's done() prints: requests, duration in
// µs, then connect, read, write, status (HTTP ≥ 400) and timeout errors.
func parseWrk(out string) (closedResult, error) {
	var res closedResult
	for line := range strings.SplitSeq(out, "\n") {
		rest, ok := strings.CutPrefix(line, "WRK ")
		if !ok {
			continue
		}
		var reqs, durUS, conn, read, write, status, timeout int64
		if _, err := fmt.Sscan(rest, &reqs, &durUS, &conn, &read, &write, &status, &timeout); err != nil {
			return res, fmt.Errorf("parse wrk's summary %q: %w", line, err)
		}
		res.ok = reqs - status
		res.failed = status + conn + read + write + timeout
		res.elapsed = time.Duration(durUS) * time.Microsecond
		return res, nil
	}
	return res, fmt.Errorf("no summary line from the script's done()")
}
