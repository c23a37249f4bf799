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
				ID: fmt.Sprintf("call-%d", i), Service: byok.OpenAI, Credential: "personal/work",
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
	st, err := d.Budget(ctx, byok.OpenAI, "personal/work", from, to)
	if err != nil || st.Reserved != byok.USD(1.00) || st.Spent != 0 {
		t.Fatalf("state %+v, %v; want $1.00 reserved, nothing spent", st, err)
	}
}

func TestReserve_RecordSettlesAndUnusedComesBack(t *testing.T) {
	d, path := openTemp(t)
	ctx := context.Background()
	from, to := base.AddDate(0, 0, -1), base.AddDate(0, 1, 0)
	res := func(id string, amount float64) error {
		_, err := d.Reserve(ctx, Reservation{ID: id, Service: byok.OpenAI, Credential: "personal/work",
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
	st, err := d.Budget(ctx, byok.OpenAI, "personal/work", from, to)
	if err != nil || st.Spent != byok.USD(0.10) || st.Reserved != byok.USD(0.50) {
		t.Fatalf("after settling: %+v, %v; want $0.10 spent and $0.50 reserved", st, err)
	}
	if err := res("c", 0.40); err != nil {
		t.Fatalf("the unused $0.40 did not come back: %v", err)
	}
	// Reservations survive a restart.
	d.Close()
	d2 := openAt(t, path, Options{})
	st, err = d2.Budget(ctx, byok.OpenAI, "personal/work", from, to)
	if err != nil || st.Reserved != byok.USD(0.90) {
		t.Fatalf("after reopening: %+v, %v; want $0.90 reserved (b and c)", st, err)
	}
	// The same key name of another service has its own budget.
	if _, err := d2.Reserve(ctx, Reservation{ID: "x", Service: byok.Anthropic, Credential: "personal/work",
		Amount: byok.USD(0.90), Budget: byok.USD(1.00), From: from, To: to}); err != nil {
		t.Errorf("anthropic/work shares openai/work's budget: %v", err)
	}
	if err := d2.Release(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if n, err := d2.ExpireReservations(ctx, time.Now().Add(time.Hour)); err != nil || n != 2 {
		t.Errorf("ExpireReservations = %d, %v; want 2", n, err)
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
		got, err := d.MarkAlert(ctx, byok.OpenAI, "personal/work", c.month, c.percent)
		if err != nil || got != c.want {
			t.Errorf("MarkAlert(%s, %d) = %v, %v; want %v", c.month, c.percent, got, err, c.want)
		}
	}
}
