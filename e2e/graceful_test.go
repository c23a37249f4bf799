package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"byokd.dev/byok"
	"byokd.dev/byok/internal/fakeprovider"
)

// streamCall is one streamed chat completion as its client saw it.
type streamCall struct {
	model    string
	status   int
	done     bool // the client read the whole stream, up to data: [DONE]
	err      error
	started  chan struct{}
	finished chan struct{}
}

// TestE2E_GracefulStopDuringStreams: a SIGTERM while 50 streamed calls
// are running lets them finish, every call that completed for its client
// has its ledger row, and the daemon exits cleanly.
func TestE2E_GracefulStopDuringStreams(t *testing.T) {
	const calls = 50
	// Each stream takes about 2 s: 20 chunks 100 ms apart, far inside the
	// daemon's 30 s grace period.
	fake := fakeprovider.New(t, fakeprovider.Options{Chunks: 20, ChunkDelay: 100 * time.Millisecond})
	m, tok := setUp(t, fake)
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: calls}}

	cs := make([]*streamCall, calls)
	var wg sync.WaitGroup
	for i := range cs {
		c := &streamCall{model: fmt.Sprintf("gpt-graceful-%02d", i), started: make(chan struct{}), finished: make(chan struct{})}
		cs[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(c.finished)
			c.run(client, "http://"+m.proxy+"/openai/v1/chat/completions", tok)
		}()
	}
	for _, c := range cs {
		select {
		case <-c.started:
		case <-c.finished:
			t.Fatalf("call %s ended before its stream started: status %d, %v", c.model, c.status, c.err)
		}
	}
	inFlight := 0
	for _, c := range cs {
		select {
		case <-c.finished:
		default:
			inFlight++
		}
	}
	if err := m.daemon.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	err := m.daemon.Wait()
	if err != nil || !m.daemon.ProcessState.Success() {
		t.Fatalf("daemon exit after SIGTERM: %v, want a clean exit; log:\n%s", err, m.logs.String())
	}
	t.Logf("%d of %d calls were streaming when SIGTERM arrived", inFlight, calls)
	if inFlight == 0 {
		t.Fatal("no call was in flight at SIGTERM: the test proved nothing")
	}

	m.mustStart()
	rows := map[string]byok.UsageEvent{}
	for _, r := range m.usage() {
		rows[r.Model] = r
	}
	for _, c := range cs {
		if !c.done {
			t.Errorf("call %s was cut by the stop: status %d, %v; in-flight calls should finish within the grace period", c.model, c.status, c.err)
			continue
		}
		r, ok := rows[c.model]
		if !ok {
			t.Errorf("call %s completed for its client but has no ledger row", c.model)
			continue
		}
		if r.Status != 200 {
			t.Errorf("row for %s: status %d, want 200", c.model, r.Status)
		}
		if d := cmp.Diff(fake.WantUsage(byok.OpenAI, c.model), r.Usage); d != "" {
			t.Errorf("row for %s usage (-want +got):\n%s", c.model, d)
		}
	}
	if len(rows) != calls {
		t.Errorf("%d ledger rows, want %d", len(rows), calls)
	}
}

func (c *streamCall) run(client *http.Client, url, tok string) {
	body := `{"model":"` + c.model + `","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		c.err = err
		return
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		c.err = err
		return
	}
	defer resp.Body.Close()
	c.status = resp.StatusCode
	sc := bufio.NewScanner(resp.Body)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first && strings.HasPrefix(line, "data: ") {
			first = false
			close(c.started)
		}
		if line == "data: [DONE]" {
			c.done = resp.StatusCode == 200
		}
	}
	c.err = sc.Err()
}
