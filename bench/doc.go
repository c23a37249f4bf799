//go:build linux

// Command bench measures what byokd's proxy costs a call, in one run on
// loopback: the load generator straight to a local OpenAI-format upstream
// (direct), through a bare httputil.ReverseProxy that only sets the auth
// header (floor), through the real byokd daemon with every feature on
// (byokd), through a byokd joined to a real team hub that relays the call
// with the team's shared key (relay), and through the Portkey gateway run
// with node (peer), alternating the targets A-B-A-B over several rounds
// after a warm-up. Throughput and CPU are measured with two load
// generators, the suite's own Go client and wrk. Beside the targets it
// measures the hub's ingest from 100 simulated daemons, the time from
// `byokd run` to the first answered call, and the CPU and wake-ups of a
// byokd with nothing to do.
//
// Usage, from the module root:
//
//	go run ./bench                 # the full suite, at least ten minutes (--idle)
//	go run ./bench --smoke         # every figure once, quickly (CI)
//	go run ./bench --help
//
// The upstream and the floor run as child processes of this program (it
// re-executes itself), byokd is built with `go build` and run as `byokd run`
// (and `byokd hub serve`) with file keystores in temporary folders, and the
// peer is bench/portkey/node_modules/@portkey-ai/gateway (install it with
// `npm ci --prefix bench/portkey`); a peer that is missing or does not start
// is reported with the reason. wrk is Debian's package; a full run without
// it stops and says how to install it. Proxy CPU comes from /proc/PID/stat,
// system calls from /proc/PID/io, context switches and memory from
// /proc/PID/task/*/status and /proc/PID/status, so the suite runs on Linux
// only. Every child stops when this program ends.
package main
