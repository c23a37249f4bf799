package e2e

import (
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	"byokd.dev/byok/internal/fakeprovider"
)

// restart stops the hub and starts it again on the same address and data.
func (h *teamHub) restart() {
	h.t.Helper()
	h.cmd.Process.Signal(syscall.SIGTERM)
	h.cmd.Wait()
	h.serveAgain()
}

// serveAgain starts the stopped hub again on the same address and data.
func (h *teamHub) serveAgain() {
	h.t.Helper()
	u, _ := url.Parse(h.url)
	h.cmd = exec.Command(byokdBin, append([]string{"hub", "serve", "--listen", u.Host}, h.args...)...)
	h.cmd.Env = h.env
	started := make(chan struct{})
	stderr, _ := h.cmd.StderrPipe()
	if err := h.cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 4096)
		var seen strings.Builder
		signalled := false
		for {
			n, err := stderr.Read(buf)
			seen.Write(buf[:n])
			h.logs.Write(buf[:n])
			if !signalled && strings.Contains(seen.String(), "hub serving") {
				close(started)
				signalled = true
			}
			if err != nil {
				if !signalled {
					close(started)
				}
				return
			}
		}
	}()
	<-started
}

// TestE2E_SyncLosesNothingDoublesNothing makes 1,200 calls while the hub is
// stopped and restarted and the daemon is killed with SIGKILL mid-sync;
// afterwards the hub holds exactly one row per completed call.
func TestE2E_SyncLosesNothingDoublesNothing(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	h := startHub(t, fake.URL)
	m := newMember(t, fake.URL)
	m.mustStart()
	events := m.watchEvents()
	code := strings.TrimSpace(h.cli("", "invite", "sam@example.com"))
	m.mustCLI(code, "join", h.url)
	waitConnected(t, m, events)
	m.mustCLI(openaiKey, "key", "add", "openai", "--name", "work")
	tok := strings.TrimSpace(m.mustCLI("", "token", "create", "load"))

	completed := 0
	burst := func(n int) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		sem := make(chan struct{}, 16)
		for range n {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				req, _ := http.NewRequest("POST", "http://"+m.proxy+"/openai/v1/chat/completions", strings.NewReader(chatBody))
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return
				}
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode == 200 {
					mu.Lock()
					completed++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}

	burst(400) // hub up
	h.cmd.Process.Signal(syscall.SIGTERM)
	h.cmd.Wait()
	burst(400) // hub down: rows wait in the outbox
	h.restart()
	burst(200)
	// Kill the daemon while it catches up with the hub.
	m.daemon.Process.Kill()
	m.daemon.Wait()
	m.mustStart()
	burst(200)
	if completed != 1200 {
		t.Fatalf("%d of 1200 calls completed; every call should have", completed)
	}
	ch := m.watchEvents()
	for m.unsynced() > 0 {
		<-ch
	}
	rows := h.usage()
	ids := map[string]int{}
	for _, r := range rows {
		ids[r.ID]++
	}
	local := m.usage()
	if len(local) != completed || len(rows) != completed || len(ids) != completed {
		t.Errorf("daemon rows %d, hub rows %d (%d distinct), completed calls %d: want all equal",
			len(local), len(rows), len(ids), completed)
	}
	for _, r := range local {
		if ids[r.ID] != 1 {
			t.Errorf("row %s is on the hub %d times", r.ID, ids[r.ID])
			break
		}
	}
}

const chatBody = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
