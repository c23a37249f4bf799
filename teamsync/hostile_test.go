package teamsync_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"byokd.dev/byok"
	"byokd.dev/byok/teamsync"
)

// hostileHub answers the sync websocket with play: it gets the accepted
// connection after the daemon's hello.
func hostileHub(t *testing.T, play func(ctx context.Context, conn *websocket.Conn)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != teamsync.SyncPath {
			http.NotFound(w, r)
			return
		}
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		conn.SetReadLimit(teamsync.MaxFrame)
		if _, err := teamsync.ReadMessage(r.Context(), conn); err != nil {
			return
		}
		play(r.Context(), conn)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func welcome(ctx context.Context, conn *websocket.Conn) error {
	return teamsync.WriteMessage(ctx, conn, teamsync.Message{Type: teamsync.TypeWelcome,
		Welcome: &teamsync.Welcome{Protocol: teamsync.Protocol, Member: "ann@example.com", DeviceID: "dev-1"}})
}

// A hub that sends a message over MaxFrame does not get the daemon to read
// it: the daemon drops the connection, says why in its status, keeps every
// row and tries again later.
func TestClient_HostileHubOversizedMessage(t *testing.T) {
	url := hostileHub(t, func(ctx context.Context, conn *websocket.Conn) {
		huge := bytes.Repeat([]byte("A"), teamsync.MaxFrame+1)
		_ = conn.Write(ctx, websocket.MessageText, huge)
		_, _, _ = conn.Read(ctx)
	})
	ob := newOutbox(t)
	ids := ob.record(t, "a", 10)
	asked := make(chan time.Duration)
	c := &teamsync.Client{HubURL: url, Credential: byok.NewSecret("byokd_dev_x"), Outbox: ob, Backoff: fastBackoff,
		After: func(d time.Duration) <-chan time.Time { asked <- d; return make(chan time.Time) }}
	runClient(t, c)
	<-asked // the first session ended and the client waits to retry
	go func() {
		for range asked {
		}
	}()
	if st := c.Status(); st.Connected || !strings.Contains(st.LastError, "read limited") && !strings.Contains(st.LastError, "too big") {
		t.Errorf("status after an oversized message: %+v, want disconnected saying the message was too big", st)
	}
	for _, id := range ids {
		if n := ob.timesSent(id); n != 0 {
			t.Errorf("row %s marked synced %d times by a hub that sent garbage", id, n)
		}
	}
}

// A hub that acknowledges rows it was never sent cannot make the daemon
// forget them: only the batch's own rows leave the outbox.
func TestClient_HostileHubAcksRowsItWasNotSent(t *testing.T) {
	ob := newOutbox(t)
	ids := ob.record(t, "a", 30)
	var mu sync.Mutex
	received := map[string]bool{}
	url := hostileHub(t, func(ctx context.Context, conn *websocket.Conn) {
		if welcome(ctx, conn) != nil {
			return
		}
		for {
			m, err := teamsync.ReadMessage(ctx, conn)
			if err != nil {
				return
			}
			if m.Type != teamsync.TypeUsage {
				continue
			}
			mu.Lock()
			for _, ev := range m.Usage.Events {
				received[ev.ID] = true
			}
			mu.Unlock()
			// Ack the batch, and every other row this hub has heard of.
			if teamsync.WriteMessage(ctx, conn, teamsync.Message{Type: teamsync.TypeAck,
				Ack: &teamsync.Ack{BatchID: m.Usage.BatchID, IDs: ids}}) != nil {
				return
			}
		}
	})
	c := &teamsync.Client{HubURL: url, Credential: byok.NewSecret("byokd_dev_x"), Outbox: ob, BatchSize: 10, Backoff: fastBackoff}
	runClient(t, c)
	ob.waitDrained(t)
	// Every row reached the hub before it left the outbox.
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if !received[id] {
			t.Errorf("row %s left the outbox without being sent", id)
		}
	}
}

// TestClient_RejectedRowsAreKeptMarked: rows the hub refuses leave the
// outbox (they would block it for ever) but stay in the ledger, marked
// with the hub's reason; the rows it stores leave as synced; a rejection
// naming a row the batch did not hold is ignored.
func TestClient_RejectedRowsAreKeptMarked(t *testing.T) {
	ob := newOutbox(t)
	ids := ob.record(t, "r", 4)
	url := hostileHub(t, func(ctx context.Context, conn *websocket.Conn) {
		if welcome(ctx, conn) != nil {
			return
		}
		for {
			m, err := teamsync.ReadMessage(ctx, conn)
			if err != nil {
				return
			}
			if m.Type != teamsync.TypeUsage {
				continue
			}
			var stored []string
			var rejected []teamsync.Rejection
			for i, ev := range m.Usage.Events {
				if i%2 == 0 {
					rejected = append(rejected, teamsync.Rejection{ID: ev.ID, Reason: "the time is off the hub's clock"})
				} else {
					stored = append(stored, ev.ID)
				}
			}
			rejected = append(rejected, teamsync.Rejection{ID: "not-in-the-batch", Reason: "x"})
			if teamsync.WriteMessage(ctx, conn, teamsync.Message{Type: teamsync.TypeAck,
				Ack: &teamsync.Ack{BatchID: m.Usage.BatchID, IDs: stored, Rejected: rejected}}) != nil {
				return
			}
		}
	})
	c := &teamsync.Client{HubURL: url, Credential: byok.NewSecret("byokd_dev_x"), Outbox: ob, BatchSize: 10, Backoff: fastBackoff}
	runClient(t, c)
	ob.waitDrained(t)
	r, err := ob.DB.Rejected(context.Background())
	if err != nil || r.Count != len(ids)/2 || r.Reason != "the time is off the hub's clock" {
		t.Errorf("rejected rows kept: %+v %v, want %d with the hub's reason", r, err, len(ids)/2)
	}
}
