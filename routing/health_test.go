package routing

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"byokd.dev/byok"
	"byokd.dev/byok/internal/testclock"
)

func TestHealth_CoolDown(t *testing.T) {
	clk := testclock.New(t0)
	h := NewHealth(clk.Now, 0) // 0: the default ten minutes

	h.Failed(byok.OpenAI, "work", rateLimit(ReasonRateLimited, true))
	if until, _ := h.CoolingUntil(byok.OpenAI, "work"); !until.IsZero() {
		t.Errorf("a rate limit started a cool-down until %v; want none", until)
	}

	h.Failed(byok.OpenAI, "work", cannotPay(ReasonQuota))
	until, reason := h.CoolingUntil(byok.OpenAI, "work")
	if want := t0.Add(DefaultCoolDown); !until.Equal(want) || reason != ReasonQuota {
		t.Errorf("got %v %q, want %v %q", until, reason, want, ReasonQuota)
	}
	if until, _ := h.CoolingUntil(byok.Anthropic, "work"); !until.IsZero() {
		t.Errorf("the same key name on another service is cooling until %v", until)
	}

	clk.Add(DefaultCoolDown - time.Second)
	if until, _ := h.CoolingUntil(byok.OpenAI, "work"); until.IsZero() {
		t.Error("cool-down ended a second early")
	}
	clk.Add(time.Second)
	if until, reason := h.CoolingUntil(byok.OpenAI, "work"); !until.IsZero() || reason != "" {
		t.Errorf("after ten minutes: got %v %q, want the key healthy again", until, reason)
	}

	h.Failed(byok.OpenAI, "work", cannotPay(ReasonInvalidKey))
	h.Succeeded(byok.OpenAI, "work")
	if until, _ := h.CoolingUntil(byok.OpenAI, "work"); !until.IsZero() {
		t.Errorf("after a success: cooling until %v, want healthy", until)
	}
}

func TestHealth_CustomCoolDownAndAnnotate(t *testing.T) {
	clk := testclock.New(t0)
	h := NewHealth(clk.Now, time.Minute)
	h.Failed(byok.Anthropic, "side", cannotPay(ReasonBilling))
	keys := []KeyState{{Name: "work", Primary: true}, {Name: "side", OverBudget: true}}
	h.Annotate(byok.Anthropic, keys)
	want := []KeyState{
		{Name: "work", Primary: true},
		{Name: "side", OverBudget: true, CoolingUntil: t0.Add(time.Minute), CoolingReason: ReasonBilling},
	}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("annotated keys (-want +got):\n%s", diff)
	}
}

// Run with -race: the proxy records and reads health from many calls at once.
func TestHealth_Concurrent(t *testing.T) {
	clk := testclock.New(t0)
	h := NewHealth(clk.Now, time.Minute)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("k%d", i%3)
			for range 200 {
				h.Failed(byok.OpenAI, key, cannotPay(ReasonQuota))
				h.CoolingUntil(byok.OpenAI, key)
				h.Annotate(byok.OpenAI, []KeyState{{Name: key}})
				h.Succeeded(byok.OpenAI, key)
				clk.Add(time.Second)
			}
		}()
	}
	wg.Wait()
	for i := range 3 {
		if until, _ := h.CoolingUntil(byok.OpenAI, fmt.Sprintf("k%d", i)); !until.IsZero() && until.Before(clk.Now()) {
			t.Errorf("k%d reports a cool-down that has ended: %v", i, until)
		}
	}
}
