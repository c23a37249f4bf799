package localproxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/metering"
)

type stateKey struct{}

// callState is one call's progress, carried in the request context from
// ServeHTTP through the transport to the response body.
type callState struct {
	call  Call
	creds []Credential
	body  []byte // the request body as sent upstream, replayed per attempt
	rest  string // path below the service prefix
	start time.Time
	id    string

	used     Credential // the credential that answered
	fallback string     // why used is not creds[0]
}

func stateOf(r *http.Request) *callState { return r.Context().Value(stateKey{}).(*callState) }

// rewrite points the outbound request at the first credential's upstream.
// Credentials are written per attempt by the transport; here every header a
// client could have used to pass its own credential is removed. Hop-by-hop
// headers (and any a client listed in Connection) are already gone.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	st := stateOf(pr.In)
	stripCredentials(pr.Out.Header)
	// The meter reads plain bodies: let the transport negotiate gzip with
	// the upstream and decompress, whatever encodings the client accepts.
	pr.Out.Header.Del("Accept-Encoding")
	p.target(pr.Out, st, st.creds[0])
}

// target sets out's URL for cred: the provider's upstream, or the relay.
func (p *Proxy) target(out *http.Request, st *callState, cred Credential) {
	base := p.upstreams[st.call.Service]
	if cred.Relay != nil {
		base = cred.Relay
	}
	u := *out.URL
	u.Scheme, u.Host = base.Scheme, base.Host
	u.Path = strings.TrimSuffix(base.Path, "/") + st.rest
	u.RawPath = ""
	if pr := out.URL.RawPath; pr != "" {
		// Keep the client's escaping below the prefix.
		if _, rest := splitService(pr); rest != "" {
			u.RawPath = strings.TrimSuffix(base.EscapedPath(), "/") + rest
		}
	}
	out.URL = &u
	out.Host = ""
}

// attempts is the ReverseProxy's transport: it tries the call's credentials
// in order, replaying the buffered body, and moves on only when the Fallback
// allows it. Every failure it moves on from is read (bounded) and closed;
// nothing of it reaches the client.
type attempts struct{ p *Proxy }

const maxErrorBody = 64 << 10

func (a *attempts) RoundTrip(out *http.Request) (*http.Response, error) {
	p := a.p
	st := stateOf(out)
	var (
		reason   string
		lastResp *http.Response // the failure that led to the next credential
		lastErr  error
		lastCred Credential
	)
	for i, cred := range st.creds {
		if i > 0 && cred.Approve != nil && !cred.Approve(out.Context()) {
			break
		}
		resp, err := p.send(out, st, cred)
		last := i == len(st.creds)-1
		lastCred, lastResp, lastErr = cred, nil, err
		if err != nil {
			if out.Context().Err() != nil || last || p.cfg.Fallback == nil {
				break
			}
			next, why := p.cfg.Fallback(st.call, cred, nil, err)
			if !next {
				break
			}
			reason = why
			continue
		}
		if resp.StatusCode < 400 {
			st.used, st.fallback = cred, reason
			return resp, nil
		}
		failed, err := readFailure(resp, cred)
		if err != nil {
			lastErr = err
			break
		}
		resp.Body = io.NopCloser(bytes.NewReader(failed.Body))
		resp.ContentLength = int64(len(failed.Body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(failed.Body)))
		resp.Header.Del("Transfer-Encoding")
		lastResp = resp
		if last || p.cfg.Fallback == nil {
			break
		}
		next, why := p.cfg.Fallback(st.call, cred, failed, nil)
		if !next {
			break
		}
		reason = why
	}
	st.used, st.fallback = lastCred, reason
	if lastResp != nil {
		return lastResp, nil
	}
	if lastErr == nil {
		lastErr = errors.New("no credential answered")
	}
	return nil, lastErr
}

// send makes one attempt with cred, replaying the buffered body.
func (p *Proxy) send(out *http.Request, st *callState, cred Credential) (*http.Response, error) {
	req := out.Clone(out.Context())
	p.target(req, st, cred)
	sign(st.call.Service, req.Header, cred)
	if cred.Relay != nil {
		req.Header.Set("X-Byokd-App", st.call.App.Name)
		req.Header.Set("X-Byokd-Project", st.call.App.Project)
		req.Header.Set("X-Byokd-Event-Id", st.id)
	}
	if len(st.body) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(st.body))
		req.ContentLength = int64(len(st.body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(st.body)), nil }
	} else {
		req.Body, req.GetBody, req.ContentLength = nil, nil, 0
	}
	return p.cfg.Transport.RoundTrip(req)
}

// readFailure reads an error answer's body (at most maxErrorBody) and
// scrubs the credential from it and from its headers: some upstreams echo
// the key they got.
func readFailure(resp *http.Response, cred Credential) (*FailedResponse, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err != nil {
		return nil, err
	}
	if k := cred.Secret.Reveal(); len(k) >= 8 {
		b = bytes.ReplaceAll(b, []byte(k), []byte("[redacted]"))
		for name, vv := range resp.Header {
			for i, v := range vv {
				if strings.Contains(v, k) {
					vv[i] = strings.ReplaceAll(v, k, "[redacted]")
				}
			}
			resp.Header[name] = vv
		}
	}
	return &FailedResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// modifyResponse names the credential used and wraps the body in the meter.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	st := stateOf(resp.Request)
	if name := resp.Header.Get("X-Byokd-Credential"); st.used.Relay != nil && strings.HasPrefix(name, "team/") {
		// The hub names the shared key it used.
		st.used.Ref = name
	}
	resp.Header.Set("X-Byokd-Credential", st.used.Ref)
	if st.fallback != "" {
		resp.Header.Set("X-Byokd-Fallback", st.fallback)
	}
	m := metering.NewMeter(st.call.Meter, resp.StatusCode, resp.Header.Get("Content-Type"))
	if st.call.Meter.InjectedUsage {
		// The meter removes what the client did not ask for, so the
		// upstream's length no longer holds.
		resp.Header.Del("Content-Length")
		resp.ContentLength = -1
	}
	resp.Body = MeteredBody(resp.Request.Context(), resp.Body, m, resp.StatusCode, resp.ContentLength,
		func(ctx context.Context, status int, u byok.Usage) error { return p.record(ctx, st, status, u) })
	return nil
}

// upstreamError answers a call no credential could complete: 499 when the
// client went away, 504 on a timeout, else 502. The call is recorded.
func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	st := stateOf(r)
	status, msg := http.StatusBadGateway, "byokd: could not reach the "+st.call.Service.Title()+" API: "+errText(err)+"; check your network or the upstream URL in the config"
	switch {
	case r.Context().Err() != nil:
		status = 499
	case isTimeout(err):
		status, msg = http.StatusGatewayTimeout, "byokd: the "+st.call.Service.Title()+" API did not answer in time; try again"
	}
	if st.used.Ref == "" {
		st.used = st.creds[len(st.creds)-1]
	}
	p.record(context.WithoutCancel(r.Context()), st, status, byok.Usage{Complete: status != 499})
	if status != 499 {
		writeError(w, st.call.Service, &Refusal{Status: status, Code: "upstream_unreachable", Message: msg})
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &t) && t.Timeout())
}

// errText keeps an error's message short and free of URLs with userinfo.
func errText(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner.Error()
		}
	}
	return err.Error()
}

var _ http.RoundTripper = (*attempts)(nil)

// RecordFunc writes a call's usage row once its response has ended, with
// the status the client saw (499 when it went away). It must write it even
// when ctx's request is over.
type RecordFunc func(ctx context.Context, status int, u byok.Usage) error

// MeteredBody wraps an upstream response body for a reverse proxy (this
// one and the hub's relay): the bytes go through m on their way to the
// client, and record writes the call's row before the last byte is
// released — on the provider's terminal event for streams, when
// Content-Length bytes are through for sized bodies, otherwise before EOF is
// reported (the chunked terminator is written only after that). If the row
// cannot be written the end is withheld: the client sees a broken response,
// never a complete one without its record. length is -1 when unknown.
func MeteredBody(ctx context.Context, inner io.ReadCloser, m *metering.Meter, status int, length int64, record RecordFunc) io.ReadCloser {
	return &meteredBody{record: record, m: m, inner: inner, ctx: ctx, status: status, length: length}
}

type meteredBody struct {
	record RecordFunc
	m      *metering.Meter
	inner  io.ReadCloser
	ctx    context.Context
	status int
	length int64 // -1 when unknown
	read   int64
	pend   []byte // filtered bytes not yet handed to the reader

	once   sync.Once
	rowErr error
}

func (b *meteredBody) Read(p []byte) (int, error) {
	for len(b.pend) == 0 {
		n, err := b.inner.Read(p)
		if n > 0 {
			b.read += int64(n)
			out, terminal := b.m.Filter(p[:n])
			if terminal || (b.length >= 0 && b.read >= b.length) {
				b.commit(b.status)
				if b.rowErr != nil {
					return 0, b.rowErr // withhold the end
				}
			}
			if len(out) > 0 {
				if len(out) <= len(p) && &out[0] == &p[0] {
					return len(out), nil
				}
				b.pend = append(b.pend[:0], out...)
			}
		}
		if err == io.EOF {
			b.pend = append(b.pend, b.m.Flush()...)
			if len(b.pend) == 0 {
				b.commit(b.status)
				return 0, firstErr(b.rowErr, io.EOF)
			}
			b.inner = eofReader{}
			continue
		}
		if err != nil {
			return 0, err
		}
	}
	n := copy(p, b.pend)
	b.pend = b.pend[n:]
	return n, nil
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// Close records the call if it ended early: the client went away (499) or
// the upstream broke off; the row then says what was seen and that it is
// incomplete.
func (b *meteredBody) Close() error {
	err := b.inner.Close()
	status := b.status
	if b.ctx.Err() != nil {
		status = 499
	}
	b.commit(status)
	return err
}

func (b *meteredBody) commit(status int) {
	b.once.Do(func() {
		// The row must be written even when the client has gone.
		b.rowErr = b.record(context.WithoutCancel(b.ctx), status, b.m.Usage())
	})
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
func (eofReader) Close() error             { return nil }

// record commits the call's usage row.
func (p *Proxy) record(ctx context.Context, st *callState, status int, u byok.Usage) error {
	if u.Model == "" {
		u.Model = st.call.Meter.Model
	}
	cost, known := p.cfg.Prices.Cost(st.call.Service, u)
	if status >= 400 && status != 499 {
		cost, known = 0, true
	}
	ev := byok.UsageEvent{
		ID:             st.id,
		Time:           st.start,
		Service:        st.call.Service,
		Model:          u.Model,
		App:            st.call.App.Name,
		Project:        st.call.App.Project,
		Credential:     st.used.Ref,
		Payer:          st.used.Payer,
		Status:         status,
		Usage:          u,
		Cost:           cost,
		CostKnown:      known,
		Latency:        p.cfg.Now().Sub(st.start),
		FallbackReason: st.fallback,
		Relayed:        st.used.Relay != nil,
	}
	if err := p.cfg.Recorder.Record(ctx, ev); err != nil {
		p.cfg.Logger.Error("usage row not recorded", "id", st.id, "service", st.call.Service, "err", err)
		return err
	}
	return nil
}
