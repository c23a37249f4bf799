package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"byokd.dev/byok"
)

// Reservation asks to hold an estimated cost against a personal key's
// monthly budget before a call is sent.
type Reservation struct {
	ID         string // the call's usage event id; its usage row settles it
	Service    byok.Service
	Credential string // "personal/work"
	Amount     byok.Micros
	Budget     byok.Micros // the key's monthly budget; 0 means none
	From, To   time.Time   // the budget's month
}

// BudgetState is a key's month: what is spent and what is held by calls in
// flight.
type BudgetState struct {
	Spent    byok.Micros
	Reserved byok.Micros
}

// ErrOverBudget: the reservation would take the key past its budget.
var ErrOverBudget = errors.New("monthly budget reached")

// Reserve checks the key's spend plus open reservations plus r.Amount
// against r.Budget and, if it fits, records the reservation — check and
// insert in one writer transaction (BEGIN IMMEDIATE), so concurrent calls
// cannot overshoot by more than the estimates in flight. Over budget it
// returns ErrOverBudget and the state, reserving nothing. A zero Budget
// always fits.
func (d *DB) Reserve(ctx context.Context, r Reservation) (BudgetState, error) {
	var st BudgetState
	err := d.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		if st, err = budgetState(ctx, tx, r.Service, r.Credential, r.From, r.To); err != nil {
			return err
		}
		if r.Budget > 0 && st.Spent+st.Reserved+r.Amount > r.Budget {
			return ErrOverBudget
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO reservations (id, service, credential, amount_micros, created_us)
VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			r.ID, string(r.Service), r.Credential, int64(r.Amount), d.opts.Now().UnixMicro())
		st.Reserved += r.Amount
		return err
	})
	if err != nil && !errors.Is(err, ErrOverBudget) {
		return st, fmt.Errorf("reserve budget for %s %s: %w", r.Service, r.Credential, err)
	}
	return st, err
}

// Release drops a reservation whose call never reached the upstream.
func (d *DB) Release(ctx context.Context, id string) error {
	return d.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM reservations WHERE id = ?`, id)
		return err
	})
}

// ExpireReservations drops reservations older than cutoff: calls that
// never recorded a row (the daemon died mid-call). It returns how many.
func (d *DB) ExpireReservations(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := d.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM reservations WHERE created_us < ?`, cutoff.UnixMicro())
		if err == nil {
			n, err = res.RowsAffected()
		}
		return err
	})
	return n, err
}

// Budget returns a key's spend and open reservations in [from, to).
func (d *DB) Budget(ctx context.Context, svc byok.Service, credential string, from, to time.Time) (BudgetState, error) {
	d.settle(ctx)
	st, err := budgetState(ctx, d.rdb, svc, credential, from, to)
	if err != nil {
		return st, fmt.Errorf("read budget of %s %s: %w", svc, credential, classify(d.path, err))
	}
	return st, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func budgetState(ctx context.Context, q querier, svc byok.Service, credential string, from, to time.Time) (BudgetState, error) {
	var spent, reserved int64
	if err := q.QueryRowContext(ctx, `SELECT coalesce(sum(cost_micros), 0) FROM usage
WHERE service = ? AND credential = ? AND time_us >= ? AND time_us < ? AND cost_known`,
		string(svc), credential, from.UnixMicro(), to.UnixMicro()).Scan(&spent); err != nil {
		return BudgetState{}, err
	}
	if err := q.QueryRowContext(ctx, `SELECT coalesce(sum(amount_micros), 0) FROM reservations
WHERE service = ? AND credential = ?`, string(svc), credential).Scan(&reserved); err != nil {
		return BudgetState{}, err
	}
	return BudgetState{Spent: byok.Micros(spent), Reserved: byok.Micros(reserved)}, nil
}

// MarkAlert records that a budget threshold was announced for a key in a
// month (YYYY-MM). It reports false if it already was, so each alert is
// raised once per key per month.
func (d *DB) MarkAlert(ctx context.Context, svc byok.Service, credential, month string, percent int) (bool, error) {
	first := false
	err := d.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO budget_alerts (service, credential, month, percent)
VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, string(svc), credential, month, percent)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		first = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("mark budget alert: %w", err)
	}
	return first, nil
}
