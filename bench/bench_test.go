//go:build linux

package main

import (
	"bytes"
	"context"
	"math"
	"os"
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
	want := []string{"direct", "floor", "byokd"}
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
	proxyOnly := map[string]bool{
		"cpu_json": true, "cpu_sse": true, "rss_idle": true, "rss_loaded": true,
		"rss_conns": true, "rss_streams": true, "rss_streams_abs": true,
	}
	for _, m := range res.Metrics {
		for _, target := range res.Targets {
			expected := true
			switch {
			case strings.HasPrefix(m.Key, "ledger_"):
				expected = target == "byokd"
			case proxyOnly[m.Key]:
				expected = target != "direct"
			case m.Key == "done_p50" || m.Key == "end_wait_p50":
				// The peer may rewrite the stream and drop the comment
				// that carries [DONE]'s send time.
				expected = target != "peer"
			}
			vs := m.Values[target]
			if !expected {
				continue
			}
			if len(vs) != res.Rounds {
				t.Errorf("%s for %s: got %d values, want one per round (%d)", m.Key, target, len(vs), res.Rounds)
				continue
			}
			for _, v := range vs {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Errorf("%s for %s: got %v, want a number", m.Key, target, v)
				}
			}
		}
	}
	for _, key := range []string{"tput_json", "tput_sse", "fixed_rps", "lat1_p50", "quiet_p50", "chunk_p50"} {
		for _, target := range res.Targets {
			if v := median(res.metric(key).Values[target]); !(v > 0) {
				t.Errorf("%s for %s: got %v, want > 0", key, target, v)
			}
		}
	}
	// Every call byokd answered has its row: the row is committed before
	// the call's last byte.
	if v := median(res.metric("ledger_per_req").Values["byokd"]); v < 1 {
		t.Errorf("ledger rows per byokd request: got %.3f, want at least 1", v)
	}
	for _, s := range []string{"| throughput, 32 connections, JSON |", "| target (byokd) | this run | met |", "byokd/floor"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, out.String())
		}
	}
	if t.Failed() {
		t.Logf("report:\n%s\nlog:\n%s", out.String(), log.String())
	}
}
