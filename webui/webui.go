package webui

import (
	"context"
	"crypto/subtle"
	"embed"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
	"byokd.dev/byok/internal/htmlpages"
	"byokd.dev/byok/internal/loopback"
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
	// Subscribe follows the daemon's events, which keep open pages current.
	Subscribe(ctx context.Context) (<-chan control.Event, error)
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

// csp allows only this page's own stylesheet, script and event stream, no
// frames, and forms that post back here.
const csp = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; " +
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
	gate     *loopback.Gate
	handler  http.Handler
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
	u.gate = &loopback.Gate{Who: "byokd", Surface: "the Credential Manager", Port: cfg.Port, Logger: u.log,
		Headers: http.Header{
			"Content-Security-Policy":      {csp},
			"X-Frame-Options":              {"DENY"},
			"X-Content-Type-Options":       {"nosniff"},
			"Referrer-Policy":              {"no-referrer"},
			"Cache-Control":                {"no-store"},
			"Cross-Origin-Opener-Policy":   {"same-origin"},
			"Cross-Origin-Resource-Policy": {"same-origin"},
		},
		// A page may be opened from anywhere, but a request that changes
		// state must come from this page (http.CrossOriginProtection:
		// Sec-Fetch-Site, then Origin).
		Browser: func(r *http.Request) string {
			if u.cop.Check(r) != nil {
				return "refused a request from another web site"
			}
			return ""
		},
		Deny: func(w http.ResponseWriter, _ *http.Request, status int, _, msg string) {
			http.Error(w, msg, status)
		},
	}
	u.handler = u.gate.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		u.routes.ServeHTTP(w, r)
	}))
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
	m.HandleFunc("GET /ui/events", u.authed(u.events))
	return u
}

// events streams a "changed" event (server-sent events) whenever the
// daemon's state may have changed: a key added from the CLI, a call
// waiting, spend. The page's live.js then redraws what it shows. The
// stream says only that something changed, never what.
func (u *UI) events(w http.ResponseWriter, r *http.Request, _ *session) {
	ch, err := u.b.Subscribe(r.Context())
	if err != nil {
		http.Error(w, "byokd: the event stream is unavailable", http.StatusServiceUnavailable)
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	keepAlive := time.NewTicker(25 * time.Second)
	defer keepAlive.Stop()
	for {
		var msg string
		select {
		case <-r.Context().Done():
			return
		case _, ok := <-ch:
			if !ok {
				return
			}
			msg = "event: changed\ndata: {}\n\n"
		case <-keepAlive.C:
			msg = ": still here\n\n"
		}
		_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(w, msg); err != nil || rc.Flush() != nil {
			return
		}
	}
}

// NewLogin makes a one-time login path, valid for LoginTTL.
func (u *UI) NewLogin() (string, time.Time) {
	code, exp := u.sessions.newLogin()
	return "/ui/login?code=" + code, exp
}

// Refused is how many requests the gate and the pages have turned away.
func (u *UI) Refused() int64 { return u.gate.Refused() }

// ServeHTTP serves the pages behind the loopback gate (security headers,
// a loopback Host with our port, no cross-origin change), with a bounded
// body; authed then checks the session cookie and, on POST, the form's
// CSRF token.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) { u.handler.ServeHTTP(w, r) }

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
				u.gate.Refuse(w, r, http.StatusForbidden, "csrf", "byokd: the form's security token is missing or stale: reload the page and try again")
				return
			}
		}
		h(w, r, ss)
	}
}
