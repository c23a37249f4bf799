package localproxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"byokd.dev/byok"
	"byokd.dev/byok/upstream"
)

// The proxy's hot path against the no-feature floor, in one run:
//
//	go test -run '^$' -bench 'Proxy|Floor' -benchmem ./localproxy/
//
// Both serve the same request, in process (ServeHTTP into a discarding
// ResponseWriter), against the same loopback httptest upstream, so the
// difference between them is what the guard, the planner, metering and
// recording cost. The recorder only counts: the ledger has its own
// benchmarks.

const (
	benchJSONReq = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	benchSSEReq  = `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
	benchUsage   = `{"prompt_tokens":162,"completion_tokens":45,"total_tokens":207,"prompt_tokens_details":{"cached_tokens":30}}`
	benchChunk   = `data: {"id":"chatcmpl-b","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" word"},"finish_reason":null}],"usage":null}` + "\n\n"
)

// benchUpstream answers chat completions in OpenAI's format: JSON, or 8
// content chunks, the usage chunk and [DONE], each flushed.
func benchUpstream(b *testing.B) *url.URL {
	jsonReply := `{"id":"chatcmpl-b","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there, a short benchmark answer."},"finish_reason":"stop"}],"usage":` + benchUsage + `}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(body), `"stream":true`) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(jsonReply)))
			io.WriteString(w, jsonReply)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		for range 8 {
			io.WriteString(w, benchChunk)
			f.Flush()
		}
		io.WriteString(w, `data: {"id":"chatcmpl-b","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[],"usage":`+benchUsage+"}\n\n")
		f.Flush()
		io.WriteString(w, "data: [DONE]\n\n")
	}))
	b.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u
}

// discard is a ResponseWriter that flushes into nothing.
type discard struct {
	h    http.Header
	code int
	n    int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(code int)        { d.code = code }
func (d *discard) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }
func (d *discard) Flush()                      {}

type countRecorder struct{ n atomic.Int64 }

func (c *countRecorder) Record(context.Context, byok.UsageEvent) error { c.n.Add(1); return nil }

func benchServe(b *testing.B, h http.Handler, path, auth string) {
	for _, c := range []struct{ name, body string }{{"json", benchJSONReq}, {"sse", benchSSEReq}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("POST", "http://127.0.0.1:8787"+path, strings.NewReader(c.body))
					req.Header.Set("Authorization", auth)
					req.Header.Set("Content-Type", "application/json")
					w := &discard{h: http.Header{}}
					h.ServeHTTP(w, req)
					if w.code != 0 && w.code != http.StatusOK || w.n == 0 {
						b.Errorf("status %d, %d bytes", w.code, w.n)
						return
					}
				}
			})
		})
	}
}

func BenchmarkProxy(b *testing.B) {
	up := benchUpstream(b)
	rec := &countRecorder{}
	var id atomic.Int64
	p, err := New(Config{
		Upstreams: map[byok.Service]*url.URL{byok.OpenAI: up},
		Port:      "8787",
		Tokens:    tokenMap{appTok: {Name: "bench", Project: "bench"}},
		Planner:   staticPlanner(personal()),
		Recorder:  rec,
		NewID:     func() string { return "call-" + strconv.FormatInt(id.Add(1), 10) },
	})
	if err != nil {
		b.Fatal(err)
	}
	benchServe(b, p, "/openai/v1/chat/completions", "Bearer "+appTok)
}

// BenchmarkFloor is a bare ReverseProxy whose Rewrite only points at the
// upstream and sets the auth header, with the same transport settings.
func BenchmarkFloor(b *testing.B) {
	up := benchUpstream(b)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(up)
			pr.Out.URL.Path = strings.TrimPrefix(pr.In.URL.Path, "/openai")
			pr.Out.Header.Set("Authorization", "Bearer "+personalKey)
		},
		FlushInterval: -1,
		Transport:     upstream.NewTransport(upstream.Timeouts{}),
	}
	benchServe(b, rp, "/openai/v1/chat/completions", "Bearer "+appTok)
}
