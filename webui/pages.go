package webui

import (
	"bytes"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
)

// view is what every page template gets.
type view struct {
	Title   string
	Nav     string
	CSRF    string // empty when signed out: no navigation is drawn
	Flashes []flash
	Pending int
	Paused  bool
	Code    string // the login code, on the sign-in page
	Next    string // where the sign-in page leads
	Message string // why the sign-in page is shown
	Data    any
}

var funcs = template.FuncMap{
	"title": func(s byok.Service) string { return s.Title() },
	"day":   func(t time.Time) string { return t.Local().Format("2 Jan 2006") },
	"clock": func(t time.Time) string { return t.Local().Format("15:04:05") },
	"label": func(s string) string { return actionLabel[s] },
}

// actionLabel names an approval answer for people.
var actionLabel = map[string]string{"personal": "Use my key", "shared": "Use team key", "deny": "Deny"}

// render writes a page; templates execute into a buffer so that a failure
// never sends half a page.
func (u *UI) render(w http.ResponseWriter, name string, v view) {
	var buf bytes.Buffer
	if err := u.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		u.log.Error("render page", "page", name, "err", err)
		http.Error(w, "byokd: the page could not be drawn; see the daemon's log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// base fills what every signed-in page shows.
func (u *UI) base(r *http.Request, ss *session, nav, title string) view {
	v := view{Title: title, Nav: nav, CSRF: ss.csrf}
	if r.Header.Get("X-Byokd-Live") == "" {
		// A redraw by live.js keeps the messages for the next real visit.
		v.Flashes = u.sessions.takeFlashes(ss)
	}
	if a, err := u.b.Approvals(r.Context()); err == nil {
		v.Pending = len(a)
	}
	if st, err := u.b.Status(r.Context()); err == nil {
		v.Paused = st.Paused
	}
	return v
}

// done ends a POST: the outcome as a message on the next page, then a
// redirect (post/redirect/get), so reloading never repeats the action.
func (u *UI) done(w http.ResponseWriter, r *http.Request, ss *session, to string, f flash) {
	u.sessions.addFlash(ss, f)
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func errFlash(err error) flash {
	return flash{Error: true, Text: strings.TrimPrefix(err.Error(), "byokd: ")}
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("code")
	if !u.sessions.validLogin(code) {
		w.WriteHeader(http.StatusForbidden)
		u.render(w, "signin", view{Title: "Sign in", Message: "This sign-in link was already used or has expired."})
		return
	}
	u.render(w, "login", view{Title: "Sign in", Code: code, Next: landing(r.URL.Query().Get("next"))})
}

// landing is where a login leads: one of the pages, the keys by default
// (never anywhere else: no open redirect).
func landing(next string) string {
	switch next {
	case "/ui/keys", "/ui/prefs", "/ui/tokens", "/ui/usage", "/ui/approvals":
		return next
	}
	return "/ui/keys"
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	id := u.sessions.login(r.PostFormValue("code"))
	if id == "" {
		u.gate.Count(r, "stale_login")
		w.WriteHeader(http.StatusForbidden)
		u.render(w, "signin", view{Title: "Sign in", Message: "This sign-in link was already used or has expired."})
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: id, Path: "/ui/", MaxAge: int(SessionTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, landing(r.PostFormValue("next")), http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request, _ *session) {
	if c, err := r.Cookie(cookieName); err == nil {
		u.sessions.logout(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/ui/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusOK)
	u.render(w, "signin", view{Title: "Signed out", Message: "You are signed out."})
}

type keysData struct {
	Keys     []control.Key
	Services []byok.Service
}

func (u *UI) keysPage(w http.ResponseWriter, r *http.Request, ss *session) {
	v := u.base(r, ss, "keys", "Keys")
	keys, err := u.b.Keys(r.Context())
	if err != nil {
		v.Flashes = append(v.Flashes, errFlash(err))
	}
	v.Data = keysData{Keys: keys, Services: byok.Services()}
	u.render(w, "keys", v)
}

func (u *UI) addKey(w http.ResponseWriter, r *http.Request, ss *session) {
	svc, err := byok.ParseService(r.PostFormValue("service"))
	if err != nil {
		u.done(w, r, ss, "/ui/keys", errFlash(err))
		return
	}
	var budget byok.Micros
	if b := strings.TrimSpace(r.PostFormValue("budget")); b != "" {
		if budget, err = byok.ParseUSD(b); err != nil {
			u.done(w, r, ss, "/ui/keys", errFlash(err))
			return
		}
	}
	k, err := u.b.AddKey(r.Context(), control.AddKey{
		Service: svc, Name: strings.TrimSpace(r.PostFormValue("name")), Secret: r.PostFormValue("secret"),
		Budget: budget, Primary: r.PostFormValue("primary") == "on",
	})
	if err != nil {
		u.done(w, r, ss, "/ui/keys", errFlash(err))
		return
	}
	u.done(w, r, ss, "/ui/keys", flash{Text: "Added your " + svc.Title() + " key " + strconv.Quote(k.Name) +
		" (" + k.Fingerprint + "). It is in your keychain; this page never shows it again."})
}

func (u *UI) removeKey(w http.ResponseWriter, r *http.Request, ss *session) {
	svc, err := byok.ParseService(r.PostFormValue("service"))
	name := r.PostFormValue("name")
	if err == nil {
		err = u.b.RemoveKey(r.Context(), svc, name)
	}
	if err != nil {
		u.done(w, r, ss, "/ui/keys", errFlash(err))
		return
	}
	u.done(w, r, ss, "/ui/keys", flash{Text: "Removed the " + svc.Title() + " key " + strconv.Quote(name) + " from the keychain."})
}

func (u *UI) testKey(w http.ResponseWriter, r *http.Request, ss *session) {
	svc, err := byok.ParseService(r.PostFormValue("service"))
	name := r.PostFormValue("name")
	var res control.KeyTest
	if err == nil {
		res, err = u.b.TestKey(r.Context(), svc, name)
	}
	if err != nil {
		u.done(w, r, ss, "/ui/keys", errFlash(err))
		return
	}
	u.done(w, r, ss, "/ui/keys", flash{Error: !res.OK, Text: svc.Title() + " key " + strconv.Quote(name) + ": " + res.Message})
}

func (u *UI) prefsPage(w http.ResponseWriter, r *http.Request, ss *session) {
	v := u.base(r, ss, "prefs", "Preferences")
	prefs, err := u.b.Prefs(r.Context())
	if err != nil {
		v.Flashes = append(v.Flashes, errFlash(err))
	}
	st, _ := u.b.Status(r.Context())
	rows := make([]prefRow, 0, len(prefs))
	for _, p := range prefs {
		row := prefRow{Pref: p}
		row.TeamOK, row.TeamWhy = st.TeamKey(p.Service)
		rows = append(rows, row)
	}
	v.Data = rows
	u.render(w, "prefs", v)
}

// prefRow is a service's preference and whether the team's key can be
// chosen for it.
type prefRow struct {
	control.Pref
	TeamOK  bool
	TeamWhy string
}

func (u *UI) setPref(w http.ResponseWriter, r *http.Request, ss *session) {
	svc, err := byok.ParseService(r.PostFormValue("service"))
	if err != nil {
		u.done(w, r, ss, "/ui/prefs", errFlash(err))
		return
	}
	p := control.Pref{
		Service: svc, Preference: byok.Preference(r.PostFormValue("preference")),
		Fallback: r.PostFormValue("fallback") == "on", RateLimitFallback: r.PostFormValue("rate_limit_fallback") == "on",
		OverBudget: r.PostFormValue("over_budget"),
	}
	if err := u.b.SetPref(r.Context(), p); err != nil {
		u.done(w, r, ss, "/ui/prefs", errFlash(err))
		return
	}
	u.done(w, r, ss, "/ui/prefs", flash{Text: "Saved the " + svc.Title() + " preference."})
}

func (u *UI) tokensPage(w http.ResponseWriter, r *http.Request, ss *session) {
	v := u.base(r, ss, "tokens", "App tokens")
	toks, err := u.b.Tokens(r.Context())
	if err != nil {
		v.Flashes = append(v.Flashes, errFlash(err))
	}
	v.Data = toks
	u.render(w, "tokens", v)
}

func (u *UI) createToken(w http.ResponseWriter, r *http.Request, ss *session) {
	t, err := u.b.CreateToken(r.Context(), control.NewToken{
		Name: strings.TrimSpace(r.PostFormValue("name")), Project: strings.TrimSpace(r.PostFormValue("project")),
	})
	if err != nil {
		u.done(w, r, ss, "/ui/tokens", errFlash(err))
		return
	}
	u.done(w, r, ss, "/ui/tokens", flash{Text: "Created the app token " + strconv.Quote(t.Name) +
		". Give it to the app as its API key.", Secret: t.Value})
}

func (u *UI) revokeToken(w http.ResponseWriter, r *http.Request, ss *session) {
	name := r.PostFormValue("name")
	if err := u.b.RevokeToken(r.Context(), name); err != nil {
		u.done(w, r, ss, "/ui/tokens", errFlash(err))
		return
	}
	u.done(w, r, ss, "/ui/tokens", flash{Text: "Revoked the app token " + strconv.Quote(name) + ": apps using it are refused from now on."})
}

func (u *UI) usagePage(w http.ResponseWriter, r *http.Request, ss *session) {
	v := u.base(r, ss, "usage", "Usage")
	now := u.now()
	from := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, now.Location())
	to := from.AddDate(0, 1, 0)
	ev, err := u.b.Usage(r.Context(), from, to)
	if err != nil {
		v.Flashes = append(v.Flashes, errFlash(err))
	}
	v.Data = summarize(ev, from, to)
	u.render(w, "usage", v)
}

type approvalsData struct {
	Approvals []control.Approval
	Now       time.Time
}

func (u *UI) approvalsPage(w http.ResponseWriter, r *http.Request, ss *session) {
	v := u.base(r, ss, "approvals", "Approvals")
	list, err := u.b.Approvals(r.Context())
	if err != nil {
		v.Flashes = append(v.Flashes, errFlash(err))
	}
	v.Data = approvalsData{Approvals: list, Now: u.now()}
	u.render(w, "approvals", v)
}

func (u *UI) answer(w http.ResponseWriter, r *http.Request, ss *session) {
	id, ans := r.PostFormValue("id"), r.PostFormValue("answer")
	minutes, _ := strconv.Atoi(r.PostFormValue("minutes"))
	if err := u.b.Answer(r.Context(), id, control.Answer{Answer: ans, Minutes: minutes}); err != nil {
		u.done(w, r, ss, "/ui/approvals", errFlash(err))
		return
	}
	u.done(w, r, ss, "/ui/approvals", flash{Text: "Answered: " + actionLabel[ans] + "."})
}
