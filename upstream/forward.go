package upstream

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/metering"
)

// Call is one call to send: what the caller learned from the request and
// the credentials it may use, in order.
type Call struct {
	Service byok.Service
	Method  string
	// Path is the escaped path below the service prefix, as the client
	// sent it ("/v1/chat/completions"); the query travels separately.
	Path  string
	Body  []byte // the body to send, replayed per attempt
	Meter metering.Call
	// Credentials are tried in order; at least one.
	Credentials []Credential
	// Row is the usage row as far as the caller knows it (ID, App,
	// Project, Member); the Forwarder fills in the rest.
	Row byok.UsageEvent
	// ClientBase is the service's URL as the client reached it
	// ("http://127.0.0.1:8787/anthropic"), for answers that link to the
	// provider; empty leaves links as they are.
	ClientBase string
}

// FailedResponse is an upstream error answer, its body already read
// (at most MaxErrorBody bytes) and scrubbed of the key.
type FailedResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// MaxErrorBody is the most of an error answer's body that is read.
const MaxErrorBody = 64 << 10

// Fallback decides, after credential cred failed with resp (nil on a
// connection error err), whether the call may move on to the next
// credential, and why.
type Fallback func(c *Call, cred Credential, resp *FailedResponse, err error) (next bool, reason string)

// Recorder commits usage rows. Record returns once the row is durable; it
// must write the row even when ctx's request is over.
type Recorder interface {
	Record(ctx context.Context, ev byok.UsageEvent) error
}

// Config holds a Forwarder's dependencies. Recorder is required.
type Config struct {
	// Upstreams maps each service to its base URL; missing services use
	// the provider's public API.
	Upstreams map[byok.Service]*url.URL
	// Transport sends upstream requests; default NewTransport().
	Transport http.RoundTripper
	Prices    *metering.Book // default the built-in prices
	Recorder  Recorder
	// CountOnce claims a batch's results file (metering.BatchKey) and
	// reports whether this was the first claim, so that a file fetched
	// again is not billed twice. Without it batch results are recorded
	// as cost unknown.
	CountOnce func(ctx context.Context, key string) (first bool, err error)
	// Fallback decides whether a failed attempt moves on; nil never does.
	Fallback Fallback
	// Who starts every message the Forwarder writes: "byokd", "byokd hub".
	Who string
	// Advice ends the message when a provider cannot be reached.
	Advice string
	// HeaderWait is how long an answer's header waits for its first body
	// bytes, to leave in the same write, before it is sent alone (see
	// headWithBody); default DefaultHeaderWait.
	HeaderWait time.Duration
	Logger     *slog.Logger
	Now        func() time.Time
}

// DefaultHeaderWait: shorter than anyone notices, longer than a provider
// takes between an answer's header and its first bytes when it has them.
const DefaultHeaderWait = 100 * time.Millisecond

// Forwarder sends calls upstream. Create it with New.
type Forwarder struct {
	cfg       Config
	upstreams map[byok.Service]*url.URL
	rp        *httputil.ReverseProxy
	batchMu   sync.Mutex // held from claiming a results file to recording its row
}

// New returns a Forwarder for cfg.
func New(cfg Config) (*Forwarder, error) {
	if cfg.Recorder == nil {
		return nil, errors.New("upstream: Recorder is required")
	}
	if cfg.Transport == nil {
		cfg.Transport = NewTransport(Timeouts{})
	}
	if cfg.Prices == nil {
		cfg.Prices = metering.NewBook(metering.DefaultPrices())
	}
	if cfg.Who == "" {
		cfg.Who = "byokd"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HeaderWait <= 0 {
		cfg.HeaderWait = DefaultHeaderWait
	}
	f := &Forwarder{cfg: cfg, upstreams: map[byok.Service]*url.URL{}}
	for _, svc := range byok.Services() {
		u := cfg.Upstreams[svc]
		if u == nil {
			var err error
			if u, err = url.Parse(svc.DefaultUpstream()); err != nil {
				return nil, err
			}
		}
		f.upstreams[svc] = u
	}
	f.rp = &httputil.ReverseProxy{
		Rewrite:        f.rewrite,
		Transport:      &attempts{f: f},
		ModifyResponse: f.modifyResponse,
		ErrorHandler:   f.upstreamError,
		// Zero: a body of known length is copied whole, leaving with its
		// header when the handler returns, and no flush timer is set up
		// for it; the ReverseProxy flushes a stream (text/event-stream,
		// or no length) at each write whatever this says.
		FlushInterval: 0,
		BufferPool:    buffers,
		ErrorLog:      slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	return f, nil
}

type stateKey struct{}

// callState is one call's progress, carried in the request context from
// Forward through the transport to the response body.
type callState struct {
	*Call
	start    time.Time
	used     Credential // the credential that answered, or the last tried
	fallback string     // why used is not Credentials[0]
}

func stateOf(r *http.Request) *callState { return r.Context().Value(stateKey{}).(*callState) }

// Forward sends c upstream with the headers, method and query of in (which
// it does not change) and streams the answer to w. The call's row is
// recorded whatever happens, once.
func (f *Forwarder) Forward(w http.ResponseWriter, in *http.Request, c *Call) {
	st := &callState{Call: c, start: f.cfg.Now()}
	// A shallow copy: the ReverseProxy clones it again for the outbound
	// request, so in's headers are never changed.
	out := in.WithContext(context.WithValue(in.Context(), stateKey{}, st))
	out.Body = http.NoBody
	out.ContentLength = int64(len(c.Body))
	hw := &headWithBody{ResponseWriter: w, wait: f.cfg.HeaderWait}
	// Deferred: the ReverseProxy panics (http.ErrAbortHandler) when a
	// body breaks off mid-copy.
	defer hw.finish()
	f.rp.ServeHTTP(hw, out)
}

// headWithBody sends a stream's header with its first body bytes, in one
// write: the ReverseProxy flushes a stream's header at once, on a
// goroutine of its own (an immediate timer), which costs each call a
// write and a wake-up and gives the client nothing, as the first body
// bytes follow within microseconds. A header whose body has not begun
// within wait (a model thinking before its first event) is sent alone
// then, so that clients waiting for it do not wait longer.
type headWithBody struct {
	http.ResponseWriter
	wait time.Duration
	mu   sync.Mutex
	body bool        // body bytes written
	done bool        // the handler returned: w is not ours any more
	late *time.Timer // sends the header alone after wait
}

func (h *headWithBody) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.body && len(p) > 0 {
		h.body = true
		if h.late != nil {
			h.late.Stop()
		}
	}
	return h.ResponseWriter.Write(p)
}

func (h *headWithBody) FlushError() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.body {
		return http.NewResponseController(h.ResponseWriter).Flush()
	}
	if h.late == nil && !h.done {
		h.late = time.AfterFunc(h.wait, func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			if !h.body && !h.done {
				_ = http.NewResponseController(h.ResponseWriter).Flush()
			}
		})
	}
	return nil
}

// finish ends the answer when the handler returns, or panics because the
// body broke off. A body of known length is flushed here: whole, this is
// the one write net/http would make after the handler; cut short, the
// client gets the header and the bytes that came, as the provider sent
// them, before the connection breaks.
func (h *headWithBody) finish() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.done = true
	if h.late != nil {
		h.late.Stop()
	}
	if h.body && h.Header().Get("Content-Length") != "" {
		_ = http.NewResponseController(h.ResponseWriter).Flush()
	}
}

func (h *headWithBody) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// rewrite points the outbound request at the first credential's upstream.
// Credentials are written per attempt by the transport; here every header a
// client could have used to pass its own is removed. Hop-by-hop headers
// (and any a client listed in Connection) are already gone.
func (f *Forwarder) rewrite(pr *httputil.ProxyRequest) {
	st := stateOf(pr.In)
	StripCredentials(pr.Out.Header)
	// The meter reads plain bodies: let the transport negotiate gzip with
	// the upstream and decompress, whatever encodings the client accepts.
	pr.Out.Header.Del("Accept-Encoding")
	f.target(pr.Out, st, st.Credentials[0])
}

// target sets out's URL for cred: the provider's upstream, or the relay,
// keeping the client's escaping below the service prefix.
func (f *Forwarder) target(out *http.Request, st *callState, cred Credential) {
	base := f.upstreams[st.Service]
	if cred.Relay != nil {
		base = cred.Relay
	}
	u := *out.URL
	u.Scheme, u.Host = base.Scheme, base.Host
	u.Path, u.RawPath = "", ""
	if pu, err := url.Parse(strings.TrimSuffix(base.EscapedPath(), "/") + st.Path); err == nil {
		u.Path, u.RawPath = pu.Path, pu.RawPath
	}
	out.URL = &u
	out.Host = ""
}

// modifyResponse names the credential used, scrubs its key from the
// headers and body, and wraps the body in the meter.
func (f *Forwarder) modifyResponse(resp *http.Response) error {
	st := stateOf(resp.Request)
	if st.used.Relay != nil {
		// The hub names the shared key it used.
		if ref, err := byok.ParseCredentialRef(resp.Header.Get(HeaderCredential)); err == nil && ref.Payer == byok.PayerTeam {
			st.used.Ref = ref
		}
	}
	scrubHeader(resp.Header, st.used.Secret)
	resp.Header.Set(HeaderCredential, st.used.Ref.String())
	if st.fallback != "" {
		resp.Header.Set(HeaderFallback, st.fallback)
	}
	if st.ClientBase != "" && hasBatchLinks(st.Service, st.Meter.Path) {
		if err := pointLinksHere(resp, st.ClientBase); err != nil {
			return err
		}
	}
	m := metering.NewMeter(st.Meter, resp.StatusCode, resp.Header.Get("Content-Type"))
	if st.Meter.InjectedUsage {
		// The meter removes what the client did not ask for, so the
		// upstream's length no longer holds.
		resp.Header.Del("Content-Length")
		resp.ContentLength = -1
	}
	body := scrubBody(resp.Body, st.used.Secret)
	resp.Body = meteredBody(resp.Request.Context(), body, m, resp.StatusCode, resp.ContentLength,
		func(ctx context.Context, status int, u byok.Usage) error {
			return f.record(ctx, st, status, u, m.Parts())
		})
	return nil
}

// upstreamError answers a call no credential could complete (see failure).
// The call is recorded.
func (f *Forwarder) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	st := stateOf(r)
	if st.used.Ref.IsZero() {
		st.used = st.Credentials[len(st.Credentials)-1]
	}
	ref := f.failure(r.Context(), err, st.Service, st.used)
	f.cfg.Logger.Warn("upstream failed", "service", st.Service, "status", ref.Status, "err", errText(err))
	_ = f.record(context.WithoutCancel(r.Context()), st, ref.Status, byok.Usage{Complete: ref.Status != StatusClientGone}, nil)
	if ref.Status != StatusClientGone {
		w.Header().Set(HeaderCredential, st.used.Ref.String())
		WriteError(w, st.Service, ref)
	}
}

// record commits the call's usage row. An answer the provider refused
// (4xx, 5xx) costs nothing: providers bill only what they served. parts
// are a batch's results usage by model (Meter.Parts).
func (f *Forwarder) record(ctx context.Context, st *callState, status int, u byok.Usage, parts []byok.Usage) error {
	if u.Model == "" {
		u.Model = st.Meter.Model
	}
	ev := st.Row
	ev.Time = st.start
	ev.Service = st.Service
	ev.Model = u.Model
	ev.Credential = st.used.Ref
	ev.Payer = st.used.Ref.Payer
	ev.Status = status
	ev.Usage = u
	batch, isBatch := metering.BatchKey(st.Service, st.Method, st.Meter.Path)
	switch {
	case status >= 400 && status != StatusClientGone:
		ev.Cost, ev.CostKnown = 0, true
	case isBatch:
		f.batchMu.Lock()
		defer f.batchMu.Unlock()
		ev.Usage, ev.Cost, ev.CostKnown = f.batchCost(ctx, st.Service, batch, u, parts)
	case metering.Metered(st.Service, st.Method, st.Meter.Path):
		ev.Cost, ev.CostKnown = f.cfg.Prices.Prices().Cost(st.Service, u)
		if !u.Complete && u.InputTokens|u.OutputTokens|u.CacheReadTokens|u.CacheWriteTokens() == 0 && !metering.Free(st.Service, st.Method, st.Meter.Path) {
			// Cut off before the provider said anything of its usage
			// (an OpenAI stream reports it only at the end): what it
			// will bill is not known, and is not $0.
			ev.Cost, ev.CostKnown = 0, false
		}
	case metering.Free(st.Service, st.Method, st.Meter.Path):
		ev.Cost, ev.CostKnown = 0, true
	default:
		// Served, billed, and not metered by byokd (images, audio,
		// batches): say so, never "$0.00".
		ev.Cost, ev.CostKnown = 0, false
	}
	ev.Latency = f.cfg.Now().Sub(st.start)
	ev.FallbackReason = st.fallback
	ev.Relayed = ev.Relayed || st.used.Relay != nil
	if err := f.cfg.Recorder.Record(ctx, ev); err != nil {
		f.cfg.Logger.Error("usage row not recorded", "id", ev.ID, "service", st.Service, "err", err)
		return err
	}
	return nil
}

// batchCost prices the download of a batch's results: the file is billed
// the first time it comes whole, at the batch rate of each model in it; a
// later download of it costs nothing. A download cut short is cost unknown
// and claims nothing: its lines are counted when the file comes whole.
func (f *Forwarder) batchCost(ctx context.Context, svc byok.Service, key string, u byok.Usage, parts []byok.Usage) (byok.Usage, byok.Micros, bool) {
	none := byok.Usage{Model: u.Model, Complete: u.Complete}
	switch {
	case !u.Complete:
		return none, 0, false
	case len(parts) == 0:
		return u, 0, true // not a results file: downloading it is free
	case f.cfg.CountOnce == nil:
		return none, 0, false
	}
	first, err := f.cfg.CountOnce(ctx, key)
	if err != nil {
		f.cfg.Logger.Error("batch results not counted", "batch", key, "err", err)
		return none, 0, false
	}
	if !first {
		return none, 0, true // counted when it was first downloaded
	}
	cost, known := f.cfg.Prices.Prices().CostAll(svc, parts)
	return u, cost, known
}
