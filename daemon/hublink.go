package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
	"byokd.dev/byok/teamsync"
	"byokd.dev/byok/upstream"
)

// Where the hub link lives: the hub's URL and the cached team policy in the
// ledger's meta table, the device credential in the secret store.
const (
	metaHubURL      = "hub_url"
	metaHubMember   = "hub_member"
	metaHubInsecure = "hub_insecure"
	metaPolicy      = "policy"
	deviceRef       = "hub/device"
)

// hubLink is this member's joined team hub.
type hubLink struct {
	url      *url.URL
	member   string
	device   byok.Secret
	insecure bool
	client   *teamsync.Client
}

// credential is the shared key for svc, reached through the hub's relay.
func (l *hubLink) credential(svc byok.Service) upstream.Credential {
	relay := *l.url
	relay.Path = path.Join("/", l.url.Path, "relay", string(svc))
	relay.RawPath = ""
	// The hub names the shared key it used in its answer; until then the
	// credential is the team's key for svc.
	return upstream.Credential{Ref: byok.TeamKey(string(svc)), Secret: l.device, Relay: &relay}
}

// hubLink returns the joined hub (nil if none) and the team policy in force.
func (d *Daemon) hubLink() (*hubLink, byok.Policy) {
	d.hubMu.RLock()
	defer d.hubMu.RUnlock()
	return d.link, d.policy
}

// loadHubLink reads the hub link and the cached policy, if any.
func (d *Daemon) loadHubLink(ctx context.Context) error {
	raw, err := d.db.Meta(ctx, metaHubURL)
	if errors.Is(err, byok.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("hub URL in the ledger: %w", err)
	}
	dev, err := d.store.Get(deviceRef)
	if err != nil {
		return fmt.Errorf("read the hub device credential: %w (join the hub again with `byokd join`)", err)
	}
	member, _ := d.db.Meta(ctx, metaHubMember)
	insecure, _ := d.db.Meta(ctx, metaHubInsecure)
	var policy byok.Policy
	if p, err := d.db.Meta(ctx, metaPolicy); err == nil {
		if err := json.Unmarshal([]byte(p), &policy); err != nil {
			d.log.Warn("cached team policy unreadable; waiting for the hub's", "err", err)
		}
	}
	d.hubMu.Lock()
	d.link, d.policy = &hubLink{url: u, member: member, device: dev, insecure: insecure == "true"}, policy
	d.hubMu.Unlock()
	return nil
}

// setPolicy applies and caches the hub's policy. The hub is the authority:
// whatever version it sends is the one in force.
func (d *Daemon) setPolicy(ctx context.Context, p byok.Policy) error {
	d.hubMu.Lock()
	d.policy = p
	d.hubMu.Unlock()
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	d.events.publish(control.Event{Kind: control.EventChanged, Title: "Team policy updated"})
	return d.db.SetMeta(ctx, metaPolicy, string(b))
}

// startSync runs the hub sync client until the daemon stops.
func (d *Daemon) startSync() {
	d.hubMu.Lock()
	defer d.hubMu.Unlock()
	l := d.link
	if l == nil || l.client != nil || d.syncCtx == nil {
		return
	}
	host, _ := os.Hostname()
	l.client = &teamsync.Client{
		HubURL: l.url.String(), Credential: l.device, DeviceName: host, Insecure: l.insecure,
		Outbox:           d.db,
		Inventory:        d.inventory,
		InventoryChanged: d.inventoryChanged,
		OnPolicy: func(p byok.Policy) {
			if err := d.setPolicy(context.Background(), p); err != nil {
				d.log.Error("cache team policy", "err", err)
			}
		},
		PolicyVersion: d.policy.Version,
		OnPrices: func(t teamsync.PriceTable) {
			if err := d.setPrices(context.Background(), t); err != nil {
				d.log.Error("apply the team's prices", "err", err)
			}
		},
		PricesVersion: d.pricesVersion,
		OnStatus:      d.hubNotices.status,
		Wake:          d.wake,
		Logger:        d.cfg.Logger,
		Now:           d.now,
	}
	c := l.client
	d.syncWG.Add(1)
	go func() {
		defer d.syncWG.Done()
		if err := c.Run(d.syncCtx); err != nil {
			d.log.Error("hub sync stopped", "err", err)
		}
	}()
}

func (d *Daemon) inventory(ctx context.Context) (teamsync.Inventory, error) {
	keys, err := d.db.Keys(ctx)
	if err != nil {
		return teamsync.Inventory{}, err
	}
	prefs, err := d.db.Prefs(ctx)
	if err != nil {
		return teamsync.Inventory{}, err
	}
	inv := teamsync.InventoryOf(keys)
	for i, sk := range inv.Services {
		inv.Services[i].Preference = prefs[sk.Service].Preference
	}
	return inv, nil
}

// HubLoginURL asks the hub, with this device's credential, for a one-time
// link to the hub's web view as this member.
func (b backend) HubLoginURL(ctx context.Context) (control.Login, error) {
	l, _ := b.d.hubLink()
	if l == nil {
		return control.Login{}, fmt.Errorf("%w: this daemon has not joined a team hub: `byokd join HUB_URL` (the invite code on standard input) first", control.ErrInvalid)
	}
	link, err := teamsync.RequestLoginLink(ctx, l.url.String(), l.device, l.insecure)
	if err != nil {
		return control.Login{}, err
	}
	return control.Login{URL: link.Link, Expires: link.Expires}, nil
}

// nudge signals ch without blocking.
func nudge(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// hubStatus is the link for the control API.
func (d *Daemon) hubStatus() control.HubStatus {
	l, policy := d.hubLink()
	if l == nil {
		return control.HubStatus{Policy: policy}
	}
	st := control.HubStatus{URL: l.url.String(), Member: l.member, Policy: policy}
	if l.client != nil {
		s := l.client.Status()
		st.Connected, st.LastSync, st.LastError = s.Connected, s.LastSync, s.LastError
		if s.Member != "" {
			st.Member = s.Member
		}
	}
	return st
}

// joinHub enrolls with a hub, keeps the device credential in the secret
// store and starts syncing.
func (d *Daemon) joinHub(ctx context.Context, j control.Join) (control.HubStatus, error) {
	if l, _ := d.hubLink(); l != nil {
		return control.HubStatus{}, fmt.Errorf("%w: already joined %s; a member joins one hub", byok.ErrExists, l.url)
	}
	if j.HubURL == "" || j.Code == "" {
		return control.HubStatus{}, fmt.Errorf("%w: give the hub URL and the invite code", control.ErrInvalid)
	}
	name := j.DeviceName
	if name == "" {
		name, _ = os.Hostname()
	}
	enr, err := teamsync.Join(ctx, j.HubURL, j.Code, name, j.Insecure)
	if err != nil {
		return control.HubStatus{}, fmt.Errorf("%w: %v", control.ErrInvalid, err)
	}
	u, err := url.Parse(enr.HubURL)
	if err != nil {
		return control.HubStatus{}, err
	}
	if err := d.store.Set(deviceRef, enr.Credential); err != nil {
		return control.HubStatus{}, fmt.Errorf("keep the device credential in the %s: %w", d.storeKind, err)
	}
	for k, v := range map[string]string{metaHubURL: enr.HubURL, metaHubMember: enr.Member, metaHubInsecure: fmt.Sprint(j.Insecure)} {
		if err := d.db.SetMeta(ctx, k, v); err != nil {
			return control.HubStatus{}, err
		}
	}
	d.hubMu.Lock()
	d.link = &hubLink{url: u, member: enr.Member, device: enr.Credential, insecure: j.Insecure}
	d.hubMu.Unlock()
	d.log.Info("joined team hub", "hub", enr.HubURL, "member", enr.Member, "device", enr.DeviceID)
	d.startSync()
	d.events.publish(control.Event{Kind: control.EventChanged, Title: "Joined the team hub"})
	return d.hubStatus(), nil
}
