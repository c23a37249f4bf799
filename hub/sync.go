package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coder/websocket"

	"byokd.dev/byok"
	"byokd.dev/byok/teamsync"
)

// syncSession is one connected daemon.
type syncSession struct {
	conn *websocket.Conn
	dev  Device
	// mu orders the welcome before any pushed policy: pushes wait for it
	// and skip sessions not yet welcomed (the welcome carries the policy).
	mu       sync.Mutex
	welcomed bool
}

// sessions tracks connected daemons, for policy pushes, revocation and
// shutdown.
type sessions struct {
	mu     sync.Mutex
	all    map[*syncSession]struct{}
	closed bool
	wg     sync.WaitGroup
}

func newSessions() *sessions { return &sessions{all: map[*syncSession]struct{}{}} }

func (ss *sessions) add(s *syncSession) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return false
	}
	ss.all[s] = struct{}{}
	ss.wg.Add(1)
	return true
}

func (ss *sessions) remove(s *syncSession) {
	ss.mu.Lock()
	delete(ss.all, s)
	ss.mu.Unlock()
	ss.wg.Done()
}

func (ss *sessions) list() []*syncSession {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	out := make([]*syncSession, 0, len(ss.all))
	for s := range ss.all {
		out = append(out, s)
	}
	return out
}

// closeAll ends every session (the hub is stopping) and refuses new ones.
func (ss *sessions) closeAll() {
	ss.mu.Lock()
	ss.closed = true
	ss.mu.Unlock()
	for _, s := range ss.list() {
		go s.conn.Close(websocket.StatusGoingAway, "byokd hub stopping")
	}
}

func (ss *sessions) wait() { ss.wg.Wait() }

// connected counts sessions per device id.
func (ss *sessions) connected() map[string]int {
	out := map[string]int{}
	for _, s := range ss.list() {
		out[s.dev.ID]++
	}
	return out
}

// sync serves one daemon's websocket: hello → welcome, then usage batches
// (acked after commit) and inventory reports until the connection ends.
func (s *Server) sync(w http.ResponseWriter, r *http.Request) {
	dev, ok := s.device(r)
	if !ok {
		writeErr(w, http.StatusUnauthorized, "unauthorized", teamsync.ErrRevoked.Error())
		return
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered
	}
	defer conn.CloseNow()
	conn.SetReadLimit(teamsync.MaxFrame)
	ses := &syncSession{conn: conn, dev: dev}
	if !s.sessions.add(ses) {
		conn.Close(websocket.StatusGoingAway, "byokd hub stopping")
		return
	}
	defer s.sessions.remove(ses)
	ctx := r.Context()
	log := s.log.With("member", dev.Member, "device", dev.ID)

	hctx, cancel := context.WithTimeout(ctx, teamsync.HelloTimeout)
	m, err := teamsync.ReadMessage(hctx, conn)
	cancel()
	if err != nil {
		logReadEnd(log, err)
		return
	}
	if m.Type != teamsync.TypeHello || m.Hello == nil {
		conn.Close(teamsync.CloseBadHello, "byokd hub: the first message must be a hello")
		return
	}
	if m.Hello.Protocol != teamsync.Protocol {
		log.Warn("sync refused: protocol version", "theirs", m.Hello.Protocol, "ours", teamsync.Protocol)
		conn.Close(teamsync.CloseProtocol, fmt.Sprintf("byokd hub speaks sync protocol %d, this daemon %d: upgrade the older byokd",
			teamsync.Protocol, m.Hello.Protocol))
		return
	}
	_ = s.cfg.Store.SeenDevice(ctx, dev.ID, s.cfg.Now())
	ses.mu.Lock()
	welcome := teamsync.Message{Type: teamsync.TypeWelcome, Welcome: &teamsync.Welcome{
		Protocol: teamsync.Protocol, Member: dev.Member, DeviceID: dev.ID, Policy: *s.policy.Load(),
	}}
	if t := s.Prices(); t.Version > 0 {
		welcome.Welcome.Prices = &t
	}
	err = teamsync.WriteMessage(ctx, conn, welcome)
	ses.welcomed = err == nil
	ses.mu.Unlock()
	if err != nil {
		return
	}
	log.Info("daemon connected", "deviceName", m.Hello.Device)
	for {
		m, err := teamsync.ReadMessage(ctx, conn)
		if err != nil {
			logReadEnd(log, err)
			return
		}
		switch m.Type {
		case teamsync.TypeUsage:
			if m.Usage == nil {
				continue
			}
			ack, err := s.ingest(ctx, dev, m.Usage)
			if err != nil {
				log.Error("usage batch not stored; the daemon keeps it and sends it again", "events", len(m.Usage.Events), "err", err)
				_ = teamsync.WriteMessage(ctx, conn, teamsync.Message{Type: teamsync.TypeError,
					Error: &teamsync.Error{Message: "byokd hub: usage batch not stored; it will be retried"}})
				conn.Close(websocket.StatusInternalError, "byokd hub: usage not stored (see the hub's log); it will be sent again")
				return
			}
			if err := teamsync.WriteMessage(ctx, conn, teamsync.Message{Type: teamsync.TypeAck, Ack: ack}); err != nil {
				return
			}
		case teamsync.TypeInventory:
			if m.Inventory != nil {
				if err := s.cfg.Store.SetInventory(ctx, dev.ID, *m.Inventory, s.cfg.Now()); err != nil {
					log.Error("key inventory not stored", "err", err)
				}
			}
		default:
			_ = teamsync.WriteMessage(ctx, conn, teamsync.Message{Type: teamsync.TypeError,
				Error: &teamsync.Error{Message: fmt.Sprintf("byokd hub: unknown message type %q", m.Type)}})
		}
	}
}

// logReadEnd logs why a daemon's session ended: a refused message (over
// teamsync.MaxFrame, or not a JSON message) as a warning naming it, since
// coder/websocket has already closed the connection with a status saying
// so; anything else as a disconnect.
func logReadEnd(log *slog.Logger, err error) {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, websocket.ErrMessageTooBig):
		log.Warn("sync closed: message over the size limit", "limit", teamsync.MaxFrame)
	case errors.As(err, &syntax), errors.As(err, &typ):
		log.Warn("sync closed: malformed message", "err", err)
	default:
		log.Info("daemon disconnected", "reason", websocket.CloseStatus(err))
	}
}

// maxID bounds event ids and the free-text fields of synced rows.
const (
	maxID   = 128
	maxText = 512
)

func validID(id string) bool {
	return id != "" && len(id) <= maxID && !strings.ContainsFunc(id, func(r rune) bool { return r < 0x21 || r == 0x7f })
}

// ingest stores a batch for the device's member and returns its ack.
// Every row is checked first (checkRow); a row claiming the team paid is
// stored only where the hub relayed that call itself, or where it cost
// nothing. Refused rows are named in the ack with the reason.
func (s *Server) ingest(ctx context.Context, dev Device, b *teamsync.UsageBatch) (*teamsync.Ack, error) {
	ack := &teamsync.Ack{BatchID: b.BatchID, IDs: []string{}}
	reject := func(id, why string) {
		if id != "" && len(id) <= maxID {
			ack.Rejected = append(ack.Rejected, teamsync.Rejection{ID: id, Reason: why})
		}
	}
	for _, u := range b.Unreadable {
		reject(u.ID, u.Reason)
	}
	if len(b.Events)+len(b.Unreadable) > teamsync.MaxBatch {
		for _, e := range b.Events {
			reject(e.ID, fmt.Sprintf("the batch holds more than %d rows", teamsync.MaxBatch))
		}
		return ack, nil
	}
	now := s.cfg.Now()
	keep := make([]byok.UsageEvent, 0, len(b.Events))
	var teamIDs []string
	claimed := 0 // rows naming another member; a daemon's own rows name none
	for _, e := range b.Events {
		if why := checkRow(&e, now); why != "" {
			reject(e.ID, why)
			continue
		}
		if e.Member != "" && e.Member != dev.Member {
			claimed++
		}
		e.Member = dev.Member // never trust a member from the client
		if e.Payer == byok.PayerTeam {
			teamIDs = append(teamIDs, e.ID)
		}
		keep = append(keep, e)
	}
	relayed, err := s.cfg.Store.HubMetered(ctx, dev.Member, teamIDs)
	if err != nil {
		return nil, err
	}
	stored := keep[:0]
	for _, e := range keep {
		if e.Payer == byok.PayerTeam && !relayed[e.ID] {
			// The team's spend comes from the hub's own metering: a
			// team row the hub never relayed is at most a refused try.
			if e.Status < 400 || e.Cost != 0 || e.Usage.InputTokens|e.Usage.OutputTokens != 0 {
				reject(e.ID, "the row says the team paid, but the hub relayed no call under this id; team spend is counted only from the hub's own metering")
				continue
			}
		}
		stored = append(stored, e)
		ack.IDs = append(ack.IDs, e.ID)
	}
	if claimed > 0 {
		s.log.Warn("usage events claim another member; stored as the device's member's", "member", dev.Member, "device", dev.ID, "count", claimed)
	}
	if len(ack.Rejected) > 0 {
		s.rejected.Add(int64(len(ack.Rejected)))
		s.log.Warn("usage events rejected", "member", dev.Member, "device", dev.ID, "count", len(ack.Rejected), "first_reason", ack.Rejected[0].Reason)
	}
	if len(stored) == 0 {
		return ack, nil
	}
	if err := s.cfg.Store.IngestUsage(ctx, dev.Member, dev.ID, stored); err != nil {
		return nil, err
	}
	return ack, nil
}

// Bounds on a synced row, against the hub's clock: a daemon may have been
// offline for most of a year, and its clock may run a little ahead.
const (
	maxRowAge   = 400 * 24 * time.Hour
	maxRowAhead = 24 * time.Hour
	maxTokens   = 1_000_000_000_000
)

// checkRow says why a synced row cannot be stored, or "" if it can.
func checkRow(e *byok.UsageEvent, now time.Time) string {
	if !validID(e.ID) {
		return "the id is missing, too long or holds control characters"
	}
	if _, err := byok.ParseService(string(e.Service)); err != nil {
		return "unknown service"
	}
	if e.Payer != byok.PayerPersonal && e.Payer != byok.PayerTeam {
		return "the payer is neither personal nor team"
	}
	if e.Credential.Payer != e.Payer {
		return "the credential and the payer disagree"
	}
	if e.Time.Before(now.Add(-maxRowAge)) || e.Time.After(now.Add(maxRowAhead)) {
		return fmt.Sprintf("the time %s is not within %d days before the hub's clock or a day after it", e.Time.UTC().Format(time.RFC3339), int(maxRowAge.Hours()/24))
	}
	u := e.Usage
	for _, n := range []int64{u.InputTokens, u.OutputTokens, u.CacheReadTokens, u.CacheWrite5mTokens, u.CacheWrite1hTokens, u.Requests} {
		if n < 0 || n > maxTokens {
			return "a token or request count is negative or beyond belief"
		}
	}
	if e.Cost < 0 || e.Latency < 0 || e.Status < 0 || e.Status > 999 {
		return "a cost, latency or status is negative or out of range"
	}
	if !e.CostKnown && e.Cost != 0 {
		return "the cost is both unknown and non-zero"
	}
	for _, t := range []string{e.Model, e.App, e.Project, e.Credential.Name, e.FallbackReason} {
		if len(t) > maxText || !utf8.ValidString(t) || strings.ContainsFunc(t, unicode.IsControl) {
			return fmt.Sprintf("a name or reason is longer than %d bytes, not UTF-8 or holds control characters", maxText)
		}
	}
	return ""
}

// SetPolicy stores p as the next policy version and pushes it to every
// connected daemon at once. The returned policy carries its version.
func (s *Server) SetPolicy(ctx context.Context, p byok.Policy) (byok.Policy, error) {
	if _, err := byok.ParsePreference(string(p.DefaultPreference)); err != nil && p.DefaultPreference != "" {
		return p, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	for _, svc := range p.SharedServices {
		if _, err := byok.ParseService(string(svc)); err != nil {
			return p, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	if p.MemberMonthlyCap < 0 {
		return p, fmt.Errorf("%w: the member cap cannot be negative", ErrInvalid)
	}
	for i, e := range p.UnmeteredEndpoints {
		clean, err := byok.ParseEndpoint(e)
		if err != nil {
			return p, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		p.UnmeteredEndpoints[i] = clean
	}
	s.policyMu.Lock()
	defer s.policyMu.Unlock()
	p, err := s.cfg.Store.SetPolicy(ctx, p)
	if err != nil {
		return p, err
	}
	s.policy.Store(&p)
	s.log.Info("policy changed", "version", p.Version)
	s.push(ctx, teamsync.Message{Type: teamsync.TypePolicy, Policy: &p}, "policy")
	return p, nil
}

// Policy returns the current team policy.
func (s *Server) Policy() byok.Policy { return *s.policy.Load() }

// RevokeDevice revokes a device and ends its sync session at once.
func (s *Server) RevokeDevice(ctx context.Context, id string) error {
	if err := s.cfg.Store.RevokeDevice(ctx, id, s.cfg.Now()); err != nil {
		return err
	}
	s.closeDevice(id)
	s.log.Info("device revoked", "device", id)
	return nil
}

// closeDevice ends the revoked device's sync sessions on this hub.
func (s *Server) closeDevice(id string) {
	for _, ses := range s.sessions.list() {
		if ses.dev.ID == id {
			go ses.conn.Close(teamsync.CloseRevoked, "byokd hub: this device was revoked by the admin")
		}
	}
}
