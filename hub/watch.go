package hub

import (
	"context"
	"time"

	"byokd.dev/byok/teamsync"
)

// watch follows the Store's change feed, when it has one (several hubs
// share it), until ctx ends: a policy, price table or revocation made on
// another hub reaches the daemons connected to this one within moments.
// A broken feed is followed again after a pause that doubles up to 5 s;
// each start resyncs, so nothing made meanwhile is missed.
func (s *Server) watch(ctx context.Context, w Watcher) {
	pause := 100 * time.Millisecond
	for {
		start := time.Now()
		err := w.Watch(ctx, func(c Change) { s.changed(ctx, c) })
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			pause = 100 * time.Millisecond
		}
		s.log.Warn("change feed from the database lost; following it again", "err", err, "in", pause)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// changed brings this hub up to date with a change another hub made, and
// pushes it to the daemons connected here. A change this hub made itself
// comes back too; its version is not newer, so nothing is pushed twice.
func (s *Server) changed(ctx context.Context, c Change) {
	switch c.Kind {
	case ChangePolicy:
		s.reloadPolicy(ctx)
	case ChangePrices:
		s.reloadPrices(ctx)
	case ChangeRevoked:
		s.closeDevice(c.Device)
	case ChangeResync:
		s.log.Debug("following the database's change feed")
		s.reloadPolicy(ctx)
		s.reloadPrices(ctx)
		// Revocations missed while the feed was down.
		for _, ses := range s.sessions.list() {
			if d, err := s.cfg.Store.DeviceByCredential(ctx, ses.dev.CredHash); err == nil && d.Revoked != nil {
				s.closeDevice(d.ID)
			}
		}
	}
}

func (s *Server) reloadPolicy(ctx context.Context) {
	p, err := s.cfg.Store.Policy(ctx)
	if err != nil {
		s.log.Error("policy changed on another hub but unreadable here", "err", err)
		return
	}
	s.policyMu.Lock()
	defer s.policyMu.Unlock()
	if p.Version <= s.policy.Load().Version {
		return
	}
	s.policy.Store(&p)
	s.log.Info("policy changed on another hub", "version", p.Version)
	s.push(ctx, teamsync.Message{Type: teamsync.TypePolicy, Policy: &p}, "policy")
}

func (s *Server) reloadPrices(ctx context.Context) {
	t, err := s.cfg.Store.Prices(ctx)
	if err != nil {
		s.log.Error("prices changed on another hub but unreadable here", "err", err)
		return
	}
	s.policyMu.Lock()
	defer s.policyMu.Unlock()
	if t.Version <= s.Prices().Version {
		return
	}
	p, err := s.pricesOf(t)
	if err != nil {
		s.log.Error("prices changed on another hub but do not read here", "version", t.Version, "err", err)
		return
	}
	s.prices.Store(&t)
	s.book.Set(p)
	s.log.Info("team prices changed on another hub", "version", t.Version)
	s.push(ctx, teamsync.Message{Type: teamsync.TypePrices, Prices: &t}, "prices")
}
