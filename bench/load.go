//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Request bodies. Every streamed call asks for the usage chunk, so every
// target moves the same bytes (byokd would otherwise add and remove it).
const (
	jsonBody   = `{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"bench"}]}`
	sseBody    = `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"bench chunks=8"}]}`
	stampBody  = `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"bench chunks=%d delay=%s stamp"}]}`
	holdBody   = `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"bench chunks=1 hold=%s"}]}`
	maxLatency = 30 * time.Second
)

func newRequest(ctx context.Context, t *target, body string) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader([]byte(body)))
	for k, v := range t.header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	return req
}

// newClient pools up to conns keep-alive connections to one target.
func newClient(conns int) *http.Client {
	return &http.Client{Timeout: maxLatency, Transport: &http.Transport{
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
		DisableCompression: true, IdleConnTimeout: time.Minute,
	}}
}

// call sends one request and reads the whole answer.
func call(ctx context.Context, c *http.Client, t *target, body string) error {
	resp, err := c.Do(newRequest(ctx, t, body))
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return err
}

// closedResult is a closed-loop run, or the sum of several.
type closedResult struct {
	ok, failed int64
	elapsed    time.Duration
	used       used // what the target's processes did during the run
}

func (r closedResult) add(o closedResult) closedResult {
	return closedResult{ok: r.ok + o.ok, failed: r.failed + o.failed, elapsed: r.elapsed + o.elapsed, used: r.used.add(o.used)}
}

// closedLoop runs conns workers that each send the next request on c as
// soon as the last one is answered, for d.
func closedLoop(ctx context.Context, c *http.Client, t *target, up *child, conns int, d time.Duration, body string) (closedResult, error) {
	var res closedResult
	used0, err := snapshot(t, up)
	if err != nil {
		return res, err
	}
	start := time.Now()
	ctx, cancel := context.WithDeadline(ctx, start.Add(d))
	defer cancel()
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := call(ctx, c, t, body); err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
					}
					continue
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	used1, err := snapshot(t, up)
	if err != nil {
		return res, err
	}
	res.ok, res.failed, res.used = ok.Load(), failed.Load(), used1.sub(used0)
	return res, nil
}

// used is what a target's processes have done: the proxy (zero for
// direct), the hub behind it (the relay's only) and the upstream.
type used struct {
	proxy, hub counters
	upCPU      time.Duration
}

func (u used) sub(o used) used {
	return used{proxy: u.proxy.sub(o.proxy), hub: u.hub.sub(o.hub), upCPU: u.upCPU - o.upCPU}
}

func (u used) add(o used) used {
	return used{proxy: u.proxy.add(o.proxy), hub: u.hub.add(o.hub), upCPU: u.upCPU + o.upCPU}
}

func snapshot(t *target, up *child) (used, error) {
	var u used
	var err error
	if t.proc != nil {
		if u.proxy, err = readCounters(t.proc.pid()); err != nil {
			return u, err
		}
	}
	if t.hub != nil {
		if u.hub, err = readCounters(t.hub.pid()); err != nil {
			return u, err
		}
	}
	u.upCPU, err = cpuTime(up.pid())
	return u, err
}

// latencies are one run's per-request latencies.
type latencies struct {
	d      []time.Duration
	failed int64
	sent   int64
	took   time.Duration
}

func (l *latencies) quantile(q float64) time.Duration {
	if len(l.d) == 0 {
		return 0
	}
	slices.Sort(l.d)
	i := int(q * float64(len(l.d)-1))
	return l.d[i]
}

// sequential sends one request at a time on one connection for d (at most
// max requests) and times each.
func sequential(ctx context.Context, t *target, d time.Duration, max int) latencies {
	c := newClient(1)
	defer c.CloseIdleConnections()
	var l latencies
	start := time.Now()
	for time.Since(start) < d && len(l.d) < max && ctx.Err() == nil {
		t0 := time.Now()
		if err := call(ctx, c, t, jsonBody); err != nil {
			l.failed++
			continue
		}
		l.d = append(l.d, time.Since(t0))
	}
	l.took = time.Since(start)
	return l
}

// fixedRate sends rate requests a second for d, open loop: each latency is
// measured from the moment the request was due, so a stall that delays
// later requests counts against them (no coordinated omission).
func fixedRate(ctx context.Context, t *target, rate float64, d time.Duration) latencies {
	const workers = 128
	c := newClient(workers)
	defer c.CloseIdleConnections()
	n := int(rate * d.Seconds())
	due := make(chan time.Time, n)
	var mu sync.Mutex
	var l latencies
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for at := range due {
				err := call(ctx, c, t, jsonBody)
				took := time.Since(at)
				mu.Lock()
				if err != nil {
					l.failed++
				} else {
					l.d = append(l.d, took)
				}
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if w := time.Until(at); w > 0 {
			select {
			case <-time.After(w):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		due <- at
		l.sent++
	}
	close(due)
	wg.Wait()
	l.took = time.Since(start)
	return l
}

// chunkDelays are the times from an upstream writing an SSE chunk to the
// client reading it: content chunks, and the final [DONE] (which byokd
// releases only after the call's row is committed).
type chunkDelays struct {
	chunks, done []time.Duration
	failed       int
}

// sseDelays runs streams concurrent streams, repeat times each, of chunks
// stamped chunks with gap between them.
func sseDelays(ctx context.Context, t *target, streams, repeat, chunks int, gap time.Duration) chunkDelays {
	c := newClient(streams)
	defer c.CloseIdleConnections()
	body := fmt.Sprintf(stampBody, chunks, gap)
	var mu sync.Mutex
	var out chunkDelays
	var wg sync.WaitGroup
	for range streams {
		wg.Go(func() {
			for range repeat {
				ch, done, err := stampedStream(ctx, c, t, body)
				mu.Lock()
				out.chunks = append(out.chunks, ch...)
				out.done = append(out.done, done...)
				if err != nil {
					out.failed++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

var (
	contentStamp = []byte(`"content":"t=`)
	commentStamp = []byte(": t=")
	doneLine     = []byte("data: [DONE]")
)

// stampedStream reads one stamped stream line by line as it arrives.
func stampedStream(ctx context.Context, c *http.Client, t *target, body string) (chunks, done []time.Duration, err error) {
	resp, err := c.Do(newRequest(ctx, t, body))
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	var lastComment int64
	sawDone := false
	for {
		line, err := br.ReadSlice('\n')
		now := time.Now().UnixNano()
		if i := bytes.Index(line, contentStamp); i >= 0 {
			if ns := stampAt(line[i+len(contentStamp):]); ns > 0 {
				chunks = append(chunks, time.Duration(now-ns))
			}
		} else if bytes.HasPrefix(line, commentStamp) {
			lastComment = stampAt(line[len(commentStamp):])
		} else if bytes.HasPrefix(line, doneLine) {
			sawDone = true
			if lastComment > 0 {
				done = append(done, time.Duration(now-lastComment))
			}
		}
		if err == io.EOF {
			if !sawDone {
				return chunks, done, fmt.Errorf("stream ended without [DONE]")
			}
			return chunks, done, nil
		}
		if err != nil && err != bufio.ErrBufferFull {
			return chunks, done, err
		}
	}
}

func stampAt(b []byte) int64 {
	end := 0
	for end < len(b) && b[end] >= '0' && b[end] <= '9' {
		end++
	}
	ns, _ := strconv.ParseInt(string(b[:end]), 10, 64)
	return ns
}

// holdConnections opens n keep-alive connections (one call each, all at
// once), measures RSS while they idle, and closes them.
func holdConnections(ctx context.Context, t *target, n int) (int64, error) {
	c := &http.Client{Timeout: maxLatency, Transport: &http.Transport{
		MaxIdleConns: n, MaxIdleConnsPerHost: n, DisableCompression: true, IdleConnTimeout: time.Minute,
	}}
	defer c.CloseIdleConnections()
	var start, wg sync.WaitGroup
	start.Add(1)
	var failed atomic.Int64
	sem := make(chan struct{}, 256) // bound the dial burst
	var inFlight sync.WaitGroup
	inFlight.Add(n)
	release := make(chan struct{})
	for range n {
		wg.Go(func() {
			sem <- struct{}{}
			resp, err := c.Do(newRequest(ctx, t, jsonBody))
			<-sem
			if err != nil {
				failed.Add(1)
				inFlight.Done()
				return
			}
			// Hold the body open until all n are answered, so that no
			// connection is reused: n distinct connections result.
			inFlight.Done()
			<-release
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	inFlight.Wait()
	close(release)
	wg.Wait()
	if f := failed.Load(); f > 0 {
		return 0, fmt.Errorf("%d of %d connections failed", f, n)
	}
	settle()
	return rss(t.proc.pid())
}

// holdStreams opens n streams that the upstream holds after their first
// chunk, measures RSS once every client has read that chunk, and ends them.
func holdStreams(ctx context.Context, t *target, n int) (int64, error) {
	c := &http.Client{Transport: &http.Transport{
		MaxIdleConns: n, MaxIdleConnsPerHost: n, DisableCompression: true,
	}}
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	body := fmt.Sprintf(holdBody, time.Minute)
	var open sync.WaitGroup
	open.Add(n)
	var failed atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	for range n {
		wg.Go(func() {
			sem <- struct{}{}
			resp, err := c.Do(newRequest(ctx, t, body))
			<-sem
			if err != nil {
				failed.Add(1)
				open.Done()
				return
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			_, err = br.ReadSlice('\n') // the first chunk arrived through the target
			if err != nil {
				failed.Add(1)
			}
			open.Done()
			<-ctx.Done()
		})
	}
	open.Wait()
	var size int64
	var err error
	if f := failed.Load(); f > 0 {
		err = fmt.Errorf("%d of %d streams failed", f, n)
	} else {
		settle()
		size, err = rss(t.proc.pid())
	}
	cancel()
	wg.Wait()
	return size, err
}

// settle gives a target a moment to finish the work the last burst caused
// (goroutine exits, buffers returned) before its memory is read.
func settle() { time.Sleep(300 * time.Millisecond) }
