package hub

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"byokd.dev/byok/internal/loopback"
	"byokd.dev/byok/teamsync"
)

// publicHandler is the one gate in front of the public routes, in this
// order: security headers; where the listener is on loopback, a loopback
// Host (DNS rebinding); on API and relay routes, no foreign browser Origin
// (the web view's own origin is allowed); then the routes. Each route
// authenticates itself: device credential, admin session or invite code.
func (s *Server) publicHandler(port string) http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("POST /v1/join", s.join)
	m.HandleFunc("GET /v1/sync", s.sync)
	m.HandleFunc("GET /v1/usage", s.usage)
	m.HandleFunc("GET /v1/health", s.health)
	m.HandleFunc("/relay/{service}/{rest...}", s.relayer.serve)
	m.HandleFunc("POST "+teamsync.LoginLinkPath, s.memberLink)
	m.HandleFunc("GET /login", s.loginPage)
	cop := http.NewCrossOriginProtection()
	m.Handle("POST /login", cop.Handler(http.HandlerFunc(s.login)))
	if s.cfg.Pages != nil {
		m.Handle("/ui/", s.cfg.Pages(s))
		m.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusSeeOther))
	}
	own, ownHost := "", ""
	if u, err := url.Parse(s.publicURL); err == nil {
		own, ownHost = u.Scheme+"://"+u.Host, u.Host
	}
	g := &loopback.Gate{Who: "byokd hub", Surface: "this hub", Logger: s.log,
		Headers: http.Header{
			"X-Content-Type-Options":  {"nosniff"},
			"Cache-Control":           {"no-store"},
			"X-Frame-Options":         {"DENY"},
			"Referrer-Policy":         {"no-referrer"},
			"Content-Security-Policy": {"default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"},
		},
		// Pages guard themselves (sessions, CSRF, cross-origin checks);
		// the API and the relay serve programs and the web view's own
		// origin only.
		Browser: func(r *http.Request) string {
			api := strings.HasPrefix(r.URL.Path, "/v1/") || strings.HasPrefix(r.URL.Path, "/relay/")
			if o := r.Header.Get("Origin"); api && (o != "" && o != own || r.Header.Get("Sec-Fetch-Site") == "cross-site") {
				return "refused a request from another web site"
			}
			return ""
		},
		Deny: func(w http.ResponseWriter, _ *http.Request, status int, code, msg string) {
			writeErr(w, status, code, msg)
		},
	}
	if s.loopback {
		g.Port = port
		if s.cfg.PublicURL != "" {
			// Behind a proxy on this machine: members use its name.
			g.AlsoHost = ownHost
		}
	}
	s.gate = g
	return g.Wrap(m)
}

// device authenticates a device credential (Authorization: Bearer …) by
// its hash. Revoked devices are refused.
func (s *Server) device(r *http.Request) (Device, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !strings.HasPrefix(tok, devicePrefix) {
		return Device{}, false
	}
	d, err := s.cfg.Store.DeviceByCredential(r.Context(), hashSecret(tok))
	if err != nil || d.Revoked != nil {
		return Device{}, false
	}
	return d, true
}

// sessionCookie is a web session, an admin's or a member's.
const sessionCookie = "byokd_hub_session"

// Viewer is who a web session belongs to.
type Viewer struct {
	Email string
	// Admin sees every member's rows and may change the team; a member
	// sees only their own rows.
	Admin bool
	// CSRF is the token the session's forms must carry: derived from the
	// session id, which only the signed-in browser holds.
	CSRF string
}

// Viewer returns who the unexpired session cookie r carries belongs to.
func (s *Server) Viewer(r *http.Request) (Viewer, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || !strings.HasPrefix(c.Value, sessionPrefix) {
		return Viewer{}, false
	}
	ses, err := s.cfg.Store.Session(r.Context(), hashSecret(c.Value), s.cfg.Now())
	if err != nil {
		return Viewer{}, false
	}
	admin, err := s.cfg.Store.IsAdmin(r.Context(), ses.Email)
	if err != nil || (!admin && !s.activeMember(r.Context(), ses.Email)) {
		return Viewer{}, false
	}
	return Viewer{Email: ses.Email, Admin: admin, CSRF: hashSecret("csrf:" + c.Value)}, true
}

// activeMember reports whether member has a device that is not revoked: a
// member's session ends with their last device.
func (s *Server) activeMember(ctx context.Context, member string) bool {
	devs, err := s.cfg.Store.Devices(ctx)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(devs, func(d Device) bool { return d.Member == member && d.Revoked == nil })
}

// admin returns the email of the admin whose session cookie r carries.
func (s *Server) admin(r *http.Request) (string, bool) {
	v, ok := s.Viewer(r)
	return v.Email, ok && v.Admin
}
