package dashboard

import (
	"bytes"
	"context"
	"crypto/subtle"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
	"byokd.dev/byok/internal/htmlpages"
)

// Hub is what the pages need of the hub; *hub.Server satisfies it.
type Hub interface {
	Viewer(r *http.Request) (hub.Viewer, bool)
	Store() hub.Store
	Policy() byok.Policy
	SetPolicy(ctx context.Context, p byok.Policy) (byok.Policy, error)
	CreateInvite(ctx context.Context, email string, ttl time.Duration) (hub.CreatedInvite, error)
	RevokeDevice(ctx context.Context, id string) error
	SignOut(w http.ResponseWriter, r *http.Request) error
	Connected() map[string]int
}

// Config configures the pages.
type Config struct {
	Hub    Hub
	Now    func() time.Time // default time.Now
	Logger *slog.Logger
}

//go:embed templates/*.html static/*
var files embed.FS

// Pages serves the web view under /ui/. The hub's gate in front of it sets
// the security headers (CSP: only /ui/static/ styles, no script) and the
// Host check. Safe for concurrent use.
type Pages struct {
	hub    Hub
	store  hub.Store
	now    func() time.Time
	log    *slog.Logger
	pages  map[string]*template.Template
	routes *http.ServeMux
}

// New returns the pages for cfg.
func New(cfg Config) *Pages {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Pages{hub: cfg.Hub, store: cfg.Hub.Store(), now: cfg.Now, log: cfg.Logger.With("component", "dashboard"), pages: htmlpages.Parse(files, funcs)}
	static, _ := fs.Sub(files, "static")
	m := http.NewServeMux()
	m.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", http.FileServerFS(static)))
	m.Handle("GET /ui/{$}", http.RedirectHandler("/ui/overview", http.StatusSeeOther))
	for path, h := range map[string]func(*request) (string, any, error){
		"overview": p.overview, "members": p.members, "shared": p.shared, "projects": p.projects,
		"reports": p.reports, "audit": p.audit,
	} {
		m.Handle("GET /ui/"+path, p.page(path, false, h))
	}
	m.Handle("GET /ui/reports.csv", p.signedIn(false, p.reportCSV))
	m.Handle("GET /ui/policy", p.page("policy", true, p.policyPage))
	m.Handle("GET /ui/devices", p.page("devices", true, p.devicesPage))
	// Forms: Go's cross-origin protection (Sec-Fetch-Site, Origin) and the
	// session's CSRF token, both.
	cop := http.NewCrossOriginProtection()
	m.Handle("POST /ui/policy", cop.Handler(p.signedIn(true, p.setPolicy)))
	m.Handle("POST /ui/invites", cop.Handler(p.signedIn(true, p.createInvite)))
	m.Handle("POST /ui/devices/revoke", cop.Handler(p.signedIn(true, p.revokeDevice)))
	m.Handle("POST /ui/signout", cop.Handler(p.signedIn(false, p.signOut)))
	p.routes = m
	return p
}

// ServeHTTP implements http.Handler.
func (p *Pages) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.routes.ServeHTTP(w, r) }

// request is one signed-in request.
type request struct {
	*http.Request
	w      http.ResponseWriter
	viewer hub.Viewer
	period period
}

// scope is the filter every read goes through: a member's session reads
// only the member's own rows, whatever the request asked for.
func (r *request) scope(f hub.UsageFilter) hub.UsageFilter {
	if !r.viewer.Admin {
		f.Member = r.viewer.Email
	}
	return f
}

// signedIn lets through a request with a session (an admin's, if admin);
// on POST, only with the session's CSRF token.
func (p *Pages) signedIn(admin bool, h func(*request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, ok := p.hub.Viewer(r)
		if !ok {
			http.Error(w, "byokd hub: sign in first: run `byokd team` on your machine (members) or `byokd hub admin create EMAIL` on the hub (admins) for a login link", http.StatusUnauthorized)
			return
		}
		if admin && !v.Admin {
			http.Error(w, "byokd hub: only the team's admins may do this", http.StatusForbidden)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(v.CSRF)) != 1 {
				p.log.Warn("form refused: CSRF token missing or wrong", "email", v.Email, "path", r.URL.Path)
				http.Error(w, "byokd hub: this form is stale or came from another page: reload the page and try again", http.StatusForbidden)
				return
			}
		}
		per, err := parsePeriod(r.FormValue("period"), p.now())
		if err != nil {
			http.Error(w, "byokd hub: "+err.Error(), http.StatusBadRequest)
			return
		}
		h(&request{Request: r, w: w, viewer: v, period: per})
	})
}

// view is what every page's layout gets.
type view struct {
	Title, Nav string
	Viewer     hub.Viewer
	Period     period
	Periods    []period
	Flash      string
	Data       any
}

// page renders template name with what h returns (its title and data).
func (p *Pages) page(name string, admin bool, h func(*request) (string, any, error)) http.Handler {
	return p.signedIn(admin, func(r *request) {
		title, data, err := h(r)
		if err != nil {
			p.log.Error("page failed", "page", name, "err", err)
			http.Error(r.w, "byokd hub: this page could not be read from the hub's database; the hub's log says why", http.StatusInternalServerError)
			return
		}
		p.render(r, name, view{Title: title, Nav: name, Data: data, Flash: flashes[r.URL.Query().Get("done")]})
	})
}

// flashes are the notes a form's redirect asks for with ?done=; fixed
// texts, so a link cannot put words on the page.
var flashes = map[string]string{
	"policy":  "Policy saved. Connected daemons have it now; the others get it when they next connect.",
	"revoked": "Device revoked: its credential no longer works and its sync session was closed.",
}

// render executes into a buffer so that a failure never sends half a page.
func (p *Pages) render(r *request, name string, v view) {
	v.Viewer, v.Period, v.Periods = r.viewer, r.period, choices(p.now())
	var buf bytes.Buffer
	if err := p.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		p.log.Error("render page", "page", name, "err", err)
		http.Error(r.w, "byokd hub: the page failed to render", http.StatusInternalServerError)
		return
	}
	r.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = r.w.Write(buf.Bytes())
}

var funcs = template.FuncMap{
	"title": serviceTitle,
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"tokens": func(u byok.Usage) int64 {
		return u.InputTokens + u.OutputTokens + u.CacheReadTokens + u.CacheWriteTokens()
	},
}
