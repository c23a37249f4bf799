package localproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/metering"
)

// DefaultMaxBody is the largest request body the proxy accepts.
const DefaultMaxBody = 32 << 20

// Tokens verifies local app tokens.
type Tokens interface {
	// Verify returns the token's metadata, or an error wrapping
	// byok.ErrUnauthorized for a missing, unknown or revoked token.
	Verify(ctx context.Context, token byok.Secret) (byok.AppToken, error)
}

// Credential is one way to pay for a call.
type Credential struct {
	Ref    string // as the ledger records it: "personal/work", "team/openai"
	Payer  byok.Payer
	Secret byok.Secret // the provider key, or the device credential for the relay
	// Relay, when set, sends the call through the team hub's relay at this
	// base URL (e.g. https://hub:8443/relay/openai) instead of the provider.
	Relay *url.URL
	// Reason says why this credential is used instead of the preferred one.
	Reason string
	// Approve, when set on a credential after the first, is asked before
	// falling back to it (the member's "ask each time", or a team policy);
	// false ends the call with the failure that led here.
	Approve func(ctx context.Context) bool
}

// Call is what the Planner and the Recorder learn about a request.
type Call struct {
	ID      string // the usage event id the call will be recorded under
	Service byok.Service
	App     byok.AppToken
	Meter   metering.Call
}

// Planner chooses the credentials a call tries, in order. An error that is
// a *Refusal is answered as is; any other error as a 500.
type Planner interface {
	Plan(ctx context.Context, c Call) ([]Credential, error)
}

// Recorder commits usage rows. Record returns after the row is durable.
type Recorder interface {
	Record(ctx context.Context, ev byok.UsageEvent) error
}

// Fallback decides, after credential c failed with resp (nil on a
// connection error err), whether the call may move on to the next
// credential, and why. The proxy reads at most 64 KiB of a failed
// response's body before asking. A nil Fallback never falls back.
type Fallback func(c Call, cred Credential, resp *FailedResponse, err error) (next bool, reason string)

// FailedResponse is an upstream error answer, its body already read.
type FailedResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// Config holds a Proxy's dependencies. Tokens, Planner and Recorder are
// required; the rest have defaults.
type Config struct {
	// Upstreams maps each service to its base URL; missing services use
	// the provider's public API.
	Upstreams map[byok.Service]*url.URL
	// Port is the port apps connect to; the Host check requires it.
	Port     string
	Tokens   Tokens
	Planner  Planner
	Recorder Recorder
	Fallback Fallback
	Prices   *metering.Prices
	// MaxBody limits request bodies; default DefaultMaxBody.
	MaxBody int64
	// Transport sends upstream requests; default a transport that never
	// follows redirects (http.Transport does not) with pooled connections.
	Transport http.RoundTripper
	Logger    *slog.Logger
	Now       func() time.Time
	NewID     func() string
}

// Proxy is the local proxy. Create it with New.
type Proxy struct {
	cfg       Config
	upstreams map[byok.Service]*url.URL
	rp        *httputil.ReverseProxy
	refused   atomic.Int64
}

// New returns a Proxy for cfg.
func New(cfg Config) (*Proxy, error) {
	if cfg.Tokens == nil || cfg.Planner == nil || cfg.Recorder == nil {
		return nil, errors.New("localproxy: Tokens, Planner and Recorder are required")
	}
	if cfg.Port == "" {
		return nil, errors.New("localproxy: Port is required for the Host check")
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Prices == nil {
		cfg.Prices = metering.DefaultPrices()
	}
	if cfg.Transport == nil {
		cfg.Transport = NewTransport()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Logger = cfg.Logger.With("component", "localproxy")
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewID == nil {
		return nil, errors.New("localproxy: NewID is required")
	}
	p := &Proxy{cfg: cfg, upstreams: map[byok.Service]*url.URL{}}
	for _, svc := range byok.Services() {
		u := cfg.Upstreams[svc]
		if u == nil {
			var err error
			if u, err = url.Parse(svc.DefaultUpstream()); err != nil {
				return nil, err
			}
		}
		p.upstreams[svc] = u
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      &attempts{p: p},
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.upstreamError,
		FlushInterval:  -1,
		BufferPool:     Buffers,
		ErrorLog:       slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	return p, nil
}

// Buffers lends the 32 KiB copy buffers of reverse proxies. Without a pool
// httputil.ReverseProxy allocates one per response: over half of the bytes
// a call allocates, and so most of the garbage collector's work.
var Buffers httputil.BufferPool = &bufferPool{pool: sync.Pool{New: func() any { return new([32 << 10]byte) }}}

type bufferPool struct{ pool sync.Pool }

func (b *bufferPool) Get() []byte { return b.pool.Get().(*[32 << 10]byte)[:] }
func (b *bufferPool) Put(p []byte) {
	if cap(p) == 32<<10 {
		b.pool.Put((*[32 << 10]byte)(p[:32<<10]))
	}
}

// NewTransport returns the upstream transport: pooled keep-alive
// connections, sane timeouts before the first response byte, none after it
// (streams may run for minutes).
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 256
	t.MaxIdleConns = 1024
	t.ResponseHeaderTimeout = 10 * time.Minute
	return t
}

// Refused counts requests refused by the gate (Host, Origin, token).
func (p *Proxy) Refused() int64 { return p.refused.Load() }

// ServeHTTP gates, then proxies. The order matters and is fixed:
//  1. Host must name this proxy on loopback (DNS rebinding);
//  2. no browser Origin or Referer (CSRF, CORS preflights);
//  3. the path must start with a known service prefix;
//  4. a valid app token (401) — all before any key is read;
//  5. the body within MaxBody (413);
//  6. the Planner's credentials, tried in order.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	svc, rest := splitService(r.URL.Path)
	if !hostAllowed(r.Host, p.cfg.Port) {
		p.refuse(w, svc, http.StatusForbidden, "forbidden_host",
			fmt.Sprintf("byokd: refused request for host %q: connect to 127.0.0.1:%s or localhost:%s", r.Host, p.cfg.Port, p.cfg.Port))
		return
	}
	if fromBrowser(r) {
		p.refuse(w, svc, http.StatusForbidden, "browser_origin",
			"byokd: refused a request from a web page: the proxy serves local apps only")
		return
	}
	if svc == "" {
		p.refuse(w, byok.OpenAI, http.StatusNotFound, "unknown_route",
			"byokd: unknown route: use /openai/, /anthropic/ or /clickup/ as the base URL path")
		return
	}
	tok, ok := appToken(svc, r.Header)
	if !ok {
		p.refuse(w, svc, http.StatusUnauthorized, "missing_token",
			"byokd: missing app token: create one with `byokd token create NAME` and use it as this app's API key")
		return
	}
	app, err := p.cfg.Tokens.Verify(r.Context(), byok.NewSecret(tok))
	if err != nil {
		p.refuse(w, svc, http.StatusUnauthorized, "invalid_token",
			"byokd: invalid or revoked app token: create one with `byokd token create NAME` and use it as this app's API key")
		return
	}
	body, err := readBody(w, r, p.cfg.MaxBody)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, svc, &Refusal{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
				Message: fmt.Sprintf("byokd: request body over the %d MiB limit (set max_body_mib in the config to raise it)", p.cfg.MaxBody>>20)})
			return
		}
		writeError(w, svc, &Refusal{Status: http.StatusBadRequest, Code: "bad_body",
			Message: "byokd: could not read the request body: " + err.Error()})
		return
	}
	out, mc := metering.Inspect(svc, rest, body)
	call := Call{ID: p.cfg.NewID(), Service: svc, App: app, Meter: mc}
	creds, err := p.cfg.Planner.Plan(r.Context(), call)
	if err == nil && len(creds) == 0 {
		err = &Refusal{Status: http.StatusServiceUnavailable, Code: "no_credential",
			Message: fmt.Sprintf("byokd: no key for %s: add one with `byokd key add %s`", svc.Title(), svc)}
	}
	if err != nil {
		var ref *Refusal
		if !errors.As(err, &ref) {
			p.cfg.Logger.Error("plan failed", "service", svc, "err", err)
			ref = &Refusal{Status: http.StatusInternalServerError, Code: "internal",
				Message: "byokd: internal error choosing a credential; see `byokd logs`"}
		}
		writeError(w, svc, ref)
		return
	}
	st := &callState{
		call:  call,
		creds: creds,
		body:  out,
		rest:  rest,
		start: p.cfg.Now(),
		id:    call.ID,
	}
	in := r.Clone(context.WithValue(r.Context(), stateKey{}, st))
	in.Body = http.NoBody
	in.ContentLength = int64(len(out))
	p.rp.ServeHTTP(w, in)
}

// refuse answers a request the gate turned away. Its body is not read,
// and the connection closes after the answer: otherwise net/http would
// wait to read that body first, so a client trickling it could hold the
// answer and the connection for as long as it liked.
func (p *Proxy) refuse(w http.ResponseWriter, svc byok.Service, status int, code, msg string) {
	p.refused.Add(1)
	w.Header().Set("Connection", "close")
	if svc == "" {
		svc = byok.OpenAI
	}
	writeError(w, svc, &Refusal{Status: status, Code: code, Message: msg})
}

// splitService maps "/openai/v1/chat" to (OpenAI, "/v1/chat").
func splitService(path string) (byok.Service, string) {
	for _, svc := range byok.Services() {
		prefix := "/" + string(svc)
		if rest, ok := strings.CutPrefix(path, prefix); ok && (rest == "" || rest[0] == '/') {
			if rest == "" {
				rest = "/"
			}
			return svc, rest
		}
	}
	return "", ""
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	return io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
}
