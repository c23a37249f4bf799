package sdkrun

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	byok "byokd.dev/byok"
	"byokd.dev/byok/internal/fakeprovider"
	"github.com/google/go-cmp/cmp"
)

// TestSDKs_AgainstFakeProvider runs each official SDK straight at the fake
// upstream, with no proxy between: if the SDK reads the fake's replies as
// the text and usage the fake meant, the fake speaks the real format.
func TestSDKs_AgainstFakeProvider(t *testing.T) {
	s := fakeprovider.New(t, fakeprovider.Options{Chunks: 4})
	for _, tc := range []struct {
		script, model, path string
		svc                 byok.Service
		stream              bool
	}{
		{"openai_chat.mjs", "gpt-4o-mini", "/v1/chat/completions", byok.OpenAI, false},
		{"openai_chat.mjs", "gpt-4o-mini", "/v1/chat/completions", byok.OpenAI, true},
		{"openai_responses.mjs", "gpt-4.1", "/v1/responses", byok.OpenAI, false},
		{"openai_responses.mjs", "gpt-4.1", "/v1/responses", byok.OpenAI, true},
		{"anthropic_messages.mjs", "claude-sonnet-4-5", "/v1/messages", byok.Anthropic, false},
		{"anthropic_messages.mjs", "claude-sonnet-4-5", "/v1/messages", byok.Anthropic, true},
	} {
		name := strings.TrimSuffix(tc.script, ".mjs")
		if tc.stream {
			name += "/stream"
		}
		t.Run(name, func(t *testing.T) {
			before := len(s.Requests())
			key := "sk-test-" + string(tc.svc)
			res := Run(t, tc.script, map[string]string{
				"BASE_URL": baseURL(s, tc.svc), "API_KEY": key, "MODEL": tc.model,
				"STREAM": map[bool]string{true: "1", false: "0"}[tc.stream], "PROMPT": "Say hello.",
			})
			if res.Error != nil {
				t.Fatalf("the SDK raised %+v", *res.Error)
			}
			if res.Text != s.Text() || res.Model != tc.model {
				t.Errorf("got text %q model %q, want %q %q", res.Text, res.Model, s.Text(), tc.model)
			}
			if tc.stream && res.Chunks != 4 {
				t.Errorf("got %d text chunks, want 4", res.Chunks)
			}
			if res.Usage == nil {
				t.Fatalf("the SDK reported no usage: %s", res.Line)
			}
			got := res.Usage.Tokens()
			got.Model = res.Model
			if diff := cmp.Diff(s.WantUsage(tc.svc, tc.model), got); diff != "" {
				t.Errorf("usage as the SDK reports it (-want +got):\n%s\n%s", diff, res.Line)
			}
			if res.Headers["x-request-id"] == "" && res.Headers["request-id"] == "" {
				t.Errorf("no request id header reached the SDK: %v", res.Headers)
			}

			reqs := s.Requests()[before:]
			if len(reqs) != 1 {
				t.Fatalf("the fake saw %d requests, want 1", len(reqs))
			}
			if r := reqs[0]; r.Path != tc.path || r.Key != key || r.Service != tc.svc {
				t.Errorf("request: got %s %s key %q, want %s %s key %q", r.Service, r.Path, r.Key, tc.svc, tc.path, key)
			}
			if tc.svc == byok.Anthropic && reqs[0].Header.Get("anthropic-version") == "" {
				t.Errorf("the Anthropic SDK sent no anthropic-version header")
			}
			if tc.script == "openai_chat.mjs" && tc.stream {
				var body struct {
					StreamOptions struct {
						IncludeUsage bool `json:"include_usage"`
					} `json:"stream_options"`
				}
				json.Unmarshal(reqs[0].Body, &body)
				if !body.StreamOptions.IncludeUsage {
					t.Errorf("stream request without include_usage: %s", reqs[0].Body)
				}
			}
		})
	}
}

func TestSDKs_Embeddings(t *testing.T) {
	s := fakeprovider.New(t, fakeprovider.Options{})
	res := Run(t, "openai_embeddings.mjs", map[string]string{
		"BASE_URL": s.URL + "/v1", "API_KEY": "sk-test", "MODEL": "text-embedding-3-small", "PROMPT": "hi",
	})
	if res.Error != nil {
		t.Fatalf("the SDK raised %+v", *res.Error)
	}
	var want []float64
	for _, f := range fakeprovider.Embedding(8) {
		want = append(want, float64(f))
	}
	if diff := cmp.Diff(want, res.Embedding); diff != "" {
		t.Errorf("embedding as the SDK decoded it (-want +got):\n%s", diff)
	}
	if got := string(s.Requests()[0].Body); !strings.Contains(got, `"encoding_format":"base64"`) {
		t.Errorf("the SDK did not ask for base64, so that path is untested: %s", got)
	}
	if res.Usage == nil || res.Usage.PromptTokens != fakeprovider.DefaultUsage().InputTokens {
		t.Errorf("usage: got %+v, want %d prompt tokens", res.Usage, fakeprovider.DefaultUsage().InputTokens)
	}
}

// TestSDKs_Errors checks the SDKs read the fake's error bodies as the
// provider's message, that retries are off (one request per call), and
// that a cut stream surfaces as an error without an HTTP status.
func TestSDKs_Errors(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		svc          byok.Service
		stream       bool
		f            fakeprovider.Failure
		wantStatus   int
		wantMessage  string
		wantType     string
	}{
		{"openai quota", "openai_chat.mjs", byok.OpenAI, false, fakeprovider.OpenAIInsufficientQuota(), 429,
			"You exceeded your current quota", "insufficient_quota"},
		{"openai invalid key", "openai_responses.mjs", byok.OpenAI, true, fakeprovider.OpenAIInvalidKey(), 401,
			"Incorrect API key provided", "invalid_request_error"},
		{"anthropic overloaded", "anthropic_messages.mjs", byok.Anthropic, false, fakeprovider.AnthropicOverloaded(), 529,
			"Overloaded", "overloaded_error"},
		{"anthropic credit", "anthropic_messages.mjs", byok.Anthropic, true, fakeprovider.AnthropicCreditBalanceTooLow(), 400,
			"Your credit balance is too low", "invalid_request_error"},
		{"anthropic stream cut", "anthropic_messages.mjs", byok.Anthropic, true, fakeprovider.CutAfter(300), 0, "", ""},
		{"openai stream cut", "openai_chat.mjs", byok.OpenAI, true, fakeprovider.CutAfter(300), 0, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fakeprovider.New(t, fakeprovider.Options{Chunks: 20})
			s.FailNext(1, tc.f)
			res := Run(t, tc.script, map[string]string{
				"BASE_URL": baseURL(s, tc.svc), "API_KEY": "sk-test", "MODEL": "m",
				"STREAM": map[bool]string{true: "1", false: "0"}[tc.stream],
			})
			if res.Error == nil {
				t.Fatalf("got no error, want one: %s", res.Line)
			}
			e := res.Error
			if e.Status != tc.wantStatus || !strings.HasPrefix(e.Message, tc.wantMessage) || (tc.wantType != "" && e.Type != tc.wantType) {
				t.Errorf("got status %d message %q type %q, want %d %q… %q", e.Status, e.Message, e.Type, tc.wantStatus, tc.wantMessage, tc.wantType)
			}
			if n := len(s.Requests()); n != 1 {
				t.Errorf("the fake saw %d requests, want 1: SDK retries must be off", n)
			}
		})
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "e2e", "sdk", "package.json")); err != nil {
		t.Errorf("got %q, want the repository root, which holds e2e/sdk: %v", root, err)
	}
}

func baseURL(s *fakeprovider.Server, svc byok.Service) string {
	if svc == byok.OpenAI {
		return s.URL + "/v1"
	}
	return s.URL
}

func TestRun_MissingPackagesSaysWhatToDo(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "e2e", "sdk"), 0o755)
	os.WriteFile(filepath.Join(root, "e2e", "sdk", "x.mjs"), []byte("console.log('{}')\n"), 0o644)
	_, err := run(t.Context(), root, "x.mjs", nil)
	if err == nil || !strings.Contains(err.Error(), "npm ci --prefix e2e/sdk") {
		t.Errorf("got %v, want an error telling to run npm ci --prefix e2e/sdk", err)
	}
}
