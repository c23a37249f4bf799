//go:build linux

package main

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

const mib = 1 << 20

// extras are the parts of the suite beside the targets' processes.
type extras struct {
	wrk      *wrk                // nil: no wrk figures (not installed, or --wrk=false)
	fleet    *fleet              // the simulated daemons of the ingest figure; nil without a hub
	fleetFor string              // the target whose column holds the hub's figures (relay)
	idlers   map[string]*idler   // target → its binary's idle daemon
	starters map[string]*starter // target → its binary's home, restarted to time the start
	idleFor  time.Duration       // the idle daemons' least time idle
}

// measure runs the warm-up, the rounds and the memory phase.
func measure(ctx context.Context, p plan, res *results, up *child, targets []*target, x extras, logf func(string, ...any)) error {
	for _, t := range targets {
		if t.proc == nil {
			continue
		}
		settle()
		b, err := rss(t.proc.pid())
		if err != nil {
			return err
		}
		res.add("rss_idle", t.name, float64(b)/mib)
	}

	logf("warm-up")
	for _, t := range targets {
		for _, body := range []string{jsonBody, sseBody} {
			c := newClient(p.conns)
			r, err := closedLoop(ctx, c, t, up, p.conns, p.warm, body)
			c.CloseIdleConnections()
			if err != nil {
				return err
			}
			if t.name == "floor" && body == jsonBody {
				res.FixedRate = 0.5 * float64(r.ok) / r.elapsed.Seconds()
			}
		}
	}
	if res.FixedRate == 0 {
		// No floor in this run: pace by the first target's capacity.
		c := newClient(p.conns)
		r, err := closedLoop(ctx, c, targets[0], up, p.conns, p.warm, jsonBody)
		c.CloseIdleConnections()
		if err != nil {
			return err
		}
		res.FixedRate = 0.5 * float64(r.ok) / r.elapsed.Seconds()
	}

	for round := 1; round <= p.rounds; round++ {
		logf("round %d of %d", round, p.rounds)
		if err := measureRound(ctx, p, res, up, targets, x); err != nil {
			return err
		}
		for _, t := range targets {
			if t.proc != nil {
				if err := t.proc.alive(); err != nil {
					return err
				}
			}
		}
	}

	logf("calls after a quiet spell")
	if err := measureQuiet(ctx, p, res, targets); err != nil {
		return err
	}

	logf("memory")
	for _, t := range targets {
		if t.proc == nil {
			continue
		}
		if err := measureMemory(ctx, p, res, t); err != nil {
			return fmt.Errorf("%s memory: %w", t.name, err)
		}
	}

	if len(x.idlers) > 0 {
		logf("idle daemons (at least %s idle)", x.idleFor)
	}
	for name, i := range x.idlers {
		cpu, wakeups, err := i.read(ctx, x.idleFor)
		if err != nil {
			return fmt.Errorf("%s's idle daemon: %w", name, err)
		}
		res.add("idle_cpu", name, cpu)
		res.add("idle_wakeups", name, wakeups)
	}
	return ctx.Err()
}

func measureRound(ctx context.Context, p plan, res *results, up *child, targets []*target, x extras) error {
	perReq := func(d time.Duration, n int64) float64 {
		if n == 0 {
			return 0
		}
		return float64(d.Microseconds()) / float64(n)
	}
	// Throughput and CPU, JSON then streamed, the targets taking turns.
	// Ledger rows per target: each byokd has its own ledger.
	rows, ledgerReqs := map[string]int64{}, map[string]int64{}
	ledgerTime := map[string]time.Duration{}
	nTurns, each := turns(p.dur, p.turn)
	for _, shape := range []struct{ body, tput, cpu, sys, ctxsw string }{
		{jsonBody, "tput_json", "cpu_json", "sys_json", "ctxsw_json"},
		{sseBody, "tput_sse", "cpu_sse", "sys_sse", "ctxsw_sse"},
	} {
		clients, before := map[string]*http.Client{}, map[string]int64{}
		for _, t := range targets {
			// A target keeps its connections from turn to turn, as a
			// single run would.
			clients[t.name] = newClient(p.conns)
			if t.ledger != "" {
				var err error
				if before[t.name], err = ledgerRows(ctx, t.ledger); err != nil {
					return err
				}
			}
		}
		sums, err := inTurns(targets, nTurns, func(t *target) (closedResult, error) {
			return closedLoop(ctx, clients[t.name], t, up, p.conns, each, shape.body)
		})
		for _, c := range clients {
			c.CloseIdleConnections()
		}
		if err != nil {
			return err
		}
		for _, t := range targets {
			r := sums[t.name]
			res.Errors[t.name] += r.failed
			res.add(shape.tput, t.name, float64(r.ok)/r.elapsed.Seconds())
			n := r.ok + r.failed
			if t.proc != nil {
				res.add(shape.cpu, t.name, perReq(r.used.proxy.cpu, n))
			}
			if t.hub != nil {
				res.add("hub_"+shape.cpu, t.name, perReq(r.used.hub.cpu, n))
			}
			if t.proc != nil && n > 0 {
				res.add(shape.sys, t.name, float64(r.used.proxy.syscalls)/float64(n))
				res.add(shape.ctxsw, t.name, float64(r.used.proxy.switches)/float64(n))
			}
			if t.ledger != "" {
				after, err := ledgerRows(ctx, t.ledger)
				if err != nil {
					return err
				}
				rows[t.name] += after - before[t.name]
				ledgerReqs[t.name] += n
				ledgerTime[t.name] += r.elapsed
			}
		}
	}
	if x.wrk != nil {
		if err := measureWrk(ctx, p, res, up, targets, x.wrk); err != nil {
			return err
		}
	}
	for _, t := range targets {
		if t.ledger != "" && ledgerTime[t.name] > 0 {
			res.add("ledger_rps", t.name, float64(rows[t.name])/ledgerTime[t.name].Seconds())
			res.add("ledger_per_req", t.name, float64(rows[t.name])/float64(ledgerReqs[t.name]))
		}
	}

	// Latency at one connection; added latency is against direct's, from
	// this round.
	lat := map[string]latencies{}
	for _, t := range targets {
		l := sequential(ctx, t, p.lat1, p.lat1Max)
		res.Errors[t.name] += l.failed
		lat[t.name] = l
		res.add("lat1_p50", t.name, us(l.quantile(0.50)))
		res.add("lat1_p99", t.name, us(l.quantile(0.99)))
	}
	if d, ok := lat["direct"]; ok {
		for _, t := range targets {
			l := lat[t.name]
			res.add("added_p50", t.name, us(l.quantile(0.50)-d.quantile(0.50)))
			res.add("added_p99", t.name, us(l.quantile(0.99)-d.quantile(0.99)))
		}
	}

	// Open loop at half the floor's capacity.
	for _, t := range targets {
		l := fixedRate(ctx, t, res.FixedRate, p.dur)
		res.Errors[t.name] += l.failed
		res.add("fixed_p50", t.name, us(l.quantile(0.50)))
		res.add("fixed_p99", t.name, us(l.quantile(0.99)))
		res.add("fixed_p999", t.name, us(l.quantile(0.999)))
		res.add("fixed_rps", t.name, float64(len(l.d))/l.took.Seconds())
	}

	// SSE chunk delays with gaps between chunks.
	for _, t := range targets {
		d := sseDelays(ctx, t, p.sseStreams, p.sseRepeat, p.sseChunks, p.sseGap)
		res.Errors[t.name] += int64(d.failed)
		chunks := latencies{d: d.chunks}
		done := latencies{d: d.done}
		res.add("chunk_p50", t.name, us(chunks.quantile(0.50)))
		res.add("chunk_p99", t.name, us(chunks.quantile(0.99)))
		if len(done.d) > 0 {
			res.add("done_p50", t.name, us(done.quantile(0.50)))
			res.add("end_wait_p50", t.name, us(done.quantile(0.50)-chunks.quantile(0.50)))
		}
	}

	if x.fleet != nil {
		if err := measureIngest(ctx, p, res, x.fleet, x.fleetFor); err != nil {
			return err
		}
	}
	for _, t := range targets {
		if s := x.starters[t.name]; s != nil {
			d, err := s.firstCall(ctx)
			if err != nil {
				return err
			}
			res.add("start_ms", t.name, float64(d)/float64(time.Millisecond))
		}
	}
	return ctx.Err()
}

// measureWrk is the closed-loop throughput and CPU runs again with wrk as
// the load generator, JSON then streamed, the targets taking turns of at
// least a second (wrk takes whole seconds).
func measureWrk(ctx context.Context, p plan, res *results, up *child, targets []*target, w *wrk) error {
	nTurns, each := turns(p.dur, max(p.turn, time.Second))
	for _, shape := range []struct{ body, tput, cpu string }{
		{jsonBody, "tput_json_wrk", "cpu_json_wrk"},
		{sseBody, "tput_sse_wrk", "cpu_sse_wrk"},
	} {
		sums, err := inTurns(targets, nTurns, func(t *target) (closedResult, error) {
			return w.run(ctx, t, up, p.conns, each, shape.body)
		})
		if err != nil {
			return err
		}
		for _, t := range targets {
			r := sums[t.name]
			res.Errors[t.name] += r.failed
			res.add(shape.tput, t.name, float64(r.ok)/r.elapsed.Seconds())
			if n := r.ok + r.failed; t.proc != nil && n > 0 {
				res.add(shape.cpu, t.name, float64(r.used.proxy.cpu.Microseconds())/float64(n))
			}
		}
	}
	return nil
}

// turns splits a run of d into n turns of about turn each (one, when turn
// is 0 or longer than d).
func turns(d, turn time.Duration) (n int, each time.Duration) {
	if turn <= 0 || turn >= d {
		return 1, d
	}
	n = int((d + turn/2) / turn)
	return n, d / time.Duration(n)
}

// inTurns runs one closed-loop measurement of every target in n turns, the
// targets taking turns, and returns each target's turns summed. This
// machine's speed drifts over seconds with other tenants' load: a target
// measured after another for the whole run can find it several percent
// faster or slower (an A/A run, one build as two targets, gave per-round
// ratios of 0.89–1.22), while turns of half a second let the drift fall
// alike on every target. Each turn starts one target later than the one
// before, so that no target always comes right after the same other and
// whatever one leaves behind (its collector, its closing connections)
// falls on each of the others alike.
func inTurns(targets []*target, n int, run func(*target) (closedResult, error)) (map[string]closedResult, error) {
	sums := map[string]closedResult{}
	for k := range n {
		for j := range targets {
			t := targets[(k+j)%len(targets)]
			r, err := run(t)
			if err != nil {
				return nil, err
			}
			sums[t.name] = sums[t.name].add(r)
		}
	}
	return sums, nil
}

// measureIngest is one burst of the simulated daemons' rows into the hub;
// its figures go in column name (the relay's, whose hub it is).
func measureIngest(ctx context.Context, p plan, res *results, f *fleet, name string) error {
	r, err := f.ingest(ctx, p.ingestRows)
	if err != nil {
		return err
	}
	res.add("ingest_rps", name, float64(r.stored)/r.elapsed.Seconds())
	res.add("ingest_cpu", name, float64(r.hubCPU.Microseconds())/float64(max(r.stored, 1)))
	res.add("ingest_sent", name, float64(r.sent))
	res.add("ingest_stored", name, float64(r.stored))
	if r.rejected > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("the hub rejected %d of %d simulated daemons' rows", r.rejected, r.sent))
	}
	return nil
}

func measureMemory(ctx context.Context, p plan, res *results, t *target) error {
	settle()
	base, err := rss(t.proc.pid())
	if err != nil {
		return err
	}
	res.add("rss_loaded", t.name, float64(base)/mib)
	scale := 1000 / float64(p.idle)
	withConns, err := holdConnections(ctx, t, p.idle)
	if err != nil {
		return err
	}
	res.add("rss_conns", t.name, float64(withConns-base)/mib*scale)
	settle()
	base, err = rss(t.proc.pid())
	if err != nil {
		return err
	}
	withStreams, err := holdStreams(ctx, t, p.idle)
	if err != nil {
		return err
	}
	res.add("rss_streams", t.name, float64(withStreams-base)/mib*scale)
	res.add("rss_streams_abs", t.name, float64(base)/mib+float64(withStreams-base)/mib*scale)
	return nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// measureQuiet times calls that each come after p.quietGap in which the
// machine had nothing to do, as a person's calls do (the 1-connection run
// sends them back to back). Each call has its own quiet spell: a call
// right after another target's would find the client, the upstream and
// the kernel's network paths warm, and the later in a round a target came
// the less quiet its call would be. The targets take turns, so that
// every target's calls are spread alike over the run.
func measureQuiet(ctx context.Context, p plan, res *results, targets []*target) error {
	clients := map[string]*http.Client{}
	lat := map[string]*latencies{}
	for _, t := range targets {
		clients[t.name] = newClient(1)
		defer clients[t.name].CloseIdleConnections()
		lat[t.name] = &latencies{}
	}
	for i := 0; i <= p.quiet; i++ {
		for _, t := range targets {
			select {
			case <-time.After(p.quietGap):
			case <-ctx.Done():
				return ctx.Err()
			}
			t0 := time.Now()
			err := call(ctx, clients[t.name], t, jsonBody)
			if i == 0 {
				continue // opens the connection each later call finds idle
			}
			if err != nil {
				lat[t.name].failed++
				continue
			}
			lat[t.name].d = append(lat[t.name].d, time.Since(t0))
		}
	}
	for _, t := range targets {
		l := lat[t.name]
		res.Errors[t.name] += l.failed
		res.add("quiet_p50", t.name, us(l.quantile(0.50)))
		if d, ok := lat["direct"]; ok {
			res.add("quiet_added_p50", t.name, us(l.quantile(0.50)-d.quantile(0.50)))
		}
	}
	return nil
}
