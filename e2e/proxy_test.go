package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"byokd.dev/byok"
	"byokd.dev/byok/internal/fakeprovider"
	"byokd.dev/byok/internal/sdkrun"
	"byokd.dev/byok/metering"
)

const (
	openaiKey    = "sk-proj-e2eOpenAIpersonal0123456789"
	anthropicKey = "sk-ant-api03-e2eAnthropicPersonal987654"
)

// setUp starts a member's daemon with a personal key per service and an
// app token, and returns the member and the token.
func setUp(t *testing.T, fake *fakeprovider.Server, extra ...string) (*member, string) {
	m := newMember(t, fake.URL, extra...)
	m.mustStart()
	m.mustCLI(openaiKey, "key", "add", "openai", "--name", "work", "--budget", "50", "--primary")
	m.mustCLI(anthropicKey+"\n", "key", "add", "anthropic", "--name", "work")
	tok := strings.TrimSpace(m.mustCLI("", "token", "create", "my-editor", "--project", "acme"))
	if !strings.HasPrefix(tok, "byok_") || strings.Contains(tok, "\n") {
		t.Fatalf("token create printed %q, want the token alone", tok)
	}
	return m, tok
}

func TestE2E_OfficialSDKsThroughTheDaemon(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m, tok := setUp(t, fake)
	prices := metering.DefaultPrices()
	cases := []struct {
		name, script, model string
		svc                 byok.Service
		env                 map[string]string
		wantKey             string
	}{
		{"openai chat", "openai_chat.mjs", "gpt-4o-mini", byok.OpenAI, map[string]string{"STREAM": "0"}, openaiKey},
		{"openai chat streamed", "openai_chat.mjs", "gpt-4o-mini", byok.OpenAI, map[string]string{"STREAM": "1"}, openaiKey},
		{"openai chat streamed without usage", "openai_chat.mjs", "gpt-4o", byok.OpenAI, map[string]string{"STREAM": "1", "INCLUDE_USAGE": "0"}, openaiKey},
		{"openai responses streamed", "openai_responses.mjs", "gpt-4.1-mini", byok.OpenAI, map[string]string{"STREAM": "1"}, openaiKey},
		{"anthropic messages", "anthropic_messages.mjs", "claude-sonnet-4-5", byok.Anthropic, map[string]string{"STREAM": "0"}, anthropicKey},
		{"anthropic messages streamed", "anthropic_messages.mjs", "claude-haiku-4-5", byok.Anthropic, map[string]string{"STREAM": "1"}, anthropicKey},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"API_KEY": tok, "MODEL": c.model, "PROMPT": "hello"}
			if c.svc == byok.OpenAI {
				env["BASE_URL"] = "http://" + m.proxy + "/openai/v1"
			} else {
				env["BASE_URL"] = "http://" + m.proxy + "/anthropic"
			}
			for k, v := range c.env {
				env[k] = v
			}
			res := sdkrun.Run(t, c.script, env)
			if res.Error != nil {
				t.Fatalf("SDK error: %+v", res.Error)
			}
			if res.Text != fake.Text() {
				t.Errorf("client got text %q, want %q", res.Text, fake.Text())
			}
			if got := res.Headers["x-byokd-credential"]; got != "personal/work" {
				t.Errorf("x-byokd-credential = %q, want personal/work", got)
			}
			want := fake.WantUsage(c.svc, c.model)
			if c.env["INCLUDE_USAGE"] == "0" {
				if res.Usage != nil {
					t.Errorf("client got usage %+v it did not ask for", res.Usage)
				}
			} else if res.Usage == nil || res.Usage.Tokens() != withModel(want, "") {
				t.Errorf("client usage = %+v, want %+v", res.Usage, want)
			}
			reqs := fake.Requests()
			if got := reqs[len(reqs)-1].Key; got != c.wantKey {
				t.Errorf("upstream saw key %q, want the member's personal key", got)
			}
			rows := m.usage()
			if len(rows) != i+1 {
				t.Fatalf("%d ledger rows, want %d", len(rows), i+1)
			}
			row := rows[len(rows)-1]
			cost, known := prices.Cost(c.svc, want)
			if d := cmp.Diff(want, row.Usage); d != "" {
				t.Errorf("ledger usage (-want +got):\n%s", d)
			}
			if row.Cost != cost || row.CostKnown != known || !known {
				t.Errorf("ledger cost = %d µ$ (known %v), want %d µ$ known", row.Cost, row.CostKnown, cost)
			}
			if row.App != "my-editor" || row.Project != "acme" || row.Payer != byok.PayerPersonal || row.Credential.String() != "personal/work" || row.Status != 200 {
				t.Errorf("ledger row attribution = %+v", row)
			}
		})
	}
	m.assertNoSecret(openaiKey)
	m.assertNoSecret(anthropicKey)
}

func withModel(u byok.Usage, model string) byok.Usage {
	u.Model = model
	return u
}

func TestE2E_SDKSeesByokdErrors(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m, tok := setUp(t, fake)
	base := "http://" + m.proxy
	for _, c := range []struct {
		name, script, url, key, want string
		status                       int
	}{
		{"openai wrong token", "openai_chat.mjs", base + "/openai/v1", "byok_not_a_token", "byokd: invalid or revoked app token", 401},
		{"anthropic wrong token", "anthropic_messages.mjs", base + "/anthropic", "byok_not_a_token", "byokd: invalid or revoked app token", 401},
		{"no personal clickup-like key for a service", "openai_chat.mjs", base + "/openai/v1", tok, "", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := sdkrun.Run(t, c.script, map[string]string{"BASE_URL": c.url, "API_KEY": c.key, "MODEL": "gpt-4o-mini", "STREAM": "0", "PROMPT": "x"})
			if c.status == 0 {
				if res.Error != nil {
					t.Fatalf("valid token refused: %+v", res.Error)
				}
				return
			}
			if res.Error == nil || res.Error.Status != c.status || !strings.HasPrefix(res.Error.Message, c.want) {
				t.Errorf("SDK error = %+v, want %d %q…", res.Error, c.status, c.want)
			}
		})
	}
	// A revoked token stops working at once.
	m.mustCLI("", "token", "revoke", "my-editor")
	res := sdkrun.Run(t, "openai_chat.mjs", map[string]string{"BASE_URL": base + "/openai/v1", "API_KEY": tok, "MODEL": "gpt-4o-mini", "STREAM": "0", "PROMPT": "x"})
	if res.Error == nil || res.Error.Status != 401 {
		t.Errorf("revoked token: SDK result %+v, want 401", res)
	}
}

func TestE2E_CLIKeyLifecycle(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m, _ := setUp(t, fake)
	list := m.mustCLI("", "key", "list")
	for _, want := range []string{"work", "openai", "…6789", "$50.00", "anthropic", "…7654"} {
		if !strings.Contains(list, want) {
			t.Errorf("key list lacks %q:\n%s", want, list)
		}
	}
	if _, errOut, code := m.cli(openaiKey, "key", "add", "openai", "--name", "work"); code == 0 || !strings.Contains(errOut, "already exists") {
		t.Errorf("duplicate key add: exit %d, %q", code, errOut)
	}
	if _, errOut, code := m.cli("", "key", "add", "gemini", "--name", "x"); code == 0 || !strings.Contains(errOut, "unknown service") {
		t.Errorf("unknown service: exit %d, %q", code, errOut)
	}
	if _, errOut, code := m.cli("", "key", "add", "openai", "--name", "empty"); code == 0 || !strings.Contains(errOut, "empty") {
		t.Errorf("empty key: exit %d, %q", code, errOut)
	}
	m.mustCLI("", "key", "rm", "openai", "work")
	if list := m.mustCLI("", "key", "list"); strings.Contains(list, "openai") {
		t.Errorf("removed key still listed:\n%s", list)
	}
	if _, errOut, code := m.cli("", "key", "rm", "openai", "work"); code == 0 || !strings.Contains(errOut, "no OpenAI key named") {
		t.Errorf("removing a missing key: exit %d, %q", code, errOut)
	}
	tok := strings.TrimSpace(m.mustCLI("", "token", "create", "scripts"))
	env := m.mustCLI("", "env", "anthropic", "--token", tok)
	if !strings.Contains(env, "export ANTHROPIC_BASE_URL='http://"+m.proxy+"/anthropic'") || !strings.Contains(env, "export ANTHROPIC_API_KEY='"+tok+"'") || strings.Contains(env, "OPENAI") {
		t.Errorf("env printed:\n%s", env)
	}
	out := m.mustCLI("", "exec", "--token", tok, "--", "sh", "-c", "echo $OPENAI_BASE_URL $OPENAI_API_KEY")
	if want := "http://" + m.proxy + "/openai/v1 " + tok + "\n"; out != want {
		t.Errorf("exec saw %q, want %q", out, want)
	}
	// On Linux byokd names the calling program, so no token is needed;
	// --service exports one service only.
	out = m.mustCLI("", "exec", "--service", "openai", "--", "sh", "-c", "echo $OPENAI_API_KEY ${ANTHROPIC_BASE_URL:-none}")
	if f := strings.Fields(out); len(f) != 2 || f[0] == "" || f[1] != "none" {
		t.Errorf("exec --service openai without a token saw %q", out)
	}
	if _, _, code := m.cli("", "exec", "--", "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("exec exit code %d, want the child's 7", code)
	}
	// A token the daemon does not know fails in byokd, not in the app.
	for _, args := range [][]string{{"env", "--token", "byok_forged"}, {"exec", "--token", "byok_forged", "--", "sh", "-c", "echo ran"}} {
		out, errOut, code := m.cli("", args...)
		if code == 0 || strings.Contains(out, "ran") || strings.Contains(out, "export") || !strings.Contains(errOut, "invalid or revoked app token") {
			t.Errorf("byokd %v: exit %d, stdout %q, stderr %q; want a refusal of the token", args, code, out, errOut)
		}
	}
	if _, errOut, code := m.cli("", "exec", "--service", "gemini", "--", "true"); code == 0 || !strings.Contains(errOut, "unknown service") {
		t.Errorf("exec --service gemini: exit %d, %q", code, errOut)
	}
	m.stop()
	if out, errOut, code := m.cli("", "exec", "--", "sh", "-c", "echo ran"); code == 0 || strings.Contains(out, "ran") || !strings.Contains(errOut, "not running") {
		t.Errorf("exec with the daemon stopped: exit %d, stdout %q, stderr %q; want it to say byokd is not running", code, out, errOut)
	}
	m.mustStart()
	m.assertNoSecret(openaiKey)
}

func TestE2E_UsageTable(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m, tok := setUp(t, fake)
	for range 2 {
		res := sdkrun.Run(t, "openai_chat.mjs", map[string]string{"BASE_URL": "http://" + m.proxy + "/openai/v1", "API_KEY": tok, "MODEL": "gpt-unknown-model", "STREAM": "0", "PROMPT": "x"})
		if res.Error != nil {
			t.Fatal(res.Error)
		}
	}
	out := m.mustCLI("", "usage")
	for _, want := range []string{"2 calls, unknown (2 calls)", "gpt-unknown-model", "my-editor", "acme", "personal"} {
		if !strings.Contains(out, want) {
			t.Errorf("usage lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "$0.00") {
		t.Errorf("usage shows $0.00 for calls whose cost is unknown:\n%s", out)
	}
	if st := m.mustCLI("", "status"); !strings.Contains(st, "this month: unknown (2 calls) personal, $0.00 team") {
		t.Errorf("status does not say the month's personal cost is unknown:\n%s", st)
	}
	rows := m.usage()
	if len(rows) != 2 || rows[0].CostKnown || rows[0].Usage.InputTokens == 0 {
		t.Errorf("rows = %+v, want 2 rows with tokens and cost unknown", rows)
	}

	// A model name carrying terminal escapes (the provider echoes the
	// request's) reaches neither the ledger nor the terminal as such.
	res := sdkrun.Run(t, "openai_chat.mjs", map[string]string{"BASE_URL": "http://" + m.proxy + "/openai/v1", "API_KEY": tok, "MODEL": "gpt-x\x1b]0;pwned\x07\x1b[2J", "STREAM": "0", "PROMPT": "x"})
	if res.Error != nil {
		t.Fatal(res.Error)
	}
	if out := m.mustCLI("", "usage"); strings.ContainsAny(out, "\x1b\x07") || !strings.Contains(out, "gpt-x?]0;pwned??[2J") {
		t.Errorf("byokd usage shows the escapes:\n%q", out)
	}
}

func TestE2E_FileKeystore(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m, tok := setUp(t, fake, "BYOKD_KEYSTORE=file", "BYOKD_KEYSTORE_PASSPHRASE=correct horse battery")
	res := sdkrun.Run(t, "openai_chat.mjs", map[string]string{"BASE_URL": "http://" + m.proxy + "/openai/v1", "API_KEY": tok, "MODEL": "gpt-4o-mini", "STREAM": "0", "PROMPT": "x"})
	if res.Error != nil {
		t.Fatal(res.Error)
	}
	if k := fake.Requests()[0].Key; k != openaiKey {
		t.Errorf("upstream key %q, want the personal key from the key file", k)
	}
	if _, err := os.Stat(filepath.Join(m.home, "keys.enc")); err != nil {
		t.Errorf("no key file: %v", err)
	}
	m.assertNoSecret(openaiKey)
	m.stop()

	wrong := newMember(t, fake.URL, "BYOKD_KEYSTORE=file", "BYOKD_KEYSTORE_PASSPHRASE=wrong")
	wrong.home = m.home
	wrong.env = append(wrong.env, "BYOKD_HOME="+m.home)
	err := wrong.start()
	if err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Errorf("start with a wrong passphrase: %v, want a clear 'wrong passphrase' error", err)
	}
}

func TestE2E_RefusesPublicStateFolder(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m := newMember(t, fake.URL)
	if err := os.MkdirAll(m.home, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(m.home, 0o755)
	err := m.start()
	if err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("start with a 0755 state folder: %v, want a refusal", err)
	}
}

// TestE2E_BaseURLMistakesCostNothing: an app pointed at byokd with a
// base URL missing /v1, with it twice, or with one service's route for
// the other's SDK gets byokd's answer naming the base URL to use; nothing
// reaches the provider signed with a key, and no call is recorded.
func TestE2E_BaseURLMistakesCostNothing(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m, tok := setUp(t, fake)
	base := "http://" + m.proxy
	for _, c := range []struct {
		script, baseURL, want string
	}{
		{"openai_chat.mjs", base + "/openai", "the base URL lacks /v1: use " + base + "/openai/v1"},
		{"openai_chat.mjs", base + "/openai/v1/v1", "the base URL has /v1 twice: use " + base + "/openai/v1"},
		{"anthropic_messages.mjs", base + "/anthropic/v1", "the base URL has /v1 twice: use " + base + "/anthropic"},
		{"openai_chat.mjs", base + "/anthropic/v1", "/v1/chat/completions is OpenAI's API, not Anthropic's: for OpenAI use " + base + "/openai/v1"},
	} {
		model := "gpt-4o-mini"
		if strings.HasPrefix(c.script, "anthropic") {
			model = "claude-sonnet-4-5"
		}
		res := sdkrun.Run(t, c.script, map[string]string{"BASE_URL": c.baseURL, "API_KEY": tok, "MODEL": model, "STREAM": "0", "PROMPT": "x"})
		if res.Error == nil || res.Error.Status != 404 || !strings.Contains(res.Error.Message, c.want) {
			t.Errorf("%s at %s: %+v, want a 404 saying %q", c.script, c.baseURL, res.Error, c.want)
		}
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("the provider saw %d requests", n)
	}
	if rows := m.usage(); len(rows) != 0 {
		t.Errorf("%d usage rows for calls that never left", len(rows))
	}
}
