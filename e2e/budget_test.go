package e2e

import (
	"strings"
	"sync"
	"testing"

	"byokd.dev/byok/internal/fakeprovider"
)

// TestE2E_BudgetedKeyUnpricedModelManyCalls: 100 concurrent calls for a
// model without a price (each estimated high, about $1) on a key with a
// $50 budget. Whatever the member chose for over-budget calls, each call
// is answered or refused with a byokd: budget error, never with "500
// internal error choosing a credential"; the reservations of the calls
// are all released, so the next call goes out.
func TestE2E_BudgetedKeyUnpricedModelManyCalls(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m := newMember(t, fake.URL)
	m.mustStart()
	m.mustCLI(openaiKey, "key", "add", "openai", "--name", "work", "--budget", "50")
	tok := strings.TrimSpace(m.mustCLI("", "token", "create", "app"))
	for _, c := range []struct {
		overBudget string // "" leaves the default
		allPass    bool
	}{{"", true}, {"block", false}, {"shared", false}, {"warn", true}} {
		if c.overBudget != "" {
			m.mustCLI("", "pref", "set", "openai", "personal", "--over-budget", c.overBudget)
		}
		type result struct {
			status int
			body   string
			err    error
		}
		results := make([]result, 100)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				status, body, err := post(m.proxy, tok, "some-new-model")
				results[i] = result{status, body, err}
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, r := range results {
			switch {
			case r.err == nil && r.status == 200:
				ok++
			case c.allPass:
				t.Errorf("over-budget %q: got %d %v %s, want every call answered", c.overBudget, r.status, r.err, r.body)
			case r.err != nil || r.status != 402 || !strings.Contains(r.body, `byokd: your OpenAI key \"work\" has reached its monthly budget`):
				t.Errorf("over-budget %q: got %d %v %s, want 200 or a 402 byokd: budget refusal", c.overBudget, r.status, r.err, r.body)
			}
		}
		t.Logf("over-budget %q: %d of 100 concurrent calls answered", c.overBudget, ok)
		if ok == 0 {
			t.Errorf("over-budget %q: no call answered; the $50 budget has room for some", c.overBudget)
		}
		// Nothing was spent (the model has no price) and every call has
		// ended, so nothing is held: the next call fits.
		if status, body, err := post(m.proxy, tok, "some-new-model"); status != 200 || err != nil {
			t.Errorf("over-budget %q: a call after the burst: %d %v %s, want 200", c.overBudget, status, err, body)
		}
	}
}
