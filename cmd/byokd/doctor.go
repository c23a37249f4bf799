package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"time"

	"byokd.dev/byok/daemon"
	"byokd.dev/byok/internal/statelock"
	"byokd.dev/byok/ledger"
)

var doctorCmd = command{
	summary: "check the ledger and repair a damaged one (byokd must be stopped)",
	usage: `Usage: byokd doctor [--check]

Checks the ledger in $BYOKD_HOME: SQLite's integrity_check, the schema
version, and the tables and columns against what this byokd expects. It
explains what it finds. A damaged ledger is repaired: the file is first
copied to ledger.db.backup-DATE beside it, then a new ledger is built with
every row that can still be read. A ledger written by a newer byokd is left
alone: upgrade byokd instead.

byokd must not be running: stop it first (byokd service stop, or end
byokd run).

Example:
  byokd doctor
  byokd doctor --check`,
	run: func(ctx context.Context, e env, fs *flag.FlagSet, args []string) error {
		checkOnly := fs.Bool("check", false, "only check and explain; change nothing")
		return homeRun(func(ctx context.Context, e env, dir string, fs *flag.FlagSet) error {
			// The daemon's own lock on the folder: held, a daemon runs;
			// taken, none can start while the ledger is repaired.
			unlock, err := statelock.Acquire(dir, "byokd")
			if errors.Is(err, statelock.ErrHeld) {
				return fmt.Errorf("byokd is running: stop it first (byokd service stop, or end byokd run), then run byokd doctor again (%v)", err)
			}
			if err != nil {
				return err
			}
			defer unlock()
			path := filepath.Join(dir, daemon.LedgerFile)
			fixed, err := ledger.RepairJournal(path, !*checkOnly, time.Now)
			if err != nil {
				return err
			}
			for _, r := range fixed {
				if *checkOnly {
					fmt.Fprintf(e.stdout, "%s: lines %v are not usage rows (%d rows are): run byokd doctor without --check to remove them\n", r.File, r.Dropped, r.Kept)
					continue
				}
				fmt.Fprintf(e.stdout, "%s: removed lines %v, which were not usage rows; kept %d rows (the old file is kept as %s)\n", r.File, r.Dropped, r.Kept, r.Backup)
			}
			c, err := ledger.Check(ctx, path)
			if err != nil {
				return err
			}
			fmt.Fprint(e.stdout, c.Report())
			switch {
			case c.OK() && *checkOnly && len(fixed) > 0:
				return errors.New("byokd: the ledger journal is damaged: run byokd doctor without --check to repair it")
			case c.OK():
				return nil
			case c.TooNew:
				return errors.New("byokd: the ledger is from a newer byokd: upgrade byokd")
			case *checkOnly:
				return errors.New("byokd: the ledger is damaged: run byokd doctor without --check to repair it")
			}
			res, err := ledger.Rebuild(ctx, path, time.Now)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "repaired: the old file is kept as %s\n", res.Backup)
			for _, t := range slices.Sorted(maps.Keys(res.Copied)) {
				line := fmt.Sprintf("  %-14s %d rows kept", t, res.Copied[t])
				if lost := res.Lost[t]; lost != "" {
					line += "; " + lost
				}
				fmt.Fprintln(e.stdout, line)
			}
			for _, t := range slices.Sorted(maps.Keys(res.Lost)) {
				if _, ok := res.Copied[t]; !ok {
					fmt.Fprintf(e.stdout, "  %-14s %s\n", t, res.Lost[t])
				}
			}
			if res.Requeued > 0 {
				fmt.Fprintf(e.stdout, "  %d kept rows are queued for the team hub again (which rows it had was lost; it keeps each once)\n", res.Requeued)
			}
			return nil
		})(ctx, e, fs, args)
	},
}
