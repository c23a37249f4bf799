package hub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/localproxy"
	"byokd.dev/byok/metering"
	"byokd.dev/byok/teamsync"
)

// relayer signs daemons' calls with the team's shared keys and streams the
// answers back unbuffered, metering each one itself: the row (payer team,
// the member, app, project, the daemon's event id) is committed before the
// last byte is released.
type relayer struct {
	s  *Server
	rp *httputil.ReverseProxy
}

type relayKey struct{}

// relayCall is one relayed call, carried in the request context.
type relayCall struct {
	svc    byok.Service
	dev    Device
	key    SharedKey
	secret byok.Secret
	rest   string // escaped path below the service prefix
	body   []byte
	meter  metering.Call
	ev     byok.UsageEvent // the row being built
	start  time.Time
}

func callOf(r *http.Request) *relayCall { return r.Context().Value(relayKey{}).(*relayCall) }

func newRelayer(s *Server) *relayer {
	rl := &relayer{s: s}
	rl.rp = &httputil.ReverseProxy{
		Rewrite:        rl.rewrite,
		Transport:      s.cfg.Transport,
		ModifyResponse: rl.modifyResponse,
		ErrorHandler:   rl.upstreamError,
		FlushInterval:  -1,
		BufferPool:     localproxy.Buffers,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	return rl
}

// stripCredentials removes every header that could carry a credential: the
// device's bearer token must never reach the provider.
func stripCredentials(h http.Header) {
	for _, k := range []string{"Authorization", "X-Api-Key", "Proxy-Authorization", "Cookie"} {
		h.Del(k)
	}
	for k := range h {
		if strings.HasPrefix(k, "X-Byokd-") {
			delete(h, k)
		}
	}
}

func (rl *relayer) rewrite(pr *httputil.ProxyRequest) {
	c := callOf(pr.In)
	base := rl.s.upstreams[c.svc]
	u := *pr.Out.URL
	u.Scheme, u.Host = base.Scheme, base.Host
	u.Path, u.RawPath = "", ""
	// c.rest is the escaped path as the daemon sent it: keep its escaping.
	if pu, err := url.Parse(strings.TrimSuffix(base.EscapedPath(), "/") + c.rest); err == nil {
		u.Path, u.RawPath = pu.Path, pu.RawPath
	}
	pr.Out.URL = &u
	pr.Out.Host = ""
	stripCredentials(pr.Out.Header)
	pr.Out.Header.Del("Accept-Encoding") // the meter reads plain bodies
	k := c.secret.Reveal()
	switch c.svc {
	case byok.OpenAI:
		pr.Out.Header.Set("Authorization", "Bearer "+k)
	case byok.Anthropic:
		pr.Out.Header.Set("X-Api-Key", k) // anthropic-version and -beta pass through
	case byok.ClickUp:
		pr.Out.Header.Set("Authorization", k)
	}
	pr.Out.Body = io.NopCloser(bytes.NewReader(c.body))
	pr.Out.ContentLength = int64(len(c.body))
	pr.Out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(c.body)), nil }
	if len(c.body) == 0 {
		pr.Out.Body, pr.Out.GetBody = http.NoBody, nil
	}
}

// serve is /relay/{service}/{rest...}: authenticate the device, check the
// policy and the member's cap, pick the shared key, then proxy.
func (rl *relayer) serve(w http.ResponseWriter, r *http.Request) {
	s := rl.s
	svc, err := byok.ParseService(r.PathValue("service"))
	if err != nil {
		writeProviderError(w, byok.OpenAI, &Refusal{http.StatusNotFound, "unknown_service",
			"byokd hub: unknown service in the relay path: use /relay/openai/, /relay/anthropic/ or /relay/clickup/"})
		return
	}
	dev, ok := s.device(r)
	if !ok {
		writeProviderError(w, svc, &Refusal{http.StatusUnauthorized, "invalid_device",
			"byokd hub: missing, unknown or revoked device credential: join the hub again with `byokd join HUB CODE`"})
		return
	}
	c := &relayCall{svc: svc, dev: dev, start: s.cfg.Now()}
	if ref := rl.admit(r.Context(), c); ref != nil {
		writeProviderError(w, svc, ref)
		return
	}
	prefix := "/relay/" + string(svc)
	c.rest = strings.TrimPrefix(r.URL.EscapedPath(), prefix)
	if c.rest == "" {
		c.rest = "/"
	}
	if r.ContentLength > s.cfg.MaxBody {
		writeProviderError(w, svc, &Refusal{http.StatusRequestEntityTooLarge, "body_too_large", "byokd hub: request body too large"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		writeProviderError(w, svc, &Refusal{http.StatusBadRequest, "bad_body", "byokd hub: could not read the request body"})
		return
	}
	restPath, _ := url.PathUnescape(c.rest)
	c.body, c.meter = metering.Inspect(svc, restPath, body)
	id := r.Header.Get(teamsync.HeaderEventID)
	if !validID(id) {
		id = s.cfg.NewID()
	}
	c.ev = byok.UsageEvent{
		ID: id, Time: c.start, Service: svc, App: clip(r.Header.Get(teamsync.HeaderApp)),
		Project: clip(r.Header.Get(teamsync.HeaderProject)), Credential: c.key.Ref(), Payer: byok.PayerTeam,
		Member: dev.Member, Relayed: true,
	}
	in := r.Clone(context.WithValue(r.Context(), relayKey{}, c))
	in.Body, in.ContentLength = http.NoBody, int64(len(c.body))
	rl.rp.ServeHTTP(w, in)
}

// admit applies the team policy and the member's cap, and finds the
// shared key; a non-nil Refusal says what the member can do.
func (rl *relayer) admit(ctx context.Context, c *relayCall) *Refusal {
	s := rl.s
	p := s.Policy()
	title := c.svc.Title()
	if !p.SharedAllowed(c.svc) {
		return &Refusal{http.StatusForbidden, "shared_not_allowed", fmt.Sprintf(
			"byokd hub: the team policy does not allow shared keys for %s: use a personal key (`byokd key add %s`) or ask your admin to allow it",
			title, c.svc)}
	}
	if p.MemberMonthlyCap > 0 {
		from := monthStart(c.start)
		spent, err := s.cfg.Store.SharedSpend(ctx, c.dev.Member, from, from.AddDate(0, 1, 0))
		if err != nil {
			s.log.Error("relay: shared spend unknown", "err", err)
			return &Refusal{http.StatusServiceUnavailable, "hub_error", "byokd hub: internal error reading your shared spend; try again later"}
		}
		if spent >= p.MemberMonthlyCap {
			return &Refusal{http.StatusForbidden, "member_cap_reached", fmt.Sprintf(
				"byokd hub: you have used your monthly shared-key allowance (%s of %s): use a personal key, or ask your admin to raise the member cap",
				spent, p.MemberMonthlyCap)}
		}
	}
	keys, err := s.cfg.Store.SharedKeys(ctx)
	if err != nil {
		s.log.Error("relay: shared keys unreadable", "err", err)
		return &Refusal{http.StatusServiceUnavailable, "hub_error", "byokd hub: internal error; try again later"}
	}
	for _, k := range keys {
		if k.Service != c.svc {
			continue
		}
		sec, err := s.cfg.Keys.Get(k.Ref())
		if err != nil {
			s.log.Error("relay: shared key unreadable", "key", k.Name, "err", err)
			continue
		}
		c.key, c.secret = k, sec
		return nil
	}
	return &Refusal{http.StatusServiceUnavailable, "no_shared_key", fmt.Sprintf(
		"byokd hub: the team has no usable shared %s key: ask your admin to add one (`byokd hub key add %s --name NAME`)", title, c.svc)}
}

func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

const maxErrorBody = 64 << 10

// modifyResponse names the shared key, scrubs it from error bodies and
// wraps the body in the meter.
func (rl *relayer) modifyResponse(resp *http.Response) error {
	c := callOf(resp.Request)
	resp.Header.Set(teamsync.HeaderCredential, c.key.Ref())
	if resp.StatusCode >= 400 {
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		if err != nil {
			return err
		}
		if k := c.secret.Reveal(); len(k) >= 8 {
			b = bytes.ReplaceAll(b, []byte(k), []byte("[redacted]"))
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
		resp.Header.Del("Transfer-Encoding")
	}
	m := metering.NewMeter(c.meter, resp.StatusCode, resp.Header.Get("Content-Type"))
	if c.meter.InjectedUsage {
		resp.Header.Del("Content-Length")
		resp.ContentLength = -1
	}
	resp.Body = localproxy.MeteredBody(resp.Request.Context(), resp.Body, m, resp.StatusCode, resp.ContentLength,
		func(ctx context.Context, status int, u byok.Usage) error { return rl.record(ctx, c, status, u) })
	return nil
}

// upstreamError answers a call the provider did not complete: 499 when the
// daemon went away, 504 on a timeout, else 502. The call is recorded.
func (rl *relayer) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	c := callOf(r)
	status, msg := http.StatusBadGateway, "byokd hub: could not reach the "+c.svc.Title()+" API from the hub; try again later or ask your admin"
	var t interface{ Timeout() bool }
	switch {
	case r.Context().Err() != nil:
		status = 499
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &t) && t.Timeout()):
		status, msg = http.StatusGatewayTimeout, "byokd hub: the "+c.svc.Title()+" API did not answer in time; try again"
	}
	rl.s.log.Warn("relay: upstream failed", "service", c.svc, "status", status, "err", err)
	_ = rl.record(context.WithoutCancel(r.Context()), c, status, byok.Usage{Complete: status != 499})
	if status != 499 {
		w.Header().Set(teamsync.HeaderCredential, c.key.Ref())
		writeProviderError(w, c.svc, &Refusal{status, "upstream_unreachable", msg})
	}
}

// record commits the hub's row for c. If the hub already metered a call
// under this event id (a replayed id), the row gets a fresh id: shared
// usage is never lost to a collision.
func (rl *relayer) record(ctx context.Context, c *relayCall, status int, u byok.Usage) error {
	s := rl.s
	if u.Model == "" {
		u.Model = c.meter.Model
	}
	ev := c.ev
	ev.Status, ev.Usage, ev.Model = status, u, u.Model
	ev.Cost, ev.CostKnown = s.cfg.Prices.Cost(c.svc, u)
	if status >= 400 && status != 499 {
		ev.Cost, ev.CostKnown = 0, true
	}
	ev.Latency = s.cfg.Now().Sub(c.start)
	err := s.cfg.Store.RecordRelayed(ctx, c.dev.ID, ev)
	if errors.Is(err, byok.ErrExists) {
		ev.ID = ev.ID + "~" + s.cfg.NewID()
		err = s.cfg.Store.RecordRelayed(ctx, c.dev.ID, ev)
	}
	if err != nil {
		s.log.Error("relay: usage row not recorded", "id", ev.ID, "member", c.dev.Member, "err", err)
	}
	return err
}
