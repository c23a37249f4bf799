package ledger

import (
	"context"
	"database/sql"
	"fmt"

	"byokd.dev/byok"
)

// Pref is a member's choice for one service.
type Pref struct {
	Preference byok.Preference
	// Fallback allows falling back from a failing personal key to a shared
	// one, where team policy allows it.
	Fallback bool
	// FallbackOnRateLimit also falls back when the personal key is only
	// rate-limited or the provider is overloaded.
	FallbackOnRateLimit bool
	// OverBudget is what happens once a personal key has used its monthly
	// budget: "warn" (the default), "block" or "shared".
	OverBudget string
}

// SetPref stores the preference for svc, replacing any earlier one.
func (d *DB) SetPref(ctx context.Context, svc byok.Service, p Pref) error {
	if _, err := byok.ParsePreference(string(p.Preference)); err != nil {
		return fmt.Errorf("set %s preference: %w", svc, err)
	}
	if svc == "" {
		return fmt.Errorf("set preference: no service given")
	}
	switch p.OverBudget {
	case "":
		p.OverBudget = "warn"
	case "warn", "block", "shared":
	default:
		return fmt.Errorf("set %s preference: unknown budget action %q: use warn, block or shared", svc, p.OverBudget)
	}
	err := d.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO prefs (service, preference, fallback, rate_limit_fallback, over_budget)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (service) DO UPDATE SET preference = excluded.preference, fallback = excluded.fallback,
	rate_limit_fallback = excluded.rate_limit_fallback, over_budget = excluded.over_budget`,
			string(svc), string(p.Preference), p.Fallback, p.FallbackOnRateLimit, p.OverBudget)
		return err
	})
	if err != nil {
		return fmt.Errorf("set %s preference: %w", svc, err)
	}
	return nil
}

// Prefs returns the stored preferences by service. Services the member has
// not set are absent.
func (d *DB) Prefs(ctx context.Context) (map[byok.Service]Pref, error) {
	rows, err := d.rdb.QueryContext(ctx, `SELECT service, preference, fallback, rate_limit_fallback, over_budget FROM prefs`)
	if err != nil {
		return nil, fmt.Errorf("read preferences: %w", classify(d.path, err))
	}
	defer rows.Close()
	out := map[byok.Service]Pref{}
	for rows.Next() {
		var svc, pref string
		var p Pref
		if err := rows.Scan(&svc, &pref, &p.Fallback, &p.FallbackOnRateLimit, &p.OverBudget); err != nil {
			return nil, fmt.Errorf("read preferences: %w", classify(d.path, err))
		}
		p.Preference = byok.Preference(pref)
		out[byok.Service(svc)] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read preferences: %w", classify(d.path, err))
	}
	return out, nil
}
