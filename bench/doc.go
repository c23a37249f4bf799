//go:build linux

// Command bench measures what byokd's proxy costs a call, in one run on
// loopback: the load generator straight to a local OpenAI-format upstream
// (direct), through a bare httputil.ReverseProxy that only sets the auth
// header (floor), through the real byokd daemon with every feature on
// (byokd), and through the Portkey gateway run with node (peer), alternating
// the targets A-B-A-B over several rounds after a warm-up.
//
// Usage, from the module root:
//
//	go run ./bench                 # the full suite, about five minutes
//	go run ./bench --smoke         # every figure once, quickly (CI)
//	go run ./bench --help
//
// The upstream and the floor run as child processes of this program (it
// re-executes itself), byokd is built with `go build` and run as `byokd run`
// with a file keystore in a temporary BYOKD_HOME, and the peer is
// bench/portkey/node_modules/@portkey-ai/gateway (install it with
// `npm ci --prefix bench/portkey`); a peer that is missing or does not start
// is reported with the reason. Proxy CPU comes from /proc/PID/stat, memory
// from /proc/PID/status, so the suite runs on Linux only. Every child stops
// when this program ends.
package main
