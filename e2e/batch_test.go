package e2e

import (
	"strings"
	"testing"

	"byokd.dev/byok"
	"byokd.dev/byok/internal/fakeprovider"
	"byokd.dev/byok/internal/sdkrun"
)

// TestE2E_BatchResultsCountedOnce: a batch is billed when its results
// come through byokd. The official SDKs fetch an OpenAI output file and
// an Anthropic batch's results (through byokd, though the batch names the
// provider's host): each file costs its served requests at the batch rate
// (half the list price), failed ones nothing. Fetched again — also after
// a restart — the same file costs nothing twice.
func TestE2E_BatchResultsCountedOnce(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m := newMember(t, fake.URL)
	m.mustStart()
	m.mustCLI(openaiKey, "key", "add", "openai", "--name", "work")
	m.mustCLI(anthropicKey, "key", "add", "anthropic", "--name", "work")
	tok := strings.TrimSpace(m.mustCLI("", "token", "create", "batch-script"))

	openaiFile := func() {
		t.Helper()
		res := sdkrun.Run(t, "openai_batch_results.mjs", map[string]string{
			"BASE_URL": "http://" + m.proxy + "/openai/v1", "API_KEY": tok, "FILE_ID": "file-batchout1"})
		if res.Error != nil {
			t.Fatal(res.Error)
		}
		if !strings.Contains(res.Text, `"custom_id":"request-1"`) {
			t.Fatalf("the SDK got %q, want the output file", res.Text)
		}
	}
	// The Anthropic SDK asks for the batch, then fetches the results_url
	// it names: byokd points that at itself.
	anthropicResults := func() {
		t.Helper()
		res := sdkrun.Run(t, "anthropic_batch_results.mjs", map[string]string{
			"BASE_URL": "http://" + m.proxy + "/anthropic", "API_KEY": tok, "BATCH_ID": "msgbatch_01"})
		if res.Error != nil {
			t.Fatal(res.Error)
		}
		if res.Text != "request-1:succeeded request-2:succeeded request-3:errored" {
			t.Fatalf("the SDK read %q, want the batch's three results", res.Text)
		}
	}

	// What the published rule says, worked out here: the fake's usage per
	// served request, at half the list price of its model.
	u := fakeprovider.DefaultUsage()
	perRequest := func(in, cached, write5m, out, rIn, rCached, rWrite, rOut float64) float64 {
		return (in*rIn + cached*rCached + write5m*rWrite + out*rOut) / 1e6 * 0.5
	}
	in, cached, w5, w1, out := float64(u.InputTokens), float64(u.CacheReadTokens), float64(u.CacheWrite5mTokens), float64(u.CacheWrite1hTokens), float64(u.OutputTokens)
	// gpt-4o-mini: $0.15 in, $0.075 cached, $0.60 out; OpenAI bills cache
	// writes as input.
	wantOpenAI := byok.USD(fakeprovider.BatchServed * perRequest(in+w5+w1, cached, 0, out, 0.15, 0.075, 0, 0.60))
	// claude-haiku-4-5: $1 in, $0.10 cache reads, $1.25 and $2 cache writes, $5 out.
	wantAnthropic := byok.USD(fakeprovider.BatchServed * (perRequest(in, cached, w5, out, 1, 0.10, 1.25, 5) + w1*2/1e6*0.5))

	openaiFile()
	anthropicResults()
	openaiFile()
	m.stop()
	m.mustStart()
	anthropicResults()
	openaiFile()

	rows := m.usage()
	if len(rows) != 7 {
		t.Fatalf("%d rows, want one per call (3 downloads, 2 batches asked for and their 2 downloads): %+v", len(rows), rows)
	}
	results := 0
	for _, r := range fake.Requests() {
		if strings.HasSuffix(r.Path, "/results") {
			results++
		}
	}
	if results != 2 {
		t.Errorf("the provider served %d results downloads, want both of the SDK's", results)
	}
	var billed []byok.UsageEvent
	for _, r := range rows {
		if !r.CostKnown {
			t.Errorf("a download is cost unknown: %+v", r)
		}
		if r.Cost != 0 {
			billed = append(billed, r)
		}
	}
	if len(billed) != 2 {
		t.Fatalf("%d rows cost something, want the first download of each file: %+v", len(billed), rows)
	}
	for _, r := range billed {
		want := wantOpenAI
		if r.Service == byok.Anthropic {
			want = wantAnthropic
		}
		if r.Cost != want {
			t.Errorf("%s results: cost %v, want %v at the batch rate", r.Service, r.Cost, want)
		}
	}
}
