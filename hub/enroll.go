package hub

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/teamsync"
)

// CreatedInvite is an invite's code, shown once.
type CreatedInvite struct {
	Email   string    `json:"email"`
	Code    string    `json:"code"`
	Expires time.Time `json:"expires"`
}

// CreateInvite makes a one-time invite code for email, valid for ttl
// (default Config.InviteTTL).
func (s *Server) CreateInvite(ctx context.Context, email string, ttl time.Duration) (CreatedInvite, error) {
	email, err := checkEmail(email)
	if err != nil {
		return CreatedInvite{}, err
	}
	if ttl <= 0 {
		ttl = s.cfg.InviteTTL
	}
	now := s.cfg.Now()
	code := newInviteCode()
	inv := Invite{CodeHash: hashSecret(normalizeCode(code)), Email: email, Created: now, Expires: now.Add(ttl)}
	if err := s.cfg.Store.CreateInvite(ctx, inv); err != nil {
		return CreatedInvite{}, err
	}
	s.log.Info("invite created", "member", email, "expires", inv.Expires)
	return CreatedInvite{Email: email, Code: code, Expires: inv.Expires}, nil
}

func checkEmail(email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	at := strings.LastIndexByte(email, '@')
	if at < 1 || at == len(email)-1 || len(email) > 254 || strings.ContainsAny(email, " \t\r\n<>\"") {
		return "", fmt.Errorf("%w: %q is not an email address", ErrInvalid, email)
	}
	return email, nil
}

// join exchanges an invite code for a device credential.
func (s *Server) join(w http.ResponseWriter, r *http.Request) {
	var req teamsync.JoinRequest
	if !decode(w, r, &req) {
		return
	}
	name := strings.TrimSpace(req.DeviceName)
	if len(name) > 100 {
		name = name[:100]
	}
	cred := newSecret(devicePrefix)
	dev := Device{ID: s.cfg.NewID(), Name: name, Created: s.cfg.Now(), CredHash: hashSecret(cred)}
	dev, err := s.cfg.Store.Redeem(r.Context(), hashSecret(normalizeCode(req.Code)), s.cfg.Now(), dev)
	if errors.Is(err, byok.ErrNotFound) {
		s.log.Warn("join refused: invite unknown, used or expired")
		writeErr(w, http.StatusUnauthorized, "invalid_invite", teamsync.ErrInvite.Error())
		return
	}
	if err != nil {
		reply(s.log, w, nil, err)
		return
	}
	s.log.Info("device joined", "member", dev.Member, "device", dev.ID, "name", dev.Name)
	writeJSON(w, teamsync.JoinResponse{Member: dev.Member, DeviceID: dev.ID, Credential: cred})
}

// AdminLink is a one-time admin login link, shown once.
type AdminLink struct {
	Email   string    `json:"email"`
	Link    string    `json:"link"`
	Expires time.Time `json:"expires"`
}

// CreateAdmin makes email an admin (if not already) and returns a one-time
// login link for the web view.
func (s *Server) CreateAdmin(ctx context.Context, email string) (AdminLink, error) {
	email, err := checkEmail(email)
	if err != nil {
		return AdminLink{}, err
	}
	if err := s.cfg.Store.AddAdmin(ctx, email, s.cfg.Now()); err != nil {
		return AdminLink{}, err
	}
	link, err := s.loginLink(ctx, email)
	if err != nil {
		return AdminLink{}, err
	}
	s.log.Info("admin login link created", "admin", email, "expires", link.Expires)
	return AdminLink{Email: email, Link: link.Link, Expires: link.Expires}, nil
}

// loginLink stores a one-time login code for email and returns its link.
func (s *Server) loginLink(ctx context.Context, email string) (teamsync.LoginLink, error) {
	code := newSecret(loginPrefix)
	l := Login{CodeHash: hashSecret(code), Email: email, Expires: s.cfg.Now().Add(s.cfg.LoginTTL)}
	if err := s.cfg.Store.CreateLogin(ctx, l); err != nil {
		return teamsync.LoginLink{}, err
	}
	return teamsync.LoginLink{Link: strings.TrimSuffix(s.publicURL, "/") + "/login?code=" + url.QueryEscape(code), Expires: l.Expires}, nil
}

// memberLink is POST /v1/login-link: a device asks for a one-time link to
// the web view, signed in as its member (`byokd team`).
func (s *Server) memberLink(w http.ResponseWriter, r *http.Request) {
	dev, ok := s.device(r)
	if !ok {
		writeErr(w, http.StatusUnauthorized, "unauthorized", "byokd hub: give a device credential (`byokd join`)")
		return
	}
	link, err := s.loginLink(r.Context(), dev.Member)
	if err == nil {
		s.log.Info("member login link created", "member", dev.Member, "device", dev.ID, "expires", link.Expires)
	}
	reply(s.log, w, link, err)
}

var loginTmpl = template.Must(template.New("login").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>byokd hub: sign in</title></head>
<body><h1>byokd hub</h1>
<form method="post" action="/login"><input type="hidden" name="code" value="{{.}}">
<button type="submit">Sign in</button></form>
<p>This link works once and expires. Get a new one with <code>byokd team</code> on your machine,
or as the hub's admin with <code>byokd hub admin create EMAIL</code>.</p>
</body></html>
`))

// loginPage shows a button that posts the code: a GET changes nothing.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = loginTmpl.Execute(w, r.URL.Query().Get("code"))
}

// login redeems a one-time login code (an admin's or a member's) for a
// session cookie (HttpOnly,
// SameSite=Strict, Secure over https).
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	code := r.PostFormValue("code")
	now := s.cfg.Now()
	email, err := s.cfg.Store.RedeemLogin(r.Context(), hashSecret(code), now)
	if err != nil {
		if !errors.Is(err, byok.ErrNotFound) {
			s.log.Error("login failed", "err", err)
		}
		writeErr(w, http.StatusUnauthorized, "invalid_login",
			"byokd hub: this login link is unknown, used or expired: get a new one with `byokd team` (members) or `byokd hub admin create EMAIL` (admins)")
		return
	}
	sid := newSecret(sessionPrefix)
	ses := Session{Hash: hashSecret(sid), Email: email, Expires: now.Add(s.cfg.SessionTTL)}
	if err := s.cfg.Store.CreateSession(r.Context(), ses); err != nil {
		reply(s.log, w, nil, err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: sid, Path: "/", Expires: ses.Expires,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: strings.HasPrefix(s.publicURL, "https:"),
	})
	s.log.Info("signed in", "email", email)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// SignOut ends the session of r's cookie, on the hub and in the browser.
// The web view calls it for a signed-in request that carried the session's
// CSRF token.
func (s *Server) SignOut(w http.ResponseWriter, r *http.Request) error {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return err
	}
	if err := s.cfg.Store.DeleteSession(r.Context(), hashSecret(c.Value)); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: strings.HasPrefix(s.publicURL, "https:"),
	})
	return nil
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	// A replica that cannot record calls is unhealthy: a load balancer
	// then sends members to another. The cause stays in the log.
	if err := s.cfg.Store.Writable(r.Context()); err != nil {
		s.log.Error("health: the database cannot be written", "err", err)
		writeErr(w, http.StatusServiceUnavailable, "database_unwritable",
			"byokd hub: this hub cannot write its database now; its admin can see why in the hub's log")
		return
	}
	writeJSON(w, map[string]any{"ok": true, "protocol": teamsync.Protocol})
}
