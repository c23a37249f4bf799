package main

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"strconv"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
)

var usageCmd = command{
	summary: "this month's calls, by service, model, app, project and payer",
	usage: `Usage: byokd usage [--month YYYY-MM] [--json]

Shows the calls of a month (default: this one) grouped by service, model,
app, project and payer, with tokens and cost. --json prints one object per
call instead. Calls to models missing from the price table show "unknown"
cost, never $0.

Example:
  byokd usage
  byokd usage --month 2026-10 --json`,
	run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
		month := fs.String("month", "", "month as YYYY-MM (default: this month)")
		asJSON := jsonFlag(fs)
		from := time.Now()
		check := func(*flag.FlagSet) error {
			if *month != "" {
				m, err := time.ParseInLocation("2006-01", *month, time.Local)
				if err != nil {
					return fmt.Errorf("--month %q: use YYYY-MM, such as 2026-10", *month)
				}
				from = m
			}
			from = time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.Local)
			return nil
		}
		return daemonRun(0, "", check, func(ctx context.Context, e env, c *control.Client, fs *flag.FlagSet) error {
			events, err := c.Usage(ctx, from, from.AddDate(0, 1, 0))
			if err != nil {
				return err
			}
			return emit(e, *asJSON, events, func(e env, events []byok.UsageEvent) { printSummary(e, from, events) })
		})(ctx, e, fs, args)
	},
}

type groupKey struct {
	service byok.Service
	model   string
	app     string
	project string
	payer   byok.Payer
}

type groupSum struct {
	calls, in, out, cacheR, cacheW int64
	cost                           byok.Spend
}

func printSummary(e env, from time.Time, events []byok.UsageEvent) {
	sums := map[groupKey]*groupSum{}
	var total byok.Spend
	for _, ev := range events {
		k := groupKey{ev.Service, ev.Model, ev.App, ev.Project, ev.Payer}
		s := sums[k]
		if s == nil {
			s = &groupSum{}
			sums[k] = s
		}
		s.calls++
		s.in += ev.Usage.InputTokens
		s.out += ev.Usage.OutputTokens
		s.cacheR += ev.Usage.CacheReadTokens
		s.cacheW += ev.Usage.CacheWriteTokens()
		s.cost.Add(ev.Cost, ev.CostKnown)
		total.Add(ev.Cost, ev.CostKnown)
	}
	fmt.Fprintf(e.stdout, "Usage for %s: %d calls, %s\n", from.Format("January 2006"), len(events), total)
	if len(events) == 0 {
		return
	}
	keys := make([]groupKey, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return sums[keys[i]].cost.Known > sums[keys[j]].cost.Known })
	var rows [][]string
	for _, k := range keys {
		s := sums[k]
		cost := s.cost.String()
		rows = append(rows, []string{
			string(k.service), firstOf(k.model, "-"), firstOf(k.app, "-"), firstOf(k.project, "-"), string(k.payer),
			strconv.FormatInt(s.calls, 10), strconv.FormatInt(s.in, 10), strconv.FormatInt(s.out, 10),
			strconv.FormatInt(s.cacheR, 10), strconv.FormatInt(s.cacheW, 10), cost,
		})
	}
	fmt.Fprintln(e.stdout)
	table(e, "SERVICE\tMODEL\tAPP\tPROJECT\tPAYER\tCALLS\tINPUT\tOUTPUT\tCACHE READ\tCACHE WRITE\tCOST", rows)
}
