package fakeprovider

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	byok "byokd.dev/byok"
)

// Options configure a Server. The zero value is usable: every field has a
// default.
type Options struct {
	// ChunkDelay is the pause between two SSE events. Default 0.
	ChunkDelay time.Duration
	// Usage is the token count every reply reports, in byokd's terms:
	// InputTokens excludes cache reads and writes. Only the token fields are
	// read. Default DefaultUsage(). See Server.WantUsage for how each
	// provider's format carries it.
	Usage byok.Usage
	// Chunks is the number of text deltas in a stream, and so the number of
	// pieces of the reply text. Default 5.
	Chunks int
	// Now is the clock for "created" timestamps. Default time.Now.
	Now func() time.Time
}

// DefaultUsage is the usage reported when Options.Usage is zero: every
// counter non-zero and distinct, so a parser that mixes two up is caught.
func DefaultUsage() byok.Usage {
	return byok.Usage{
		InputTokens:        120,
		OutputTokens:       45,
		CacheReadTokens:    30,
		CacheWrite5mTokens: 8,
		CacheWrite1hTokens: 4,
	}
}

// Request is one request the server received, recorded before any failure
// or auth check.
type Request struct {
	Service byok.Service // the provider the path and headers belong to; "" if unknown
	Method  string
	Path    string
	Query   string
	Header  http.Header // a clone
	Body    []byte
	// Key is the credential the request carried: OpenAI's bearer token,
	// Anthropic's x-api-key (or bearer token), ClickUp's Authorization value.
	// Empty when none was sent.
	Key string
}

// Server is a local stand-in for api.openai.com, api.anthropic.com and
// api.clickup.com, all on one URL: the paths do not overlap except GET
// /v1/models, which is Anthropic's when the request carries an
// anthropic-version or x-api-key header and OpenAI's otherwise. It is safe
// for concurrent use.
type Server struct {
	// URL is the base URL, such as http://127.0.0.1:41234, with no trailing slash.
	URL string

	srv    *httptest.Server
	opts   Options
	mu     sync.Mutex
	reqs   []Request
	fails  []Failure
	nextID int
}

// New starts a Server on a loopback port and closes it when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := NewServer(opts)
	if err != nil {
		t.Fatalf("start fake provider: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// NewServer starts a Server on a loopback port, for programs that are not
// tests (benchmarks). The caller must Close it.
func NewServer(opts Options) (*Server, error) {
	if opts.Chunks <= 0 {
		opts.Chunks = 5
	}
	if opts.Usage == (byok.Usage{}) {
		opts.Usage = DefaultUsage()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen on loopback: %w", err)
	}
	s := &Server{opts: opts}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	s.srv.Listener.Close()
	s.srv.Listener = ln
	s.srv.Start()
	s.URL = s.srv.URL
	return s, nil
}

// Close shuts the server down, cutting open streams.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Requests returns every request received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.reqs))
	for i, r := range s.reqs {
		r.Header = r.Header.Clone()
		r.Body = bytes.Clone(r.Body)
		out[i] = r
	}
	return out
}

// FailNext makes the next n requests, whatever their path, get f instead of
// their normal answer.
func (s *Server) FailNext(n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.fails = append(s.fails, f)
	}
}

// Text is the reply text of every chat, response and message: the
// concatenation of the Chunks pieces a stream sends.
func (s *Server) Text() string { return strings.Join(s.pieces(), "") }

func (s *Server) pieces() []string {
	p := make([]string, s.opts.Chunks)
	for i := range p {
		if i == 0 {
			p[i] = "Hello"
		} else {
			p[i] = fmt.Sprintf(" %d", i)
		}
	}
	return p
}

// WantUsage is what a correct parser extracts, as byok.Usage, from a reply
// of svc for model. OpenAI reports no cache writes (it bills them as
// ordinary input, so they count as input); ClickUp reports no tokens, one
// request.
func (s *Server) WantUsage(svc byok.Service, model string) byok.Usage {
	u := s.opts.Usage
	out := byok.Usage{Model: model, Complete: true}
	switch svc {
	case byok.OpenAI:
		out.InputTokens = u.InputTokens + u.CacheWriteTokens()
		out.OutputTokens, out.CacheReadTokens = u.OutputTokens, u.CacheReadTokens
	case byok.Anthropic:
		out.InputTokens, out.OutputTokens, out.CacheReadTokens = u.InputTokens, u.OutputTokens, u.CacheReadTokens
		out.CacheWrite5mTokens, out.CacheWrite1hTokens = u.CacheWrite5mTokens, u.CacheWrite1hTokens
	case byok.ClickUp:
		out.Model = ""
		out.Requests = 1
	}
	return out
}

func (s *Server) id(prefix string) string {
	s.mu.Lock()
	s.nextID++
	n := s.nextID
	s.mu.Unlock()
	return fmt.Sprintf("%sfake%020d", prefix, n)
}

// route is one endpoint: the service it belongs to and its handler.
type route struct {
	svc byok.Service
	h   func(http.ResponseWriter, *http.Request, []byte)
}

func (s *Server) route(r *http.Request) (route, bool) {
	p := r.URL.Path
	post, get := r.Method == http.MethodPost, r.Method == http.MethodGet
	switch {
	case p == "/v1/chat/completions" && post:
		return route{byok.OpenAI, s.openaiChat}, true
	case p == "/v1/responses" && post:
		return route{byok.OpenAI, s.openaiResponses}, true
	case p == "/v1/embeddings" && post:
		return route{byok.OpenAI, s.openaiEmbeddings}, true
	case p == "/v1/images/generations" && post:
		return route{byok.OpenAI, s.openaiImages}, true
	case p == "/v1/audio/speech" && post:
		return route{byok.OpenAI, s.openaiSpeech}, true
	case p == "/v1/models" && get && isAnthropic(r.Header):
		return route{byok.Anthropic, s.anthropicModels}, true
	case p == "/v1/models" && get:
		return route{byok.OpenAI, s.openaiModels}, true
	case p == "/v1/messages" && post:
		return route{byok.Anthropic, s.anthropicMessages}, true
	case p == "/v1/messages/count_tokens" && post:
		return route{byok.Anthropic, s.anthropicCountTokens}, true
	case isBatchPath(p, "/v1/messages/batches/", "/results") && get:
		return route{byok.Anthropic, s.anthropicBatchResults}, true
	case isBatchPath(p+"/", "/v1/messages/batches/", "/") && get:
		return route{byok.Anthropic, s.anthropicBatch}, true
	case isBatchPath(p, "/v1/files/", "/content") && get:
		return route{byok.OpenAI, s.openaiFileContent}, true
	case p == "/api/v2/team" && get:
		return route{byok.ClickUp, s.clickupTeams}, true
	case strings.HasPrefix(p, "/api/v2/task/") && get && len(p) > len("/api/v2/task/") &&
		!strings.Contains(p[len("/api/v2/task/"):], "/"):
		return route{byok.ClickUp, s.clickupTask}, true
	}
	// Unknown endpoints still belong to a provider, for its 404 body.
	switch {
	case strings.HasPrefix(p, "/api/"):
		return route{svc: byok.ClickUp}, false
	case isAnthropic(r.Header) || strings.HasPrefix(p, "/v1/messages"):
		return route{svc: byok.Anthropic}, false
	}
	return route{svc: byok.OpenAI}, false
}

func isAnthropic(h http.Header) bool {
	return h.Get("anthropic-version") != "" || h.Get("x-api-key") != ""
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read request body", http.StatusBadRequest)
		return
	}
	rt, found := s.route(r)
	key := credential(rt.svc, r.Header)

	s.mu.Lock()
	s.reqs = append(s.reqs, Request{
		Service: rt.svc, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body, Key: key,
	})
	var fail *Failure
	if len(s.fails) > 0 {
		f := s.fails[0]
		s.fails = s.fails[1:]
		fail = &f
	}
	s.mu.Unlock()

	if fail != nil && fail.AfterBytes > 0 {
		w = &cutWriter{ResponseWriter: w, left: fail.AfterBytes}
	}
	if fail != nil && fail.Status != 0 {
		writeFailure(w, *fail)
		return
	}
	if key == "" {
		s.unauthenticated(w, rt.svc)
		return
	}
	if !found {
		s.notFound(w, r, rt.svc)
		return
	}
	rt.h(w, r, body)
}

// credential is the key a request carries, in the header its service reads.
func credential(svc byok.Service, h http.Header) string {
	bearer := func() string {
		v := h.Get("Authorization")
		if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
			return strings.TrimSpace(v[7:])
		}
		return ""
	}
	switch svc {
	case byok.OpenAI:
		return bearer()
	case byok.Anthropic:
		if k := h.Get("x-api-key"); k != "" {
			return k
		}
		return bearer()
	case byok.ClickUp:
		return strings.TrimSpace(h.Get("Authorization"))
	}
	return ""
}

func (s *Server) unauthenticated(w http.ResponseWriter, svc byok.Service) {
	switch svc {
	case byok.Anthropic:
		s.anthropicError(w, http.StatusUnauthorized, "authentication_error", "x-api-key header is required")
	case byok.ClickUp:
		writeJSON(w, http.StatusBadRequest, clickupErr{Err: "Authorization header required", ECODE: "OAUTH_017"})
	default:
		openaiError(w, http.StatusUnauthorized, "invalid_request_error", "", "You didn't provide an API key. "+
			"You need to provide your API key in an Authorization header using Bearer auth "+
			"(i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) "+
			"if you're accessing the API from your browser and are prompted for a username and password. "+
			"You can obtain an API key from https://platform.openai.com/account/api-keys.")
	}
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request, svc byok.Service) {
	switch svc {
	case byok.Anthropic:
		s.anthropicError(w, http.StatusNotFound, "not_found_error", "Not Found")
	case byok.ClickUp:
		writeJSON(w, http.StatusNotFound, clickupErr{Err: "Route not found", ECODE: "APP_001"})
	default:
		openaiError(w, http.StatusNotFound, "invalid_request_error", "",
			fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path))
	}
}

func writeFailure(w http.ResponseWriter, f Failure) {
	for k, vs := range f.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if w.Header().Get("Content-Type") == "" && f.Body != "" {
		ct := "application/json"
		if !strings.HasPrefix(strings.TrimSpace(f.Body), "{") {
			ct = "text/plain; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(f.Status)
	io.WriteString(w, f.Body)
}

// cutWriter passes through the first left bytes of a response body, flushes
// them and then drops the connection, as a reset mid-stream does.
type cutWriter struct {
	http.ResponseWriter
	left int
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if len(p) < c.left {
		c.left -= len(p)
		return c.ResponseWriter.Write(p)
	}
	c.ResponseWriter.Write(p[:c.left])
	c.left = 0
	http.NewResponseController(c.ResponseWriter).Flush()
	// ErrAbortHandler makes net/http close the connection without ending the
	// chunked body, so the client sees the stream break.
	panic(http.ErrAbortHandler)
}

func (c *cutWriter) Flush() { http.NewResponseController(c.ResponseWriter).Flush() }

func (c *cutWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(mustJSON(v))
}
