package localproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/internal/loopback"
	"byokd.dev/byok/metering"
	"byokd.dev/byok/upstream"
)

// Tokens verifies local app tokens.
type Tokens interface {
	// Verify returns the token's metadata, or an error wrapping
	// byok.ErrUnauthorized for a missing, unknown or revoked token.
	Verify(ctx context.Context, token byok.Secret) (byok.AppToken, error)
}

// Planner chooses the credentials a call tries, in order. c.Row carries the
// call's id, app and project. An error that is a *byok.Refusal is answered
// as is; any other error as a 500.
type Planner interface {
	Plan(ctx context.Context, c *upstream.Call) ([]upstream.Credential, error)
}

// Config holds a Proxy's dependencies. Tokens, Planner, Recorder, Port and
// NewID are required; the rest have defaults.
type Config struct {
	// Upstreams maps each service to its base URL; missing services use
	// the provider's public API.
	Upstreams map[byok.Service]*url.URL
	// Port is the port apps connect to; the Host check requires it.
	Port   string
	Tokens Tokens
	// Identify, if set, names the app of a call that carries no app token
	// (any other key, or none), or reports that it cannot: the daemon
	// names the local process on the other end of the connection.
	Identify func(r *http.Request) (byok.AppToken, bool)
	Planner  Planner
	Recorder upstream.Recorder
	// CountBatch counts each batch's results file once (upstream.Config.CountOnce).
	CountBatch func(ctx context.Context, key string) (bool, error)
	Fallback   upstream.Fallback
	Prices     *metering.Book
	// MaxBody limits request bodies; default upstream.DefaultMaxBody.
	MaxBody int64
	// Transport sends upstream requests; default upstream.NewTransport.
	Transport http.RoundTripper
	Logger    *slog.Logger
	Now       func() time.Time
	NewID     func() string
}

// Proxy is the local proxy. Create it with New.
type Proxy struct {
	cfg     Config
	fwd     *upstream.Forwarder
	gate    *loopback.Gate
	handler http.Handler
}

// New returns a Proxy for cfg.
func New(cfg Config) (*Proxy, error) {
	if cfg.Tokens == nil || cfg.Planner == nil || cfg.Recorder == nil {
		return nil, errors.New("localproxy: Tokens, Planner and Recorder are required")
	}
	if cfg.Port == "" {
		return nil, errors.New("localproxy: Port is required for the Host check")
	}
	if cfg.NewID == nil {
		return nil, errors.New("localproxy: NewID is required")
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = upstream.DefaultMaxBody
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Logger = cfg.Logger.With("component", "localproxy")
	fwd, err := upstream.New(upstream.Config{
		Upstreams: cfg.Upstreams, Transport: cfg.Transport, Prices: cfg.Prices,
		Recorder: cfg.Recorder, CountOnce: cfg.CountBatch, Fallback: cfg.Fallback, Who: "byokd",
		Advice: "; check your network or the upstream URL in the config",
		Logger: cfg.Logger, Now: cfg.Now,
	})
	if err != nil {
		return nil, err
	}
	p := &Proxy{cfg: cfg, fwd: fwd}
	p.gate = &loopback.Gate{Who: "byokd", Surface: "the proxy", Port: cfg.Port, Deny: deny, Logger: cfg.Logger}
	p.handler = p.gate.Wrap(http.HandlerFunc(p.serve))
	return p, nil
}

// Refused counts requests refused before any key was read (Host, Origin,
// route, token).
func (p *Proxy) Refused() int64 { return p.gate.Refused() }

// app is who the call is from: the app token's name and project, or,
// for a call with no app token, the local process Identify names. A key
// with the token prefix is always checked as a token.
func (p *Proxy) app(w http.ResponseWriter, r *http.Request, svc byok.Service) (byok.AppToken, bool) {
	tok, ok := appToken(svc, r.Header)
	if !ok || !strings.HasPrefix(tok, byok.AppTokenPrefix) {
		if p.cfg.Identify != nil {
			if app, found := p.cfg.Identify(r); found {
				return app, true
			}
		}
		if !ok {
			p.gate.Refuse(w, r, http.StatusUnauthorized, "missing_token",
				"byokd: missing app token: create one with `byokd token create NAME` and use it as this app's API key")
			return byok.AppToken{}, false
		}
	}
	app, err := p.cfg.Tokens.Verify(r.Context(), byok.NewSecret(tok))
	if err != nil {
		p.gate.Refuse(w, r, http.StatusUnauthorized, "invalid_token",
			"byokd: invalid or revoked app token: create one with `byokd token create NAME` and use it as this app's API key")
		return byok.AppToken{}, false
	}
	return app, true
}

// ServeHTTP gates, then forwards. The order matters and is fixed:
//  1. Host must name this proxy on loopback (DNS rebinding);
//  2. no browser Origin or Referer (CSRF, CORS preflights);
//  3. the path must start with a known service prefix;
//  4. a valid app token (401) — all before any key is read;
//  5. the body within MaxBody (413), read as the provider would;
//  6. the Planner's credentials, tried in order.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.handler.ServeHTTP(w, r) }

// WhoAmIPath answers, after the same gate as a call and sending nothing
// upstream, whom a call from the asker would be attributed to (WhoAmI):
// `byokd env` and `byokd exec` ask before they hand the proxy to an app,
// so that a wrong token fails there, saying why, rather than in the app.
const WhoAmIPath = "/byokd/whoami"

// WhoAmI is the answer at WhoAmIPath.
type WhoAmI struct {
	App     string `json:"app"`
	Project string `json:"project"`
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == WhoAmIPath {
		if app, ok := p.app(w, r, byok.OpenAI); ok {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(WhoAmI{App: app.Name, Project: app.Project})
		}
		return
	}
	svc, rest := splitService(r.URL.EscapedPath())
	if svc == "" {
		p.gate.Refuse(w, r, http.StatusNotFound, "unknown_route",
			"byokd: unknown route: use /openai/, /anthropic/ or /clickup/ as the base URL path")
		return
	}
	app, ok := p.app(w, r, svc)
	if !ok {
		return
	}
	if plain, err := url.PathUnescape(rest); err == nil {
		if why := metering.BaseURLMistake(svc, plain, "http://"+r.Host); why != "" {
			// Answered here: the provider has no such path, and the call
			// would go out signed with a real key. It is no call, so no row.
			upstream.WriteError(w, svc, &byok.Refusal{Status: http.StatusNotFound, Code: "wrong_base_url", Message: "byokd: not sent: " + why})
			return
		}
	}
	call, ref := p.fwd.ReadCall(w, r, svc, rest, p.cfg.MaxBody)
	if ref != nil {
		upstream.WriteError(w, svc, ref)
		return
	}
	call.Row = byok.UsageEvent{ID: p.cfg.NewID(), App: app.Name, Project: app.Project}
	call.ClientBase = "http://" + r.Host + "/" + string(svc) // the gate admitted only our own loopback address
	creds, err := p.cfg.Planner.Plan(r.Context(), call)
	call.Credentials = creds
	if err == nil && len(call.Credentials) == 0 {
		err = &byok.Refusal{Status: http.StatusServiceUnavailable, Code: "no_credential",
			Message: fmt.Sprintf("byokd: no key for %s: add one with `byokd key add %s`", svc.Title(), svc)}
	}
	if err != nil {
		var ref *byok.Refusal
		if !errors.As(err, &ref) {
			p.cfg.Logger.Error("plan failed", "service", svc, "err", err)
			ref = &byok.Refusal{Status: http.StatusInternalServerError, Code: "internal",
				Message: "byokd: internal error choosing a credential; see `byokd logs`"}
		}
		upstream.WriteError(w, svc, ref)
		return
	}
	p.fwd.Forward(w, r, call)
}

// deny answers a request the gate turned away, in the error shape of the
// service its path names (OpenAI's if none). Its body is not read, and the
// connection closes after the answer: otherwise net/http would wait to
// read that body first, so a client trickling it could hold the answer and
// the connection for as long as it liked.
func deny(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	w.Header().Set("Connection", "close")
	svc, _ := splitService(r.URL.EscapedPath())
	if svc == "" {
		svc = byok.OpenAI
	}
	upstream.WriteError(w, svc, &byok.Refusal{Status: status, Code: code, Message: msg})
}

// splitService maps the escaped path "/openai/v1/chat" to (OpenAI,
// "/v1/chat"). A service prefix that is itself escaped is no route.
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
