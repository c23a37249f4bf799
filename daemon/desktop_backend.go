package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
	"byokd.dev/byok/routing"
)

// pausedMessage is what a call gets while the member has paused the proxy.
const pausedMessage = "byokd: the proxy is paused: resume it from the tray menu or with `byokd resume`"

func (b backend) SetPaused(_ context.Context, paused bool) error {
	if b.d.paused.Swap(paused) != paused {
		b.d.log.Info("proxy paused", "paused", paused)
	}
	b.d.events.publish(control.Event{Kind: control.EventChanged})
	return nil
}

// keepWorkingMeta is where the member's choice to keep working without
// records is kept across restarts.
const keepWorkingMeta = "keep_working_without_records"

// SetLedgerMode takes effect at once and is then saved; if the ledger
// cannot be written (when the choice matters most) it holds until the
// daemon restarts, and the error says so.
func (b backend) SetLedgerMode(ctx context.Context, m control.LedgerMode) error {
	b.d.db.SetKeepWorking(m.KeepWorking)
	b.d.log.Warn("ledger mode changed", "keep_working_without_records", m.KeepWorking)
	b.d.events.publish(control.Event{Kind: control.EventChanged})
	if err := b.d.db.SetMeta(ctx, keepWorkingMeta, strconv.FormatBool(m.KeepWorking)); err != nil {
		return fmt.Errorf("the choice holds until byokd restarts, as it could not be saved: %w", err)
	}
	return nil
}

func (b backend) LoginURL(context.Context) (control.Login, error) {
	if b.d.page == nil {
		return control.Login{}, errors.New("this daemon serves no Credential Manager page")
	}
	path, exp := b.d.page.NewLogin()
	return control.Login{URL: "http://" + b.d.controlLn.Addr().String() + path, Expires: exp}, nil
}

// keyProbe is the cheapest authenticated request each provider answers.
func keyProbe(svc byok.Service, base *url.URL, secret string) (*http.Request, error) {
	u := *base
	var req *http.Request
	var err error
	switch svc {
	case byok.OpenAI:
		u.Path = u.JoinPath("v1", "models").Path
		req, err = http.NewRequest(http.MethodGet, u.String(), nil)
		if err == nil {
			req.Header.Set("Authorization", "Bearer "+secret)
		}
	case byok.Anthropic:
		u.Path = u.JoinPath("v1", "models").Path
		req, err = http.NewRequest(http.MethodGet, u.String(), nil)
		if err == nil {
			req.Header.Set("x-api-key", secret)
			req.Header.Set("anthropic-version", "2023-06-01")
		}
	case byok.ClickUp:
		u.Path = u.JoinPath("api", "v2", "team").Path
		req, err = http.NewRequest(http.MethodGet, u.String(), nil)
		if err == nil {
			req.Header.Set("Authorization", secret)
		}
	default:
		return nil, fmt.Errorf("%w: unknown service %q", control.ErrInvalid, svc)
	}
	return req, err
}

// TestKey asks the provider whether a personal key works. A key that works
// again leaves its cool-down at once.
func (b backend) TestKey(ctx context.Context, svc byok.Service, name string) (control.KeyTest, error) {
	d := b.d
	var secret byok.Secret
	found := false
	for _, k := range d.keys.personal(svc) {
		if k.info.Name == name {
			secret, found = k.cred.Secret, true
		}
	}
	if !found {
		return control.KeyTest{}, fmt.Errorf("%w: no %s key named %q (see `byokd key list`)", byok.ErrNotFound, svc.Title(), name)
	}
	base := d.cfg.Upstreams[svc]
	if base == nil {
		u, err := url.Parse(svc.DefaultUpstream())
		if err != nil {
			return control.KeyTest{}, err
		}
		base = u
	}
	req, err := keyProbe(svc, base, secret.Reveal())
	if err != nil {
		return control.KeyTest{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	resp, err := http.DefaultTransport.RoundTrip(req.WithContext(ctx))
	if err != nil {
		return control.KeyTest{Message: fmt.Sprintf("Could not reach %s (%s): check your network and try again.", svc.Title(), base.Host)}, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 300 {
		d.router.health.Succeeded(svc, name)
		return control.KeyTest{OK: true, Status: resp.StatusCode, Message: fmt.Sprintf("The key works: %s answered %d.", svc.Title(), resp.StatusCode)}, nil
	}
	v := routing.Classify(svc, routing.Failure{Status: resp.StatusCode, Header: resp.Header, Body: body}, false)
	return control.KeyTest{Status: resp.StatusCode, Message: keyTestMessage(svc, resp.StatusCode, v)}, nil
}

// keyTestMessage says what a provider's failed answer to the test call
// means for the key: only some answers judge it.
func keyTestMessage(svc byok.Service, status int, v routing.Verdict) string {
	name := svc.Title()
	switch {
	case v.CoolDown && (v.Reason == routing.ReasonInvalidKey || v.Reason == routing.ReasonUnauthorized || v.Reason == routing.ReasonDeactivated):
		return fmt.Sprintf("%s does not accept the key (%s, HTTP %d): check that it was copied whole, or make a new one.", name, v.Reason, status)
	case v.CoolDown:
		return fmt.Sprintf("%s knows the key but will not bill it: %s (HTTP %d). Check the account's plan and billing.", name, v.Reason, status)
	case v.RateLimit:
		return fmt.Sprintf("The key was not judged: %s is %s (HTTP %d). Try again in a minute.", name, v.Reason, status)
	case status == http.StatusNotFound:
		return fmt.Sprintf("The key was not judged: %s answered 404 to the test call (its model list). If you set an upstream URL for %s, check it.", name, svc)
	case status >= 500:
		return fmt.Sprintf("The key was not judged: %s had a problem answering (HTTP %d). Try again later.", name, status)
	case v.Reason != "":
		return fmt.Sprintf("%s answered the test call with HTTP %d: %s.", name, status, v.Reason)
	}
	return fmt.Sprintf("%s answered the test call with HTTP %d (%s).", name, status, http.StatusText(status))
}
