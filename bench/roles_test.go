//go:build linux

package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestCallsRole: the client of scripts/call-instructions sends its calls
// and exits 0, and stops at the first call not answered 200, saying which.
func TestCallsRole(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	up, err := startSelf(ctx, t.TempDir(), "upstream")
	if err != nil {
		t.Fatal(err)
	}
	defer up.stop()
	calls := func(url, token string) (string, error) {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), roleEnv+"=calls", "BYOKD_BENCH_CALLS=5", "BYOKD_BENCH_SHAPE=sse",
			"BYOKD_BENCH_URL="+url, "BYOKD_BENCH_TOKEN="+token)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	url := directTarget(up).url
	if out, err := calls(url, benchKey); err != nil {
		t.Fatalf("5 calls to the upstream: %v\n%s", err, out)
	}
	out, err := calls(strings.TrimSuffix(url, "/chat/completions")+"/no-such-path", benchKey)
	if err == nil || !strings.Contains(out, "call 1: status 404") {
		t.Errorf("calls to a path the upstream does not serve: %v, %q; want exit 1 naming call 1's status", err, out)
	}
}
