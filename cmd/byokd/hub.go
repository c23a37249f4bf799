package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
	"byokd.dev/byok/hub/dashboard"
	"byokd.dev/byok/hub/pgstore"
	"byokd.dev/byok/internal/statelock"
)

// hubData is the hub's state folder: --data, else $BYOKD_HUB_HOME, else
// the OS user config dir + /byokd-hub.
func hubData(e env, flagVal string) (string, error) {
	if d := firstOf(flagVal, e.getenv("BYOKD_HUB_HOME")); d != "" {
		return filepath.Abs(d)
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no hub state folder: set BYOKD_HUB_HOME or pass --data (%w)", err)
	}
	return filepath.Join(dir, "byokd-hub"), nil
}

func dataFlag(fs *flag.FlagSet) *string {
	return fs.String("data", "", "the hub's state folder (default $BYOKD_HUB_HOME)")
}

// hubClient connects to the running hub's admin API.
func hubClient(e env, data string) (*hub.AdminClient, error) {
	dir, err := hubData(e, data)
	if err != nil {
		return nil, err
	}
	return hub.DialAdmin(dir)
}

// hubRun is runWith for the hub's admin commands, with --data.
func hubRun(n int, what string, f func(ctx context.Context, e env, c *hub.AdminClient, fs *flag.FlagSet) error) runFunc {
	return func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
		data := dataFlag(fs)
		dial := func(e env) (*hub.AdminClient, error) { return hubClient(e, *data) }
		return runWith(dial, n, what, nil, f)(ctx, e, fs, args)
	}
}

var hubCmd = group("hub", "run and administer the team hub (on the hub machine)", map[string]command{
	"serve":   hubServeCmd,
	"admin":   group("hub admin", "admins of the hub's web view", map[string]command{"create": hubAdminCreateCmd}),
	"key":     hubKeyCmd,
	"invite":  hubInviteCmd,
	"devices": hubDevicesCmd,
	"status":  hubStatusCmd,
	"revoke":  hubRevokeCmd,
	"policy":  hubPolicyCmd,
	"prices":  hubPricesCmd,
	"usage":   hubUsageCmd,
	"reseal":  hubResealCmd,
})

var hubResealCmd = command{
	summary: "seal the shared keys in PostgreSQL under a new sealing key",
	usage: `Usage: byokd hub reseal [--database postgres://USER@HOST/DB] --sealing-key-file NEW --old-sealing-key-file OLD

Rotates the key that seals the team's shared keys in PostgreSQL:
  1. openssl rand -base64 32 > new.key
  2. restart every replica with --sealing-key-file new.key
     --old-sealing-key-file old.key (they read keys sealed under either and
     seal new ones under the new key)
  3. byokd hub reseal --sealing-key-file new.key --old-sealing-key-file old.key
     seals every key still under the old one under the new one, in one
     transaction
  4. restart every replica with --sealing-key-file new.key only; destroy
     old.key
The database is --database or $BYOKD_HUB_DATABASE.

Example:
  byokd hub reseal --database postgres://byokd@db/byokd --sealing-key-file new.key --old-sealing-key-file old.key`,
	run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
		database := fs.String("database", "", "the hubs' PostgreSQL URL (or $BYOKD_HUB_DATABASE)")
		sk := sealingKeyFlags(fs)
		if err := parse(fs, args); err != nil {
			return err
		}
		if err := exactArgs(fs, 0, ""); err != nil {
			return err
		}
		if *database == "" {
			*database = e.getenv("BYOKD_HUB_DATABASE")
		}
		if *database == "" || sk.old == "" {
			return errors.New("byokd hub reseal needs --database (or BYOKD_HUB_DATABASE), the new key (--sealing-key-file or BYOKD_HUB_SEALING_KEY) and --old-sealing-key-file; see `byokd hub reseal --help`")
		}
		st, keys, err := pgStores(ctx, e, *database, *sk)
		if err != nil {
			return err
		}
		defer st.Close()
		n, err := keys.Reseal(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "resealed %d shared keys under the new sealing key: restart every replica with it alone, then destroy the old key\n", n)
		return nil
	},
}

var hubServeCmd = command{
	summary: "run the team hub",
	usage: `Usage: byokd hub serve [--listen ADDR] [--data DIR] [--tls-cert F --tls-key F] [--public-url URL] [--insecure]
                        [--database postgres://USER@HOST/DB --sealing-key-file F [--old-sealing-key-file F]]

Runs the hub: members' daemons join it, sync usage to it and reach the
team's shared keys through it. State lives in --data (default
$BYOKD_HUB_HOME). Shared keys are kept in the OS keychain, or on a server
without one in an encrypted file: set BYOKD_KEYSTORE=file and
BYOKD_KEYSTORE_PASSPHRASE. Plain http is for 127.0.0.1 only, unless
--insecure (TLS ends in front of the hub).

With --database (or BYOKD_HUB_DATABASE) the hub keeps its state in
PostgreSQL instead, and several hubs behind one address may share it. The
shared keys are then sealed in the database under a key every replica is
given: --sealing-key-file, or BYOKD_HUB_SEALING_KEY, holding base64 of 32
random bytes (openssl rand -base64 32); while the key is rotated, also
--old-sealing-key-file (see byokd hub reseal). Give the database password
by PGPASSWORD or ~/.pgpass, not in the URL. See docs/HUB-POSTGRES.md.

Example:
  byokd hub serve --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem --public-url https://hub.example.com:8443
  byokd hub serve --listen 127.0.0.1:8443          # a try-out on this machine
  PGPASSWORD=… byokd hub serve --database postgres://byokd@db.example.com/byokd --sealing-key-file /etc/byokd/sealing.key ...`,
	run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
		data := dataFlag(fs)
		listen := fs.String("listen", hub.DefaultListen, "address to listen on")
		cert := fs.String("tls-cert", "", "TLS certificate (PEM)")
		key := fs.String("tls-key", "", "TLS private key (PEM)")
		public := fs.String("public-url", "", "the URL members use to reach the hub (default from --listen)")
		insecure := fs.Bool("insecure", false, "allow plain http on an address other machines can reach")
		database := fs.String("database", "", "a PostgreSQL URL, postgres://USER@HOST/DB, to keep the hub's state in (default SQLite in --data; or $BYOKD_HUB_DATABASE)")
		sk := sealingKeyFlags(fs)
		if err := parse(fs, args); err != nil {
			return err
		}
		if err := exactArgs(fs, 0, ""); err != nil {
			return err
		}
		dir, err := hubData(e, *data)
		if err != nil {
			return err
		}
		if err := hub.PrepareData(dir); err != nil {
			return err
		}
		var level slog.Level
		if err := level.UnmarshalText([]byte(firstOf(e.getenv("BYOKD_LOG_LEVEL"), "info"))); err != nil {
			return fmt.Errorf("BYOKD_LOG_LEVEL: %w", err)
		}
		log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
		ups := map[byok.Service]*url.URL{}
		for _, svc := range byok.Services() {
			if raw := e.getenv("BYOKD_UPSTREAM_" + strings.ToUpper(string(svc))); raw != "" {
				u, err := url.Parse(raw)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return fmt.Errorf("BYOKD_UPSTREAM_%s %q: give a base URL such as http://127.0.0.1:9000", strings.ToUpper(string(svc)), raw)
				}
				ups[svc] = u
			}
		}
		if err := hub.PrepareData(dir); err != nil {
			return err
		}
		unlock, err := statelock.Acquire(dir, "the byokd hub")
		if err != nil {
			return err
		}
		defer unlock()
		if *database == "" {
			*database = e.getenv("BYOKD_HUB_DATABASE")
		} else if strings.Contains(*database, "@") && strings.Contains(pgstore.Redact(*database), "xxxxx") {
			fmt.Fprintln(e.stderr, "byokd: warning: the password in --database shows in ps and shell history; "+
				"use PGPASSWORD, a ~/.pgpass file or BYOKD_HUB_DATABASE instead")
		}
		st, keys, closeStore, err := hubStores(ctx, e, dir, *database, *sk)
		if err != nil {
			return err
		}
		defer closeStore()
		srv, err := hub.Start(ctx, hub.Config{
			Data: dir, Listen: *listen, PublicURL: *public, TLSCert: *cert, TLSKey: *key, Insecure: *insecure,
			Store: st, Keys: keys, Upstreams: ups, Logger: log, Version: version,
			Pages: func(s *hub.Server) http.Handler { return dashboard.New(dashboard.Config{Hub: s, Logger: log}) },
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "byokd hub serving at %s (admin API on %s)\n", srv.URL(), srv.AdminAddr())
		return srv.Run(ctx)
	},
}

var hubAdminCreateCmd = command{
	summary: "make EMAIL an admin and print a one-time login link",
	usage: `Usage: byokd hub admin create EMAIL [--data DIR]

Makes EMAIL an admin of the hub's web view and prints a login link that
works once, within 15 minutes. Run it again for a new link.

Example:
  byokd hub admin create admin@example.com`,
	run: hubRun(1, "an EMAIL", func(ctx context.Context, e env, c *hub.AdminClient, fs *flag.FlagSet) error {
		l, err := c.CreateAdmin(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, l.Link)
		return nil
	}),
}

var hubKeyCmd = group("hub key", "the team's shared keys, kept only on the hub", map[string]command{
	"add": {
		summary: "store a shared key (read from standard input)",
		usage: `Usage: byokd hub key add SERVICE --name NAME [--data DIR]

Reads the key from standard input (a no-echo prompt on a terminal) and
stores it in the hub's keystore. Members never receive it: their calls
reach it through the hub's relay.

Example:
  printf '%s' "$TEAM_OPENAI_KEY" | byokd hub key add openai --name team-openai`,
		run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
			name := fs.String("name", "", "a name for the key (required)")
			return hubRun(1, "a SERVICE", func(ctx context.Context, e env, c *hub.AdminClient, fs *flag.FlagSet) error {
				svc, err := byok.ParseService(fs.Arg(0))
				if err != nil {
					return err
				}
				if *name == "" {
					return errors.New("give the key a name with --name, such as --name team-openai")
				}
				secret, err := readSecret(e, fmt.Sprintf("%s shared key %q: ", svc.Title(), *name))
				if err != nil {
					return err
				}
				k, err := c.AddKey(ctx, svc, *name, byok.NewSecret(secret))
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "added shared %s key %q (%s)\n", svc.Title(), k.Name, k.Fingerprint)
				return nil
			})(ctx, e, fs, args)
		},
	},
	"list": {
		summary: "list the shared keys: name, service, fingerprint",
		usage: `Usage: byokd hub key list [--json] [--data DIR]

Example:
  byokd hub key list`,
		run: listing(onHub, (*hub.AdminClient).Keys, func(e env, keys []hub.SharedKey) {
			var rows [][]string
			for _, k := range keys {
				rows = append(rows, []string{k.Name, string(k.Service), k.Fingerprint, k.Created.Local().Format(time.DateOnly)})
			}
			table(e, "NAME\tSERVICE\tKEY\tADDED", rows)
		}),
	},
	"rm": {
		summary: "remove a shared key",
		usage: `Usage: byokd hub key rm NAME [--data DIR]

Example:
  byokd hub key rm team-openai`,
		run: hubRun(1, "a key NAME", func(ctx context.Context, e env, c *hub.AdminClient, fs *flag.FlagSet) error {
			if err := c.RemoveKey(ctx, fs.Arg(0)); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "removed shared key %q\n", fs.Arg(0))
			return nil
		}),
	},
})

var hubInviteCmd = command{
	summary: "print a one-time invite code for a member",
	usage: `Usage: byokd hub invite EMAIL [--expires 168h] [--data DIR]

Prints a code that one of EMAIL's machines exchanges for a device
credential with ` + "`byokd join HUB`" + ` (pasting the code). It works once and expires.

Example:
  byokd hub invite member@example.com --expires 48h`,
	run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
		exp := fs.Duration("expires", hub.DefaultInviteTTL, "how long the code works")
		return hubRun(1, "an EMAIL", func(ctx context.Context, e env, c *hub.AdminClient, fs *flag.FlagSet) error {
			inv, err := c.Invite(ctx, fs.Arg(0), *exp)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, inv.Code)
			return nil
		})(ctx, e, fs, args)
	},
}

var hubStatusCmd = command{
	summary: "show the running hub: address, devices, shared keys, policy, refused requests",
	usage: `Usage: byokd hub status [--json] [--data DIR]

Example:
  byokd hub status`,
	run: listing(onHub, (*hub.AdminClient).Status, func(e env, s hub.Status) {
		fmt.Fprintf(e.stdout, "byokd hub %s at %s\ndevices:     %d (%d connected now)\nshared keys: %d\npolicy:      version %d\nrefused:     %d public, %d admin API requests since start\nrejected:    %d synced usage rows since start (see the log)\n",
			s.Version, s.PublicURL, s.Devices, s.Connected, s.SharedKeys, s.PolicyVersion, s.Refused.Public, s.Refused.Admin, s.Rejected)
	}),
}

var hubDevicesCmd = command{
	summary: "list members' devices",
	usage: `Usage: byokd hub devices [--json] [--data DIR]

Example:
  byokd hub devices`,
	run: listing(onHub, (*hub.AdminClient).Devices, printDevices),
}

func printDevices(e env, devs []hub.DeviceStatus) {
	var rows [][]string
	for _, d := range devs {
		state := "offline"
		switch {
		case d.Revoked != nil:
			state = "revoked"
		case d.Connected:
			state = "connected"
		}
		seen := "-"
		if !d.LastSeen.IsZero() {
			seen = d.LastSeen.Local().Format(time.DateTime)
		}
		rows = append(rows, []string{d.ID, d.Member, d.Name, state, seen})
	}
	table(e, "DEVICE\tMEMBER\tNAME\tSTATE\tLAST SEEN", rows)
}

var hubRevokeCmd = command{
	summary: "revoke a device's credential",
	usage: `Usage: byokd hub revoke DEVICE [--data DIR]

Revokes the device at once: its sync session ends and the relay refuses
it. The member can join again with a new invite.

Example:
  byokd hub revoke 0196f0c2-7a1e-7d3a-9c1b-2f4e5d6a7b8c`,
	run: hubRun(1, "a DEVICE id (see `byokd hub devices`)", func(ctx context.Context, e env, c *hub.AdminClient, fs *flag.FlagSet) error {
		if err := c.Revoke(ctx, fs.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "revoked device %s\n", fs.Arg(0))
		return nil
	}),
}

var hubPolicyCmd = group("hub policy", "the team policy pushed to every daemon", map[string]command{
	"show": {
		summary: "print the team policy",
		usage: `Usage: byokd hub policy show [--json] [--data DIR]

Example:
  byokd hub policy show`,
		run: listing(onHub, (*hub.AdminClient).Policy, printPolicy),
	},
	"set": {
		summary: "change the team policy; daemons get it within a second",
		usage: `Usage: byokd hub policy set [--shared-services openai,anthropic] [--member-cap USD]
       [--approval on|off] [--fallback on|off] [--default-pref personal|shared|ask]
       [--allow-endpoint 'SERVICE METHOD /path']... [--data DIR]

Changes only the settings given. --shared-services none shares nothing;
--member-cap 0 removes the cap on each member's monthly shared spend.

The shared keys serve only the endpoints byokd meters and prices. Each
--allow-endpoint adds one more, unmetered: its calls are recorded with
their cost unknown, and refused while a member cap is set. "*" stands for
one path segment, a last "**" for any rest; --allow-endpoint none removes
them all.

Example:
  byokd hub policy set --shared-services openai,anthropic --member-cap 50 --fallback on
  byokd hub policy set --allow-endpoint 'openai POST /v1/images/generations'`,
		run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
			shared := fs.String("shared-services", "", "services that may use shared keys, comma-separated, or none")
			capUSD := fs.String("member-cap", "", "monthly shared-key spend per member in USD (0: no cap)")
			approval := fs.String("approval", "", "shared-key calls ask the member first: on or off")
			fallback := fs.String("fallback", "", "fall back from a failing personal key to a shared one: on or off")
			pref := fs.String("default-pref", "", "preference for members who have not chosen: personal, shared or ask")
			var endpoints []string
			fs.Func("allow-endpoint", "let the shared keys serve one more endpoint, unmetered: 'SERVICE METHOD /path' (repeatable; none removes all)", func(v string) error {
				if v == "none" {
					endpoints = []string{}
					return nil
				}
				e, err := byok.ParseEndpoint(v)
				endpoints = append(endpoints, e)
				return err
			})
			return hubRun(0, "", func(ctx context.Context, e env, c *hub.AdminClient, fs *flag.FlagSet) error {
				p, err := c.Policy(ctx)
				if err != nil {
					return err
				}
				changed := 0
				fs.Visit(func(*flag.Flag) { changed++ })
				if *shared != "" {
					p.SharedServices = []byok.Service{}
					if *shared != "none" {
						for _, s := range strings.Split(*shared, ",") {
							svc, err := byok.ParseService(strings.TrimSpace(s))
							if err != nil {
								return err
							}
							p.SharedServices = append(p.SharedServices, svc)
						}
					}
				}
				if *capUSD != "" {
					if p.MemberMonthlyCap, err = byok.ParseUSD(*capUSD); err != nil {
						return err
					}
				}
				if err := errors.Join(setOnOff(&p.SharedNeedsApproval, "approval", *approval), setOnOff(&p.AllowFallback, "fallback", *fallback)); err != nil {
					return err
				}
				if *pref != "" {
					if p.DefaultPreference, err = byok.ParsePreference(*pref); err != nil {
						return err
					}
				}
				if endpoints != nil {
					p.UnmeteredEndpoints = endpoints
				}
				if changed == 0 || (changed == 1 && fs.Lookup("data").Value.String() != "") {
					fs.Usage()
					return errors.New("give at least one setting to change")
				}
				out, err := c.SetPolicy(ctx, p)
				if err != nil {
					return err
				}
				printPolicy(e, out)
				return nil
			})(ctx, e, fs, args)
		},
	},
})

func printPolicy(e env, p byok.Policy) {
	svcs := make([]string, 0, len(p.SharedServices))
	for _, s := range p.SharedServices {
		svcs = append(svcs, string(s))
	}
	shared := strings.Join(svcs, ",")
	if shared == "" {
		shared = "none"
	}
	capText := "none"
	if p.MemberMonthlyCap > 0 {
		capText = p.MemberMonthlyCap.String() + " per member per month"
	}
	pref := string(p.DefaultPreference)
	if pref == "" {
		pref = "-"
	}
	fmt.Fprintf(e.stdout, "version          %d\nshared services  %s\nmember cap       %s\napproval         %s\nfallback         %s\ndefault pref     %s\n",
		p.Version, shared, capText, onOff(p.SharedNeedsApproval), onOff(p.AllowFallback), pref)
	for _, ep := range p.UnmeteredEndpoints {
		fmt.Fprintf(e.stdout, "unmetered        %s\n", ep)
	}
}

// hubUsageCmd prints the hub's rows; --json gives the fields of
// `byokd usage --json`, member included.
var hubUsageCmd = command{
	summary: "the team's calls this month, by member",
	usage: `Usage: byokd hub usage [--month YYYY-MM] [--json] [--data DIR]

Shows every member's calls of a month (default: this one, UTC) grouped by
member, service and payer. --json prints one object per call: the fields
of ` + "`byokd usage --json`" + ` plus member.

Example:
  byokd hub usage
  byokd hub usage --month 2026-10 --json`,
	run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
		month := fs.String("month", "", "month as YYYY-MM (default: this month)")
		asJSON := jsonFlag(fs)
		return hubRun(0, "", func(ctx context.Context, e env, c *hub.AdminClient, fs *flag.FlagSet) error {
			from := time.Now().UTC()
			if *month != "" {
				m, err := time.Parse("2006-01", *month)
				if err != nil {
					return fmt.Errorf("--month %q: use YYYY-MM, such as 2026-10", *month)
				}
				from = m
			}
			from = time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC)
			evs, err := c.Usage(ctx, from, from.AddDate(0, 1, 0))
			if err != nil {
				return err
			}
			return emit(e, *asJSON, evs, func(e env, evs []byok.UsageEvent) { printHubUsage(e, from, evs) })
		})(ctx, e, fs, args)
	},
}

func printHubUsage(e env, from time.Time, evs []byok.UsageEvent) {
	type key struct {
		member  string
		service byok.Service
		payer   byok.Payer
	}
	type sum struct {
		calls, in, out int64
		cost           byok.Micros
	}
	sums := map[key]*sum{}
	for _, ev := range evs {
		k := key{ev.Member, ev.Service, ev.Payer}
		if sums[k] == nil {
			sums[k] = &sum{}
		}
		s := sums[k]
		s.calls++
		s.in += ev.Usage.InputTokens
		s.out += ev.Usage.OutputTokens
		s.cost += ev.Cost
	}
	keys := make([]key, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		return a.member+string(a.service)+string(a.payer) < b.member+string(b.service)+string(b.payer)
	})
	var rows [][]string
	for _, k := range keys {
		s := sums[k]
		rows = append(rows, []string{k.member, string(k.service), string(k.payer),
			fmt.Sprint(s.calls), fmt.Sprint(s.in), fmt.Sprint(s.out), s.cost.String()})
	}
	fmt.Fprintf(e.stdout, "%s\n", from.Format("January 2006"))
	table(e, "MEMBER\tSERVICE\tPAYER\tCALLS\tINPUT\tOUTPUT\tCOST", rows)
}
