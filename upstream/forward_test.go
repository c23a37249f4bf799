package upstream

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"byokd.dev/byok"
)

type memRecorder struct {
	mu   sync.Mutex
	rows []byok.UsageEvent
}

func (r *memRecorder) Record(_ context.Context, ev byok.UsageEvent) error {
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

// forwarder serves a Forwarder whose every call goes to creds; the
// provider for every service is at provider.
func forwarder(t *testing.T, provider string, cfg Config, creds ...Credential) (string, *memRecorder) {
	t.Helper()
	h, rec := forwardHandler(t, provider, cfg, creds...)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL, rec
}

// forwardHandler is forwarder's handler.
func forwardHandler(t *testing.T, provider string, cfg Config, creds ...Credential) (http.Handler, *memRecorder) {
	t.Helper()
	rec := &memRecorder{}
	u, _ := url.Parse(provider)
	cfg.Upstreams = map[byok.Service]*url.URL{byok.OpenAI: u, byok.Anthropic: u, byok.ClickUp: u}
	cfg.Recorder = rec
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, _ := byok.ParseService(strings.Split(r.URL.Path, "/")[1])
		c, ref := f.ReadCall(w, r, svc, strings.TrimPrefix(r.URL.EscapedPath(), "/"+string(svc)), 0)
		if ref != nil {
			WriteError(w, svc, ref)
			return
		}
		c.Row.ID = "call-1"
		c.Credentials = creds
		f.Forward(w, r, c)
	}), rec
}

// A provider that echoes the key it got must not hand it to the client,
// in a header or anywhere in a successful body.
func TestForward_ScrubsKeyFromEverySuccessfulAnswer(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		w.Header().Set("X-Echo", "you sent "+key)
		w.Header().Set("Content-Type", "application/json")
		body := `{"id":"x","model":"gpt-4o","echo":"` + key + `","usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		// Cut the key across two writes.
		half := strings.Index(body, key) + len(key)/2
		io.WriteString(w, body[:half])
		w.(http.Flusher).Flush()
		io.WriteString(w, body[half:])
	}))
	defer echo.Close()
	base, rec := forwarder(t, echo.URL, Config{}, Credential{Ref: byok.TeamKey("team-openai"), Secret: byok.NewSecret(testKey)})
	resp, err := http.Post(base+"/openai/v1/chat/completions", "application/json", strings.NewReader(`{"model":"gpt-4o"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var dump strings.Builder
	resp.Header.Write(&dump)
	if strings.Contains(string(b), testKey) || strings.Contains(dump.String(), testKey) || strings.Contains(string(b), testKey[:len(testKey)/2+2]) {
		t.Fatalf("the key reached the client:\n%s\n%s", dump.String(), b)
	}
	if !json.Valid(b) || int64(len(b)) != resp.ContentLength {
		t.Errorf("body %q (%d bytes, Content-Length %d): want valid JSON of the announced length", b, len(b), resp.ContentLength)
	}
	if got := resp.Header.Get(HeaderCredential); got != "team/team-openai" {
		t.Errorf("credential header %q, want team/team-openai", got)
	}
	if rows := rec.Rows(); len(rows) != 1 || rows[0].Status != 200 || rows[0].Usage.InputTokens != 1 {
		t.Errorf("rows = %+v, want one metered 200 row", rows)
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// hang accepts connections and never answers.
func hang(t *testing.T) string {
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-done:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return srv.URL
}

// A failure names the party that failed: the provider, or the team hub
// when the call went through its relay.
func TestForward_FailureNamesTheParty(t *testing.T) {
	fast := Config{Transport: NewTransport(Timeouts{FirstByte: 200 * time.Millisecond})}
	relay := func(base string) Credential {
		u, _ := url.Parse(base + "/relay/openai")
		return Credential{Ref: byok.TeamKey("openai"), Secret: byok.NewSecret("byokd_device_0123456789"), Relay: u}
	}
	for _, c := range []struct {
		name      string
		provider  string
		cred      Credential
		status    int
		want, not string
	}{
		{"provider down", closedPort(t), Credential{Ref: byok.PersonalKey("work"), Secret: byok.NewSecret(testKey)},
			502, "could not reach the OpenAI API", "team hub"},
		{"hub down", "http://127.0.0.1:9", relay(closedPort(t)), 502, "could not reach the team hub", "OpenAI API"},
		{"provider hangs", hang(t), Credential{Ref: byok.PersonalKey("work"), Secret: byok.NewSecret(testKey)},
			504, "the OpenAI API did not answer in time", "team hub"},
		{"hub hangs", "http://127.0.0.1:9", relay(hang(t)), 504, "the team hub did not answer in time", "OpenAI API"},
	} {
		t.Run(c.name, func(t *testing.T) {
			base, rec := forwarder(t, c.provider, fast, c.cred)
			resp, err := http.Post(base+"/openai/v1/chat/completions", "application/json", strings.NewReader(`{"model":"gpt-4o"}`))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status || !strings.Contains(string(b), c.want) || strings.Contains(string(b), c.not) {
				t.Errorf("got %d %s, want %d saying %q and not %q", resp.StatusCode, b, c.status, c.want, c.not)
			}
			if rows := rec.Rows(); len(rows) != 1 || rows[0].Status != c.status || rows[0].Credential != c.cred.Ref || rows[0].Cost != 0 || !rows[0].CostKnown {
				t.Errorf("rows = %+v, want one row of status %d on %s costing a known $0", rows, c.status, c.cred.Ref)
			}
		})
	}
}

func TestWriteError_AnthropicTypes(t *testing.T) {
	for status, want := range map[int]string{
		400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
		404: "not_found_error", 413: "invalid_request_error", 429: "rate_limit_error", 500: "api_error",
		503: "overloaded_error", 529: "overloaded_error", 504: "timeout_error",
	} {
		w := httptest.NewRecorder()
		WriteError(w, byok.Anthropic, &byok.Refusal{Status: status, Code: "x", Message: "byokd: m"})
		var body struct {
			Type  string `json:"type"`
			Error struct{ Type, Message string }
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Type != "error" || body.Error.Type != want || body.Error.Message != "byokd: m" || w.Code != status {
			t.Errorf("status %d: got %d %s, want type %s", status, w.Code, w.Body, want)
		}
	}
}

// A body byokd would read one way and the provider another, or a method
// no provider takes, is refused in the provider's error shape before
// anything is sent: nothing reaches the provider, no row is written.
func TestReadCall_RefusesWhatItCannotMeter(t *testing.T) {
	var seen atomic.Int64
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen.Add(1) }))
	defer provider.Close()
	base, rec := forwarder(t, provider.URL, Config{Who: "byokd"}, Credential{Ref: byok.PersonalKey("work"), Secret: byok.NewSecret(testKey)})
	for _, c := range []struct{ method, path, body, want string }{
		{"POST", "/openai/v1/chat/completions", `{"model":"gpt-4o","stream":false,"stream":true}`,
			`byokd: not sent: the request body has \"stream\" more than once`},
		{"POST", "/anthropic/v1/messages", `{"model":"claude-haiku-4-5","max_tokens":5,"mod\u0065l":"claude-opus-4-1"}`,
			`the request body has \"model\" more than once`},
		{"POST", "/openai/v1/chat/completions", `{"model":"gpt-4o",`, `the request body is not valid JSON`},
		{"PROPFIND", "/openai/v1/models", ``, `byokd: the OpenAI API takes no \"PROPFIND\" requests`},
	} {
		req, _ := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 4 || !strings.Contains(string(b), c.want) || !strings.Contains(string(b), `"type":`) {
			t.Errorf("%s %s %s: %d %s, want a provider-shaped 4xx saying %s", c.method, c.path, c.body, resp.StatusCode, b, c.want)
		}
	}
	if seen.Load() != 0 || len(rec.Rows()) != 0 {
		t.Errorf("the provider saw %d requests and %d rows were written, want none", seen.Load(), len(rec.Rows()))
	}
}

// A credential that failed before the request left (a refused dial) gives
// way to the next; one whose request may have been received (no answer in
// time, a reset mid-answer) does not, since the provider may bill it and
// the next credential would pay for the same call again.
func TestForward_MovesOnOnlyWhenNothingWasSent(t *testing.T) {
	var second atomic.Int64
	next := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		second.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"x","model":"gpt-4o","usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
	}))
	defer next.Close()
	relayTo, _ := url.Parse(next.URL + "/relay/openai")
	team := Credential{Ref: byok.TeamKey("openai"), Secret: byok.NewSecret("byokd_device_0123456789"), Relay: relayTo}
	personal := Credential{Ref: byok.PersonalKey("work"), Secret: byok.NewSecret(testKey)}
	reset := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // received in full
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}))
	defer reset.Close()
	allow := func(*Call, Credential, *FailedResponse, error) (bool, string) { return true, "connection failed" }
	for _, c := range []struct {
		name, provider string
		moveOn         bool
	}{
		{"dial refused", closedPort(t), true},
		{"no answer in time", hang(t), false},
		{"reset after the request arrived", reset.URL, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := second.Load()
			cfg := Config{Transport: NewTransport(Timeouts{FirstByte: 200 * time.Millisecond}), Fallback: allow}
			base, rec := forwarder(t, c.provider, cfg, personal, team)
			resp, err := http.Post(base+"/openai/v1/chat/completions", "application/json", strings.NewReader(`{"model":"gpt-4o"}`))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			movedOn := second.Load() > before
			if movedOn != c.moveOn {
				t.Errorf("the next credential was tried: %v, want %v (status %d)", movedOn, c.moveOn, resp.StatusCode)
			}
			rows := rec.Rows()
			if len(rows) != 1 {
				t.Fatalf("rows %+v, want one", rows)
			}
			if want := map[bool]byok.CredentialRef{true: team.Ref, false: personal.Ref}[c.moveOn]; rows[0].Credential != want {
				t.Errorf("row names %s, want %s", rows[0].Credential, want)
			}
		})
	}
}

// A stream cut before its end records what the provider had said: an
// OpenAI chat stream (usage only at the end) is "cost unknown", never a
// known $0; an Anthropic stream cut after message_start is priced on its
// prompt and shown as a lower bound.
func TestForward_CutStreamIsNotKnownZero(t *testing.T) {
	for _, c := range []struct {
		name, path, body string
		known            bool
		text             string
	}{
		{"OpenAI chat", "/openai/v1/chat/completions",
			"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hel\"}}],\"usage\":null}\n\n",
			false, "unknown"},
		{"Anthropic messages", "/anthropic/v1/messages",
			"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"usage\":{\"input_tokens\":100000,\"output_tokens\":1}}}\n\n",
			true, "at least $0.300015"}, // 100,000 × $3 + 1 × $15 per million
	} {
		t.Run(c.name, func(t *testing.T) {
			cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, c.body)
				w.(http.Flusher).Flush()
				conn, _, _ := w.(http.Hijacker).Hijack()
				conn.Close()
			}))
			defer cut.Close()
			base, rec := forwarder(t, cut.URL, Config{}, Credential{Ref: byok.PersonalKey("work"), Secret: byok.NewSecret(testKey)})
			resp, err := http.Post(base+c.path, "application/json", strings.NewReader(`{"model":"x","stream":true,"max_tokens":5}`))
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			rows := rec.Rows()
			if len(rows) != 1 {
				t.Fatalf("rows %+v, want one", rows)
			}
			r := rows[0]
			if r.CostKnown != c.known || r.Usage.Complete || r.CostText() != c.text {
				t.Errorf("row cost %v known %v complete %v shown %q, want known %v, incomplete, shown %q",
					r.Cost, r.CostKnown, r.Usage.Complete, r.CostText(), c.known, c.text)
			}
		})
	}
}

// writeLog records each write on the connections it accepted.
type writeLog struct {
	net.Listener
	mu     sync.Mutex
	writes []string
}

func (l *writeLog) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	return &loggedConn{Conn: c, log: l}, err
}

// loggedServer serves h, logging each write on its connections.
func loggedServer(t *testing.T, h http.Handler) (*httptest.Server, *writeLog) {
	srv := httptest.NewUnstartedServer(h)
	logged := &writeLog{Listener: srv.Listener}
	srv.Listener = logged
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, logged
}

func (l *writeLog) all() []string { l.mu.Lock(); defer l.mu.Unlock(); return slices.Clone(l.writes) }

type loggedConn struct {
	net.Conn
	log *writeLog
}

func (c *loggedConn) Write(p []byte) (int, error) {
	c.log.mu.Lock()
	c.log.writes = append(c.log.writes, string(p))
	c.log.mu.Unlock()
	return c.Conn.Write(p)
}

// TestForward_HeaderLeavesWithTheFirstEvent: a streamed answer's header
// goes to the client in the same write as its first event, not in a
// write of its own, while the event comes within HeaderWait (a minute
// here: the provider sends it 20 ms after the header); each event still
// leaves as it comes. With a short HeaderWait, a stream whose first event
// is held until the client has the header gets its header all the same.
func TestForward_HeaderLeavesWithTheFirstEvent(t *testing.T) {
	release := make(chan struct{})
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		if strings.Contains(r.URL.RawQuery, "slow") {
			<-release
		} else {
			time.Sleep(20 * time.Millisecond) // the immediate header flush would go first
		}
		for _, ev := range []string{`{"id":"1","model":"gpt-4o","choices":[{"delta":{"content":"hi"}}]}`,
			`{"id":"1","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`, `[DONE]`} {
			io.WriteString(w, "data: "+ev+"\n\n")
			w.(http.Flusher).Flush()
			time.Sleep(5 * time.Millisecond) // each event in a read of its own
		}
	}))
	defer provider.Close()
	serve := func(wait time.Duration) (*httptest.Server, *writeLog) {
		h, _ := forwardHandler(t, provider.URL, Config{HeaderWait: wait}, Credential{Ref: byok.TeamKey("team-openai"), Secret: byok.NewSecret(testKey)})
		return loggedServer(t, h)
	}
	srv, logged := serve(time.Minute)
	body := `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true}}`

	resp, err := http.Post(srv.URL+"/openai/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "[DONE]") {
		t.Fatalf("the stream: %q", b)
	}
	w := logged.all()
	if len(w) < 3 || !strings.HasPrefix(w[0], "HTTP/1.1 200") || !strings.Contains(w[0], `"content":"hi"`) {
		t.Errorf("writes to the client: %q; want the header and the first event in the first, each later event in one of its own", w)
	}

	// The first event comes only when the test releases it: the header
	// must reach the client before that.
	srv, _ = serve(time.Millisecond)
	got := make(chan *http.Response, 1)
	go func() {
		resp, err := http.Post(srv.URL+"/openai/v1/chat/completions?slow", "application/json", strings.NewReader(body))
		if err != nil {
			t.Error(err)
			close(got)
			return
		}
		got <- resp
	}()
	select {
	case resp = <-got:
	case <-time.After(30 * time.Second):
		close(release)
		t.Fatal("the header of a stream whose first event is held never reached the client")
	}
	close(release)
	if resp == nil {
		return
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "[DONE]") {
		t.Errorf("the slow stream: %d %q", resp.StatusCode, b)
	}
}

// TestForward_SizedAnswerLeavesInOneWrite: an answer of known length goes
// to the client in one write, header and body, however long the provider
// takes between the two (here 20 ms, past a HeaderWait of 1 ms): only a
// stream has its header sent ahead.
func TestForward_SizedAnswerLeavesInOneWrite(t *testing.T) {
	answer := `{"id":"1","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(answer)))
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		time.Sleep(20 * time.Millisecond)
		io.WriteString(w, answer)
	}))
	defer provider.Close()
	h, rec := forwardHandler(t, provider.URL, Config{HeaderWait: time.Millisecond}, Credential{Ref: byok.TeamKey("team-openai"), Secret: byok.NewSecret(testKey)})
	srv, logged := loggedServer(t, h)

	resp, err := http.Post(srv.URL+"/openai/v1/chat/completions", "application/json", strings.NewReader(`{"model":"gpt-4o"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != answer {
		t.Fatalf("the answer: %q", b)
	}
	if w := logged.all(); len(w) != 1 || !strings.HasPrefix(w[0], "HTTP/1.1 200") || !strings.HasSuffix(w[0], answer) {
		t.Errorf("writes to the client: %q; want one, the header and the body", w)
	}
	if rows := rec.Rows(); len(rows) != 1 || rows[0].Usage.InputTokens != 3 {
		t.Errorf("rows: %+v; want one of 3 input tokens", rows)
	}
}
