package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"byokd.dev/byok"
)

// Reservation asks to hold an estimated cost against a personal key's
// monthly budget before a call is sent.
type Reservation struct {
	ID         string // the call's usage event id; its usage row settles it
	Service    byok.Service
	Credential byok.CredentialRef
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

// budgets keeps the month of each key asked about in memory: what its
// rows cost, and the estimates of its calls in flight. A call's budget
// check then reads no table and writes nothing; summing a month of rows
// on every call cost more the longer the month ran.
//
// A month is loaded once, by a write the writer runs: it sums the rows
// SQLite holds and, once committed, the rows of the same transaction;
// from the moment the writer takes those rows, every row journaled after
// them is added as it is journaled (monthEntry.counting). So each row is
// counted once, whether it was in SQLite, in the transaction, or later.
// Reservations live only as long as the process: they hold the estimates
// of calls in flight, and a call's row (or its failure to be recorded)
// settles them.
type budgets struct {
	mu     sync.Mutex
	months map[monthKey]*monthEntry
	holds  map[string]hold // by call id
	newest int64           // the newest row's time, unix microseconds
}

type monthKey struct {
	svc      byok.Service
	cred     byok.CredentialRef
	from, to int64 // unix microseconds
}

type monthEntry struct {
	key      monthKey
	counting bool        // rows journaled from now on are added to spent
	stored   byok.Micros // the rows SQLite held when it was loaded
	spent    byok.Micros // the rows counted since
	reserved byok.Micros
	ready    chan struct{} // closed once loaded, or failed (err)
	err      error
}

type hold struct {
	m      *monthEntry
	amount byok.Micros
}

func (k monthKey) holds(ev *byok.UsageEvent) bool {
	t := ev.Time.UnixMicro()
	return ev.CostKnown && ev.Service == k.svc && ev.Credential == k.cred && t >= k.from && t < k.to
}

// month returns the loaded month of a key, loading it first if need be.
func (d *DB) month(ctx context.Context, svc byok.Service, credential byok.CredentialRef, from, to time.Time) (*monthEntry, error) {
	b := &d.budgets
	k := monthKey{svc: svc, cred: credential, from: from.UnixMicro(), to: to.UnixMicro()}
	b.mu.Lock()
	m := b.months[k]
	if m == nil {
		m = &monthEntry{key: k, ready: make(chan struct{})}
		for old := range b.months {
			if old.svc == svc && old.cred == credential && old.to <= k.from {
				delete(b.months, old) // a month before: journaled rows no longer look at it
			}
		}
		b.months[k] = m
		b.mu.Unlock()
		err := d.submit(ctx, &request{load: m, op: func(ctx context.Context, tx *sql.Tx) error {
			var stored int64
			err := tx.QueryRowContext(ctx, `SELECT coalesce(sum(cost_micros), 0) FROM usage
WHERE service = ? AND credential = ? AND time_us >= ? AND time_us < ? AND cost_known`,
				string(svc), credential.String(), k.from, k.to).Scan(&stored)
			b.mu.Lock()
			m.stored = byok.Micros(stored) // set, not added: a retried transaction runs it again
			b.mu.Unlock()
			return err
		}})
		b.mu.Lock()
		if err != nil {
			m.err = fmt.Errorf("read the month's spend of %s %s: %w", svc, credential, err)
			m.counting = false
			delete(b.months, k) // the next call tries again
		}
		close(m.ready)
		b.mu.Unlock()
		return m, m.err
	}
	b.mu.Unlock()
	select {
	case <-m.ready:
		return m, m.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// startCounting is called by the writer as it takes the rows waiting for
// SQLite into the transaction that loads ms: later rows are counted as
// they are journaled. appendMu is held.
func (b *budgets) startCounting(ms []*monthEntry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range ms {
		m.counting = true
	}
}

// loaded adds the rows of the transaction that loaded ms, or, if it
// failed, stops counting for them.
func (b *budgets) loaded(ms []*monthEntry, rows []*byok.UsageEvent, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range ms {
		m.counting = ok
		if !ok {
			m.spent = 0
			continue
		}
		for _, ev := range rows {
			if m.key.holds(ev) {
				m.spent += ev.Cost
			}
		}
	}
}

// recorded counts journaled rows in the months loaded, and settles their
// calls' reservations (also of rows that could not be recorded: their
// calls are over).
func (b *budgets) recorded(evs []*byok.UsageEvent, journaled bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ev := range evs {
		if h, ok := b.holds[ev.ID]; ok {
			h.m.reserved -= h.amount
			delete(b.holds, ev.ID)
		}
		if !journaled {
			continue
		}
		b.newest = max(b.newest, ev.Time.UnixMicro())
		for _, m := range b.months {
			if m.counting && m.key.holds(ev) {
				m.spent += ev.Cost
			}
		}
	}
}

// Newest is the time of the newest row recorded, zero if none: a clock
// behind it has been set back, and a budget month must not reopen by it.
func (d *DB) Newest() time.Time {
	d.budgets.mu.Lock()
	defer d.budgets.mu.Unlock()
	if d.budgets.newest == 0 {
		return time.Time{}
	}
	return time.UnixMicro(d.budgets.newest)
}

// Reserve checks the key's spend this month plus the estimates of its
// calls in flight plus r.Amount against r.Budget and, if it fits, holds
// r.Amount until the call's row is recorded (or Release), so that
// concurrent calls cannot overshoot by more than the estimates in flight.
// Over budget it returns ErrOverBudget and the state, holding nothing. A
// zero Budget always fits. It reads and writes no table once the key's
// month is loaded.
func (d *DB) Reserve(ctx context.Context, r Reservation) (BudgetState, error) {
	m, err := d.month(ctx, r.Service, r.Credential, r.From, r.To)
	if err != nil {
		return BudgetState{}, fmt.Errorf("reserve budget for %s %s: %w", r.Service, r.Credential, err)
	}
	b := &d.budgets
	b.mu.Lock()
	defer b.mu.Unlock()
	st := BudgetState{Spent: m.stored + m.spent, Reserved: m.reserved}
	if r.Budget > 0 && st.Spent+st.Reserved+r.Amount > r.Budget {
		return st, ErrOverBudget
	}
	if _, dup := b.holds[r.ID]; !dup {
		b.holds[r.ID] = hold{m: m, amount: r.Amount}
		m.reserved += r.Amount
	}
	st.Reserved = m.reserved
	return st, nil
}

// Budget returns a key's spend in [from, to) and the estimates its calls
// in flight hold.
func (d *DB) Budget(ctx context.Context, svc byok.Service, credential byok.CredentialRef, from, to time.Time) (BudgetState, error) {
	m, err := d.month(ctx, svc, credential, from, to)
	if err != nil {
		return BudgetState{}, fmt.Errorf("read budget of %s %s: %w", svc, credential, classify(d.path, err))
	}
	d.budgets.mu.Lock()
	defer d.budgets.mu.Unlock()
	return BudgetState{Spent: m.stored + m.spent, Reserved: m.reserved}, nil
}

// LoadedBudget is Budget for a month already in memory, with no I/O: ok
// is false when it is not loaded (Budget would load it through the
// writer).
func (d *DB) LoadedBudget(svc byok.Service, credential byok.CredentialRef, from, to time.Time) (st BudgetState, ok bool) {
	b := &d.budgets
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.months[monthKey{svc: svc, cred: credential, from: from.UnixMicro(), to: to.UnixMicro()}]
	if m == nil {
		return BudgetState{}, false
	}
	select {
	case <-m.ready:
	default:
		return BudgetState{}, false
	}
	if m.err != nil {
		return BudgetState{}, false
	}
	return BudgetState{Spent: m.stored + m.spent, Reserved: m.reserved}, true
}

// MarkAlert records that a budget threshold was announced for a key in a
// month (YYYY-MM). It reports false if it already was, so each alert is
// raised once per key per month.
func (d *DB) MarkAlert(ctx context.Context, svc byok.Service, credential byok.CredentialRef, month string, percent int) (bool, error) {
	first, err := d.insertOnce(ctx, `INSERT INTO budget_alerts (service, credential, month, percent)
VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, string(svc), credential.String(), month, percent)
	if err != nil {
		return false, fmt.Errorf("mark budget alert: %w", err)
	}
	return first, nil
}

// insertOnce runs an INSERT … ON CONFLICT DO NOTHING through the writer
// and reports whether it inserted: the first to mark something wins.
func (d *DB) insertOnce(ctx context.Context, query string, args ...any) (first bool, err error) {
	err = d.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		first = n == 1
		return err
	})
	return first, err
}
