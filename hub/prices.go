package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"byokd.dev/byok/metering"
	"byokd.dev/byok/teamsync"
)

// loadPrices puts the team's price table in force. A hub that has none
// yet takes the prices.json of its state folder, if there is one, as the
// first version: one table, kept in the Store and pushed to daemons.
func (s *Server) loadPrices(ctx context.Context) error {
	t, err := s.cfg.Store.Prices(ctx)
	if err != nil {
		return err
	}
	if t.Version == 0 {
		path := filepath.Join(s.cfg.Data, PricesFile)
		data, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return fmt.Errorf("read prices: %w", err)
		default:
			if _, err := s.cfg.Prices.With(path, path, data); err != nil {
				return err
			}
			if t, err = s.cfg.Store.SetPrices(ctx, compact(data)); err != nil {
				return err
			}
			s.log.Info("team prices taken from the state folder's prices.json", "version", t.Version)
		}
	}
	p, err := s.pricesOf(t)
	if err != nil {
		return fmt.Errorf("the team's price table (version %d) no longer reads: %w; set it again with `byokd hub prices set FILE`", t.Version, err)
	}
	s.prices.Store(&t)
	if s.book == nil {
		s.book = metering.NewBook(p)
	} else {
		s.book.Set(p)
	}
	return nil
}

// pricesOf is Config.Prices under table t.
func (s *Server) pricesOf(t teamsync.PriceTable) (*metering.Prices, error) {
	if t.Version == 0 {
		return s.cfg.Prices, nil
	}
	return s.cfg.Prices.With("the team's price table", t.Source(), t.Table)
}

// Prices is the team's price table in force.
func (s *Server) Prices() teamsync.PriceTable { return *s.prices.Load() }

// SetPrices checks table (a price file), stores it as the next version,
// prices relayed calls by it from now on and pushes it to every connected
// daemon.
func (s *Server) SetPrices(ctx context.Context, table json.RawMessage) (teamsync.PriceTable, error) {
	if _, err := s.cfg.Prices.With("the price table", "", table); err != nil {
		return teamsync.PriceTable{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	s.policyMu.Lock()
	defer s.policyMu.Unlock()
	t, err := s.cfg.Store.SetPrices(ctx, compact(table))
	if err != nil {
		return t, err
	}
	p, err := s.pricesOf(t)
	if err != nil {
		return t, err
	}
	s.prices.Store(&t)
	s.book.Set(p)
	s.log.Info("team prices changed", "version", t.Version)
	s.push(ctx, teamsync.Message{Type: teamsync.TypePrices, Prices: &t}, "prices")
	return t, nil
}

// push sends msg to every welcomed session, at most 5 s each; one that
// misses it gets the current state in its next welcome.
func (s *Server) push(ctx context.Context, msg teamsync.Message, what string) {
	var wg sync.WaitGroup
	for _, ses := range s.sessions.list() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ses.mu.Lock()
			defer ses.mu.Unlock()
			if !ses.welcomed {
				return // its welcome is being written with the new state
			}
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := teamsync.WriteMessage(wctx, ses.conn, msg); err != nil {
				s.log.Info(what+" not pushed; the daemon gets them when it reconnects", "device", ses.dev.ID, "err", err)
			}
		}()
	}
	wg.Wait()
}

// compact is data (checked JSON) as one line, for the Store and the wire.
func compact(data []byte) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, data) != nil {
		return data
	}
	return b.Bytes()
}
