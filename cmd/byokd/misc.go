package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
)

var versionCmd = command{
	summary: "print the version",
	usage: `Usage: byokd version

Example:
  byokd version`,
	run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
		if err := parse(fs, args); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "byokd %s (commit %s, built %s, %s/%s)\n", version, commit, date, runtime.GOOS, runtime.GOARCH)
		return nil
	},
}

var statusCmd = command{
	summary: "show the daemon: proxy, keys, tokens, spend, unsynced rows",
	usage: `Usage: byokd status [--json]

Example:
  byokd status
  byokd status --json | jq .hub.connected`,
	run: listing(onDaemonReadOnly, (*control.Client).Status, printDaemonStatus),
}

func printDaemonStatus(e env, s control.Status) {
	state := "running"
	if s.Paused {
		state = "running, proxy PAUSED (byokd resume)"
	}
	fmt.Fprintf(e.stdout, "byokd %s %s\nproxy:      http://%s\nkeystore:   %s\nkeys:       %d\napp tokens: %d\nthis month: %s personal, %s team\n",
		s.Version, state, s.Proxy, s.Keystore, s.Keys, s.Tokens, s.PersonalSpend, s.TeamSpend)
	switch h := s.Hub; {
	case h.URL == "":
		fmt.Fprintln(e.stdout, "team hub:   not joined (byokd join HUB_URL, then paste the invite code)")
	case h.Connected:
		fmt.Fprintf(e.stdout, "team hub:   %s as %s, connected, last sync %s\n", h.URL, h.Member, h.LastSync.Local().Format("15:04:05"))
	default:
		fmt.Fprintf(e.stdout, "team hub:   %s as %s, NOT connected: %s\n", h.URL, h.Member, firstOf(h.LastError, "connecting"))
	}
	for _, t := range s.TeamPaying {
		until := "until your key works again"
		if !t.Until.IsZero() {
			until = "until " + t.Until.Local().Format("15:04") + ", when your key is tried again"
		}
		fmt.Fprintf(e.stdout, "TEAM PAYS:  your %s calls since %s (%s), %s: %d calls, %s\n",
			t.Service.Title(), t.Since.Local().Format("15:04"), byok.CleanText(t.Reason, 200), until, t.Calls, t.Cost)
	}
	fmt.Fprintf(e.stdout, "unsynced:   %d rows\n", s.Unsynced)
	if r := s.Rejected; r.Count > 0 {
		fmt.Fprintf(e.stdout, "rejected:   %d rows the team hub refused to store; the newest (%s): %s\n", r.Count, byok.CleanText(r.LastID, 128), byok.CleanText(r.Reason, 300))
	}
	fmt.Fprintf(e.stdout, "ledger:     %s\n", ledgerLine(s.Ledger))
	if r := s.Refused; r != (control.Refused{}) {
		fmt.Fprintf(e.stdout, "refused:    %d proxy, %d control API, %d page requests, %d connections from other users since start (see the log)\n",
			r.Proxy, r.Control, r.Page, r.OtherUsers)
	}
}

// ledgerLine says whether usage can be recorded, and what happens if not.
func ledgerLine(l control.LedgerStatus) string {
	mode := "calls are refused if it cannot record them"
	if l.KeepWorking {
		mode = "keep working without records is ON"
	}
	state := "ok"
	if l.Error != "" {
		state = "CANNOT RECORD: " + l.Error
	}
	line := state + "; " + mode
	if l.Waiting > 0 {
		line += fmt.Sprintf("; %d rows waiting (%d only in memory)", l.Waiting, l.Volatile)
	}
	if l.Dropped > 0 {
		line += fmt.Sprintf("; %d rows DROPPED since start", l.Dropped)
	}
	return line
}

var prefCmd = group("pref", "show and set which key pays, per service, and what happens if usage cannot be recorded", map[string]command{
	"records": {
		summary: "refuse calls (default) or keep working when usage cannot be recorded",
		usage: `Usage: byokd pref records refuse|keep-working

What happens when the ledger cannot be written (disk full, read-only,
locked by another program). refuse (the default): no call goes out
without its record; apps get a 503 byokd: error saying why. keep-working:
calls go on; their rows wait in memory (up to 100,000) for the ledger to
work again, and any beyond that are dropped and counted in byokd status
and the log. Rows waiting only in memory are lost if byokd stops.

Example:
  byokd pref records keep-working`,
		run: daemonRun(1, "refuse or keep-working", checkRecordsMode, func(ctx context.Context, e env, c *control.Client, fs *flag.FlagSet) error {
			if err := c.SetLedgerMode(ctx, control.LedgerMode{KeepWorking: fs.Arg(0) == "keep-working"}); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "when usage cannot be recorded: %s\n", fs.Arg(0))
			return nil
		}),
	},
	"show": {
		summary: "show each service's preference and fallback",
		usage: `Usage: byokd pref show [--json]

Example:
  byokd pref show`,
		run: listing(onDaemon, (*control.Client).Prefs, printPrefs),
	},
	"set": {
		summary: "set a service's preference: personal, shared or ask",
		usage: `Usage: byokd pref set SERVICE personal|shared|ask [--fallback on|off]
       [--rate-limit-fallback on|off] [--over-budget warn|block|shared]

personal: use my own key (recommended). shared: use the team's key (the
team pays). ask: ask me each time. --fallback on lets a call fall back to
the team key when your key fails (over quota, billing, invalid);
--rate-limit-fallback on also when it is only rate-limited or the provider
is overloaded. --over-budget says what happens once a key has used its
monthly budget: warn and keep going, block, or use the shared key.

Example:
  byokd pref set openai personal --fallback on`,
		run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
			fb := fs.String("fallback", "", "on or off (default: unchanged)")
			rl := fs.String("rate-limit-fallback", "", "on or off (default: unchanged)")
			ob := fs.String("over-budget", "", "warn, block or shared (default: unchanged)")
			var svc byok.Service
			var pref byok.Preference
			check := func(fs *flag.FlagSet) (err error) {
				if svc, err = byok.ParseService(fs.Arg(0)); err != nil {
					return err
				}
				pref, err = byok.ParsePreference(fs.Arg(1))
				return err
			}
			return daemonRun(2, "SERVICE and a preference", check, func(ctx context.Context, e env, c *control.Client, fs *flag.FlagSet) error {
				cur, err := c.Prefs(ctx)
				if err != nil {
					return err
				}
				p := control.Pref{Service: svc, Preference: pref}
				for _, q := range cur {
					if q.Service == svc {
						p = q
						p.Preference = pref
					}
				}
				if err := setOnOff(&p.Fallback, "fallback", *fb); err != nil {
					return err
				}
				if err := setOnOff(&p.RateLimitFallback, "rate-limit-fallback", *rl); err != nil {
					return err
				}
				if *ob != "" {
					p.OverBudget = *ob
				}
				if err := c.SetPref(ctx, p); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s: %s, fallback %s, on rate limit %s, over budget %s\n", svc, pref, onOff(p.Fallback), onOff(p.RateLimitFallback), p.OverBudget)
				return nil
			})(ctx, e, fs, args)
		},
	},
})

// checkRecordsMode accepts the argument of pref records.
func checkRecordsMode(fs *flag.FlagSet) error {
	switch fs.Arg(0) {
	case "refuse", "keep-working":
		return nil
	}
	return fmt.Errorf("%q: use refuse or keep-working", fs.Arg(0))
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// setOnOff sets *dst from an "on"/"off" flag value; "" leaves it.
func setOnOff(dst *bool, name, v string) error {
	switch v {
	case "":
	case "on":
		*dst = true
	case "off":
		*dst = false
	default:
		return fmt.Errorf("--%s %q: use on or off", name, v)
	}
	return nil
}

func printPrefs(e env, prefs []control.Pref) {
	var rows [][]string
	for _, p := range prefs {
		rows = append(rows, []string{string(p.Service), string(p.Preference), onOff(p.Fallback), onOff(p.RateLimitFallback), p.OverBudget})
	}
	table(e, "SERVICE\tPREFERENCE\tFALLBACK\tON RATE LIMIT\tOVER BUDGET", rows)
}
