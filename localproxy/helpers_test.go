package localproxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"byokd.dev/byok"
	"byokd.dev/byok/internal/fakeprovider"
	"byokd.dev/byok/upstream"
)

const (
	appTok      = "byok_test_app_token_0123456789"
	personalKey = "sk-personal-0123456789abcdef"
	teamKey     = "sk-team-fedcba9876543210"
)

type tokenMap map[string]byok.AppToken

func (m tokenMap) Verify(_ context.Context, t byok.Secret) (byok.AppToken, error) {
	app, ok := m[t.Reveal()]
	if !ok {
		return byok.AppToken{}, byok.ErrUnauthorized
	}
	return app, nil
}

type staticPlanner []upstream.Credential

func (p staticPlanner) Plan(context.Context, *upstream.Call) ([]upstream.Credential, error) {
	return p, nil
}

// memRecorder keeps rows in memory; hook, when set, runs inside Record
// before it returns, to hold a commit open.
type memRecorder struct {
	mu   sync.Mutex
	rows []byok.UsageEvent
	hook func(byok.UsageEvent)
}

func (r *memRecorder) Record(_ context.Context, ev byok.UsageEvent) error {
	if r.hook != nil {
		r.hook(ev)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows = append(r.rows, ev)
	return nil
}

func (r *memRecorder) Rows() []byok.UsageEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byok.UsageEvent(nil), r.rows...)
}

type testProxy struct {
	*Proxy
	URL  string // http://127.0.0.1:PORT
	Port string
	rec  *memRecorder
}

// newTestProxy serves a Proxy whose every service points at upstream.
func newTestProxy(t *testing.T, upstream string, creds []upstream.Credential, mod func(*Config)) *testProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	u, _ := url.Parse(upstream)
	rec := &memRecorder{}
	var n atomic.Int64
	cfg := Config{
		Upstreams: map[byok.Service]*url.URL{byok.OpenAI: u, byok.Anthropic: u, byok.ClickUp: u},
		Port:      port,
		Tokens:    tokenMap{appTok: {Name: "editor", Project: "acme"}},
		Planner:   staticPlanner(creds),
		Recorder:  rec,
		NewID:     func() string { return "call-" + string(rune('a'+n.Add(1))) },
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: p}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &testProxy{Proxy: p, URL: "http://" + ln.Addr().String(), Port: port, rec: rec}
}

func personal() []upstream.Credential {
	return []upstream.Credential{{Ref: byok.PersonalKey("work"), Secret: byok.NewSecret(personalKey)}}
}

// do sends a request through the proxy and returns status, headers and body.
func do(t *testing.T, method, url string, hdr map[string]string, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func newFake(t *testing.T) *fakeprovider.Server { return fakeprovider.New(t, fakeprovider.Options{}) }

func readAll(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
