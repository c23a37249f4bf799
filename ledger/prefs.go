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
}

// SetPref stores the preference for svc, replacing any earlier one.
func (d *DB) SetPref(ctx context.Context, svc byok.Service, pref byok.Preference, fallback bool) error {
	if _, err := byok.ParsePreference(string(pref)); err != nil {
		return fmt.Errorf("set %s preference: %w", svc, err)
	}
	if svc == "" {
		return fmt.Errorf("set preference: no service given")
	}
	err := d.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO prefs (service, preference, fallback) VALUES (?, ?, ?)
ON CONFLICT (service) DO UPDATE SET preference = excluded.preference, fallback = excluded.fallback`,
			string(svc), string(pref), fallback)
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
	rows, err := d.rdb.QueryContext(ctx, `SELECT service, preference, fallback FROM prefs`)
	if err != nil {
		return nil, fmt.Errorf("read preferences: %w", classify(d.path, err))
	}
	defer rows.Close()
	out := map[byok.Service]Pref{}
	for rows.Next() {
		var svc, pref string
		var p Pref
		if err := rows.Scan(&svc, &pref, &p.Fallback); err != nil {
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
