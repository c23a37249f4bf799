//go:build linux

package main

import (
	"strings"
	"testing"
)

// TestGoals_Issue19Ratios: issue 19's targets are checked for both load
// generators, and a ratio that rounds to the target but misses it is
// reported as missed, with enough digits to show why.
func TestGoals_Issue19Ratios(t *testing.T) {
	r := newResults()
	for _, key := range []string{"tput_json", "tput_sse", "tput_json_wrk", "tput_sse_wrk"} {
		r.add(key, "floor", 1000)
	}
	for _, key := range []string{"cpu_json", "cpu_sse", "cpu_json_wrk", "cpu_sse_wrk"} {
		r.add(key, "floor", 100)
	}
	r.add("tput_json", "byokd", 1010)     // met
	r.add("tput_sse", "byokd", 996)       // 0.996×: missed
	r.add("tput_json_wrk", "byokd", 1000) // met, exactly
	r.add("tput_sse_wrk", "byokd", 900)
	r.add("cpu_json", "byokd", 110)     // met, exactly
	r.add("cpu_sse", "byokd", 110.4)    // 1.104×: missed
	r.add("cpu_json_wrk", "byokd", 105) // met
	r.add("cpu_sse_wrk", "byokd", 130)
	want := map[string]string{
		"Go: throughput ≥ 1.0× floor, JSON":           "1.010× yes",
		"Go: throughput ≥ 1.0× floor, streamed":       "0.996× no",
		"Go: CPU per request ≤ 1.1× floor, JSON":      "1.100× yes",
		"Go: CPU per request ≤ 1.1× floor, streamed":  "1.104× no",
		"wrk: throughput ≥ 1.0× floor, JSON":          "1.000× yes",
		"wrk: throughput ≥ 1.0× floor, streamed":      "0.900× no",
		"wrk: CPU per request ≤ 1.1× floor, JSON":     "1.050× yes",
		"wrk: CPU per request ≤ 1.1× floor, streamed": "1.300× no",
	}
	got := map[string]string{}
	for _, g := range r.goals() {
		if strings.HasPrefix(g.what, "Go: ") || strings.HasPrefix(g.what, "wrk: ") {
			met := "no"
			if g.ok {
				met = "yes"
			}
			got[g.what] = g.got + " " + met
		}
	}
	for what, w := range want {
		if got[what] != w {
			t.Errorf("%s: got %q, want %q", what, got[what], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("issue 19's goals: got %v, want %d of them", got, len(want))
	}

	// Without wrk its goals are left out, not reported as met.
	r.Unavailable["wrk"] = "not installed"
	for _, g := range r.goals() {
		if strings.HasPrefix(g.what, "wrk: ") {
			t.Errorf("wrk did not run, yet its goal %q is in the report", g.what)
		}
	}
}
