package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"byokd.dev/byok"
)

func TestReserve_ConcurrentCallsAdmitExactlyTheBudget(t *testing.T) {
	d, _ := openTemp(t)
	ctx := context.Background()
	from, to := base.AddDate(0, 0, -1), base.AddDate(0, 1, 0)
	var admitted, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := d.Reserve(ctx, Reservation{
				ID: fmt.Sprintf("call-%d", i), Service: byok.OpenAI, Credential: byok.PersonalKey("work"),
				Amount: byok.USD(0.10), Budget: byok.USD(1.00), From: from, To: to,
			})
			switch {
			case err == nil:
				admitted.Add(1)
			case errors.Is(err, ErrOverBudget):
				refused.Add(1)
			default:
				t.Errorf("Reserve: %v", err)
			}
		}()
	}
	wg.Wait()
	if admitted.Load() != 10 || refused.Load() != 90 {
		t.Fatalf("admitted %d, refused %d; want 10 and 90", admitted.Load(), refused.Load())
	}
	st, err := d.Budget(ctx, byok.OpenAI, byok.PersonalKey("work"), from, to)
	if err != nil || st.Reserved != byok.USD(1.00) || st.Spent != 0 {
		t.Fatalf("state %+v, %v; want $1.00 reserved, nothing spent", st, err)
	}
}

func TestReserve_RecordSettlesAndUnusedComesBack(t *testing.T) {
	d, path := openTemp(t)
	ctx := context.Background()
	from, to := base.AddDate(0, 0, -1), base.AddDate(0, 1, 0)
	res := func(id string, amount float64) error {
		_, err := d.Reserve(ctx, Reservation{ID: id, Service: byok.OpenAI, Credential: byok.PersonalKey("work"),
			Amount: byok.USD(amount), Budget: byok.USD(1.00), From: from, To: to})
		return err
	}
	if err := errors.Join(res("a", 0.50), res("b", 0.50)); err != nil {
		t.Fatal(err)
	}
	if err := res("c", 0.40); !errors.Is(err, ErrOverBudget) {
		t.Fatalf("$0.40 more on a full $1.00 budget: %v, want ErrOverBudget", err)
	}
	// "a" costs only $0.10: recording it settles its $0.50 estimate.
	ev := event(1)
	ev.ID, ev.Cost = "a", byok.USD(0.10)
	if err := d.Record(ctx, ev); err != nil {
		t.Fatal(err)
	}
	st, err := d.Budget(ctx, byok.OpenAI, byok.PersonalKey("work"), from, to)
	if err != nil || st.Spent != byok.USD(0.10) || st.Reserved != byok.USD(0.50) {
		t.Fatalf("after settling: %+v, %v; want $0.10 spent and $0.50 reserved", st, err)
	}
	if err := res("c", 0.40); err != nil {
		t.Fatalf("the unused $0.40 did not come back: %v", err)
	}
	// A restart ends the calls in flight and their reservations; the
	// spend stays.
	d.Close()
	d2 := openAt(t, path, Options{})
	st, err = d2.Budget(ctx, byok.OpenAI, byok.PersonalKey("work"), from, to)
	if err != nil || st.Reserved != 0 || st.Spent != byok.USD(0.10) {
		t.Fatalf("after reopening: %+v, %v; want $0.10 spent and nothing reserved", st, err)
	}
	// The same key name of another service has its own budget.
	if _, err := d2.Reserve(ctx, Reservation{ID: "x", Service: byok.Anthropic, Credential: byok.PersonalKey("work"),
		Amount: byok.USD(0.90), Budget: byok.USD(1.00), From: from, To: to}); err != nil {
		t.Errorf("anthropic/work shares openai/work's budget: %v", err)
	}
}

// The month's spend is kept in memory from the moment a key's month is
// first asked about: each row counts once whether it was in SQLite, on its
// way there or recorded later, also while calls record rows as fast as
// they can. Months are asked about (loaded) at different moments of the
// burst; each ends with the sum SQLite holds.
func TestBudget_MonthCountsEachRowOnce(t *testing.T) {
	const callers, each, loads = 8, 150, 12
	d, path := openTemp(t)
	ctx := context.Background()
	from, to := base.AddDate(0, 0, -1), base.AddDate(0, 1, 0)
	row := func(id string, cost byok.Micros) byok.UsageEvent {
		ev := event(0)
		ev.ID, ev.Cost, ev.CostKnown, ev.Credential = id, cost, true, byok.PersonalKey("work")
		return ev
	}
	for i := range 40 {
		if err := d.Record(ctx, row(fmt.Sprintf("before-%d", i), 7)); err != nil {
			t.Fatal(err)
		}
	}
	// Rows that are not this key's month's: another key, another month,
	// an unknown cost.
	other := []byok.UsageEvent{row("other-key", 1000), row("other-month", 1000), row("unknown-cost", 1000)}
	other[0].Credential = byok.PersonalKey("home")
	other[1].Time = to.Add(time.Hour)
	other[2].CostKnown = false
	for _, ev := range other {
		if err := d.Record(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				if err := d.Record(ctx, row(fmt.Sprintf("burst-%d-%d", c, i), byok.Micros(1+i%5))); err != nil {
					t.Errorf("Record: %v", err)
					return
				}
			}
		})
	}
	// Each load is its own month (the bounds differ by microseconds),
	// loaded at another moment of the burst.
	months := make([]time.Time, loads)
	for l := range loads {
		months[l] = from.Add(-time.Duration(l) * time.Microsecond)
		wg.Go(func() {
			time.Sleep(time.Duration(l) * time.Millisecond)
			if _, err := d.Budget(ctx, byok.OpenAI, byok.PersonalKey("work"), months[l], to); err != nil {
				t.Errorf("Budget: %v", err)
			}
		})
	}
	wg.Wait()
	d.settle(ctx)
	want := byok.Micros(countRows(t, rawDB(t, path), `SELECT sum(cost_micros) FROM usage
WHERE credential = 'personal/work' AND service = 'openai' AND cost_known AND time_us >= ? AND time_us < ?`, from.UnixMicro(), to.UnixMicro()))
	if want != 40*7+callers*each*3 {
		t.Fatalf("SQLite holds %d µ$ of this key's month, want %d: the test's rows are wrong", want, 40*7+callers*each*3)
	}
	for l, m := range months {
		st, err := d.Budget(ctx, byok.OpenAI, byok.PersonalKey("work"), m, to)
		if err != nil || st.Spent != want {
			t.Errorf("month loaded %d ms into the burst: spent %d, %v; want %d (SQLite's sum)", l, st.Spent, err, want)
		}
	}
}

// TestLoadedBudget_OnlyWhatMemoryHolds: before a month is loaded,
// LoadedBudget says so (and loads nothing); once Budget has loaded it,
// it answers the same spend, with each row recorded since.
func TestLoadedBudget_OnlyWhatMemoryHolds(t *testing.T) {
	d, _ := openTemp(t)
	ctx := context.Background()
	from, to := base.AddDate(0, 0, -1), base.AddDate(0, 1, 0)
	key := byok.PersonalKey("work")
	row := func(id string) byok.UsageEvent {
		ev := event(0)
		ev.ID, ev.Cost, ev.CostKnown, ev.Credential = id, 25, true, key
		return ev
	}
	if err := d.Record(ctx, row("stored")); err != nil {
		t.Fatal(err)
	}
	if st, ok := d.LoadedBudget(byok.OpenAI, key, from, to); ok {
		t.Fatalf("a month never asked about: %+v, loaded; want not loaded", st)
	}
	if st, ok := d.LoadedBudget(byok.OpenAI, key, from, to); ok {
		t.Fatalf("asked again: %+v, loaded; LoadedBudget must not load it", st)
	}
	loaded, err := d.Budget(ctx, byok.OpenAI, key, from, to)
	if err != nil || loaded.Spent != 25 {
		t.Fatalf("Budget: %+v, %v; want 25 µ$ spent", loaded, err)
	}
	if st, ok := d.LoadedBudget(byok.OpenAI, key, from, to); !ok || st != loaded {
		t.Fatalf("once loaded: %+v, %v; want %+v", st, ok, loaded)
	}
	if err := d.Record(ctx, row("later")); err != nil {
		t.Fatal(err)
	}
	if st, ok := d.LoadedBudget(byok.OpenAI, key, from, to); !ok || st.Spent != 50 {
		t.Fatalf("after one more row: %+v, %v; want 50 µ$ spent", st, ok)
	}
	if _, ok := d.LoadedBudget(byok.OpenAI, byok.PersonalKey("home"), from, to); ok {
		t.Fatal("another key's month reads as loaded")
	}
}

func TestMarkAlert_OncePerKeyPerMonth(t *testing.T) {
	d, _ := openTemp(t)
	ctx := context.Background()
	for _, c := range []struct {
		month   string
		percent int
		want    bool
	}{
		{"2026-03", 50, true}, {"2026-03", 50, false}, {"2026-03", 80, true}, {"2026-04", 50, true},
	} {
		got, err := d.MarkAlert(ctx, byok.OpenAI, byok.PersonalKey("work"), c.month, c.percent)
		if err != nil || got != c.want {
			t.Errorf("MarkAlert(%s, %d) = %v, %v; want %v", c.month, c.percent, got, err, c.want)
		}
	}
}
