package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
	"byokd.dev/byok/hub"
	"byokd.dev/byok/metering"
)

var pricesCmd = command{
	summary: "show the prices your calls are costed by, and where each came from",
	usage: `Usage: byokd prices [SERVICE] [--json]

Prices are US dollars per million tokens. Each model's price comes from
byokd's built-in table, the team hub's price table (which the admin keeps
current, pushed to every daemon), or your own prices.json in the state
folder, which wins over both.

Example:
  byokd prices anthropic`,
	run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
		asJSON := jsonFlag(fs)
		return runWith(readClient, anyArgs, "", atMostOneService, func(ctx context.Context, e env, c *control.Client, fs *flag.FlagSet) error {
			list, err := c.Prices(ctx)
			if err != nil {
				return err
			}
			if fs.NArg() > 0 {
				svc, err := byok.ParseService(fs.Arg(0))
				if err != nil {
					return err
				}
				var only []metering.Listed
				for _, l := range list {
					if l.Service == svc {
						only = append(only, l)
					}
				}
				list = only
			}
			return emit(e, *asJSON, list, printPrices)
		})(ctx, e, fs, args)
	},
}

// atMostOneService refuses more than the one SERVICE prices takes.
func atMostOneService(fs *flag.FlagSet) error {
	if fs.NArg() > 1 {
		return exactArgs(fs, 1, "at most one SERVICE")
	}
	return nil
}

func printPrices(e env, list []metering.Listed) {
	usd := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	var rows [][]string
	for _, l := range list {
		p := l.Price
		var extra []string
		if lc := p.LongContext; lc != nil {
			extra = append(extra, fmt.Sprintf("over %d prompt tokens: %s/%s", lc.Above, usd(lc.Input), usd(lc.Output)))
		}
		for _, dim := range []string{"service_tier", "inference_geo", "speed"} {
			for v, m := range p.Multipliers[dim] {
				extra = append(extra, fmt.Sprintf("%s ×%s", v, usd(m)))
			}
		}
		rows = append(rows, []string{string(l.Service), l.Model, usd(p.Input), usd(p.CachedInput), usd(p.CacheWrite5m),
			usd(p.CacheWrite1h), usd(p.Output), firstOf(strings.Join(extra, "; "), "-"), l.Source})
	}
	table(e, "SERVICE\tMODEL\tINPUT\tCACHE READ\tCACHE WRITE 5M\tCACHE WRITE 1H\tOUTPUT\tTIERS\tFROM", rows)
}

var hubPricesCmd = group("hub prices", "the team's price table, pushed to every daemon", map[string]command{
	"show": {
		summary: "print the team's price table (a price file) and its version",
		usage: `Usage: byokd hub prices show [--data DIR]

Example:
  byokd hub prices show`,
		run: hubRun(0, "", func(ctx context.Context, e env, c *hub.AdminClient, fs *flag.FlagSet) error {
			t, err := c.Prices(ctx)
			if err != nil {
				return err
			}
			if t.Version == 0 {
				fmt.Fprintln(e.stdout, "no team price table: the built-in prices apply (set one with `byokd hub prices set FILE`)")
				return nil
			}
			fmt.Fprintf(e.stdout, "version %d\n%s\n", t.Version, t.Table)
			return nil
		}),
	},
	"set": {
		summary: "make FILE the team's price table; every daemon gets it within a second",
		usage: `Usage: byokd hub prices set FILE [--data DIR]

FILE has the form of byokd's built-in prices.json: models by service, in
US dollars per million tokens, with optional long_context and multipliers:

  {"anthropic": {"claude-next": {"input": 3, "output": 15}},
   "openai": {"gpt-next": {"input": 2, "cached_input": 0.2, "output": 10,
     "multipliers": {"service_tier": {"flex": 0.5, "priority": 2}}}}}

The models it names replace the built-in ones; a member's own prices.json
still wins on their daemon. The hub prices relayed calls by it at once.

Example:
  byokd hub prices set team-prices.json`,
		run: hubRun(1, "a FILE", func(ctx context.Context, e env, c *hub.AdminClient, fs *flag.FlagSet) error {
			data, err := os.ReadFile(fs.Arg(0))
			if err != nil {
				return fmt.Errorf("read the price table: %w", err)
			}
			if !json.Valid(data) {
				return fmt.Errorf("%s is not JSON: see `byokd hub prices set --help` for its form", fs.Arg(0))
			}
			t, err := c.SetPrices(ctx, data)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "team prices are now version %d; connected daemons have them\n", t.Version)
			return nil
		}),
	},
})
