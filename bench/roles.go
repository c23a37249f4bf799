//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Child roles: this program re-executes itself with roleEnv set to run the
// upstream or the floor in a process of its own, so that the load
// generator's CPU is not counted as theirs. A child prints "LISTEN ADDR" on
// stdout once it serves, and exits when its stdin closes (the parent ended
// or stopped it).
const (
	roleEnv     = "BYOKD_BENCH_ROLE"
	upstreamEnv = "BYOKD_BENCH_UPSTREAM" // the floor's upstream base URL
	benchKey    = "sk-bench-0123456789abcdefghijklmnop"
)

// runRole serves role until stdin closes; it returns the exit code.
func runRole(role string) int {
	var h http.Handler
	switch role {
	case "calls":
		return runCalls()
	case "upstream":
		h = upstream{}
	case "floor":
		u, err := url.Parse(os.Getenv(upstreamEnv))
		if err != nil || u.Host == "" {
			fmt.Fprintf(os.Stderr, "floor: %s=%q: give the upstream's base URL\n", upstreamEnv, os.Getenv(upstreamEnv))
			return 2
		}
		h = newFloor(u, benchKey)
	default:
		fmt.Fprintf(os.Stderr, "unknown %s %q\n", roleEnv, role)
		return 2
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, role+":", err)
		return 1
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
	go srv.Serve(ln)
	fmt.Printf("LISTEN %s\n", ln.Addr())
	io.Copy(io.Discard, os.Stdin) // until the parent closes it or dies
	srv.Close()
	return 0
}

// newFloor is the no-feature floor: a bare ReverseProxy whose Rewrite only
// points at the upstream and sets the auth header, flushing at once, with
// a transport that keeps enough idle connections for the load.
func newFloor(target *url.URL, key string) http.Handler {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 1024
	tr.MaxIdleConnsPerHost = 256
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Set("Authorization", "Bearer "+key)
		},
		FlushInterval: -1,
		Transport:     tr,
	}
}

// child is a process the bench started.
type child struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string // 127.0.0.1:PORT once it serves
	done  chan struct{}
	err   error // set when done closes
	log   *os.File
}

// startChild starts cmd (stdout parsed for "LISTEN ADDR" when wantListen),
// with stderr to logPath. The child gets SIGKILL if this process dies.
func startChild(ctx context.Context, name string, cmd *exec.Cmd, logPath string, wantListen bool) (*child, error) {
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create %s log: %w", name, err)
	}
	c.log = lf
	cmd.Stderr = lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	var out io.Reader
	if wantListen {
		if out, err = cmd.StdoutPipe(); err != nil {
			return nil, err
		}
	} else {
		cmd.Stdout = lf
	}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		c.err = cmd.Wait()
		lf.Close()
		close(c.done)
	}()
	if !wantListen {
		return c, nil
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "LISTEN "); ok {
				addrc <- a
				break
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case c.addr = <-addrc:
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("%s exited before listening: %v (see %s)", name, c.err, logPath)
	case <-time.After(30 * time.Second):
		c.stop()
		return nil, fmt.Errorf("%s did not listen within 30s (see %s)", name, logPath)
	case <-ctx.Done():
		c.stop()
		return nil, ctx.Err()
	}
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// stop closes the child's stdin and sends SIGTERM, then SIGKILL after 5s.
func (c *child) stop() {
	if c == nil {
		return
	}
	c.stdin.Close()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// alive returns an error when the child has exited.
func (c *child) alive() error {
	select {
	case <-c.done:
		return fmt.Errorf("%s exited: %v", c.name, c.err)
	default:
		return nil
	}
}

// runCalls is the client of scripts/call-instructions: it sends
// BYOKD_BENCH_CALLS calls of BYOKD_BENCH_SHAPE (sse or json) one after
// the other on one keep-alive connection to BYOKD_BENCH_URL with the app
// token BYOKD_BENCH_TOKEN, and fails at the first that is not answered
// 200.
func runCalls() int {
	n, err := strconv.Atoi(os.Getenv("BYOKD_BENCH_CALLS"))
	body := map[string]string{"sse": sseBody, "json": jsonBody}[os.Getenv("BYOKD_BENCH_SHAPE")]
	if err != nil || body == "" {
		fmt.Fprintln(os.Stderr, "calls: set BYOKD_BENCH_CALLS (a number) and BYOKD_BENCH_SHAPE (sse or json)")
		return 2
	}
	t := &target{url: os.Getenv("BYOKD_BENCH_URL"), header: http.Header{"Authorization": {"Bearer " + os.Getenv("BYOKD_BENCH_TOKEN")}}}
	c := newClient(1)
	for i := range n {
		if err := call(context.Background(), c, t, body); err != nil {
			fmt.Fprintf(os.Stderr, "calls: call %d: %v\n", i+1, err)
			return 1
		}
	}
	return 0
}
