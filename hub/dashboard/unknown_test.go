package dashboard_test

import (
	"context"
	"encoding/csv"
	"html"
	"strings"
	"testing"
	"time"

	"byokd.dev/byok"
)

// TestDashboard_UnknownCostIsNeverZero: calls whose cost nobody knows (a
// model without a price, an endpoint byokd does not meter) are shown as
// unknown on every page and in the CSV, never as $0.00, next to the known
// amounts.
func TestDashboard_UnknownCostIsNeverZero(t *testing.T) {
	h := startHub(t, "", now)
	known := ev("k1", seeded.Add(time.Hour), byok.OpenAI, byok.PayerPersonal, "acme", 1_500_000)
	unpriced := ev("u1", seeded.Add(2*time.Hour), byok.Anthropic, byok.PayerPersonal, "acme", 0)
	unpriced.CostKnown, unpriced.Model = false, "claude-next"
	alsoUnpriced := unpriced
	alsoUnpriced.ID = "u2"
	if err := h.store.IngestUsage(context.Background(), "ann@example.com", "dev-ann", []byok.UsageEvent{known, unpriced, alsoUnpriced}); err != nil {
		t.Fatal(err)
	}
	admin := h.adminBrowser(t, "boss@example.com")
	for path, want := range map[string][]string{
		"/ui/overview": {`<dd id="total-personal">$1.50 + 2 calls of unknown cost</dd>`, "<td class=\"num\">unknown (2 calls)</td>"},
		"/ui/projects": {"$1.50 + 2 calls of unknown cost"},
		"/ui/members":  {"$1.50 + 2 calls of unknown cost"},
		"/ui/reports":  {`<dd id="report-total">$1.50 + 2 calls of unknown cost</dd>`, "<td class=\"num\">unknown (2 calls)</td>"},
		"/ui/audit":    {">unknown<"},
	} {
		st, page := admin.get(path)
		if st != 200 {
			t.Fatalf("%s: %d", path, st)
		}
		page = html.UnescapeString(page)
		for _, w := range want {
			if !strings.Contains(page, w) {
				t.Errorf("%s does not say %q", path, w)
			}
		}
		// The only calls are personal: a personal amount of $0.00 would
		// be the unknown ones counted as nothing.
		for _, zero := range []string{"Personal keys</dt><dd id=\"total-personal\">$0.00", "personal\">$0.00", ">$0.00 + "} {
			if strings.Contains(page, zero) {
				t.Errorf("%s shows the unknown cost as $0.00 (%q)", path, zero)
			}
		}
	}
	_, body := admin.get("/ui/reports.csv")
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header := strings.Join(recs[0], ",")
	if !strings.HasSuffix(header, "cost_usd,unknown_cost_calls") {
		t.Fatalf("CSV header %s", header)
	}
	bySvc := map[string][]string{}
	for _, r := range recs[1:] {
		bySvc[r[2]] = r
	}
	if r := bySvc["anthropic"]; len(r) == 0 || r[len(r)-2] != "unknown" || r[len(r)-1] != "2" {
		t.Errorf("CSV row of the unpriced calls: %v, want cost unknown and 2 unknown-cost calls", r)
	}
	if r := bySvc["openai"]; len(r) == 0 || r[len(r)-2] != "1.500000" || r[len(r)-1] != "0" {
		t.Errorf("CSV row of the priced call: %v", r)
	}
}
