package teamsync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/coder/websocket"

	"byokd.dev/byok"
)

// Outbox is the part of the daemon's ledger the client needs.
type Outbox interface {
	// Outbox returns up to limit events not yet acknowledged, oldest first.
	Outbox(ctx context.Context, limit int) ([]byok.UsageEvent, error)
	// MarkSynced forgets events the hub acknowledged.
	MarkSynced(ctx context.Context, ids []string) error
	// MarkRejected takes events the hub refused out of the outbox and
	// keeps them marked with the hub's reason, by id.
	MarkRejected(ctx context.Context, reasons map[string]string) error
}

// ErrRevoked: the hub refused the device credential (revoked, or from
// another hub). It wraps byok.ErrUnauthorized.
var ErrRevoked = fmt.Errorf("%w: the hub refused this device's credential (revoked or unknown): join again with `byokd join HUB` (the code on standard input)", byok.ErrUnauthorized)

// Client keeps a daemon in sync with its team hub: it sends the outbox in
// acknowledged batches, reports the key inventory and receives the team
// policy, reconnecting with backoff whenever the link drops. Fill in the
// fields, then call Run once. Status is safe to call concurrently.
type Client struct {
	// HubURL is the hub's base URL (https://hub:8443). Plain http is
	// refused for a hub off this machine unless Insecure.
	HubURL     string
	Credential byok.Secret // the device credential from Join
	DeviceName string      // shown in the admin's device list
	Outbox     Outbox      // required
	// Inventory, if set, is sent after every connect and whenever
	// InventoryChanged fires.
	Inventory        func(ctx context.Context) (Inventory, error)
	InventoryChanged <-chan struct{}
	// OnPolicy receives the hub's policy on connect when its version
	// differs from the one held, and every policy the hub pushes. It must
	// not block for long.
	OnPolicy func(byok.Policy)
	// PolicyVersion is the version of the policy the daemon holds at start.
	PolicyVersion int64
	// OnPrices receives the team's price table on connect when its
	// version differs from the one held, and every table the hub pushes.
	OnPrices func(PriceTable)
	// PricesVersion is the version of the price table held at start.
	PricesVersion int64
	// OnStatus, if set, is called whenever Status changes.
	OnStatus func(Status)
	// Wake signals that new rows are in the outbox. The client also polls
	// every Poll (default 30s).
	Wake <-chan struct{}
	Poll time.Duration
	// BatchSize is the most events per batch; default BatchSize.
	BatchSize int
	Logger    *slog.Logger
	Now       func() time.Time // default time.Now
	Insecure  bool
	// Backoff spaces reconnects; After waits (default time.After). Both
	// are injected by tests.
	Backoff Backoff
	After   func(time.Duration) <-chan time.Time
	// HTTPClient dials the websocket (custom CAs); default http.DefaultClient.
	HTTPClient *http.Client

	mu     sync.Mutex
	status Status
	policy int64
}

// Status is the hub link at a glance.
type Status struct {
	Connected bool      `json:"connected"`
	Member    string    `json:"member,omitempty"`
	DeviceID  string    `json:"device_id,omitempty"`
	LastSync  time.Time `json:"last_sync,omitzero"`   // the last ack
	LastError string    `json:"last_error,omitempty"` // why the link last failed
	// Revoked: the hub refused this device's credential; only joining
	// again mends the link.
	Revoked       bool  `json:"revoked,omitempty"`
	PolicyVersion int64 `json:"policy_version"`
}

// Status returns the link's current state.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

func (c *Client) update(f func(*Status)) {
	c.mu.Lock()
	f(&c.status)
	s := c.status
	c.mu.Unlock()
	if c.OnStatus != nil {
		c.OnStatus(s)
	}
}

func (c *Client) fill() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Logger = c.Logger.With("component", "teamsync")
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.After == nil {
		c.After = time.After
	}
	if c.Poll <= 0 {
		c.Poll = 30 * time.Second
	}
	if c.BatchSize <= 0 || c.BatchSize > MaxBatch {
		c.BatchSize = BatchSize
	}
	if c.HTTPClient == nil {
		c.HTTPClient = http.DefaultClient
	}
	c.policy = c.PolicyVersion
	c.status.PolicyVersion = c.PolicyVersion
}

// Run keeps the link up until ctx ends, then returns nil. It returns an
// error at once only for a configuration that can never work (a missing
// outbox or credential, a plain-http hub off this machine).
func (c *Client) Run(ctx context.Context) error {
	base, err := HubURL(c.HubURL, c.Insecure)
	if err != nil {
		return err
	}
	if c.Outbox == nil || c.Credential.IsZero() {
		return errors.New("teamsync: Outbox and Credential are required")
	}
	c.fill()
	wsURL := *base
	wsURL.Scheme = map[string]string{"https": "wss", "http": "ws"}[base.Scheme]
	for n := 0; ; n++ {
		progressed, err := c.session(ctx, &wsURL)
		if ctx.Err() != nil {
			c.update(func(s *Status) { s.Connected = false })
			return nil
		}
		// A welcome alone is no progress: a hub that accepts the hello and
		// then cannot store a batch (its disk is full) must see the waits
		// grow, not a reconnect every half second from every daemon.
		if progressed {
			n = 0
		}
		c.update(func(s *Status) { s.Connected, s.LastError, s.Revoked = false, errText(err), errors.Is(err, ErrRevoked) })
		d := c.Backoff.Delay(n)
		c.Logger.Info("hub link down; retrying", "err", err, "retryIn", d.Round(time.Millisecond))
		select {
		case <-c.After(d):
		case <-ctx.Done():
			return nil
		}
	}
}

func errText(err error) string {
	if err == nil {
		return "the hub closed the connection"
	}
	return err.Error()
}

// session runs one connection until it fails; progressed says the hub
// acknowledged a batch, or there was nothing to send.
func (c *Client) session(ctx context.Context, wsURL *url.URL) (progressed bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dctx, dcancel := context.WithTimeout(ctx, HelloTimeout)
	conn, resp, err := websocket.Dial(dctx, endpoint(wsURL, SyncPath), &websocket.DialOptions{
		HTTPClient: c.HTTPClient,
		HTTPHeader: http.Header{"Authorization": {"Bearer " + c.Credential.Reveal()}},
	})
	dcancel()
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return false, ErrRevoked
		}
		if resp != nil {
			return false, fmt.Errorf("connect to the hub: %s", resp.Status)
		}
		return false, fmt.Errorf("connect to the hub: %w", err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(MaxFrame)

	c.mu.Lock()
	held := c.policy
	c.mu.Unlock()
	if err := write(ctx, conn, Message{Type: TypeHello, Hello: &Hello{Protocol: Protocol, Device: c.DeviceName, PolicyVersion: held}}); err != nil {
		return false, err
	}
	hctx, hcancel := context.WithTimeout(ctx, HelloTimeout)
	m, err := read(hctx, conn)
	hcancel()
	if err != nil {
		return false, err
	}
	if m.Type != TypeWelcome || m.Welcome == nil {
		return false, fmt.Errorf("hub answered the hello with %q, not a welcome", m.Type)
	}
	w := m.Welcome
	c.update(func(s *Status) {
		s.Connected, s.Member, s.DeviceID, s.LastError, s.Revoked = true, w.Member, w.DeviceID, "", false
	})
	c.Logger.Info("hub link up", "member", w.Member, "device", w.DeviceID)
	c.applyPolicy(w.Policy, true)
	if w.Prices != nil {
		c.applyPrices(*w.Prices, true)
	}

	acks := make(chan Ack, 8)
	readErr := make(chan error, 1)
	go func() {
		for {
			m, err := read(ctx, conn)
			if err != nil {
				readErr <- err
				return
			}
			switch m.Type {
			case TypeAck:
				if m.Ack != nil {
					select {
					case acks <- *m.Ack:
					case <-ctx.Done():
						return
					}
				}
			case TypePolicy:
				if m.Policy != nil {
					c.applyPolicy(*m.Policy, false)
				}
			case TypePrices:
				if m.Prices != nil {
					c.applyPrices(*m.Prices, false)
				}
			case TypeError:
				if m.Error != nil {
					c.Logger.Warn("hub reported an error", "message", m.Error.Message)
				}
			}
		}
	}()
	if err := c.sendInventory(ctx, conn); err != nil {
		return false, err
	}
	err = c.pump(ctx, conn, acks, readErr, &progressed)
	return progressed, err
}

// pump sends outbox batches one at a time, each after the previous one's
// ack, and waits for new rows when the outbox is empty. It sets
// progressed at the first ack or empty outbox.
func (c *Client) pump(ctx context.Context, conn *websocket.Conn, acks <-chan Ack, readErr <-chan error, progressed *bool) error {
	poll := time.NewTicker(c.Poll)
	defer poll.Stop()
	for {
		evs, err := c.Outbox.Outbox(ctx, c.BatchSize)
		if err != nil {
			return fmt.Errorf("read the outbox: %w", err)
		}
		if len(evs) > 0 {
			if err := c.sendBatch(ctx, conn, evs, acks, readErr); err != nil {
				return err
			}
			*progressed = true
			continue
		}
		*progressed = true
		select {
		case <-ctx.Done():
			conn.Close(websocket.StatusNormalClosure, "daemon stopping")
			return ctx.Err()
		case err := <-readErr:
			return closeReason(err)
		case <-c.Wake:
		case <-poll.C:
			pctx, cancel := context.WithTimeout(ctx, HelloTimeout)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return fmt.Errorf("hub did not answer a ping: %w", err)
			}
		case <-c.InventoryChanged:
			if err := c.sendInventory(ctx, conn); err != nil {
				return err
			}
		}
	}
}

func (c *Client) sendBatch(ctx context.Context, conn *websocket.Conn, evs []byok.UsageEvent, acks <-chan Ack, readErr <-chan error) error {
	id := newBatchID()
	if err := write(ctx, conn, Message{Type: TypeUsage, Usage: &UsageBatch{BatchID: id, Events: evs}}); err != nil {
		return err
	}
	timer := time.NewTimer(AckTimeout)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			return closeReason(err)
		case <-timer.C:
			return fmt.Errorf("hub did not acknowledge a batch of %d events within %s", len(evs), AckTimeout)
		case a := <-acks:
			if a.BatchID != id {
				continue // an ack of a batch from before a timeout: harmless
			}
			// Only rows of this batch leave the outbox, whatever else
			// the hub names: a hub cannot make the daemon forget a row
			// it never received.
			ids, rejected, foreign := batchIDs(evs, a)
			if foreign > 0 {
				c.Logger.Warn("hub acknowledged events that were not in the batch; ignored", "count", foreign)
			}
			if len(rejected) > 0 {
				if err := c.Outbox.MarkRejected(ctx, rejected); err != nil {
					return fmt.Errorf("mark %d events rejected: %w", len(rejected), err)
				}
				c.Logger.Warn("the hub rejected usage events; they are kept, marked (byokd status)", "count", len(rejected))
			}
			if err := c.Outbox.MarkSynced(ctx, ids); err != nil {
				return fmt.Errorf("mark %d events synced: %w", len(ids), err)
			}
			now := c.Now()
			c.update(func(s *Status) { s.LastSync = now })
			return nil
		}
	}
}

// batchIDs returns the ids a stores that were in evs, the rejected ones
// with their reasons, and how many it named that were not in evs.
func batchIDs(evs []byok.UsageEvent, a Ack) (ids []string, rejected map[string]string, foreign int) {
	sent := make(map[string]bool, len(evs))
	for _, ev := range evs {
		sent[ev.ID] = true
	}
	rejected = map[string]string{}
	for _, r := range a.Rejected {
		if sent[r.ID] {
			rejected[r.ID] = r.Reason
			sent[r.ID] = false // named twice counts once
		} else {
			foreign++
		}
	}
	for _, id := range a.IDs {
		if sent[id] {
			ids = append(ids, id)
			sent[id] = false
		} else {
			foreign++
		}
	}
	return ids, rejected, foreign
}

func (c *Client) sendInventory(ctx context.Context, conn *websocket.Conn) error {
	if c.Inventory == nil {
		return nil
	}
	inv, err := c.Inventory(ctx)
	if err != nil {
		c.Logger.Warn("key inventory not sent", "err", err)
		return nil
	}
	return write(ctx, conn, Message{Type: TypeInventory, Inventory: &inv})
}

// applyPolicy hands p to OnPolicy: on connect only if it is not the one
// held, on a push always.
func (c *Client) applyPolicy(p byok.Policy, onConnect bool) {
	c.mu.Lock()
	same := p.Version == c.policy
	c.policy = p.Version
	c.mu.Unlock()
	c.update(func(s *Status) { s.PolicyVersion = p.Version })
	if (same && onConnect) || c.OnPolicy == nil {
		return
	}
	c.OnPolicy(p)
}

// applyPrices hands t to OnPrices: on connect only if it is not the one
// held, on a push always.
func (c *Client) applyPrices(t PriceTable, onConnect bool) {
	c.mu.Lock()
	same := t.Version == c.PricesVersion
	c.PricesVersion = t.Version
	c.mu.Unlock()
	if (same && onConnect) || c.OnPrices == nil {
		return
	}
	c.OnPrices(t)
}

func newBatchID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
