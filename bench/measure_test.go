//go:build linux

package main

import (
	"slices"
	"testing"
	"time"
)

func TestTurns(t *testing.T) {
	for _, tt := range []struct {
		d, turn time.Duration
		n       int
		each    time.Duration
	}{
		{3 * time.Second, 500 * time.Millisecond, 6, 500 * time.Millisecond},
		{3 * time.Second, time.Second, 3, time.Second},
		{4 * time.Second, 1500 * time.Millisecond, 3, 4 * time.Second / 3}, // 2.67 turns round to 3
		{300 * time.Millisecond, 0, 1, 300 * time.Millisecond},             // the smoke plan
		{300 * time.Millisecond, time.Second, 1, 300 * time.Millisecond},   // a turn longer than the run
	} {
		if n, each := turns(tt.d, tt.turn); n != tt.n || each != tt.each {
			t.Errorf("turns(%v, %v) = %d × %v, want %d × %v", tt.d, tt.turn, n, each, tt.n, tt.each)
		}
	}
}

// TestInTurns checks that every target runs once a turn, each turn
// starting one target later, and that a target's figures are the sum of
// its own turns alone.
func TestInTurns(t *testing.T) {
	targets := []*target{{name: "floor"}, {name: "byokd"}, {name: "before"}}
	var order []string
	calls := map[string]int64{}
	sums, err := inTurns(targets, 3, func(t *target) (closedResult, error) {
		order = append(order, t.name)
		calls[t.name]++
		r := closedResult{ok: 100, failed: 1, elapsed: 500 * time.Millisecond}
		r.used.proxy.cpu = time.Duration(calls[t.name]) * time.Millisecond
		if t.name == "byokd" {
			r.ok = 90
		}
		return r, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"floor", "byokd", "before", "byokd", "before", "floor", "before", "floor", "byokd"}
	if !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	f, b := sums["floor"], sums["byokd"]
	if f.ok != 300 || b.ok != 270 || f.failed != 3 || f.elapsed != 1500*time.Millisecond || f.used.proxy.cpu != 6*time.Millisecond {
		t.Errorf("sums: floor %+v, byokd %+v", f, b)
	}
}
