//go:build linux

package main

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/teamsync"
)

// ingestMembers prefixes the emails of the simulated daemons' members, so
// that their rows are counted apart from the relay's.
const ingestMembers = "ingest-"

// fleet is the daemons of the ingest figure, simulated on their sync side
// only: 100 real daemons would be 100 processes on two cores, and what
// reaches the hub of a daemon is its teamsync.Client, which the bench runs
// itself, one per device, each enrolled with an invite of its own.
type fleet struct {
	hub   *teamHub
	creds []byok.Secret // one device credential per simulated daemon
	runs  int           // ingest runs so far, to keep each run's row ids apart
}

// enroll invites n members through the hub's admin API and joins a device
// for each with teamsync.Join, as `byokd join` does.
func enroll(ctx context.Context, h *teamHub, n int) (*fleet, error) {
	f := &fleet{hub: h}
	for i := range n {
		inv, err := h.admin.Invite(ctx, fmt.Sprintf("%s%03d@bench.invalid", ingestMembers, i), 0)
		if err != nil {
			return nil, fmt.Errorf("invite simulated member %d: %w", i, err)
		}
		enr, err := teamsync.Join(ctx, h.url, inv.Code, fmt.Sprintf("bench-device-%03d", i), false)
		if err != nil {
			return nil, fmt.Errorf("join simulated device %d: %w", i, err)
		}
		f.creds = append(f.creds, enr.Credential)
	}
	return f, nil
}

// ingestResult is one ingest run.
type ingestResult struct {
	sent, stored, rejected int64
	elapsed                time.Duration
	hubCPU                 time.Duration
}

// ingest connects every device, waits until all are welcomed, then gives
// each an outbox of rows pre-made rows at the same moment and times until
// the hub has acknowledged them all. The hub acknowledges a batch after
// committing it, so the last ack is the last commit; the rows in the hub's
// database are counted afterwards, to check that each was committed once.
func (f *fleet) ingest(ctx context.Context, rows int) (ingestResult, error) {
	var res ingestResult
	f.runs++
	before, err := f.stored(ctx)
	if err != nil {
		return res, err
	}
	ctx, cancel := context.WithCancel(ctx)
	var running sync.WaitGroup
	defer func() { cancel(); running.Wait() }()
	boxes := make([]*outbox, len(f.creds))
	var connected sync.WaitGroup
	for i, cred := range f.creds {
		boxes[i] = newOutbox()
		var once sync.Once
		connected.Add(1)
		c := &teamsync.Client{
			HubURL: f.hub.url, Credential: cred, DeviceName: fmt.Sprintf("bench-device-%03d", i),
			Outbox: boxes[i], Wake: boxes[i].wake,
			OnStatus: func(s teamsync.Status) {
				if s.Connected {
					once.Do(connected.Done)
				}
			},
		}
		running.Go(func() { _ = c.Run(ctx) })
	}
	if err := waitGroup(ctx, &connected, 30*time.Second); err != nil {
		return res, fmt.Errorf("connect %d simulated daemons to the hub: %w", len(f.creds), err)
	}
	start := time.Now().UTC()
	for i, b := range boxes {
		b.fill(usageRows(fmt.Sprintf("r%d-d%03d", f.runs, i), rows, start))
	}
	cpu0, err := cpuTime(f.hub.proc.pid())
	if err != nil {
		return res, err
	}
	t0 := time.Now()
	for _, b := range boxes {
		b.wake <- struct{}{}
	}
	var drained sync.WaitGroup
	for _, b := range boxes {
		drained.Go(func() {
			select {
			case <-b.empty:
			case <-ctx.Done():
			}
		})
	}
	if err := waitGroup(ctx, &drained, 5*time.Minute); err != nil {
		return res, fmt.Errorf("sync %d rows to the hub: %w", len(boxes)*rows, err)
	}
	res.elapsed = time.Since(t0)
	cpu1, err := cpuTime(f.hub.proc.pid())
	if err != nil {
		return res, err
	}
	res.hubCPU = cpu1 - cpu0
	after, err := f.stored(ctx)
	if err != nil {
		return res, err
	}
	res.sent, res.stored = int64(len(boxes)*rows), after-before
	for _, b := range boxes {
		res.rejected += b.rejected
	}
	return res, nil
}

// stored counts the simulated members' rows in the hub's database, read
// only while the hub writes it (WAL).
func (f *fleet) stored(ctx context.Context) (int64, error) {
	db, err := sql.Open("sqlite", "file:"+f.hub.dbPath()+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return 0, fmt.Errorf("open the hub's database: %w", err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM usage WHERE member LIKE ?", ingestMembers+"%").Scan(&n); err != nil {
		return 0, fmt.Errorf("count the hub's rows: %w", err)
	}
	return n, nil
}

// waitGroup waits for wg, at most d.
func waitGroup(ctx context.Context, wg *sync.WaitGroup, d time.Duration) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(d):
		return fmt.Errorf("not done within %s", d)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// usageRows makes n rows such as a daemon's ledger holds after n calls of
// a chat client, a second apart up to at.
func usageRows(prefix string, n int, at time.Time) []byok.UsageEvent {
	evs := make([]byok.UsageEvent, n)
	for i := range evs {
		evs[i] = byok.UsageEvent{
			ID: fmt.Sprintf("bench-%s-%06d", prefix, i), Time: at.Add(time.Duration(i-n) * time.Second),
			Service: byok.OpenAI, Model: "gpt-4o-mini", App: "bench", Project: "bench",
			Credential: byok.PersonalKey("bench"), Payer: byok.PayerPersonal, Status: 200,
			Usage: byok.Usage{Model: "gpt-4o-mini", InputTokens: 132, OutputTokens: 45, CacheReadTokens: 30, Complete: true},
			Cost:  50, CostKnown: true, Latency: 420 * time.Millisecond,
		}
	}
	return evs
}

// outbox is one simulated daemon's outbox in memory: what
// teamsync.Client reads and marks, as it does the ledger's.
type outbox struct {
	mu       sync.Mutex
	pending  []byok.UsageEvent
	rejected int64
	wake     chan struct{} // the client's Wake
	empty    chan struct{} // closed once filled rows are all marked
	filled   bool
}

var _ teamsync.Outbox = (*outbox)(nil)

func newOutbox() *outbox {
	return &outbox{wake: make(chan struct{}, 1), empty: make(chan struct{})}
}

func (o *outbox) fill(evs []byok.UsageEvent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pending = append(o.pending, evs...)
	o.filled = true
}

func (o *outbox) Outbox(_ context.Context, limit int) ([]byok.UsageEvent, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]byok.UsageEvent(nil), o.pending[:min(limit, len(o.pending))]...), nil
}

func (o *outbox) MarkSynced(_ context.Context, ids []string) error {
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	o.forget(len(ids), func(id string) bool { return set[id] })
	return nil
}

func (o *outbox) MarkRejected(_ context.Context, reasons map[string]string) error {
	o.mu.Lock()
	o.rejected += int64(len(reasons))
	o.mu.Unlock()
	o.forget(len(reasons), func(id string) bool { _, ok := reasons[id]; return ok })
	return nil
}

// forget drops the rows named; the client marks rows of the batch it
// sent, the oldest, so the scan stops after n.
func (o *outbox) forget(n int, named func(string) bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	kept := o.pending[:0]
	for _, e := range o.pending {
		if n > 0 && named(e.ID) {
			n--
			continue
		}
		kept = append(kept, e)
	}
	o.pending = kept
	if o.filled && len(o.pending) == 0 {
		select {
		case <-o.empty:
		default:
			close(o.empty)
		}
	}
}
