package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"byokd.dev/byok/control"
	"byokd.dev/byok/metering"
	"byokd.dev/byok/teamsync"
)

// metaPrices caches the team's price table the hub last pushed.
const metaPrices = "team_prices"

// loadPrices builds the prices in force: the built-in table, under it the
// team's (the cached copy of the hub's), under that the member's own
// prices.json, which wins. version is the team table's.
func (d *Daemon) loadPrices(ctx context.Context) (_ *metering.Prices, version int64, err error) {
	p := metering.DefaultPrices()
	var t teamsync.PriceTable
	if raw, err := d.db.Meta(ctx, metaPrices); err == nil {
		if err := json.Unmarshal([]byte(raw), &t); err != nil {
			d.log.Warn("cached team prices unreadable; waiting for the hub's", "err", err)
			t = teamsync.PriceTable{}
		}
	}
	if t.Version > 0 {
		team, err := p.With("the team's price table", t.Source(), t.Table)
		if err != nil {
			d.log.Warn("the team's price table does not read; using the built-in prices under it", "version", t.Version, "err", err)
		} else {
			p = team
		}
	}
	path := filepath.Join(d.cfg.Home, PricesFile)
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return p, t.Version, nil
	case err != nil:
		return nil, 0, fmt.Errorf("read prices: %w", err)
	}
	p, err = p.With(path, "your "+path, data)
	return p, t.Version, err
}

// setPrices caches the team's price table and puts it in force.
func (d *Daemon) setPrices(ctx context.Context, t teamsync.PriceTable) error {
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if err := d.db.SetMeta(ctx, metaPrices, string(b)); err != nil {
		return err
	}
	p, _, err := d.loadPrices(ctx)
	if err != nil {
		return err
	}
	d.prices.Set(p)
	d.events.publish(control.Event{Kind: control.EventChanged, Title: "Team prices updated",
		Body: fmt.Sprintf("The team hub's price table, version %d, now prices your calls (your own prices.json still wins).", t.Version)})
	return nil
}

func (b backend) Prices(context.Context) ([]metering.Listed, error) {
	return b.d.prices.Prices().List(), nil
}
