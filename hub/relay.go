package hub

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/metering"
	"byokd.dev/byok/upstream"
)

// relayer signs daemons' calls with the team's shared keys and streams the
// answers back unbuffered (package upstream), metering each one itself: the
// row (payer team, the member, app, project, the daemon's event id) is
// committed before the last byte is released.
type relayer struct {
	s   *Server
	fwd *upstream.Forwarder
}

func newRelayer(s *Server) (*relayer, error) {
	rl := &relayer{s: s}
	fwd, err := upstream.New(upstream.Config{
		Upstreams: s.cfg.Upstreams, Transport: s.cfg.Transport, Prices: s.book,
		Recorder: relayRecorder{rl}, Who: "byokd hub",
		Advice: " from the hub; try again later or ask your admin",
		Logger: s.log.With("component", "relay"), Now: s.cfg.Now,
	})
	rl.fwd = fwd
	return rl, err
}

// deviceKey carries the relaying device's id in the request context, which
// reaches the Recorder.
type deviceKey struct{}

// serve is /relay/{service}/{rest...}: authenticate the device, check the
// policy and the member's cap, pick the shared key, then forward.
func (rl *relayer) serve(w http.ResponseWriter, r *http.Request) {
	s := rl.s
	svc, err := byok.ParseService(r.PathValue("service"))
	if err != nil {
		upstream.WriteError(w, byok.OpenAI, &byok.Refusal{Status: http.StatusNotFound, Code: "unknown_service",
			Message: "byokd hub: unknown service in the relay path: use /relay/openai/, /relay/anthropic/ or /relay/clickup/"})
		return
	}
	dev, ok := s.device(r)
	if !ok {
		upstream.WriteError(w, svc, &byok.Refusal{Status: http.StatusUnauthorized, Code: "invalid_device",
			Message: "byokd hub: missing, unknown or revoked device credential: join the hub again with `byokd join HUB` (the code on standard input)"})
		return
	}
	cred, ref := rl.admit(r.Context(), svc, dev)
	if ref != nil {
		upstream.WriteError(w, svc, ref)
		return
	}
	rest := strings.TrimPrefix(r.URL.EscapedPath(), "/relay/"+string(svc))
	if rest == "" {
		rest = "/"
	}
	if ref := rl.fwd.MethodRefusal(svc, r.Method); ref != nil {
		upstream.WriteError(w, svc, ref)
		return
	}
	if ref := rl.endpointAllowed(svc, r.Method, rest); ref != nil {
		upstream.WriteError(w, svc, ref)
		return
	}
	call, ref := rl.fwd.ReadCall(w, r, svc, rest, s.cfg.MaxBody)
	if ref != nil {
		upstream.WriteError(w, svc, ref)
		return
	}
	if ref := rl.costKnowable(call, r.Method); ref != nil {
		upstream.WriteError(w, svc, ref)
		return
	}
	if err := s.cfg.Store.Writable(r.Context()); err != nil {
		s.log.Error("relay: call refused, its row could not be recorded", "member", dev.Member, "err", err)
		upstream.WriteError(w, svc, &byok.Refusal{Status: http.StatusServiceUnavailable, Code: "hub_cannot_record",
			Message: "byokd hub: not sent: the hub cannot record calls now (its disk is full or its database cannot be written), " +
				"and the team's key is never used unrecorded; your admin can see why in the hub's log. Try again later, or use a personal key"})
		return
	}
	id := r.Header.Get(upstream.HeaderEventID)
	if !validID(id) {
		id = s.cfg.NewID()
	}
	call.Row = byok.UsageEvent{ID: id, App: byok.CleanText(r.Header.Get(upstream.HeaderApp), maxText),
		Project: byok.CleanText(r.Header.Get(upstream.HeaderProject), maxText), Member: dev.Member, Relayed: true}
	release, ref := rl.reserve(r.Context(), dev, id)
	if ref != nil {
		upstream.WriteError(w, svc, ref)
		return
	}
	defer release()
	call.Credentials = []upstream.Credential{cred}
	rl.fwd.Forward(w, r.WithContext(context.WithValue(r.Context(), deviceKey{}, dev.ID)), call)
}

// admit applies the team policy and the member's cap, and finds the
// shared key; a Refusal says what the member can do.
func (rl *relayer) admit(ctx context.Context, svc byok.Service, dev Device) (upstream.Credential, *byok.Refusal) {
	s := rl.s
	p := s.Policy()
	title := svc.Title()
	if !p.SharedAllowed(svc) {
		return upstream.Credential{}, &byok.Refusal{Status: http.StatusForbidden, Code: "shared_not_allowed", Message: fmt.Sprintf(
			"byokd hub: the team policy does not allow shared keys for %s: use a personal key (`byokd key add %s`) or ask your admin to allow it",
			title, svc)}
	}
	if p.MemberMonthlyCap > 0 {
		from := monthStart(s.cfg.Now())
		spent, err := s.cfg.Store.SharedSpend(ctx, dev.Member, from, from.AddDate(0, 1, 0))
		if err != nil {
			s.log.Error("relay: shared spend unknown", "err", err)
			return upstream.Credential{}, &byok.Refusal{Status: http.StatusServiceUnavailable, Code: "hub_error",
				Message: "byokd hub: internal error reading your shared spend; try again later"}
		}
		if spent >= p.MemberMonthlyCap {
			// Before the body is read; reserve decides for calls in flight.
			return upstream.Credential{}, capReached(spent, p.MemberMonthlyCap)
		}
	}
	keys, err := s.cfg.Store.SharedKeys(ctx)
	if err != nil {
		s.log.Error("relay: shared keys unreadable", "err", err)
		return upstream.Credential{}, &byok.Refusal{Status: http.StatusServiceUnavailable, Code: "hub_error",
			Message: "byokd hub: internal error; try again later"}
	}
	for _, k := range keys {
		if k.Service != svc {
			continue
		}
		sec, err := s.cfg.Keys.Get(k.secretRef())
		if err != nil {
			s.log.Error("relay: shared key unreadable", "key", k.Name, "err", err)
			continue
		}
		return upstream.Credential{Ref: k.Ref(), Secret: sec}, nil
	}
	return upstream.Credential{}, &byok.Refusal{Status: http.StatusServiceUnavailable, Code: "no_shared_key", Message: fmt.Sprintf(
		"byokd hub: the team has no usable shared %s key: ask your admin to add one (`byokd hub key add %s --name NAME`)", title, svc)}
}

// capHoldFor is how long a relayed call's hold on its member's allowance
// lasts if its hub never records the call (killed mid-call).
const capHoldFor = 10 * time.Minute

// reserve holds part of the member's allowance for call id while a cap is
// set, in the Store: neither concurrent calls nor two hubs sharing a
// database can both let the last of it through. release drops the hold
// once the call is over; recording the call's row has already done so.
func (rl *relayer) reserve(ctx context.Context, dev Device, id string) (release func(), _ *byok.Refusal) {
	s := rl.s
	p := s.Policy()
	if p.MemberMonthlyCap <= 0 {
		return func() {}, nil
	}
	cr := s.cfg.Store
	now := s.cfg.Now()
	from := monthStart(now)
	used, ok, err := cr.ReserveShared(ctx, CapHold{Member: dev.Member, ID: id, From: from, To: from.AddDate(0, 1, 0),
		Cap: p.MemberMonthlyCap, Amount: s.cfg.CapHold, Now: now, Expires: now.Add(capHoldFor)})
	if err != nil {
		s.log.Error("relay: shared allowance not reserved", "member", dev.Member, "err", err)
		return nil, &byok.Refusal{Status: http.StatusServiceUnavailable, Code: "hub_error",
			Message: "byokd hub: internal error reserving your shared spend; try again later"}
	}
	if !ok {
		return nil, capReached(used, p.MemberMonthlyCap)
	}
	return func() {
		if err := cr.ReleaseShared(context.WithoutCancel(ctx), dev.Member, id); err != nil {
			s.log.Warn("relay: hold on the shared allowance not released; it expires", "member", dev.Member, "in", capHoldFor, "err", err)
		}
	}, nil
}

func capReached(used, limit byok.Micros) *byok.Refusal {
	return &byok.Refusal{Status: http.StatusForbidden, Code: "member_cap_reached", Message: fmt.Sprintf(
		"byokd hub: you have used your monthly shared-key allowance (%s of %s, counting your calls in flight): use a personal key, or ask your admin to raise the member cap",
		used, limit)}
}

// endpointAllowed passes only the endpoints byokd meters and prices, and
// those the team policy adds: the team's money goes only where it is
// counted.
func (rl *relayer) endpointAllowed(svc byok.Service, method, escaped string) *byok.Refusal {
	path, err := url.PathUnescape(escaped)
	// A batch's results are billed once, at their first download; the
	// relay keeps no record of which files it counted, so it passes them
	// only where the policy allows (and records them as cost unknown).
	_, batch := metering.BatchKey(svc, method, path)
	if err == nil && ((metering.Metered(svc, method, path) && !batch) || metering.MatchEndpoint(rl.s.Policy().Unmetered(svc), method, path)) {
		return nil
	}
	shown := byok.CleanText(path, 200)
	return &byok.Refusal{Status: http.StatusForbidden, Code: "endpoint_not_metered", Message: fmt.Sprintf(
		"byokd hub: the team's shared %s key serves only the endpoints byokd meters and prices, and %s %s is not one of them: "+
			"use a personal key for it (`byokd key add %s`), or ask your admin to allow it "+
			"(`byokd hub policy set --allow-endpoint '%s %s %s'`)",
		svc.Title(), method, shown, svc, svc, method, shown)}
}

// costKnowable refuses, while a member cap is set, a metered call whose
// model has no price: its cost could not be counted against the cap.
func (rl *relayer) costKnowable(c *upstream.Call, method string) *byok.Refusal {
	p := rl.s.Policy()
	if p.MemberMonthlyCap <= 0 {
		return nil
	}
	metered := metering.Metered(c.Service, method, c.Meter.Path)
	if metered && rl.s.book.Prices().Priced(c.Meter) {
		return nil
	}
	what := "byokd does not meter this endpoint"
	if metered {
		what = fmt.Sprintf("the model %q has no price in the hub's price table", c.Meter.Model)
	}
	return &byok.Refusal{Status: http.StatusForbidden, Code: "cost_unknown", Message: fmt.Sprintf(
		"byokd hub: not sent: the team caps each member's shared spend, and this call's cost could not be counted (%s): "+
			"use a personal key for it, or ask your admin to add the price",
		what)}
}

func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// relayRecorder commits the hub's row of a relayed call. If the hub already
// metered a call under this event id (a replayed id), the row gets a fresh
// id: shared usage is never lost to a collision.
type relayRecorder struct{ rl *relayer }

func (rr relayRecorder) Record(ctx context.Context, ev byok.UsageEvent) error {
	s := rr.rl.s
	devID, _ := ctx.Value(deviceKey{}).(string)
	err := s.cfg.Store.RecordRelayed(ctx, devID, ev)
	if errors.Is(err, byok.ErrExists) {
		ev.ID = ev.ID + "~" + s.cfg.NewID()
		err = s.cfg.Store.RecordRelayed(ctx, devID, ev)
	}
	if err != nil {
		s.log.Error("relay: usage row not recorded", "id", ev.ID, "member", ev.Member, "err", err)
	}
	return err
}
