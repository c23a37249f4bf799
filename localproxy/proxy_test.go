package localproxy

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"byokd.dev/byok"
	"byokd.dev/byok/metering"
)

const chatBody = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`

func TestProxy_SignsEachServiceWithPersonalKey(t *testing.T) {
	fake := newFake(t)
	p := newTestProxy(t, fake.URL, personal(), nil)
	cases := []struct {
		name       string
		path       string
		hdr        map[string]string
		body       string
		wantHeader string // header the upstream must see holding the key
		wantValue  string
	}{
		{"openai bearer", "/openai/v1/chat/completions", map[string]string{"Authorization": "Bearer " + appTok}, chatBody, "Authorization", "Bearer " + personalKey},
		{"anthropic x-api-key", "/anthropic/v1/messages", map[string]string{"X-Api-Key": appTok, "Anthropic-Version": "2023-06-01", "Anthropic-Beta": "prompt-caching-2024-07-31"},
			`{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}`, "X-Api-Key", personalKey},
		{"anthropic bearer (ANTHROPIC_AUTH_TOKEN)", "/anthropic/v1/messages/count_tokens", map[string]string{"Authorization": "Bearer " + appTok, "Anthropic-Version": "2023-06-01"},
			`{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}`, "X-Api-Key", personalKey},
		{"clickup raw authorization", "/clickup/api/v2/team", map[string]string{"Authorization": appTok}, "", "Authorization", personalKey},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			method := http.MethodPost
			if c.body == "" {
				method = http.MethodGet
			}
			status, h, _ := do(t, method, p.URL+c.path, c.hdr, c.body)
			if status != http.StatusOK {
				t.Fatalf("status %d, want 200", status)
			}
			if got := h.Get("X-Byokd-Credential"); got != "personal/work" {
				t.Errorf("x-byokd-credential = %q, want personal/work", got)
			}
			reqs := fake.Requests()
			if len(reqs) != i+1 {
				t.Fatalf("upstream saw %d requests, want %d", len(reqs), i+1)
			}
			got := reqs[i]
			if v := got.Header.Get(c.wantHeader); v != c.wantValue {
				t.Errorf("upstream %s = %q, want the personal key", c.wantHeader, v)
			}
			for k, vv := range got.Header {
				for _, v := range vv {
					if strings.Contains(v, appTok) {
						t.Errorf("upstream saw the app token in %s", k)
					}
				}
			}
			if string(got.Body) != c.body {
				t.Errorf("upstream body = %q, want it byte for byte %q", got.Body, c.body)
			}
			for k, v := range c.hdr {
				if strings.HasPrefix(k, "Anthropic-") && got.Header.Get(k) != v {
					t.Errorf("upstream %s = %q, want %q passed through", k, got.Header.Get(k), v)
				}
			}
		})
	}
}

func TestProxy_RecordsUsageRow(t *testing.T) {
	fake := newFake(t)
	p := newTestProxy(t, fake.URL, personal(), nil)
	status, _, body := do(t, "POST", p.URL+"/openai/v1/chat/completions", map[string]string{"Authorization": "Bearer " + appTok}, chatBody)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	rows := p.rec.Rows()
	if len(rows) != 1 {
		t.Fatalf("%d rows, want 1", len(rows))
	}
	want := fake.WantUsage(byok.OpenAI, "gpt-4o-mini")
	cost, known := metering.DefaultPrices().Cost(byok.OpenAI, want)
	got := rows[0]
	wantRow := byok.UsageEvent{
		Service: byok.OpenAI, Model: "gpt-4o-mini", App: "editor", Project: "acme",
		Credential: byok.PersonalKey("work"), Payer: byok.PayerPersonal, Status: 200,
		Usage: want, Cost: cost, CostKnown: known,
	}
	if d := cmp.Diff(wantRow, got, cmpopts.IgnoreFields(byok.UsageEvent{}, "ID", "Time", "Latency")); d != "" {
		t.Errorf("row (-want +got):\n%s", d)
	}
	if !known || cost <= 0 {
		t.Errorf("cost = %v known=%v, want a known positive cost for gpt-4o-mini", cost, known)
	}
}

func TestProxy_Guards(t *testing.T) {
	fake := newFake(t)
	p := newTestProxy(t, fake.URL, personal(), func(c *Config) { c.MaxBody = 1024 })
	auth := "Bearer " + appTok
	cases := []struct {
		name   string
		path   string
		hdr    map[string]string
		body   string
		status int
	}{
		{"foreign host (DNS rebinding)", "/openai/v1/chat/completions", map[string]string{"Host": "evil.example:" + p.Port, "Authorization": auth}, chatBody, 403},
		{"right host name, wrong port", "/openai/v1/chat/completions", map[string]string{"Host": "localhost:1", "Authorization": auth}, chatBody, 403},
		{"browser origin", "/openai/v1/chat/completions", map[string]string{"Origin": "https://evil.example", "Authorization": auth}, chatBody, 403},
		{"origin null", "/openai/v1/chat/completions", map[string]string{"Origin": "null", "Authorization": auth}, chatBody, 403},
		{"referer", "/openai/v1/chat/completions", map[string]string{"Referer": "https://evil.example/", "Authorization": auth}, chatBody, 403},
		{"missing token", "/openai/v1/chat/completions", nil, chatBody, 401},
		{"wrong token", "/openai/v1/chat/completions", map[string]string{"Authorization": "Bearer byok_wrong"}, chatBody, 401},
		{"openai key without bearer", "/openai/v1/chat/completions", map[string]string{"Authorization": appTok}, chatBody, 401},
		{"two different tokens", "/anthropic/v1/messages", map[string]string{"Authorization": auth, "X-Api-Key": "byok_other"}, chatBody, 401},
		{"oversized body", "/openai/v1/chat/completions", map[string]string{"Authorization": auth}, `{"x":"` + strings.Repeat("a", 2000) + `"}`, 413},
		{"unknown route", "/gemini/v1/models", map[string]string{"Authorization": auth}, "", 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, h, body := do(t, "POST", p.URL+c.path, c.hdr, c.body)
			if status != c.status {
				t.Fatalf("status %d, want %d (%s)", status, c.status, body)
			}
			if ct := h.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content-type %q, want application/json", ct)
			}
			if msg := errorMessage(t, body); !strings.HasPrefix(msg, "byokd: ") {
				t.Errorf("error message %q does not start with byokd:", msg)
			}
		})
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("upstream saw %d requests, want none", n)
	}
	if rows := p.rec.Rows(); len(rows) != 0 {
		t.Errorf("%d rows for refused calls, want none", len(rows))
	}
}

// errorMessage reads the message from any provider's error shape.
func errorMessage(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		Error json.RawMessage `json:"error"`
		Err   string          `json:"err"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", body, err)
	}
	if e.Err != "" {
		return e.Err
	}
	var inner struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(e.Error, &inner); err != nil {
		t.Fatalf("error body %q has no error.message", body)
	}
	return inner.Message
}

func TestProxy_ErrorShapes(t *testing.T) {
	fake := newFake(t)
	p := newTestProxy(t, fake.URL, personal(), nil)
	_, _, oa := do(t, "POST", p.URL+"/openai/v1/chat/completions", nil, chatBody)
	_, _, an := do(t, "POST", p.URL+"/anthropic/v1/messages", nil, chatBody)
	_, _, cu := do(t, "GET", p.URL+"/clickup/api/v2/team", nil, "")
	var o struct {
		Error struct{ Message, Type, Code string }
	}
	var a struct {
		Type  string
		Error struct{ Type, Message string }
	}
	var c struct{ Err, ECODE string }
	for _, x := range []struct {
		body string
		v    any
	}{{oa, &o}, {an, &a}, {cu, &c}} {
		if err := json.Unmarshal([]byte(x.body), x.v); err != nil {
			t.Fatalf("%s: %v", x.body, err)
		}
	}
	if o.Error.Code != "missing_token" || !strings.HasPrefix(o.Error.Message, "byokd:") {
		t.Errorf("openai error = %+v", o)
	}
	if a.Type != "error" || a.Error.Type != "authentication_error" || !strings.HasPrefix(a.Error.Message, "byokd:") {
		t.Errorf("anthropic error = %+v", a)
	}
	if c.ECODE != "BYOKD_missing_token" || !strings.HasPrefix(c.Err, "byokd:") {
		t.Errorf("clickup error = %+v", c)
	}
}

func TestProxy_HeaderSmuggling(t *testing.T) {
	fake := newFake(t)
	p := newTestProxy(t, fake.URL, personal(), nil)
	cases := []struct {
		name string
		path string
		hdr  map[string]string
		body string
	}{
		{"auth named in Connection", "/openai/v1/chat/completions", map[string]string{"Authorization": "Bearer " + appTok, "Connection": "Authorization, X-Api-Key"}, chatBody},
		{"own x-api-key to a bearer service", "/openai/v1/chat/completions", map[string]string{"Authorization": "Bearer " + appTok, "X-Api-Key": "sk-attacker-chosen"}, chatBody},
		{"own x-byokd header", "/openai/v1/chat/completions", map[string]string{"Authorization": "Bearer " + appTok, "X-Byokd-Credential": "team/x"}, chatBody},
		{"own x-api-key to clickup", "/clickup/api/v2/team", map[string]string{"Authorization": appTok, "X-Api-Key": "pk_attacker"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(fake.Requests())
			m := "POST"
			if c.body == "" {
				m = "GET"
			}
			if status, _, body := do(t, m, p.URL+c.path, c.hdr, c.body); status != 200 {
				t.Fatalf("status %d: %s", status, body)
			}
			got := fake.Requests()[before].Header
			creds := 0
			for _, k := range []string{"Authorization", "X-Api-Key", "X-Byokd-Credential"} {
				creds += len(got.Values(k))
			}
			if creds != 1 {
				t.Errorf("upstream saw %d credentials (%v), want exactly one", creds, got)
			}
			if k := fake.Requests()[before].Key; k != personalKey {
				t.Errorf("upstream key = %q, want the personal key", k)
			}
		})
	}
}

func TestProxy_DoesNotFollowRedirects(t *testing.T) {
	elsewhere := newFake(t)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/v1/chat/completions", http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	p := newTestProxy(t, redirector.URL, personal(), nil)
	req, _ := http.NewRequest("POST", p.URL+"/openai/v1/chat/completions", strings.NewReader(chatBody))
	req.Header.Set("Authorization", "Bearer "+appTok)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("status %d, want the upstream's 307 passed back", resp.StatusCode)
	}
	if n := len(elsewhere.Requests()); n != 0 {
		t.Errorf("the redirect target got %d requests carrying the key, want none", n)
	}
}

func TestProxy_ScrubsKeyEchoedInErrorBody(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(401)
		io.WriteString(w, `{"error":{"message":"Incorrect API key provided: `+strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")+`","type":"invalid_request_error","code":"invalid_api_key"}}`)
	}))
	defer echo.Close()
	p := newTestProxy(t, echo.URL, personal(), nil)
	status, _, body := do(t, "POST", p.URL+"/openai/v1/chat/completions", map[string]string{"Authorization": "Bearer " + appTok}, chatBody)
	if status != 401 {
		t.Fatalf("status %d", status)
	}
	if strings.Contains(body, personalKey) || !strings.Contains(body, "[redacted]") {
		t.Errorf("client got %q: the key must be scrubbed", body)
	}
	if rows := p.rec.Rows(); len(rows) != 1 || rows[0].Status != 401 || rows[0].Cost != 0 {
		t.Errorf("rows = %+v, want one 401 row costing nothing", rows)
	}
}

func TestProxy_UpstreamUnreachable(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	p := newTestProxy(t, dead.URL, personal(), nil)
	status, _, body := do(t, "POST", p.URL+"/openai/v1/chat/completions", map[string]string{"Authorization": "Bearer " + appTok}, chatBody)
	if status != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", status)
	}
	if msg := errorMessage(t, body); !strings.Contains(msg, "could not reach the OpenAI API") {
		t.Errorf("message %q does not say what happened", msg)
	}
	if rows := p.rec.Rows(); len(rows) != 1 || rows[0].Status != 502 {
		t.Errorf("rows = %+v, want one 502 row", rows)
	}
}

// sseEvents reads SSE events (blank-line separated) from r.
func sseEvents(r io.Reader) (<-chan string, <-chan error) {
	out := make(chan string, 64)
	errc := make(chan error, 1)
	go func() {
		defer close(out)
		br := bufio.NewReader(r)
		var ev strings.Builder
		for {
			line, err := br.ReadString('\n')
			ev.WriteString(line)
			if line == "\n" || line == "\r\n" {
				out <- ev.String()
				ev.Reset()
			}
			if err != nil {
				errc <- err
				return
			}
		}
	}()
	return out, errc
}

func TestProxy_StreamsEachEventAtOnce(t *testing.T) {
	// The upstream sends one event, then waits until the client has seen
	// it: a proxy that buffered would deadlock here.
	seen := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":7,\"output_tokens\":1}}}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-seen:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":9}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	}))
	defer up.Close()
	p := newTestProxy(t, up.URL, personal(), nil)
	req, _ := http.NewRequest("POST", p.URL+"/anthropic/v1/messages", strings.NewReader(`{"model":"claude-sonnet-4-5","stream":true}`))
	req.Header.Set("X-Api-Key", appTok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events, errc := sseEvents(resp.Body)
	if first := <-events; !strings.Contains(first, "message_start") {
		t.Fatalf("first event %q", first)
	}
	close(seen)
	var rest []string
	for ev := range events {
		rest = append(rest, ev)
	}
	if err := <-errc; err != io.EOF {
		t.Fatalf("stream ended with %v, want a clean end", err)
	}
	if len(rest) != 2 || !strings.Contains(rest[1], "message_stop") {
		t.Fatalf("rest = %q", rest)
	}
	rows := p.rec.Rows()
	if len(rows) != 1 || rows[0].Usage.InputTokens != 7 || rows[0].Usage.OutputTokens != 9 || !rows[0].Usage.Complete {
		t.Errorf("rows = %+v, want input 7, output 9, complete", rows)
	}
}

func TestProxy_RowCommittedBeforeLastByte(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(map[bool]string{false: "json", true: "sse"}[stream], func(t *testing.T) {
			fake := newFake(t)
			entered, release := make(chan struct{}), make(chan struct{})
			p := newTestProxy(t, fake.URL, personal(), nil)
			p.rec.hook = func(byok.UsageEvent) { close(entered); <-release }
			body := chatBody
			if stream {
				body = `{"model":"gpt-4o-mini","stream":true,"messages":[]}`
			}
			done := make(chan string)
			go func() {
				_, _, b := do(t, "POST", p.URL+"/openai/v1/chat/completions", map[string]string{"Authorization": "Bearer " + appTok}, body)
				done <- b
			}()
			<-entered
			select {
			case <-done:
				t.Fatal("the client got the whole response before its row was committed")
			default:
			}
			close(release)
			if b := <-done; !strings.Contains(b, "Hello") {
				t.Errorf("body %q lacks the reply", b)
			}
		})
	}
}

func TestProxy_OpenAIStreamWithoutUsageGetsExactlyWhatItAskedFor(t *testing.T) {
	fake := newFake(t)
	p := newTestProxy(t, fake.URL, personal(), nil)
	status, _, body := do(t, "POST", p.URL+"/openai/v1/chat/completions", map[string]string{"Authorization": "Bearer " + appTok},
		`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	if strings.Contains(body, `"usage"`) {
		t.Errorf("client saw usage it did not ask for:\n%s", body)
	}
	if !strings.HasSuffix(body, "data: [DONE]\n\n") {
		t.Errorf("stream does not end with [DONE]:\n%s", body)
	}
	sent := fake.Requests()[0].Body
	if !strings.Contains(string(sent), `"include_usage":true`) {
		t.Errorf("upstream request %s did not ask for usage", sent)
	}
	rows := p.rec.Rows()
	if want := fake.WantUsage(byok.OpenAI, "gpt-4o-mini"); len(rows) != 1 || rows[0].Usage != want {
		t.Errorf("rows = %+v, want usage %+v", rows, want)
	}
}

func TestProxy_ClientGoneMidStreamStillRecorded(t *testing.T) {
	gone := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":11,\"output_tokens\":1}}}\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the proxy must cancel the upstream call
		close(gone)
	}))
	defer up.Close()
	p := newTestProxy(t, up.URL, personal(), nil)
	recorded := make(chan byok.UsageEvent, 1)
	p.rec.hook = func(ev byok.UsageEvent) { recorded <- ev }
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", p.URL+"/anthropic/v1/messages", strings.NewReader(`{"model":"claude-sonnet-4-5","stream":true}`))
	req.Header.Set("X-Api-Key", appTok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	events, _ := sseEvents(resp.Body)
	<-events
	cancel()
	resp.Body.Close()
	<-gone
	ev := <-recorded
	if ev.Status != 499 || ev.Usage.Complete || ev.Usage.InputTokens != 11 {
		t.Errorf("row = %+v, want status 499, incomplete, the 11 input tokens seen", ev)
	}
}

func TestProxy_UpstreamResetIsNotACompleteStream(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // reset mid-stream
	}))
	defer up.Close()
	up.Config.ErrorLog = nil
	p := newTestProxy(t, up.URL, personal(), nil)
	req, _ := http.NewRequest("POST", p.URL+"/anthropic/v1/messages", strings.NewReader(`{"model":"claude-sonnet-4-5","stream":true}`))
	req.Header.Set("X-Api-Key", appTok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Fatal("the client read a clean end of stream; a reset must reach it as an error")
	}
	rows := p.rec.Rows()
	if len(rows) != 1 || rows[0].Usage.Complete || rows[0].Usage.InputTokens != 5 {
		t.Errorf("rows = %+v, want one incomplete row with the 5 input tokens seen", rows)
	}
}

func TestProxy_MetersCompressedUpstream(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := `{"id":"x","object":"chat.completion","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}`
		w.Header().Set("Content-Type", "application/json")
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			io.WriteString(w, body)
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		io.WriteString(zw, body)
		zw.Close()
	}))
	defer up.Close()
	p := newTestProxy(t, up.URL, personal(), nil)
	status, _, body := do(t, "POST", p.URL+"/openai/v1/chat/completions",
		map[string]string{"Authorization": "Bearer " + appTok, "Accept-Encoding": "gzip, deflate, br"}, chatBody)
	if status != 200 || !strings.Contains(body, `"prompt_tokens":10`) {
		t.Fatalf("status %d body %q", status, body)
	}
	if rows := p.rec.Rows(); len(rows) != 1 || rows[0].Usage.InputTokens != 10 || rows[0].Usage.OutputTokens != 5 {
		t.Errorf("rows = %+v, want the gzipped usage metered", rows)
	}
}

// failingRecorder cannot write rows.
type failingRecorder struct{}

func (failingRecorder) Record(context.Context, byok.UsageEvent) error {
	return errors.New("ledger is locked by another program")
}

func TestProxy_NoCompleteResponseWithoutItsRecord(t *testing.T) {
	for _, stream := range []bool{false, true} {
		fake := newFake(t)
		p := newTestProxy(t, fake.URL, personal(), func(c *Config) { c.Recorder = failingRecorder{} })
		body := chatBody
		if stream {
			body = `{"model":"gpt-4o-mini","stream":true,"messages":[]}`
		}
		req, _ := http.NewRequest("POST", p.URL+"/openai/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+appTok)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			var b []byte
			b, err = readAll(resp)
			if err == nil {
				t.Errorf("stream=%v: the client read a complete response (%d bytes) whose row was never written", stream, len(b))
			}
		}
	}
}
