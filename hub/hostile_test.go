package hub_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
	"byokd.dev/byok/teamsync"
)

// Hostile hub peers: each is refused with a clear close status or a
// rejection in the ack, logged, and the hub keeps serving other devices.

// logWatch is a hub log a test can wait on: the hub logs why it ended a
// session after the peer may already have seen the close.
type logWatch struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func watchLog(h *hub.Config) *logWatch {
	l := &logWatch{changed: make(chan struct{})}
	h.Logger = slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return l
}

func (l *logWatch) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	close(l.changed)
	l.changed = make(chan struct{})
	return l.b.Write(p)
}

// waitFor waits until every one of lines is in the log, each n times.
func (l *logWatch) waitFor(t *testing.T, n int, lines ...string) {
	t.Helper()
	guard := time.After(30 * time.Second)
	for {
		l.mu.Lock()
		logs, changed := l.b.String(), l.changed
		l.mu.Unlock()
		missing := ""
		for _, line := range lines {
			if strings.Count(logs, line) < n {
				missing = line
			}
		}
		if missing == "" {
			return
		}
		select {
		case <-changed:
		case <-guard:
			t.Fatalf("the hub's log lacks %s (%d times):\n%s", missing, n, logs)
		}
	}
}

// openSync dials the hub's sync endpoint with a device credential and
// completes the hello.
func openSync(t *testing.T, h *testHub, en teamsync.Enrollment) *websocket.Conn {
	t.Helper()
	conn := connectSync(t, h, en)
	ctx := context.Background()
	if err := teamsync.WriteMessage(ctx, conn, teamsync.Message{Type: teamsync.TypeHello,
		Hello: &teamsync.Hello{Protocol: teamsync.Protocol, Device: "laptop"}}); err != nil {
		t.Fatal(err)
	}
	m, err := teamsync.ReadMessage(ctx, conn)
	if err != nil || m.Type != teamsync.TypeWelcome {
		t.Fatalf("hello answered with %+v, %v; want a welcome", m, err)
	}
	return conn
}

func connectSync(t *testing.T, h *testHub, en teamsync.Enrollment) *websocket.Conn {
	t.Helper()
	u := strings.Replace(h.URL(), "http", "ws", 1) + teamsync.SyncPath
	conn, _, err := websocket.Dial(context.Background(), u, &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + en.Credential.Reveal()}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	return conn
}

// syncBatch sends a usage batch and returns the hub's ack.
func syncBatch(t *testing.T, conn *websocket.Conn, b teamsync.UsageBatch) teamsync.Ack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := teamsync.WriteMessage(ctx, conn, teamsync.Message{Type: teamsync.TypeUsage, Usage: &b}); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := teamsync.ReadMessage(ctx, conn)
		if err != nil {
			t.Fatalf("waiting for the ack of batch %s: %v", b.BatchID, err)
		}
		if m.Type == teamsync.TypeAck && m.Ack != nil && m.Ack.BatchID == b.BatchID {
			return *m.Ack
		}
	}
}

func event(h *testHub, id string) byok.UsageEvent {
	return byok.UsageEvent{ID: id, Time: h.clock.Now(), Service: byok.OpenAI, Model: "gpt-4o-mini",
		Payer: byok.PayerPersonal, Credential: byok.PersonalKey("work"), Status: 200, Cost: 7, CostKnown: true}
}

func rejectedIDs(a teamsync.Ack) string {
	var ids []string
	for _, r := range a.Rejected {
		ids = append(ids, r.ID)
	}
	return strings.Join(ids, ",")
}

// stillServes checks that another device can still sync a row.
func stillServes(t *testing.T, h *testHub, en teamsync.Enrollment, id string) {
	t.Helper()
	ack := syncBatch(t, openSync(t, h, en), teamsync.UsageBatch{BatchID: "ok-" + id, Events: []byok.UsageEvent{event(h, id)}})
	if len(ack.IDs) != 1 || ack.IDs[0] != id {
		t.Errorf("another device's batch after the attack: ack %+v, want %s stored", ack, id)
	}
}

// TestSync_RefusesOversizedAndMalformedMessages sends a message over
// teamsync.MaxFrame (as the hello and after it) and one that is not JSON:
// the hub closes the session with the websocket status saying why, logs a
// warning naming the device, and keeps serving another member.
func TestSync_RefusesOversizedAndMalformedMessages(t *testing.T) {
	var logs *logWatch
	h := startHub(t, func(c *hub.Config) { logs = watchLog(c) })
	mallory, ann := h.join(t, "mallory@example.com"), h.join(t, "ann@example.com")
	seen := map[string]int{}
	huge := append([]byte(`{"type":"usage","usage":{"batch_id":"`), bytes.Repeat([]byte("A"), teamsync.MaxFrame)...)
	huge = append(huge, `"}}`...)
	for _, c := range []struct {
		name   string
		hello  bool // send the hello first
		msg    []byte
		status websocket.StatusCode
		log    string
	}{
		{"oversized hello", false, huge, websocket.StatusMessageTooBig, `msg="sync closed: message over the size limit"`},
		{"oversized batch", true, huge, websocket.StatusMessageTooBig, `msg="sync closed: message over the size limit"`},
		{"not JSON", true, []byte("\x00\x01 definitely not json"), websocket.StatusInvalidFramePayloadData, `msg="sync closed: malformed message"`},
		{"wrong JSON types", true, []byte(`{"type":"usage","usage":{"events":"all of them"}}`), websocket.StatusInvalidFramePayloadData, `msg="sync closed: malformed message"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var conn *websocket.Conn
			if c.hello {
				conn = openSync(t, h, mallory)
			} else {
				conn = connectSync(t, h, mallory)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// The hub may close before it has read everything: the write
			// can fail, the close status must still arrive.
			go conn.Write(ctx, websocket.MessageText, c.msg)
			_, err := teamsync.ReadMessage(ctx, conn)
			if got := websocket.CloseStatus(err); got != c.status {
				t.Errorf("session ended with %v (status %v), want close status %v", err, got, c.status)
			}
			seen[c.log]++
			logs.waitFor(t, seen[c.log], c.log+" component=hub member=mallory@example.com device="+mallory.DeviceID)
			stillServes(t, h, ann, "ann-after-"+strings.ReplaceAll(c.name, " ", "-"))
		})
	}
}

// TestSync_ForgedAndReplayedBatches: a device's batch claims another
// member, reuses another member's row id, carries ids and services the
// hub cannot accept, and is then sent again. Rows are stored only as the
// device's own member's, another member's row is untouched, bad rows are
// rejected in the ack (so an honest daemon stops resending them), the
// replay doubles nothing, and each refusal is logged.
func TestSync_ForgedAndReplayedBatches(t *testing.T) {
	var logs *logWatch
	h := startHub(t, func(c *hub.Config) { logs = watchLog(c) })
	ctx := context.Background()
	mallory, bob := h.join(t, "mallory@example.com"), h.join(t, "bob@example.com")
	bobs := event(h, "shared-id")
	bobs.Cost = 1234
	if ack := syncBatch(t, openSync(t, h, bob), teamsync.UsageBatch{BatchID: "bob-1", Events: []byok.UsageEvent{bobs}}); len(ack.IDs) != 1 {
		t.Fatalf("bob's batch: ack %+v", ack)
	}

	claim := event(h, "m-1")
	claim.Member = "bob@example.com"
	reuse := event(h, "shared-id") // bob's id
	badService := event(h, "m-2")
	badService.Service = "evil"
	control := event(h, "m-\n3")
	long := event(h, strings.Repeat("x", 129))
	batch := teamsync.UsageBatch{BatchID: "forged", Events: []byok.UsageEvent{claim, reuse, badService, control, long}}
	conn := openSync(t, h, mallory)
	for try := range 2 { // the second is a replay
		ack := syncBatch(t, conn, batch)
		if strings.Join(ack.IDs, ",") != "m-1,shared-id" || rejectedIDs(ack) != "m-2,m-\n3" {
			t.Errorf("try %d: ack stored %q, rejected %q; want m-1 and shared-id stored, m-2 and the control-character id rejected (the over-long id is not echoed)",
				try, ack.IDs, rejectedIDs(ack))
		}
	}

	rows, err := h.store.Usage(ctx, hub.UsageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, r := range rows {
		got[r.Member+" "+r.ID]++
		if r.Member == "bob@example.com" && r.Cost != 1234 {
			t.Errorf("bob's row was changed by another member's batch: %+v", r)
		}
	}
	want := map[string]int{"bob@example.com shared-id": 1, "mallory@example.com m-1": 1, "mallory@example.com shared-id": 1}
	if len(got) != len(want) || len(rows) != len(want) {
		t.Errorf("hub rows %v, want each of %v once", got, want)
	}
	for k := range want {
		if got[k] != 1 {
			t.Errorf("row %q stored %d times, want once", k, got[k])
		}
	}
	logs.waitFor(t, 2, `msg="usage events claim another member; stored as the device's member's" component=hub member=mallory@example.com`,
		`msg="usage events rejected" component=hub member=mallory@example.com`)
	// A rejected row is answered in the ack; the session goes on.
	if ack := syncBatch(t, conn, teamsync.UsageBatch{BatchID: "honest", Events: []byok.UsageEvent{event(h, "m-4")}}); len(ack.IDs) != 1 {
		t.Errorf("mallory's next batch: ack %+v, want m-4 stored", ack)
	}
}

// TestSync_RowsThatWouldFalsifyTheBooks: a hostile daemon syncs rows that
// would lower or raise the figures the admin bills from. Each is refused
// in the ack with a reason the member's daemon keeps; team spend comes
// only from what the hub relayed itself; honest rows in the same batch
// are stored.
func TestSync_RowsThatWouldFalsifyTheBooks(t *testing.T) {
	h := startHub(t, nil)
	ctx := context.Background()
	mallory := h.join(t, "mallory@example.com")
	now := h.clock.Now()
	bad := map[string]func(e *byok.UsageEvent){
		"negative-tokens":  func(e *byok.UsageEvent) { e.Usage.InputTokens = -1_000_000 },
		"negative-cost":    func(e *byok.UsageEvent) { e.Cost = -5_000_000 },
		"absurd-tokens":    func(e *byok.UsageEvent) { e.Usage.OutputTokens = 1 << 62 },
		"future":           func(e *byok.UsageEvent) { e.Time = now.Add(72 * time.Hour) },
		"ancient":          func(e *byok.UsageEvent) { e.Time = now.AddDate(-2, 0, 0) },
		"payer-boss":       func(e *byok.UsageEvent) { e.Payer, e.Credential.Payer = "boss", "boss" },
		"cred-mismatch":    func(e *byok.UsageEvent) { e.Credential = byok.TeamKey("team-openai") },
		"escape-model":     func(e *byok.UsageEvent) { e.Model = "gpt-4o\x1b]0;owned\x07" },
		"long-app":         func(e *byok.UsageEvent) { e.App = strings.Repeat("a", 600) },
		"unknown-nonzero":  func(e *byok.UsageEvent) { e.CostKnown = false },
		"team-not-relayed": func(e *byok.UsageEvent) { e.Payer, e.Credential = byok.PayerTeam, byok.TeamKey("team-openai") },
		"team-zero-claim": func(e *byok.UsageEvent) {
			e.Payer, e.Credential, e.Cost = byok.PayerTeam, byok.TeamKey("team-openai"), 0
		},
	}
	var evs []byok.UsageEvent
	for id, mod := range bad {
		e := event(h, id)
		mod(&e)
		evs = append(evs, e)
	}
	refusedTry := event(h, "team-refused-try") // the hub refused it: a 403 that cost nothing
	refusedTry.Payer, refusedTry.Credential, refusedTry.Status, refusedTry.Cost = byok.PayerTeam, byok.TeamKey("openai"), 403, 0
	evs = append(evs, event(h, "honest"), refusedTry)
	ack := syncBatch(t, openSync(t, h, mallory), teamsync.UsageBatch{BatchID: "b", Events: evs})

	if got := strings.Join(ack.IDs, ","); got != "honest,team-refused-try" {
		t.Errorf("stored %q, want only the honest row and the refused try", got)
	}
	reasons := map[string]string{}
	for _, r := range ack.Rejected {
		reasons[r.ID] = r.Reason
	}
	for id := range bad {
		if reasons[id] == "" {
			t.Errorf("%s: not rejected with a reason (ack %+v)", id, ack)
		}
	}
	if !strings.Contains(reasons["team-not-relayed"], "the hub relayed no call under this id") {
		t.Errorf("team row the hub never relayed: reason %q", reasons["team-not-relayed"])
	}
	rows, err := h.store.Usage(ctx, hub.UsageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var team byok.Micros
	for _, r := range rows {
		if r.Payer == byok.PayerTeam {
			team += r.Cost
		}
	}
	if len(rows) != 2 || team != 0 {
		t.Errorf("hub holds %d rows with %s of team spend, want the 2 stored rows and no team spend", len(rows), team)
	}
	st, err := h.admin.Status(ctx)
	if err != nil || st.Rejected != int64(len(bad)) {
		t.Errorf("hub status counts %d rejected rows (%v), want %d", st.Rejected, err, len(bad))
	}
}
