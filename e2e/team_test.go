package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
	"byokd.dev/byok/internal/fakeprovider"
	"byokd.dev/byok/internal/sdkrun"
)

const teamOpenAIKey = "sk-team-SHARED-openai-key-424242"

// teamHub is a running `byokd hub serve` process.
type teamHub struct {
	t    *testing.T
	env  []string
	args []string // hub serve's flags beyond --listen
	url  string
	cmd  *exec.Cmd
	logs *lockedBuffer
}

var hubServing = regexp.MustCompile(`msg="hub serving".* url=(\S+)`)

func startHub(t *testing.T, upstream string) *teamHub {
	t.Helper()
	return startHubIn(t, upstream, filepath.Join(t.TempDir(), "hub"))
}

// startHubIn runs a hub whose state folder is data.
func startHubIn(t *testing.T, upstream, data string) *teamHub {
	t.Helper()
	return startHubWith(t, upstream, data, nil, "BYOKD_KEYSTORE=file", "BYOKD_KEYSTORE_PASSPHRASE=hub passphrase")
}

// startHubWith runs a hub whose state folder is data, with more flags
// for hub serve and more environment.
func startHubWith(t *testing.T, upstream, data string, args []string, env ...string) *teamHub {
	t.Helper()
	h := &teamHub{t: t, logs: &lockedBuffer{}, args: args, env: append(append(os.Environ(),
		"BYOKD_HUB_HOME="+data, "BYOKD_UPSTREAM_OPENAI="+upstream, "BYOKD_UPSTREAM_ANTHROPIC="+upstream,
		"BYOKD_UPSTREAM_CLICKUP="+upstream), env...)}
	h.cmd = exec.Command(byokdBin, append([]string{"hub", "serve", "--listen", "127.0.0.1:0"}, args...)...)
	h.cmd.Env = h.env
	stderr, err := h.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(h.logs, sc.Text())
			if m := hubServing.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		close(found)
	}()
	u, ok := <-found
	if !ok {
		h.cmd.Wait()
		t.Fatalf("hub exited: %s", h.logs.String())
	}
	h.url = strings.Trim(u, `"`)
	t.Cleanup(func() { h.cmd.Process.Signal(syscall.SIGTERM); h.cmd.Wait() })
	return h
}

func (h *teamHub) cli(stdin string, args ...string) string {
	h.t.Helper()
	cmd := exec.Command(byokdBin, append([]string{"hub"}, args...)...)
	cmd.Env = h.env
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		h.t.Fatalf("byokd hub %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (h *teamHub) usage() []byok.UsageEvent {
	h.t.Helper()
	var ev []byok.UsageEvent
	out := h.cli("", "usage", "--json")
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		h.t.Fatalf("hub usage --json: %v\n%s", err, out)
	}
	return ev
}

// joinedMember starts a member daemon joined to h.
func joinedMember(t *testing.T, h *teamHub, upstream, email string) *member {
	t.Helper()
	m := newMember(t, upstream)
	m.mustStart()
	code := strings.TrimSpace(h.cli("", "invite", email))
	out := m.mustCLI(code, "join", h.url)
	if !strings.Contains(out, email) {
		t.Fatalf("join printed %q", out)
	}
	return m
}

// waitConnected reads m's events until, after a hub link change, its
// status says the link is up. (A routine connect tells no one, so the
// event carries no title to wait for.)
func waitConnected(t *testing.T, m *member, events <-chan control.Event) {
	t.Helper()
	if strings.Contains(m.mustCLI("", "status"), ", connected,") {
		return
	}
	for ev := range events {
		if ev.Kind == control.EventHub && strings.Contains(m.mustCLI("", "status"), ", connected,") {
			return
		}
	}
	t.Fatal("event stream ended before the hub connected")
}

// waitPolicy reads events until a policy update arrives.
func waitPolicy(t *testing.T, events <-chan control.Event) {
	t.Helper()
	for ev := range events {
		if ev.Kind == control.EventChanged && ev.Title == "Team policy updated" {
			return
		}
	}
	t.Fatal("event stream ended before the policy arrived")
}

func TestE2E_TeamSeedScenarios(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	h := startHub(t, fake.URL)
	h.cli(teamOpenAIKey, "key", "add", "openai", "--name", "team-openai")

	// Sarah brings her own key; Mike has none.
	sarah := newMember(t, fake.URL)
	sarah.mustStart()
	sEvents := sarah.watchEvents()
	code := strings.TrimSpace(h.cli("", "invite", "sarah@example.com"))
	sarah.mustCLI(code, "join", h.url)
	waitConnected(t, sarah, sEvents)
	sarah.mustCLI(openaiKey, "key", "add", "openai", "--name", "work")
	sTok := strings.TrimSpace(sarah.mustCLI("", "token", "create", "editor", "--project", "acme"))

	mike := newMember(t, fake.URL)
	mike.mustStart()
	mEvents := mike.watchEvents()
	code = strings.TrimSpace(h.cli("", "invite", "mike@example.com"))
	mike.mustCLI(code, "join", h.url)
	waitConnected(t, mike, mEvents)
	mTok := strings.TrimSpace(mike.mustCLI("", "token", "create", "scripts", "--project", "globex"))

	// The admin shares OpenAI and allows fallback; both daemons get it.
	h.cli("", "policy", "set", "--shared-services", "openai", "--fallback", "on")
	waitPolicy(t, sEvents)
	waitPolicy(t, mEvents)

	call := func(m *member, tok string) sdkrun.Result {
		return sdkrun.Run(t, "openai_chat.mjs", map[string]string{"BASE_URL": "http://" + m.proxy + "/openai/v1",
			"API_KEY": tok, "MODEL": "gpt-4o-mini", "STREAM": "1", "PROMPT": "x"})
	}

	t.Run("1 personal key, personal preference: Sarah pays", func(t *testing.T) {
		res := call(sarah, sTok)
		if res.Error != nil || res.Headers["x-byokd-credential"] != "personal/work" {
			t.Fatalf("result %+v", res)
		}
		if k := fake.Requests()[len(fake.Requests())-1].Key; k != openaiKey {
			t.Errorf("upstream key %q, want Sarah's", k)
		}
	})
	t.Run("2 no personal key, shared preference: the team pays via the hub", func(t *testing.T) {
		mike.mustCLI("", "pref", "set", "openai", "shared")
		res := call(mike, mTok)
		if res.Error != nil || res.Headers["x-byokd-credential"] != "team/team-openai" || res.Text != fake.Text() {
			t.Fatalf("result %+v", res)
		}
		if k := fake.Requests()[len(fake.Requests())-1].Key; k != teamOpenAIKey {
			t.Errorf("upstream key %q, want the team key", k)
		}
		rows := mike.usage()
		if len(rows) != 1 || rows[0].Payer != byok.PayerTeam || !rows[0].Relayed || rows[0].Credential.String() != "team/team-openai" {
			t.Errorf("Mike's ledger: %+v", rows)
		}
	})
	t.Run("3 personal key over quota, fallback on: the team pays, with a notification", func(t *testing.T) {
		sarah.mustCLI("", "pref", "set", "openai", "personal", "--fallback", "on")
		fake.FailNext(1, fakeprovider.OpenAIInsufficientQuota())
		res := call(sarah, sTok)
		if res.Error != nil || res.Headers["x-byokd-credential"] != "team/team-openai" {
			t.Fatalf("result %+v", res)
		}
		ev := nextEvent(t, sEvents, control.EventFallback)
		if ev.Title != "The team is paying for your OpenAI calls" || !strings.Contains(ev.Body, "could not pay (over quota), so the team's shared key pays") {
			t.Errorf("fallback event %+v", ev)
		}
		rows := sarah.usage()
		last := rows[len(rows)-1]
		if last.Payer != byok.PayerTeam || last.FallbackReason != "over quota" {
			t.Errorf("Sarah's last row: %+v", last)
		}
		// The key cools down: the next call goes straight to the team key.
		before := len(fake.Requests())
		if res := call(sarah, sTok); res.Error != nil || res.Headers["x-byokd-credential"] != "team/team-openai" {
			t.Fatalf("call during cool-down: %+v", res)
		}
		if got := fake.Requests()[before:]; len(got) != 1 || got[0].Key != teamOpenAIKey {
			t.Errorf("during cool-down the upstream saw %v, want the team key alone", keys(got))
		}
		// Still the spell the team pays for: marked so, and no second notice.
		rows = sarah.usage()
		if last := rows[len(rows)-1]; last.Payer != byok.PayerTeam || last.FallbackReason != "cooling down: over quota" {
			t.Errorf("the call during cool-down: %+v, want it marked as the team paying for a skipped key", last)
		}
		for quiet := time.After(300 * time.Millisecond); ; {
			select {
			case ev := <-sEvents:
				if ev.Kind == control.EventFallback {
					t.Errorf("a second fallback notice in one spell: %+v", ev)
				}
				continue
			case <-quiet:
			}
			break
		}
	})
	t.Run("fallback off: a clear error, nothing charged to the team", func(t *testing.T) {
		other := joinedMember(t, h, fake.URL, "ann@example.com")
		other.mustCLI(openaiKey, "key", "add", "openai", "--name", "own")
		tok := strings.TrimSpace(other.mustCLI("", "token", "create", "app"))
		fake.FailNext(1, fakeprovider.OpenAIInsufficientQuota())
		res := call(other, tok)
		if res.Error == nil || res.Error.Status != 429 {
			t.Fatalf("result %+v, want the personal key's 429", res)
		}
	})
	t.Run("a policy change reaches the daemon and changes routing without a restart", func(t *testing.T) {
		h.cli("", "policy", "set", "--shared-services", "anthropic")
		waitPolicy(t, mEvents)
		res := call(mike, mTok)
		if res.Error == nil || !strings.HasPrefix(res.Error.Message, "byokd:") || !strings.Contains(res.Error.Message, "policy") {
			t.Fatalf("shared openai after the policy dropped it: %+v", res)
		}
		h.cli("", "policy", "set", "--shared-services", "openai", "--fallback", "on")
		waitPolicy(t, mEvents)
	})

	// Every call reaches the hub attributed, team calls metered by the hub.
	for _, m := range []*member{sarah, mike} {
		ch := m.watchEvents()
		for m.unsynced() > 0 {
			<-ch // each event (a sync, a change) is a chance to look again
		}
	}
	rows := h.usage()
	byMember := map[string]int{}
	for _, r := range rows {
		byMember[r.Member]++
		if r.Payer == byok.PayerTeam && r.Credential.String() != "team/team-openai" {
			t.Errorf("hub row %+v", r)
		}
	}
	if byMember["sarah@example.com"] != len(sarah.usage()) || byMember["mike@example.com"] != len(mike.usage()) {
		t.Errorf("hub rows per member %v; daemons have %d and %d", byMember, len(sarah.usage()), len(mike.usage()))
	}
	for _, m := range []*member{sarah, mike} {
		m.assertNoSecret(teamOpenAIKey)
	}
	if strings.Contains(h.logs.String(), teamOpenAIKey) {
		t.Error("the team key is in the hub's log")
	}

	// A web page elsewhere probing the hub's API is refused, and the
	// admin sees it counted next to who is connected.
	req, _ := http.NewRequest("GET", h.url+"/v1/health", nil)
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a foreign origin's request to the hub: %s, want 403", resp.Status)
	}
	st := h.cli("", "status")
	// Sarah, Mike and Ann (whose daemon has stopped).
	for _, want := range []string{"devices:     3 (", "shared keys: 1", "refused:     1 public, 0 admin API"} {
		if !strings.Contains(st, want) {
			t.Errorf("byokd hub status:\n%s\nwant %q", st, want)
		}
	}
}

func (m *member) unsynced() int {
	m.t.Helper()
	out := m.mustCLI("", "status")
	var n int
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "unsynced:") {
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "unsynced:")), "%d", &n)
		}
	}
	return n
}

func keys(reqs []fakeprovider.Request) []string {
	var k []string
	for _, r := range reqs {
		k = append(k, r.Key)
	}
	return k
}
