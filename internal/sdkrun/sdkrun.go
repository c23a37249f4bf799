// Package sdkrun runs the official OpenAI and Anthropic SDKs as real
// clients: node scripts in e2e/sdk that make one call and print one line
// of JSON, which Run decodes. Tests use it to prove that what byokd (or a
// fake upstream) sends is accepted by the SDKs people actually use.
package sdkrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Result is what a script printed.
type Result struct {
	Text      string            `json:"text"`
	Usage     *Usage            `json:"usage"`
	Model     string            `json:"model"`
	Chunks    int               `json:"chunks"`    // text deltas received (streams only)
	Events    []string          `json:"events"`    // event types in order (Responses streams only)
	Embedding []float64         `json:"embedding"` // the first vector, decoded by the SDK
	Headers   map[string]string `json:"headers"`   // x-byokd-*, request ids, content-type
	Error     *Error            `json:"error"`
	Line      string            `json:"-"` // the line as printed
}

// Error is an error the SDK raised.
type Error struct {
	Status     int               `json:"status"`      // 0 when no HTTP answer came (a cut, a refused connection)
	Message    string            `json:"message"`     // the provider error body's message, else the SDK's
	SDKMessage string            `json:"sdk_message"` // the SDK's own message, usually "STATUS body-message"
	Type       string            `json:"type"`
	Code       any               `json:"code"`
	Name       string            `json:"name"` // the SDK's error class, such as RateLimitError
	Headers    map[string]string `json:"headers"`
}

// Timeout bounds one script run.
const Timeout = 60 * time.Second

// Run runs node on script (a path relative to the repository root, or a
// file name in e2e/sdk) with env added to a minimal environment, and
// decodes the line it printed. It fails the test if node or the SDK
// packages are missing, or if the script crashed. It must run on the
// test's goroutine; Check and Exec are for a call in the background.
func Run(t testing.TB, script string, env map[string]string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), Timeout)
	defer cancel()
	res, err := Exec(ctx, script, env)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Check reports what is missing to run the scripts: node, the SDK
// packages, the repository.
func Check() error {
	root, err := RepoRoot()
	if err == nil {
		_, err = check(root)
	}
	return err
}

// check finds node and the SDK packages under root.
func check(root string) (node string, err error) {
	for _, pkg := range []string{"openai", "@anthropic-ai/sdk"} {
		if _, err := os.Stat(filepath.Join(root, "e2e", "sdk", "node_modules", pkg, "package.json")); err != nil {
			return "", fmt.Errorf("the SDK package %s is not installed: run `npm ci --prefix e2e/sdk` in the repository root", pkg)
		}
	}
	node, err = exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("node is not installed (Node.js 20 or later is needed for the SDK tests): %w", err)
	}
	return node, nil
}

// RepoRoot finds the repository root: the nearest folder above the
// working directory that holds go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repository root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Exec is Run for any goroutine: it returns what Run fails the test with.
func Exec(ctx context.Context, script string, env map[string]string) (Result, error) {
	root, err := RepoRoot()
	if err != nil {
		return Result{}, err
	}
	return run(ctx, root, script, env)
}

func run(ctx context.Context, root, script string, env map[string]string) (Result, error) {
	node, err := check(root)
	if err != nil {
		return Result{}, err
	}
	if !strings.Contains(script, "/") {
		script = filepath.Join("e2e", "sdk", script)
	}
	path := filepath.Join(root, script)
	if _, err := os.Stat(path); err != nil {
		return Result{}, fmt.Errorf("sdk script %s: %w", script, err)
	}

	cmd := exec.CommandContext(ctx, node, path)
	cmd.Dir = root
	// A minimal environment, so no OPENAI_* or ANTHROPIC_* variable of the
	// machine changes what the SDKs send.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return Result{}, fmt.Errorf("node %s: %w\nstderr:\n%s\nstdout:\n%s", script, err, stderr.String(), stdout.String())
	}
	line := strings.TrimSpace(stdout.String())
	if line == "" || strings.Contains(line, "\n") {
		return Result{}, fmt.Errorf("node %s: want one line of JSON, got %q (stderr: %s)", script, line, stderr.String())
	}
	res := Result{Line: line}
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		return Result{}, fmt.Errorf("node %s: decode %q: %w", script, line, err)
	}
	return res, nil
}
