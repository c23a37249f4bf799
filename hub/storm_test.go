package hub_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
	"byokd.dev/byok/teamsync"
)

// front is one address in front of the replicas, as a TCP load balancer
// is: each connection goes to the next replica in turn. cut drops a
// replica's connections, or every one, as its machine dying would, and
// stops sending there (a load balancer's health check would).
type front struct {
	ln       net.Listener
	backends []string

	mu    sync.Mutex
	down  bool
	next  int
	conns map[net.Conn]string // each to its replica's address
	// dials is when each connection reached a replica.
	dials []time.Time
}

// startFront listens, refusing every connection until serve names the
// replicas.
func startFront(t *testing.T) *front {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &front{ln: ln, down: true, conns: map[net.Conn]string{}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.pipe(c)
		}
	}()
	t.Cleanup(func() { ln.Close(); f.cut("") })
	return f
}

func (f *front) URL() string { return "http://" + f.ln.Addr().String() }

func (f *front) pipe(c net.Conn) {
	f.mu.Lock()
	if f.down {
		f.mu.Unlock()
		c.Close()
		return
	}
	to := f.backends[f.next%len(f.backends)]
	f.next++
	f.mu.Unlock()
	b, err := net.Dial("tcp", to)
	if err != nil {
		c.Close()
		return
	}
	f.mu.Lock()
	if f.down {
		f.mu.Unlock()
		c.Close()
		b.Close()
		return
	}
	f.conns[c], f.conns[b] = to, to
	f.dials = append(f.dials, time.Now())
	f.mu.Unlock()
	go func() { io.Copy(b, c); b.Close() }()
	io.Copy(c, b)
	c.Close()
}

// cut drops every connection to the replica at addr, as its machine
// dying would, and sends no more there; "" cuts them all and refuses
// every new connection.
func (f *front) cut(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if addr == "" {
		f.down = true
	} else {
		f.backends = slices.DeleteFunc(f.backends, func(b string) bool { return b == addr })
	}
	for c, to := range f.conns {
		if addr == "" || to == addr {
			c.Close()
			delete(f.conns, c)
		}
	}
}

// serve sends the connections from now on to backends, in turn.
func (f *front) serve(backends ...string) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down, f.backends = false, backends
	return time.Now()
}

// dialsSince is how long after t each connection made since t reached a
// replica.
func (f *front) dialsSince(t time.Time) []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ds []time.Duration
	for _, d := range f.dials {
		if d.After(t) {
			ds = append(ds, d.Sub(t))
		}
	}
	return ds
}

// memOutbox is a simulated daemon's outbox: what a daemon's ledger does
// for teamsync, in memory, so that hundreds of daemons fit in one test.
type memOutbox struct {
	mu       sync.Mutex
	pending  []byok.UsageEvent
	rejected map[string]string
	acked    int
	wake     chan struct{}
}

func (o *memOutbox) add(evs ...byok.UsageEvent) {
	o.mu.Lock()
	o.pending = append(o.pending, evs...)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *memOutbox) left() int { o.mu.Lock(); defer o.mu.Unlock(); return len(o.pending) }

func (o *memOutbox) ackedRows() int { o.mu.Lock(); defer o.mu.Unlock(); return o.acked }

func (o *memOutbox) Outbox(_ context.Context, limit int) ([]byok.UsageEvent, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.pending[:min(limit, len(o.pending))]), nil
}

func (o *memOutbox) MarkSynced(_ context.Context, ids []string) error {
	o.mu.Lock()
	o.acked += len(ids)
	o.mu.Unlock()
	o.forget(ids)
	return nil
}

func (o *memOutbox) MarkRejected(_ context.Context, reasons map[string]string) error {
	o.mu.Lock()
	for id, r := range reasons {
		o.rejected[id] = r
	}
	o.mu.Unlock()
	o.forget(slices.Collect(maps.Keys(reasons)))
	return nil
}

func (o *memOutbox) forget(ids []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pending = slices.DeleteFunc(o.pending, func(e byok.UsageEvent) bool { return slices.Contains(ids, e.ID) })
}

// fleet is simulated daemons (teamsync clients with an in-memory outbox)
// syncing through a front to replicas on PostgreSQL.
type fleet struct {
	t    *testing.T
	f    *front
	hs   []*testHub
	outs []*memOutbox
	at   time.Time
}

// startFleet runs two replicas behind a front and n daemons, each a
// member of its own with rows rows in its outbox, all sending at once.
func startFleet(t *testing.T, n, rows int) *fleet {
	t.Helper()
	f := startFront(t)
	hs := startReplicas(t, 2, func(c *hub.Config) { c.PublicURL = f.URL() })
	f.serve(hs[0].Addr(), hs[1].Addr())
	ctx, cancel := context.WithCancel(context.Background())
	var running sync.WaitGroup
	t.Cleanup(func() { cancel(); running.Wait() })
	fl := &fleet{t: t, f: f, hs: hs, outs: make([]*memOutbox, n), at: hs[0].clock.Now().Add(-time.Hour)}
	clients := make([]*teamsync.Client, n)
	for d := range n {
		en := hs[d%2].join(t, fmt.Sprintf("m%03d@example.com", d))
		o := &memOutbox{rejected: map[string]string{}, wake: make(chan struct{}, 1)}
		o.add(fl.rows(d, 0, rows)...)
		fl.outs[d] = o
		clients[d] = &teamsync.Client{HubURL: f.URL(), Credential: en.Credential, DeviceName: "laptop", Outbox: o, Wake: o.wake,
			BatchSize: 5, Backoff: teamsync.Backoff{Base: 100 * time.Millisecond, Cap: 3 * time.Second},
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	}
	for _, c := range clients {
		running.Go(func() { c.Run(ctx) })
	}
	return fl
}

// rows is daemon d's rows from..from+n.
func (fl *fleet) rows(d, from, n int) []byok.UsageEvent {
	evs := make([]byok.UsageEvent, n)
	for i := range evs {
		evs[i] = byok.UsageEvent{ID: fmt.Sprintf("d%03d-%03d", d, from+i), Time: fl.at.Add(time.Duration(from+i) * time.Second),
			Service: byok.OpenAI, Model: "gpt-4o-mini", Payer: byok.PayerPersonal, Credential: byok.PersonalKey("work"),
			Status: 200, Cost: 7, CostKnown: true}
	}
	return evs
}

// stored counts the rows in the database, and the distinct ones.
func (fl *fleet) stored() (n, distinct int) {
	if err := pgxQueryRow(fl.t, fl.hs[0].pgURL, `SELECT count(*), count(DISTINCT (member, id)) FROM usage`, &n, &distinct); err != nil {
		fl.t.Fatal(err)
	}
	return n, distinct
}

// storedAtLeast waits until the database holds n rows.
func (fl *fleet) storedAtLeast(n int) {
	deadline := time.Now().Add(2 * time.Minute)
	for got, _ := fl.stored(); got < n; got, _ = fl.stored() {
		if time.Now().After(deadline) {
			fl.t.Fatalf("only %d rows stored in two minutes", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (fl *fleet) acked() int {
	n := 0
	for _, o := range fl.outs {
		n += o.ackedRows()
	}
	return n
}

// drained waits until every outbox is empty.
func (fl *fleet) drained() {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		left := 0
		for _, o := range fl.outs {
			left += o.left()
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			n, _ := fl.stored()
			fl.t.Fatalf("%d rows still in the daemons' outboxes after three minutes (%d stored)", left, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// eachOnce checks that the database holds every daemon's rows rows, once
// each, none refused, and that the admin's total says so.
func (fl *fleet) eachOnce(rows int) int {
	t := fl.t
	t.Helper()
	daemons := len(fl.outs)
	n, distinct := fl.stored()
	if want := daemons * rows; n != want || distinct != want {
		t.Errorf("rows in the database: %d, %d distinct; want %d, each once", n, distinct, want)
	}
	for d, o := range fl.outs {
		if len(o.rejected) > 0 {
			t.Errorf("daemon %d: rows refused: %v", d, o.rejected)
		}
	}
	var members, perMember int
	if err := pgxQueryRow(t, fl.hs[0].pgURL, `SELECT count(*), min(c) FROM (SELECT count(*) AS c FROM usage GROUP BY member) m`, &members, &perMember); err != nil {
		t.Fatal(err)
	}
	if members != daemons || perMember != rows {
		t.Errorf("%d members with rows, the fewest %d; want %d each with %d", members, perMember, daemons, rows)
	}
	live := fl.hs[len(fl.hs)-1]
	g, err := live.store.Aggregate(context.Background(), hub.UsageFilter{})
	if err != nil || len(g) != 1 || g[0].Calls != int64(daemons*rows) || g[0].Cost != byok.Micros(7*daemons*rows) {
		t.Errorf("the admin's total: %+v, %v; want %d calls", g, err, daemons*rows)
	}
	return n
}

// TestReplicas_OneReplicaKilledMidSync: 60 daemons spread over two
// replicas behind one address are sending their usage when one replica
// dies (every connection through it cut, its process gone, never back).
// Its daemons reconnect through the same address and land on the other,
// which takes every row left: each is in the database exactly once.
func TestReplicas_OneReplicaKilledMidSync(t *testing.T) {
	if os.Getenv(storeEnv) != "" {
		t.Skip("runs on PostgreSQL in the first run already")
	}
	const daemons, rows = 60, 40
	fl := startFleet(t, daemons, rows)
	a, b := fl.hs[0], fl.hs[1]
	fl.storedAtLeast(daemons * rows / 4)
	fl.f.cut(a.Addr())
	a.stop()
	atKill, _ := fl.stored()
	acked := fl.acked()
	fl.drained()
	fl.eachOnce(rows)
	if on := len(b.Connected()); on != daemons {
		t.Errorf("%d daemons connected to the replica left, want all %d", on, daemons)
	}
	t.Logf("%d rows stored when replica A died, %d of them not acknowledged; every daemon then on B, all %d rows in once",
		atKill, atKill-acked, daemons*rows)
}

// TestReplicas_ReconnectStormAfterEveryReplicaRestarts: 300 daemons,
// spread over two replicas behind one address, are sending their usage
// when both replicas die at once (every connection cut mid-batch). The
// daemons keep recording while the hub is down; the replicas come back on
// a new process each, and the daemons reconnect, jittered by their
// backoff, and send the rest. Every row is in the database exactly once:
// a batch the database committed but whose ack the cut lost comes again
// and is not counted twice.
func TestReplicas_ReconnectStormAfterEveryReplicaRestarts(t *testing.T) {
	if os.Getenv(storeEnv) != "" {
		t.Skip("runs on PostgreSQL in the first run already")
	}
	const (
		daemons = 300
		before  = 40 // rows each daemon has when the test starts
		during  = 20 // and records while the hub is down
	)
	fl := startFleet(t, daemons, before)
	// Cut while the first rows are still arriving.
	fl.storedAtLeast(daemons * before / 3)
	fl.f.cut("")
	for _, h := range fl.hs {
		h.stop()
	}
	atCut, _ := fl.stored()
	ackedAtCut := fl.acked()
	if ackedAtCut > atCut {
		t.Fatalf("daemons were told %d rows are stored, the database holds %d", ackedAtCut, atCut)
	}
	for d, o := range fl.outs {
		o.add(fl.rows(d, before, during)...)
	}
	for i, h := range fl.hs {
		fl.hs[i] = startReplica(t, h.pgURL, h.sealingKey, h.dir, func(c *hub.Config) { c.PublicURL, c.Listen = fl.f.URL(), h.Addr() })
	}
	restarted := fl.f.serve(fl.hs[0].Addr(), fl.hs[1].Addr())
	fl.drained()
	synced := time.Since(restarted)
	n := fl.eachOnce(before + during)

	dials := fl.f.dialsSince(restarted)
	slices.Sort(dials)
	var hist strings.Builder
	for lo := time.Duration(0); lo < dials[len(dials)-1]; lo += 250 * time.Millisecond {
		k := 0
		for _, d := range dials {
			if d >= lo && d < lo+250*time.Millisecond {
				k++
			}
		}
		fmt.Fprintf(&hist, "\n  %5v–%-5v %4d %s", lo, lo+250*time.Millisecond, k, strings.Repeat("#", k/4))
	}
	t.Logf("%d rows stored when both replicas died, %d of them never acknowledged (sent again after the restart); all %d in the database, each once, %v after the restart; "+
		"%d connections after the restart, spread by the daemons' jittered backoff (p10 %v, p50 %v, p90 %v, last %v):%s",
		atCut, atCut-ackedAtCut, n, synced.Round(time.Millisecond), len(dials), pct(dials, 10), pct(dials, 50), pct(dials, 90), dials[len(dials)-1], hist.String())
}

func pct(ds []time.Duration, p int) time.Duration {
	return ds[(len(ds)-1)*p/100].Round(time.Millisecond)
}
