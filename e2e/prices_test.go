package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"byokd.dev/byok/internal/fakeprovider"
	"byokd.dev/byok/internal/sdkrun"
	"byokd.dev/byok/metering"
)

// TestE2E_TeamPricesReachEveryDaemon: a model the built-in table does not
// know costs "unknown"; the admin sets the team's price table on the hub,
// and the connected daemon prices the next call by it within a second (and
// after a restart, from its cache); the member's own prices.json still
// wins; `byokd prices` says where each price came from.
func TestE2E_TeamPricesReachEveryDaemon(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	h := startHub(t, fake.URL)
	m := joinedMember(t, h, fake.URL, "pat@example.com")
	m.mustCLI(openaiKey, "key", "add", "openai", "--name", "work")
	tok := strings.TrimSpace(m.mustCLI("", "token", "create", "editor"))
	call := func() {
		t.Helper()
		res := sdkrun.Run(t, "openai_chat.mjs", map[string]string{"BASE_URL": "http://" + m.proxy + "/openai/v1",
			"API_KEY": tok, "MODEL": "gpt-9-preview", "STREAM": "0", "PROMPT": "x"})
		if res.Error != nil {
			t.Fatal(res.Error)
		}
	}
	// last is the newest row's cost, and what it would cost at in and
	// out dollars per million tokens (cache reads priced as input).
	last := func(in, out int64) (cost, want int64, known bool) {
		t.Helper()
		rows := m.usage()
		r := rows[len(rows)-1]
		return int64(r.Cost), (r.Usage.InputTokens+r.Usage.CacheReadTokens)*in + r.Usage.OutputTokens*out, r.CostKnown
	}

	call()
	if _, _, known := last(0, 0); known {
		t.Fatal("a model no table prices was costed")
	}

	table := filepath.Join(t.TempDir(), "team-prices.json")
	os.WriteFile(table, []byte(`{"openai": {"gpt-9-preview": {"input": 1000, "output": 2000}, "gpt-9-mini": {"input": 1, "output": 2}}}`), 0o600)
	if out := h.cli("", "prices", "set", table); !strings.Contains(out, "version 1") {
		t.Fatalf("hub prices set: %s", out)
	}
	if out := h.cli("", "prices", "show"); !strings.HasPrefix(out, "version 1\n") || !strings.Contains(out, `"gpt-9-preview":{"input":1000,"output":2000}`) {
		t.Errorf("hub prices show:\n%s", out)
	}
	// The push takes well under a second; poll what the daemon prices by.
	sources := map[string]string{}
	for deadline := time.Now().Add(30 * time.Second); sources["gpt-9-preview"] == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var listed []metering.Listed
		if err := json.Unmarshal([]byte(m.mustCLI("", "prices", "openai", "--json")), &listed); err != nil {
			t.Fatal(err)
		}
		for _, l := range listed {
			sources[l.Model] = l.Source
		}
	}
	call()
	if cost, want, known := last(1000, 2000); !known || cost != want {
		t.Errorf("after the team's table arrived: cost %d (known %v), want %d", cost, known, want)
	}
	if sources["gpt-9-preview"] != "team hub (version 1)" || sources["gpt-4o"] != "built-in" {
		t.Errorf("byokd prices: gpt-9-preview from %q, gpt-4o from %q", sources["gpt-9-preview"], sources["gpt-4o"])
	}

	// The member's own file wins, and the team's table survives a restart.
	m.stop()
	os.WriteFile(filepath.Join(m.home, "prices.json"), []byte(`{"openai": {"gpt-9-preview": {"input": 1, "output": 1}}}`), 0o600)
	m.mustStart()
	call()
	if cost, want, known := last(1, 1); !known || cost != want {
		t.Errorf("with the member's own price: cost %d (known %v), want %d", cost, known, want)
	}
	var listed []metering.Listed
	if err := json.Unmarshal([]byte(m.mustCLI("", "prices", "openai", "--json")), &listed); err != nil {
		t.Fatal(err)
	}
	for _, l := range listed {
		sources[l.Model] = l.Source
	}
	if !strings.HasSuffix(sources["gpt-9-preview"], filepath.Join(m.home, "prices.json")) || sources["gpt-9-mini"] != "team hub (version 1)" {
		t.Errorf("byokd prices after a restart: gpt-9-preview from %q, gpt-9-mini from %q", sources["gpt-9-preview"], sources["gpt-9-mini"])
	}
	if out := m.mustCLI("", "prices", "openai"); !strings.Contains(out, "gpt-9-mini") || !strings.Contains(out, "FROM") {
		t.Errorf("byokd prices table:\n%s", out)
	}
}
