package localproxy

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"byokd.dev/byok"
	"byokd.dev/byok/upstream"
)

// This file attacks the proxy as a hostile web page, client or upstream
// would. docs/SECURITY.md names each test beside the attack it proves
// refused.

// countingTokens and countingPlanner count how often the gate got as far as
// looking at a token or choosing a key.
type countingTokens struct {
	tokenMap
	n atomic.Int64
}

func (c *countingTokens) Verify(ctx context.Context, t byok.Secret) (byok.AppToken, error) {
	c.n.Add(1)
	return c.tokenMap.Verify(ctx, t)
}

type countingPlanner struct {
	staticPlanner
	n atomic.Int64
}

func (c *countingPlanner) Plan(ctx context.Context, call *upstream.Call) ([]upstream.Credential, error) {
	c.n.Add(1)
	return c.staticPlanner.Plan(ctx, call)
}

// hostileProxy serves a Proxy like newTestProxy, but fails the test if a
// handler panics with anything other than http.ErrAbortHandler (which
// ReverseProxy uses on purpose to cut a response whose upstream broke).
func hostileProxy(t *testing.T, upstream string, mod func(*Config)) *testProxy {
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
		Planner:   staticPlanner(personal()),
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
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v != http.ErrAbortHandler {
					t.Errorf("proxy panicked: %v", v)
				}
				panic(v)
			}
		}()
		p.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &testProxy{Proxy: p, URL: "http://" + ln.Addr().String(), Port: port, rec: rec}
}

// send sends a request whose headers may repeat.
func send(t *testing.T, method, url string, hdr [][2]string, body io.Reader) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range hdr {
		if kv[0] == "Host" {
			req.Host = kv[1]
			continue
		}
		req.Header.Add(kv[0], kv[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestHostile_WebPageRefusedBeforeAnyKeyIsRead: whatever a web page in
// the member's browser sends, it is refused at the gate: the token is not
// even looked at, no key is chosen, nothing reaches the upstream, and the
// refusal is counted. Even a page that somehow knows a valid app token.
func TestHostile_WebPageRefusedBeforeAnyKeyIsRead(t *testing.T) {
	fake := newFake(t)
	tokens := &countingTokens{tokenMap: tokenMap{appTok: {Name: "editor"}}}
	planner := &countingPlanner{staticPlanner: staticPlanner(personal())}
	p := hostileProxy(t, fake.URL, func(c *Config) { c.Tokens, c.Planner = tokens, planner })
	auth := [2]string{"Authorization", "Bearer " + appTok}
	path := "/openai/v1/chat/completions"
	cases := []struct {
		name   string
		method string
		hdr    [][2]string
		body   string
	}{
		{"DNS rebinding: a foreign name that resolves to 127.0.0.1", "POST",
			[][2]string{{"Host", "attacker.example:" + p.Port}, auth}, chatBody},
		{"DNS rebinding: same-origin GET (no Origin at all)", "GET",
			[][2]string{{"Host", "rebind.attacker.example:" + p.Port}, auth, {"Sec-Fetch-Site", "same-origin"}}, ""},
		{"DNS rebinding: a LAN address", "POST",
			[][2]string{{"Host", "192.168.1.20:" + p.Port}, auth}, chatBody},
		{"cross-origin fetch", "POST",
			[][2]string{{"Origin", "https://attacker.example"}, {"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Mode", "cors"}, auth, {"Content-Type", "application/json"}}, chatBody},
		{"cross-origin form post (no token: a form cannot set one)", "POST",
			[][2]string{{"Origin", "https://attacker.example"}, {"Content-Type", "application/x-www-form-urlencoded"}}, "model=gpt-4o&messages=hi"},
		{"text/plain no-cors post", "POST",
			[][2]string{{"Origin", "https://attacker.example"}, {"Sec-Fetch-Mode", "no-cors"}, {"Content-Type", "text/plain"}}, chatBody},
		{"CORS preflight", "OPTIONS",
			[][2]string{{"Origin", "https://attacker.example"}, {"Access-Control-Request-Method", "POST"}, {"Access-Control-Request-Headers", "authorization,content-type"}}, ""},
		{"Origin: null (sandboxed iframe, file://)", "POST",
			[][2]string{{"Origin", "null"}, auth}, chatBody},
		{"an image or script tag (Sec-Fetch-Site only)", "GET",
			[][2]string{{"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Dest", "image"}, auth}, ""},
		{"a link carrying a Referer", "GET",
			[][2]string{{"Referer", "https://attacker.example/page"}, auth}, ""},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := send(t, c.method, p.URL+path, c.hdr, strings.NewReader(c.body))
			b, _ := readAll(resp)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("status: got %d, want 403 (%s)", resp.StatusCode, b)
			}
			for k := range resp.Header {
				if strings.HasPrefix(k, "Access-Control-") {
					t.Errorf("response carries %s: a browser would let the page read it", k)
				}
			}
			if msg := errorMessage(t, string(b)); !strings.HasPrefix(msg, "byokd: refused") {
				t.Errorf("message: got %q, want a byokd refusal", msg)
			}
			if got, want := p.Refused(), int64(i+1); got != want {
				t.Errorf("refusal counter: got %d, want %d", got, want)
			}
		})
	}
	if n := tokens.n.Load(); n != 0 {
		t.Errorf("app tokens looked up: got %d, want 0", n)
	}
	if n := planner.n.Load(); n != 0 {
		t.Errorf("planner consulted: got %d times, want 0 (no key may be read)", n)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("upstream saw %d requests, want none", n)
	}
}

// TestHostile_HeaderSmugglingOneCredentialUpstream adds to
// TestProxy_HeaderSmuggling: repeated auth headers, auth named in
// Connection for Anthropic, cookies and proxy credentials. The upstream
// sees exactly one credential, the member's key, or the call is refused.
func TestHostile_HeaderSmugglingOneCredentialUpstream(t *testing.T) {
	fake := newFake(t)
	p := hostileProxy(t, fake.URL, nil)
	bearer := "Bearer " + appTok
	anthropic := `{"model":"claude-sonnet-4-5","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`
	cases := []struct {
		name       string
		path, body string
		hdr        [][2]string
		status     int
		wantHeader string // where the key must be, alone
	}{
		{"Authorization twice, same token", "/openai/v1/chat/completions", chatBody,
			[][2]string{{"Authorization", bearer}, {"Authorization", bearer}}, 200, "Authorization"},
		{"Authorization twice, different values", "/openai/v1/chat/completions", chatBody,
			[][2]string{{"Authorization", bearer}, {"Authorization", "Bearer sk-attacker-chosen-key"}}, 401, ""},
		{"x-api-key twice, different values", "/anthropic/v1/messages", anthropic,
			[][2]string{{"X-Api-Key", appTok}, {"X-Api-Key", "sk-ant-attacker"}, {"Anthropic-Version", "2023-06-01"}}, 401, ""},
		{"x-api-key and Bearer, same token", "/anthropic/v1/messages", anthropic,
			[][2]string{{"X-Api-Key", appTok}, {"Authorization", bearer}, {"Anthropic-Version", "2023-06-01"}}, 200, "X-Api-Key"},
		{"x-api-key named in Connection", "/anthropic/v1/messages", anthropic,
			[][2]string{{"X-Api-Key", appTok}, {"Connection", "X-Api-Key, Authorization"}, {"Anthropic-Version", "2023-06-01"}}, 200, "X-Api-Key"},
		{"Bearer to Anthropic (ANTHROPIC_AUTH_TOKEN)", "/anthropic/v1/messages", anthropic,
			[][2]string{{"Authorization", bearer}, {"Anthropic-Version", "2023-06-01"}}, 200, "X-Api-Key"},
		{"cookie and proxy credentials", "/openai/v1/chat/completions", chatBody,
			[][2]string{{"Authorization", bearer}, {"Cookie", "session=attacker"}, {"Proxy-Authorization", "Basic YTpi"}}, 200, "Authorization"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(fake.Requests())
			resp := send(t, "POST", p.URL+c.path, c.hdr, strings.NewReader(c.body))
			b, _ := readAll(resp)
			if resp.StatusCode != c.status {
				t.Fatalf("status: got %d, want %d (%s)", resp.StatusCode, c.status, b)
			}
			reqs := fake.Requests()[before:]
			if c.status != 200 {
				if len(reqs) != 0 {
					t.Errorf("upstream saw %d requests, want none", len(reqs))
				}
				return
			}
			if len(reqs) != 1 {
				t.Fatalf("upstream saw %d requests, want 1", len(reqs))
			}
			h := reqs[0].Header
			var creds []string
			for _, k := range []string{"Authorization", "X-Api-Key", "Proxy-Authorization", "Cookie"} {
				for _, v := range h.Values(k) {
					creds = append(creds, k+": "+v)
				}
			}
			want := []string{c.wantHeader + ": " + personalKey}
			if c.wantHeader == "Authorization" {
				want = []string{"Authorization: Bearer " + personalKey}
			}
			if d := cmp.Diff(want, creds); d != "" {
				t.Errorf("credentials upstream (-want +got):\n%s", d)
			}
		})
	}
}

// splitBody hands the proxy the upstream body in the reads cut decides:
// the proxy's meter then sees every event boundary wherever the network
// could put it.
type splitBody struct {
	io.ReadCloser
	cut func(read int) int // how many bytes the next Read may return
	n   int
}

func (s *splitBody) Read(p []byte) (int, error) {
	if k := s.cut(s.n); k > 0 && k < len(p) {
		p = p[:k]
	}
	n, err := s.ReadCloser.Read(p)
	s.n += n
	return n, err
}

type splitTransport struct {
	http.RoundTripper
	cut func(read int) int
}

func (s splitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.RoundTripper.RoundTrip(r)
	if err == nil {
		resp.Body = &splitBody{ReadCloser: resp.Body, cut: s.cut}
	}
	return resp, err
}

// TestHostile_SSESplitAtEveryByte replays recorded provider streams
// through the proxy with the upstream body cut into one-byte reads, and
// then (for the Anthropic stream) into two reads at every possible
// boundary. The client gets the stream byte for byte and the row is the
// one an unsplit stream gives.
func TestHostile_SSESplitAtEveryByte(t *testing.T) {
	streams := []struct {
		file, path, body string
		everySplit       bool
	}{
		{"anthropic_stream.sse", "/anthropic/v1/messages", `{"model":"claude-haiku-4-5","stream":true}`, true},
		{"openai_chat_stream_gpt4omini_usage.sse", "/openai/v1/chat/completions", `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true}}`, false},
		{"openai_responses_stream.sse", "/openai/v1/responses", `{"model":"o4-mini","stream":true}`, false},
	}
	for _, s := range streams {
		t.Run(s.file, func(t *testing.T) {
			stream, err := os.ReadFile("../metering/testdata/" + s.file)
			if err != nil {
				t.Fatal(err)
			}
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				w.Write(stream)
			}))
			defer up.Close()
			var cut atomic.Pointer[func(int) int]
			whole := func(int) int { return 0 }
			cut.Store(&whole)
			p := hostileProxy(t, up.URL, func(c *Config) {
				c.Transport = splitTransport{upstream.NewTransport(upstream.Timeouts{}), func(n int) int { return (*cut.Load())(n) }}
			})
			call := func() byok.UsageEvent {
				t.Helper()
				resp := send(t, "POST", p.URL+s.path, [][2]string{{"Authorization", "Bearer " + appTok}, {"X-Api-Key", appTok}}, strings.NewReader(s.body))
				b, err := readAll(resp)
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("status %d, %v", resp.StatusCode, err)
				}
				if !bytes.Equal(b, stream) {
					t.Fatalf("client got %d bytes differing from the %d the upstream sent", len(b), len(stream))
				}
				rows := p.rec.Rows()
				return rows[len(rows)-1]
			}
			want := call()
			if !want.Usage.Complete || want.Usage.InputTokens+want.Usage.OutputTokens == 0 {
				t.Fatalf("unsplit row: %+v, want complete with tokens", want.Usage)
			}
			ignore := cmpopts.IgnoreFields(byok.UsageEvent{}, "ID", "Time", "Latency")
			oneByte := func(int) int { return 1 }
			cut.Store(&oneByte)
			if d := cmp.Diff(want, call(), ignore); d != "" {
				t.Errorf("one-byte reads: row (-unsplit +split):\n%s", d)
			}
			if !s.everySplit {
				return
			}
			for i := 1; i < len(stream); i++ {
				at := func(n int) int {
					if n < i {
						return i - n
					}
					return 0
				}
				cut.Store(&at)
				if d := cmp.Diff(want, call(), ignore); d != "" {
					t.Fatalf("split at byte %d: row (-unsplit +split):\n%s", i, d)
				}
			}
		})
	}
}

// TestHostile_UpstreamLies: an upstream that never sends usage, sends
// absurd counts or invalid UTF-8, echoes the key in an error header, or
// cuts a sized body short. The client gets what arrived (a cut body as an
// error, never as a clean end), the row records what was seen and whether
// it is complete, and nothing panics.
func TestHostile_UpstreamLies(t *testing.T) {
	const anthropicStart = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":13,\"output_tokens\":1}}}\n\n"
	cases := []struct {
		name, path, body string
		upstream         http.HandlerFunc
		wantStatus       int
		wantReadErr      bool // the client must see a broken body
		check            func(t *testing.T, row byok.UsageEvent, got []byte)
	}{
		{"stream ends without its usage event", "/anthropic/v1/messages", `{"model":"claude-sonnet-4-5","stream":true}`,
			func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, anthropicStart+"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"Hi\"}}\n\n")
			}, 200, false,
			func(t *testing.T, row byok.UsageEvent, got []byte) {
				if row.Usage.Complete || row.Usage.InputTokens != 13 {
					t.Errorf("row usage %+v, want incomplete with the 13 input tokens seen", row.Usage)
				}
			}},
		{"OpenAI ignores include_usage", "/openai/v1/chat/completions", `{"model":"gpt-4o-mini","stream":true}`,
			func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "data: {\"id\":\"c\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n")
			}, 200, false,
			func(t *testing.T, row byok.UsageEvent, got []byte) {
				if row.Usage.Complete {
					t.Errorf("row usage %+v, want incomplete: no usage was ever reported", row.Usage)
				}
				if !bytes.HasSuffix(got, []byte("data: [DONE]\n\n")) {
					t.Errorf("client stream %q lacks its end", got)
				}
			}},
		{"gigantic and negative token counts", "/openai/v1/chat/completions", chatBody,
			func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"model":"gpt-4o-mini","usage":{"prompt_tokens":-12,"completion_tokens":99999999999999999999999999999,"prompt_tokens_details":{"cached_tokens":-1e308}}}`)
			}, 200, false,
			func(t *testing.T, row byok.UsageEvent, got []byte) {
				u := row.Usage
				if u.InputTokens < 0 || u.OutputTokens <= 0 || u.CacheReadTokens < 0 || row.Cost < 0 {
					t.Errorf("row %+v cost %d: want no negative count or cost, the gigantic one capped", u, row.Cost)
				}
			}},
		{"invalid UTF-8 in the body and the model name", "/openai/v1/chat/completions", chatBody,
			func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, "{\"model\":\"gpt-4o-mini\xff\xfe\",\"choices\":[{\"message\":{\"content\":\"\xc3\x28\"}}],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":2}}")
			}, 200, false,
			func(t *testing.T, row byok.UsageEvent, got []byte) {
				if !utf8.ValidString(row.Model) || row.Usage.InputTokens != 4 {
					t.Errorf("row model %q usage %+v, want valid UTF-8 and the 4 input tokens", row.Model, row.Usage)
				}
				if !bytes.Contains(got, []byte("\xc3\x28")) {
					t.Errorf("client body %q: want the upstream's bytes unchanged", got)
				}
			}},
		{"key echoed in an error header and body", "/openai/v1/chat/completions", chatBody,
			func(w http.ResponseWriter, r *http.Request) {
				k := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
				w.Header().Set("Www-Authenticate", `Bearer error="invalid_token", key="`+k+`"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(401)
				io.WriteString(w, `{"error":{"message":"bad key `+k+`"}}`)
			}, 401, false, nil},
		{"sized body cut short (reset)", "/openai/v1/chat/completions", chatBody,
			func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Length", "500")
				io.WriteString(w, `{"model":"gpt-4o-mini","choices":[`)
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler)
			}, 200, true,
			func(t *testing.T, row byok.UsageEvent, got []byte) {
				if row.Usage.Complete {
					t.Errorf("row usage %+v, want incomplete", row.Usage)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			up := httptest.NewUnstartedServer(c.upstream)
			up.Config.ErrorLog = nil
			up.Start()
			defer up.Close()
			p := hostileProxy(t, up.URL, nil)
			resp := send(t, "POST", p.URL+c.path, [][2]string{{"Authorization", "Bearer " + appTok}}, strings.NewReader(c.body))
			got, err := readAll(resp)
			if resp.StatusCode != c.wantStatus {
				t.Fatalf("status: got %d, want %d", resp.StatusCode, c.wantStatus)
			}
			if c.wantReadErr != (err != nil) {
				t.Errorf("client read error: got %v, want an error: %v", err, c.wantReadErr)
			}
			for k, vv := range resp.Header {
				if strings.Contains(strings.Join(vv, " "), personalKey) {
					t.Errorf("client got the key in header %s", k)
				}
			}
			if bytes.Contains(got, []byte(personalKey)) {
				t.Errorf("client got the key in the body %q", got)
			}
			rows := p.rec.Rows()
			if len(rows) != 1 {
				t.Fatalf("rows: got %d, want 1", len(rows))
			}
			if c.check != nil {
				c.check(t, rows[0], got)
			}
		})
	}
}

// TestHostile_UpstreamNeverAnswers: an upstream that takes the request and
// never sends a header. The client gives up; the proxy cancels the upstream
// call and records a 499.
func TestHostile_UpstreamNeverAnswers(t *testing.T) {
	arrived, cancelled := make(chan struct{}), make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // then the server watches the connection
		close(arrived)
		<-r.Context().Done()
		close(cancelled)
	}))
	defer up.Close()
	p := hostileProxy(t, up.URL, nil)
	recorded := make(chan byok.UsageEvent, 1)
	p.rec.hook = func(ev byok.UsageEvent) { recorded <- ev }
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", p.URL+"/openai/v1/chat/completions", strings.NewReader(chatBody))
	req.Header.Set("Authorization", "Bearer "+appTok)
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-arrived
	cancel()
	if err := <-errc; err == nil {
		t.Error("client got a response, want its own cancellation")
	}
	<-cancelled
	if ev := <-recorded; ev.Status != 499 || ev.Usage.Complete {
		t.Errorf("row: status %d complete %v, want 499 and incomplete", ev.Status, ev.Usage.Complete)
	}
}

// TestHostile_TrickledBody: a body sent byte by byte. Without a valid token
// the client is answered 401 before its body is read (it cannot hold the
// proxy by trickling); with one, the body arrives upstream byte for byte;
// over the limit, 413 once the limit is passed.
func TestHostile_TrickledBody(t *testing.T) {
	fake := newFake(t)
	p := hostileProxy(t, fake.URL, func(c *Config) { c.MaxBody = 1024 })
	addr := strings.TrimPrefix(p.URL, "http://")
	// A raw connection, so that each byte really leaves on its own: Go's
	// client buffers a request body until it ends.
	trickle := func(auth string, body []byte, sendAll bool) (*http.Response, chan int) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		hdr := "POST /openai/v1/chat/completions HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\n" +
			"Content-Length: " + strconv.Itoa(len(body)) + "\r\n"
		if auth != "" {
			hdr += "Authorization: " + auth + "\r\n"
		}
		if _, err := io.WriteString(conn, hdr+"\r\n"); err != nil {
			t.Fatal(err)
		}
		n := len(body)
		if !sendAll {
			n = 1 // one byte, then hold the rest back
		}
		sent := make(chan int, 1)
		go func() {
			i := 0
			for ; i < n; i++ {
				if _, err := conn.Write(body[i : i+1]); err != nil {
					break
				}
			}
			sent <- i
		}()
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		return resp, sent
	}
	resp, sent := trickle("", []byte(chatBody), false)
	readAll(resp)
	if resp.StatusCode != 401 || <-sent != 1 {
		t.Errorf("no token: got %d, want 401 after one byte of the body", resp.StatusCode)
	}
	resp, sent = trickle("Bearer "+appTok, []byte(chatBody), true)
	readAll(resp)
	<-sent
	if resp.StatusCode != 200 {
		t.Fatalf("valid token, trickled body: got %d, want 200", resp.StatusCode)
	}
	if got := fake.Requests()[0].Body; string(got) != chatBody {
		t.Errorf("upstream body %q, want %q", got, chatBody)
	}
	resp, sent = trickle("Bearer "+appTok, []byte(`{"x":"`+strings.Repeat("a", 2000)+`"}`), true)
	readAll(resp)
	<-sent
	if resp.StatusCode != http.StatusRequestEntityTooLarge || len(fake.Requests()) != 1 {
		t.Errorf("trickled body over the limit: got %d and %d upstream requests, want 413 and none new", resp.StatusCode, len(fake.Requests()))
	}
}
