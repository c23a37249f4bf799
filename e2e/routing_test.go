package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"byokd.dev/byok/control"
	"byokd.dev/byok/internal/fakeprovider"
	"byokd.dev/byok/internal/sdkrun"
)

// watchEvents runs `byokd events` and returns its events as they come.
func (m *member) watchEvents() <-chan control.Event {
	m.t.Helper()
	cmd := exec.Command(byokdBin, "events")
	cmd.Env = m.env
	out, err := cmd.StdoutPipe()
	if err != nil {
		m.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	m.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ch := make(chan control.Event, 16)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var ev control.Event
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				ch <- ev
			}
		}
	}()
	return ch
}

// nextEvent returns the next event of kind. It gives up after
// sdkrun.Timeout, the longest a call that should cause it can take, so
// that a call which failed instead fails the test rather than hanging it.
func nextEvent(t *testing.T, ch <-chan control.Event, kind string) control.Event {
	t.Helper()
	timeout := time.After(sdkrun.Timeout)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("event stream ended before a %q event", kind)
			}
			if ev.Kind == kind {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %q event in %v", kind, sdkrun.Timeout)
		}
	}
}

func (m *member) openaiCall(tok string) sdkrun.Result {
	m.t.Helper()
	return sdkrun.Run(m.t, "openai_chat.mjs", m.openaiEnv(tok))
}

func (m *member) openaiEnv(tok string) map[string]string {
	return map[string]string{"BASE_URL": "http://" + m.proxy + "/openai/v1", "API_KEY": tok, "MODEL": "gpt-4o-mini", "STREAM": "0", "PROMPT": "x"}
}

// openaiCallAsync makes openaiCall in the background. What it needs is
// checked first, on t's goroutine, and a script that fails is reported as
// the result's error, so that neither hangs the test.
func (m *member) openaiCallAsync(t *testing.T, tok string) <-chan sdkrun.Result {
	t.Helper()
	if err := sdkrun.Check(); err != nil {
		t.Fatal(err)
	}
	done := make(chan sdkrun.Result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), sdkrun.Timeout)
		defer cancel()
		res, err := sdkrun.Exec(ctx, "openai_chat.mjs", m.openaiEnv(tok))
		if err != nil {
			res.Error = &sdkrun.Error{Message: err.Error()}
		}
		done <- res
	}()
	return done
}

func TestE2E_AskEachTime(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m, tok := setUp(t, fake)
	m.mustCLI("", "pref", "set", "openai", "ask")
	events := m.watchEvents()

	t.Run("approve", func(t *testing.T) {
		done := m.openaiCallAsync(t, tok)
		ev := nextEvent(t, events, control.EventApproval)
		list := m.mustCLI("", "approvals")
		if !strings.Contains(list, ev.ApprovalID) || !strings.Contains(list, "my-editor") || !strings.Contains(list, "gpt-4o-mini") {
			t.Errorf("approvals list lacks the held call:\n%s", list)
		}
		m.mustCLI("", "approve", ev.ApprovalID)
		res := <-done
		if res.Error != nil || res.Headers["x-byokd-credential"] != "personal/work" {
			t.Fatalf("approved call: %+v", res)
		}
		if _, errOut, code := m.cli("", "approve", ev.ApprovalID); code == 0 || !strings.Contains(errOut, "answered or timed out") {
			t.Errorf("second answer: exit %d %q, want refused: the first answer wins", code, errOut)
		}
	})
	t.Run("deny", func(t *testing.T) {
		done := m.openaiCallAsync(t, tok)
		ev := nextEvent(t, events, control.EventApproval)
		m.mustCLI("", "deny", ev.ApprovalID)
		res := <-done
		if res.Error == nil || res.Error.Status != 403 || !strings.HasPrefix(res.Error.Message, "byokd:") {
			t.Fatalf("denied call: %+v, want a 403 byokd: error", res)
		}
	})
	t.Run("standing answer for 10 minutes", func(t *testing.T) {
		done := m.openaiCallAsync(t, tok)
		ev := nextEvent(t, events, control.EventApproval)
		m.mustCLI("", "approve", ev.ApprovalID, "--for", "10m")
		if res := <-done; res.Error != nil {
			t.Fatal(res.Error)
		}
		before := len(fake.Requests())
		if res := m.openaiCall(tok); res.Error != nil {
			t.Fatalf("call under a standing approval: %+v", res.Error)
		}
		if len(fake.Requests()) != before+1 {
			t.Error("the call under a standing approval did not go out")
		}
		if list := m.mustCLI("", "approvals"); !strings.Contains(list, "no calls are waiting") {
			t.Errorf("a call was held despite the standing approval:\n%s", list)
		}
	})
	m.assertNoSecret(openaiKey)
}

// TestE2E_ApprovalTimeoutIsToldSo: a held call nobody answers is refused
// as unanswered, not as declined, and the member is told it was not sent.
func TestE2E_ApprovalTimeoutIsToldSo(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m := newMember(t, fake.URL)
	if err := os.MkdirAll(m.home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(m.home, "config.json"), []byte(`{"approval_timeout":"1s"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	m.mustStart()
	m.mustCLI(openaiKey, "key", "add", "openai", "--name", "work")
	tok := strings.TrimSpace(m.mustCLI("", "token", "create", "app"))
	m.mustCLI("", "pref", "set", "openai", "ask")
	events := m.watchEvents()
	res := m.openaiCall(tok)
	if res.Error == nil || res.Error.Status != 403 || !strings.Contains(res.Error.Message, "nobody answered in time, so it was not sent") ||
		strings.Contains(res.Error.Message, "declined") {
		t.Fatalf("unanswered call: %+v, want a 403 saying nobody answered", res)
	}
	ev := nextEvent(t, events, control.EventUnanswered)
	if ev.Title != "An OpenAI call from app was not sent" || !strings.HasPrefix(ev.Body, "Nobody answered its approval in 1 second (model gpt-4o-mini") {
		t.Errorf("notification %q: %q", ev.Title, ev.Body)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("upstream saw %d requests, want none", n)
	}
}

func TestE2E_BudgetBlock(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m := newMember(t, fake.URL)
	m.mustStart()
	// A gpt-4o-mini call without max_tokens is estimated at about $0.005
	// (8,192 output tokens): it does not fit a $0.001 budget.
	m.mustCLI(openaiKey, "key", "add", "openai", "--name", "work", "--budget", "0.001")
	tok := strings.TrimSpace(m.mustCLI("", "token", "create", "app"))
	m.mustCLI("", "pref", "set", "openai", "personal", "--over-budget", "block")
	res := m.openaiCall(tok)
	if res.Error == nil || res.Error.Status == 0 || !strings.HasPrefix(res.Error.Message, "byokd:") || !strings.Contains(res.Error.Message, "budget") {
		t.Fatalf("call over budget: %+v, want a byokd: budget error", res)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("upstream saw %d requests, want none", n)
	}
	m.mustCLI("", "pref", "set", "openai", "personal", "--over-budget", "warn")
	if res := m.openaiCall(tok); res.Error != nil {
		t.Fatalf("with warn the call goes out: %+v", res.Error)
	}
}

func TestE2E_NoKeyNoHubSaysWhatToDo(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m := newMember(t, fake.URL)
	m.mustStart()
	tok := strings.TrimSpace(m.mustCLI("", "token", "create", "app"))
	res := m.openaiCall(tok)
	if res.Error == nil || !strings.HasPrefix(res.Error.Message, "byokd:") || !strings.Contains(res.Error.Message, "byokd key add openai") {
		t.Fatalf("no key: %+v, want a byokd: message naming `byokd key add openai`", res)
	}
}

func TestE2E_BudgetWarnIsTheDefault(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m := newMember(t, fake.URL)
	m.mustStart()
	// An unpriced model is estimated high (about $1 a call here): with no
	// choice made, reaching the budget warns and the calls still go out.
	m.mustCLI(openaiKey, "key", "add", "openai", "--name", "work", "--budget", "1")
	tok := strings.TrimSpace(m.mustCLI("", "token", "create", "app"))
	for i := range 3 {
		res := sdkrun.Run(t, "openai_chat.mjs", map[string]string{"BASE_URL": "http://" + m.proxy + "/openai/v1",
			"API_KEY": tok, "MODEL": "some-new-model", "STREAM": "0", "PROMPT": "x"})
		if res.Error != nil {
			t.Fatalf("call %d: %+v", i, res.Error)
		}
	}
}
