package webui

import (
	"context"
	"crypto/subtle"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
	"byokd.dev/byok/internal/htmlpages"
	"byokd.dev/byok/internal/jsonapi"
)

// Backend is what the page needs of the daemon; the daemon's control
// backend and control.Client both satisfy it.
type Backend interface {
	Status(ctx context.Context) (control.Status, error)
	Keys(ctx context.Context) ([]control.Key, error)
	AddKey(ctx context.Context, k control.AddKey) (control.Key, error)
	RemoveKey(ctx context.Context, svc byok.Service, name string) error
	TestKey(ctx context.Context, svc byok.Service, name string) (control.KeyTest, error)
	Tokens(ctx context.Context) ([]control.Token, error)
	CreateToken(ctx context.Context, t control.NewToken) (control.CreatedToken, error)
	RevokeToken(ctx context.Context, name string) error
	Usage(ctx context.Context, from, to time.Time) ([]byok.UsageEvent, error)
	Prefs(ctx context.Context) ([]control.Pref, error)
	SetPref(ctx context.Context, p control.Pref) error
	Approvals(ctx context.Context) ([]control.Approval, error)
	Answer(ctx context.Context, id string, a control.Answer) error
}

// Config configures a UI.
type Config struct {
	Backend Backend
	// Port is the listener's port: requests must name a loopback host
	// with it (DNS rebinding).
	Port   string
	Now    func() time.Time // default time.Now
	Logger *slog.Logger
}

//go:embed templates/*.html static/*
var files embed.FS

// cookieName is the session cookie.
const cookieName = "byokd_session"

// csp allows only this page's own stylesheet and script, no frames, and
// forms that post back here.
const csp = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// UI serves the Credential Manager under /ui/. Safe for concurrent use.
type UI struct {
	b        Backend
	port     string
	now      func() time.Time
	log      *slog.Logger
	sessions *sessions
	pages    map[string]*template.Template
	static   http.Handler
	cop      *http.CrossOriginProtection
	routes   *http.ServeMux
	// Refused counts requests the gate turned away.
	refused atomic.Int64
}

// New returns the page for cfg.
func New(cfg Config) *UI {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	static, _ := fs.Sub(files, "static")
	u := &UI{
		b: cfg.Backend, port: cfg.Port, now: cfg.Now, log: cfg.Logger.With("component", "webui"),
		sessions: newSessions(cfg.Now), pages: htmlpages.Parse(files, funcs),
		static: http.StripPrefix("/ui/static/", http.FileServerFS(static)),
		cop:    http.NewCrossOriginProtection(),
		routes: http.NewServeMux(),
	}
	m := u.routes
	m.Handle("GET /ui/static/", u.static)
	m.HandleFunc("GET /ui/login", u.loginPage)
	m.HandleFunc("POST /ui/login", u.login)
	m.HandleFunc("GET /ui/{$}", u.authed(func(w http.ResponseWriter, r *http.Request, _ *session) {
		http.Redirect(w, r, "/ui/keys", http.StatusSeeOther)
	}))
	m.HandleFunc("POST /ui/logout", u.authed(u.logout))
	m.HandleFunc("GET /ui/keys", u.authed(u.keysPage))
	m.HandleFunc("POST /ui/keys", u.authed(u.addKey))
	m.HandleFunc("POST /ui/keys/remove", u.authed(u.removeKey))
	m.HandleFunc("POST /ui/keys/test", u.authed(u.testKey))
	m.HandleFunc("GET /ui/prefs", u.authed(u.prefsPage))
	m.HandleFunc("POST /ui/prefs", u.authed(u.setPref))
	m.HandleFunc("GET /ui/tokens", u.authed(u.tokensPage))
	m.HandleFunc("POST /ui/tokens", u.authed(u.createToken))
	m.HandleFunc("POST /ui/tokens/revoke", u.authed(u.revokeToken))
	m.HandleFunc("GET /ui/usage", u.authed(u.usagePage))
	m.HandleFunc("GET /ui/approvals", u.authed(u.approvalsPage))
	m.HandleFunc("POST /ui/approvals", u.authed(u.answer))
	return u
}

// NewLogin makes a one-time login path, valid for LoginTTL.
func (u *UI) NewLogin() (string, time.Time) {
	code, exp := u.sessions.newLogin()
	return "/ui/login?code=" + code, exp
}

// Refused is how many requests the gate has turned away.
func (u *UI) Refused() int64 { return u.refused.Load() }

// ServeHTTP is the one gate in front of every route, in this order:
//  1. security headers on every answer (CSP, no framing, no sniffing, no
//     referrer, no caching);
//  2. Host must be a loopback name with our port (DNS rebinding);
//  3. cross-origin requests that change state are refused
//     (http.CrossOriginProtection: Sec-Fetch-Site, then Origin);
//  4. a bounded body;
//  5. then the routes, where authed checks the session cookie and, on
//     POST, the form's CSRF token.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	if !jsonapi.LoopbackHost(r.Host, u.port) {
		u.refuse(w, r, "the Credential Manager answers only on 127.0.0.1 or localhost")
		return
	}
	if err := u.cop.Check(r); err != nil {
		u.refuse(w, r, "refused a request from another web site")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	u.routes.ServeHTTP(w, r)
}

func (u *UI) refuse(w http.ResponseWriter, r *http.Request, why string) {
	u.refused.Add(1)
	u.log.Warn("page request refused", "method", r.Method, "path", r.URL.Path, "why", why)
	http.Error(w, "byokd: "+why, http.StatusForbidden)
}

// authed runs h with the request's session; without one it shows how to
// sign in. A POST must carry the session's CSRF token.
func (u *UI) authed(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Cookie(cookieName)
		var id string
		if c != nil {
			id = c.Value
		}
		ss, ok := u.sessions.get(id)
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			u.render(w, "signin", view{Title: "Sign in"})
			return
		}
		if r.Method == http.MethodPost {
			tok := r.PostFormValue("csrf")
			if subtle.ConstantTimeCompare([]byte(tok), []byte(ss.csrf)) != 1 {
				u.refuse(w, r, "the form's security token is missing or stale: reload the page and try again")
				return
			}
		}
		h(w, r, ss)
	}
}
