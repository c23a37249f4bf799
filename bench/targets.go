//go:build linux

package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // to count byokd's ledger rows

	"byokd.dev/byok/control"
	// also registers SQLite's driver, to count its rows
)

// target is one way to reach the upstream.
type target struct {
	name   string
	url    string      // the chat completions URL
	header http.Header // what a client sends: auth and, for the peer, routing
	proc   *child      // the proxy process; nil for direct
	hub    *child      // the hub behind the proxy: the relay's only
	ledger string      // byokd's ledger.db, to count rows
}

func nprocs() int { return runtime.NumCPU() }

// startSelf runs this program in role.
func startSelf(ctx context.Context, work, role string, env ...string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this program: %w", err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	if !strings.HasSuffix(exe, ".test") {
		cmd = exec.Command(exe)
	}
	cmd.Env = append(os.Environ(), append(env, roleEnv+"="+role)...)
	return startChild(ctx, role, cmd, filepath.Join(work, role+".log"), true)
}

func directTarget(up *child) *target {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+benchKey)
	return &target{name: "direct", url: "http://" + up.addr + "/v1/chat/completions", header: h}
}

func startFloor(ctx context.Context, work string, up *child) (*target, error) {
	c, err := startSelf(ctx, work, "floor", upstreamEnv+"=http://"+up.addr)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer client-key-replaced-by-the-floor")
	return &target{name: "floor", url: "http://" + c.addr + "/v1/chat/completions", header: h, proc: c}, nil
}

// buildByokd builds cmd/byokd into work with `go build`.
func buildByokd(ctx context.Context, work string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	mod := strings.TrimSpace(string(out))
	if err != nil || mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("find the byokd module (run from inside it, or pass --byokd): %v", err)
	}
	bin := filepath.Join(work, "byokd")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/byokd")
	cmd.Dir = filepath.Dir(mod)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/byokd: %v\n%s", err, b)
	}
	return bin, nil
}

// startByokd runs bin's `byokd run` as target name with a fresh BYOKD_HOME
// and a file keystore, adds the bench key (with a monthly budget) and
// creates an app token through the CLI, as a member would. With cpuProfile
// set, byokd profiles itself until it stops.
func startByokd(ctx context.Context, work, name, bin string, up *child, cpuProfile string) (*target, error) {
	d, err := newDaemon(work, name, bin, up)
	if err != nil {
		return nil, err
	}
	var args []string
	if cpuProfile != "" {
		args = append(args, "--cpuprofile", cpuProfile)
	}
	if err := d.start(ctx, args...); err != nil {
		return nil, err
	}
	if err := d.addKey(ctx); err != nil {
		d.stop()
		return nil, err
	}
	t, err := d.target(ctx)
	if err != nil {
		d.stop()
	}
	return t, err
}

// portkeyStart runs the gateway with two shims, both applied before it
// loads:
//   - it listens on every interface and has no option for the address:
//     listen() is made to bind 127.0.0.1;
//   - every streamed call fails with "TypeError: immutable" on Node 20
//     (its stream path appends headers to the Response that fetch returned,
//     whose headers are immutable; Portkey-AI/gateway#1389): fetch is made
//     to return a copy of each response with mutable headers. This costs
//     the peer one Headers copy per call.
const portkeyStart = `import net from 'node:net';
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && (args[1] === undefined || typeof args[1] === 'function')) {
    if (args[1] === undefined) args.splice(1, 1);
    args.splice(1, 0, '127.0.0.1');
  }
  return listen.apply(this, args);
};
const NativeResponse = globalThis.Response;
const nativeFetch = globalThis.fetch;
globalThis.fetch = async (...a) => {
  const r = await nativeFetch(...a);
  return new NativeResponse(r.body, { status: r.status, statusText: r.statusText, headers: new Headers(r.headers) });
};
await import(process.argv[2]);
`

// startPeer runs the Portkey gateway from dir/node_modules with node.
func startPeer(ctx context.Context, work, dir string, up *child) (*target, error) {
	entry := filepath.Join(dir, "node_modules", "@portkey-ai", "gateway", "build", "start-server.js")
	if _, err := os.Stat(entry); err != nil {
		return nil, fmt.Errorf("@portkey-ai/gateway is not installed in %s: run `npm ci --prefix %s`", dir, dir)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("node is not installed: %w", err)
	}
	var version string
	if b, err := os.ReadFile(filepath.Join(dir, "node_modules", "@portkey-ai", "gateway", "package.json")); err == nil {
		var p struct{ Version string }
		_ = json.Unmarshal(b, &p)
		version = p.Version
	}
	wrapper := filepath.Join(work, "portkey-start.mjs")
	if err := os.WriteFile(wrapper, []byte(portkeyStart), 0o600); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(node, wrapper, entry, "--port="+port, "--headless")
	cmd.Env = append(os.Environ(), "NODE_ENV=production")
	c, err := startChild(ctx, "peer", cmd, filepath.Join(work, "peer.log"), false)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+benchKey)
	h.Set("X-Portkey-Provider", "openai")
	h.Set("X-Portkey-Custom-Host", "http://"+up.addr+"/v1")
	t := &target{name: "peer", url: "http://127.0.0.1:" + port + "/v1/chat/completions", header: h, proc: c}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := probe(ctx, t)
		if err == nil {
			break
		}
		if aerr := c.alive(); aerr != nil || time.Now().After(deadline) {
			c.stop()
			return nil, fmt.Errorf("portkey gateway %s did not answer (see %s): %v", version, filepath.Join(work, "peer.log"), firstErr(aerr, err))
		}
		time.Sleep(100 * time.Millisecond) // waiting for another process to listen
	}
	t.name = "peer"
	return t, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// probe sends one non-streamed and one streamed call and checks both
// replies.
func probe(ctx context.Context, t *target) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, x := range []struct{ body, want string }{{jsonBody, "benchmark reply"}, {sseBody, "data: [DONE]"}} {
		resp, err := c.Do(newRequest(ctx, t, x.body))
		if err != nil {
			return err
		}
		var b bytes.Buffer
		_, err = b.ReadFrom(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != 200 || !strings.Contains(b.String(), x.want) {
			return fmt.Errorf("status %d: %.300s", resp.StatusCode, b.String())
		}
	}
	return nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port, nil
}

// ledgerRows counts byokd's usage rows, reading the ledger while the daemon
// writes it (WAL). A row is committed first to the ledger's journal and
// reaches SQLite within a millisecond of the load's end: it waits until the
// daemon says no row waits (`byokd status`'s ledger figures, through its
// control API), so that every recorded row is counted.
func ledgerRows(ctx context.Context, path string) (int64, error) {
	c, err := control.Dial(filepath.Dir(path))
	if err != nil {
		return 0, err
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		st, err := c.Status(ctx)
		if err != nil {
			return 0, fmt.Errorf("byokd status: %w", err)
		}
		if st.Ledger.Waiting == 0 {
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("byokd's ledger still has %d rows waiting 10s after the load", st.Ledger.Waiting)
		}
		time.Sleep(5 * time.Millisecond) // another process's state: no event to wait on
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return 0, fmt.Errorf("open ledger: %w", err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM usage").Scan(&n); err != nil {
		return 0, fmt.Errorf("count ledger rows: %w", err)
	}
	return n, nil
}
