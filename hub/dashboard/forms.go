package dashboard

import (
	"errors"
	"html/template"
	"net/http"
	"slices"
	"strings"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
)

type policyData struct {
	Policy   byok.Policy
	Services []serviceChoice
	Prefs    []byok.Preference
	Cap      string // in dollars, for the form
	Error    string
}

type serviceChoice struct {
	Service byok.Service
	On      bool
}

func (p *Pages) policyData(pol byok.Policy) policyData {
	d := policyData{Policy: pol, Prefs: []byok.Preference{byok.PreferPersonal, byok.PreferShared, byok.PreferAsk}}
	for _, svc := range byok.Services() {
		d.Services = append(d.Services, serviceChoice{Service: svc, On: pol.SharedAllowed(svc)})
	}
	if pol.MemberMonthlyCap > 0 {
		d.Cap = strings.TrimPrefix(pol.MemberMonthlyCap.String(), "$")
	}
	return d
}

func (p *Pages) policyPage(r *request) (string, any, error) {
	return "Team policy", p.policyData(p.hub.Policy()), nil
}

// setPolicy changes the team policy the way `byokd hub policy set` does:
// through the hub, which stores it and pushes it to connected daemons.
func (p *Pages) setPolicy(r *request) {
	pol := byok.Policy{
		SharedNeedsApproval: r.PostFormValue("approval") == "on",
		AllowFallback:       r.PostFormValue("fallback") == "on",
		DefaultPreference:   byok.Preference(r.PostFormValue("default_preference")),
	}
	for _, s := range r.PostForm["shared"] {
		pol.SharedServices = append(pol.SharedServices, byok.Service(s))
	}
	var err error
	if c := strings.TrimSpace(r.PostFormValue("cap")); c != "" {
		pol.MemberMonthlyCap, err = byok.ParseUSD(c)
	}
	if err == nil {
		_, err = p.hub.SetPolicy(r.Context(), pol)
	}
	if err != nil {
		d := p.policyData(pol)
		d.Error = formError(err)
		r.w.WriteHeader(http.StatusBadRequest)
		p.render(r, "policy", view{Title: "Team policy", Nav: "policy", Data: d})
		return
	}
	p.log.Info("policy changed on the web view", "admin", r.viewer.Email)
	http.Redirect(r.w, r.Request, "/ui/policy?done=policy", http.StatusSeeOther)
}

// formError is what the admin reads when a form is refused: the hub's
// own words for bad input, nothing internal otherwise.
func formError(err error) string {
	if errors.Is(err, hub.ErrInvalid) || strings.Contains(err.Error(), "invalid amount") {
		return err.Error()
	}
	return "the hub could not store this; its log says why"
}

type devicesData struct {
	Devices []deviceRow
	Invite  *hub.CreatedInvite // shown once, right after it was made
	Error   string
}

func (p *Pages) devices(r *request) (devicesData, error) {
	devs, err := p.store.Devices(r.Context())
	if err != nil {
		return devicesData{}, err
	}
	conn := p.hub.Connected()
	var d devicesData
	for _, dv := range devs {
		d.Devices = append(d.Devices, deviceRow{Device: dv, Connected: conn[dv.ID] > 0})
	}
	slices.SortStableFunc(d.Devices, func(a, b deviceRow) int { return strings.Compare(a.Member, b.Member) })
	return d, nil
}

func (p *Pages) devicesPage(r *request) (string, any, error) {
	d, err := p.devices(r)
	return "Invites and devices", d, err
}

// createInvite makes an invite and shows its code on the answer itself,
// once: it is in no link and nowhere stored.
func (p *Pages) createInvite(r *request) {
	d, err := p.devices(r)
	if err == nil {
		var inv hub.CreatedInvite
		inv, err = p.hub.CreateInvite(r.Context(), r.PostFormValue("email"), 0)
		if err == nil {
			d.Invite = &inv
		}
	}
	if err != nil {
		d.Error = formError(err)
		r.w.WriteHeader(http.StatusBadRequest)
	}
	p.render(r, "devices", view{Title: "Invites and devices", Nav: "devices", Data: d})
}

func (p *Pages) revokeDevice(r *request) {
	if err := p.hub.RevokeDevice(r.Context(), r.PostFormValue("id")); err != nil {
		d, _ := p.devices(r)
		d.Error = "revoke: " + formError(err)
		if errors.Is(err, byok.ErrNotFound) {
			d.Error = "no such device: reload the page"
		}
		r.w.WriteHeader(http.StatusBadRequest)
		p.render(r, "devices", view{Title: "Invites and devices", Nav: "devices", Data: d})
		return
	}
	p.log.Info("device revoked on the web view", "admin", r.viewer.Email)
	http.Redirect(r.w, r.Request, "/ui/devices?done=revoked", http.StatusSeeOther)
}

var signedOutTmpl = template.Must(template.New("signed-out").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>byokd hub: signed out</title></head>
<body><h1>byokd hub</h1>
<p>You are signed out: this browser's session has ended on the hub.</p>
<p>To sign in again, get a new link with <code>byokd team</code> on your machine,
or as the hub's admin with <code>byokd hub admin create EMAIL</code>.</p>
</body></html>
`))

// signOut ends the session on the hub, not only in this browser.
func (p *Pages) signOut(r *request) {
	if err := p.hub.SignOut(r.w, r.Request); err != nil {
		p.log.Error("sign out failed", "email", r.viewer.Email, "err", err)
		http.Error(r.w, "byokd hub: the session could not be ended; the hub's log says why", http.StatusInternalServerError)
		return
	}
	p.log.Info("signed out", "email", r.viewer.Email)
	r.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = signedOutTmpl.Execute(r.w, nil)
}
