package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"byokd.dev/byok/internal/fakeprovider"
)

// TestE2E_KillDuringStreams: kill -9 of the daemon while 1,000 streamed
// calls run (100 at a time). After a restart, every call that completed
// for its client has exactly one ledger row; calls cut by the kill may
// have one; none has two.
func TestE2E_KillDuringStreams(t *testing.T) {
	const calls, parallel = 1000, 100
	fake := fakeprovider.New(t, fakeprovider.Options{Chunks: 10, ChunkDelay: 10 * time.Millisecond})
	// A key without a budget: the test is about rows, not reservations.
	m := newMember(t, fake.URL)
	m.mustStart()
	m.mustCLI(openaiKey, "key", "add", "openai", "--name", "work")
	tok := strings.TrimSpace(m.mustCLI("", "token", "create", "load"))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: parallel}}
	url := "http://" + m.proxy + "/openai/v1/chat/completions"

	cs := make([]*streamCall, calls)
	var completed atomic.Int64
	killAt := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallel)
	for i := range cs {
		c := &streamCall{model: fmt.Sprintf("gpt-kill-%04d", i), started: make(chan struct{}), finished: make(chan struct{})}
		cs[i] = c
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			defer close(c.finished)
			c.run(client, url, tok)
			if c.done && completed.Add(1) == calls/3 {
				once.Do(func() { close(killAt) })
			}
		})
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	// A watchdog, not a timing: if calls stop completing, the daemon's
	// goroutines are dumped (SIGQUIT) so that the failure says where.
	stalled := time.NewTicker(30 * time.Second)
	defer stalled.Stop()
	for last := int64(-1); ; {
		select {
		case <-killAt:
		case <-allDone:
			t.Fatalf("every call ended before a third completed: first call status %d, %v; log:\n%s", cs[0].status, cs[0].err, m.logs.String())
		case <-stalled.C:
			if n := completed.Load(); n != last {
				last = n
				continue
			}
			_ = m.daemon.Process.Signal(syscall.SIGQUIT)
			m.daemon.Wait()
			t.Fatalf("no call completed for 30 s (%d of %d done); the daemon's goroutines:\n%s", completed.Load(), calls, m.logs.String())
		}
		break
	}
	if err := m.daemon.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	m.daemon.Wait()
	wg.Wait()

	m.mustStart()
	rows := map[string]int{}
	for _, r := range m.usage() {
		rows[r.Model]++
	}
	done, cut := 0, 0
	for _, c := range cs {
		n := rows[c.model]
		if n > 1 {
			t.Errorf("call %s has %d ledger rows, want at most one", c.model, n)
		}
		if c.done {
			done++
			if n != 1 {
				t.Errorf("call %s completed for its client but has %d ledger rows, want exactly one", c.model, n)
			}
		} else {
			cut++
		}
	}
	t.Logf("%d calls completed, %d cut or refused by the kill; %d rows", done, cut, len(rows))
	if cut == 0 {
		t.Fatal("no call was cut by the kill: the test proved nothing")
	}
}
