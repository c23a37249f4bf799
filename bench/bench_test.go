//go:build linux

package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary serve as the upstream and floor children
// that run re-executes.
func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(runRole(role))
	}
	os.Exit(m.Run())
}

// TestSmoke runs the whole suite in smoke mode, against the real byokd
// binary built from this tree, and checks that it produced every figure.
// It asserts no timing: CI machines vary, and the figures of a smoke run
// mean little.
func TestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out, log bytes.Buffer
	res, err := run(ctx, []string{"--smoke"}, &out, &log)
	if err != nil {
		t.Fatalf("smoke run: %v\n%s", err, log.String())
	}
	want := []string{"direct", "floor", "byokd", "relay"}
	if why, ok := res.Unavailable["peer"]; ok {
		if why == "" {
			t.Error("the peer did not run and no reason was given")
		}
		t.Logf("peer unavailable: %s", why)
	} else {
		want = append(want, "peer")
	}
	if got := strings.Join(res.Targets, ","); got != strings.Join(want, ",") {
		t.Fatalf("targets %s, want %s", got, strings.Join(want, ","))
	}
	// CI installs wrk (scripts/setup); elsewhere a smoke run may go without
	// it, saying why.
	_, noWrk := res.Unavailable["wrk"]
	if noWrk && os.Getenv("CI") != "" {
		t.Errorf("wrk did not run on CI: %s", res.Unavailable["wrk"])
	} else if noWrk {
		t.Logf("wrk unavailable: %s", res.Unavailable["wrk"])
	}
	for _, m := range res.Metrics {
		for _, target := range res.Targets {
			vs := m.Values[target]
			if !expected(m.Key, target, noWrk) {
				continue
			}
			if len(vs) != res.Rounds {
				t.Errorf("%s for %s: got %d values, want one per round (%d)", m.Key, target, len(vs), res.Rounds)
				continue
			}
			for _, v := range vs {
				if math.IsNaN(v) || math.IsInf(v, 0) || (v < 0 && !signed[m.Key]) {
					t.Errorf("%s for %s: got %v, want a number ≥ 0", m.Key, target, v)
				}
			}
		}
	}
	positive := []string{"tput_json", "tput_sse", "fixed_rps", "lat1_p50", "quiet_p50", "chunk_p50"}
	if !noWrk {
		positive = append(positive, "tput_json_wrk", "tput_sse_wrk")
	}
	for _, key := range positive {
		for _, target := range res.Targets {
			if v := median(res.metric(key).Values[target]); !(v > 0) {
				t.Errorf("%s for %s: got %v, want > 0", key, target, v)
			}
		}
	}
	// Every proxy reads and writes sockets for every call.
	for _, target := range res.Targets[1:] {
		for _, key := range []string{"sys_json", "sys_sse"} {
			if v := median(res.metric(key).Values[target]); !(v >= 2) {
				t.Errorf("%s per %s request: got %v, want at least 2 (a request read, an answer written)", key, target, v)
			}
		}
	}
	// The hub committed every row the simulated daemons sent, once.
	sent, stored := res.metric("ingest_sent").Values["relay"], res.metric("ingest_stored").Values["relay"]
	if len(sent) == 0 || !slices.Equal(sent, stored) || !(median(res.metric("ingest_rps").Values["relay"]) > 0) {
		t.Errorf("hub ingest: sent %v rows, the hub's database holds %v, at %v rows/s: want every row sent, once",
			sent, stored, res.metric("ingest_rps").Values["relay"])
	}
	if v := median(res.metric("start_ms").Values["byokd"]); !(v > 0) {
		t.Errorf("time to byokd's first answered call: got %v ms, want > 0", v)
	}
	// Every call a daemon answered has its row: the row is committed
	// before the call's last byte.
	for _, target := range []string{"byokd", "relay"} {
		if v := median(res.metric("ledger_per_req").Values[target]); v < 1 {
			t.Errorf("ledger rows per %s request: got %.3f, want at least 1", target, v)
		}
	}
	for _, s := range []string{"| throughput, 32 connections, JSON |", "| wrk: throughput, 32 connections, JSON |", "relay/floor", "| target (byokd) | this run | met |", "byokd/floor"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, out.String())
		}
	}
	if t.Failed() {
		t.Logf("report:\n%s\nlog:\n%s", out.String(), log.String())
	}
}

// signed are the figures that may be below zero: differences (RSS shrinks
// when the runtime returns memory).
var signed = map[string]bool{"added_p50": true, "added_p99": true, "quiet_added_p50": true, "end_wait_p50": true,
	"rss_conns": true, "rss_streams": true}

// expected says whether a smoke run measures key for target.
func expected(key, target string, noWrk bool) bool {
	proxy := target != "direct"
	switch key {
	case "cpu_json", "cpu_sse", "rss_idle", "rss_loaded", "rss_conns", "rss_streams", "rss_streams_abs",
		"sys_json", "ctxsw_json", "sys_sse", "ctxsw_sse":
		return proxy
	case "tput_json_wrk", "tput_sse_wrk":
		return !noWrk
	case "cpu_json_wrk", "cpu_sse_wrk":
		return !noWrk && proxy
	case "ledger_rps", "ledger_per_req":
		return target == "byokd" || target == "relay" // the daemons
	case "hub_cpu_json", "hub_cpu_sse", "ingest_rps", "ingest_cpu", "ingest_sent", "ingest_stored":
		return target == "relay" // the hub's figures
	case "start_ms", "idle_cpu", "idle_wakeups":
		return target == "byokd" // the byokd binary's
	case "done_p50", "end_wait_p50":
		// The peer may rewrite the stream and drop the comment that
		// carries [DONE]'s send time.
		return target != "peer"
	}
	return true
}
