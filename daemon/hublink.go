package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"byokd.dev/byok"
	"byokd.dev/byok/localproxy"
)

// Where the hub link lives: the hub's URL and the cached team policy in the
// ledger's meta table, the device credential in the secret store.
const (
	metaHubURL    = "hub_url"
	metaHubMember = "hub_member"
	metaPolicy    = "policy"
	deviceRef     = "hub/device"
)

// hubLink is this member's joined team hub.
type hubLink struct {
	url    *url.URL
	member string
	device byok.Secret
}

// credential is the shared key for svc, reached through the hub's relay.
func (l *hubLink) credential(svc byok.Service) localproxy.Credential {
	relay := *l.url
	relay.Path = relay.JoinPath("relay", string(svc)).Path
	return localproxy.Credential{
		Ref: "team/" + string(svc), Payer: byok.PayerTeam, Secret: l.device, Relay: &relay,
	}
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
	var policy byok.Policy
	if p, err := d.db.Meta(ctx, metaPolicy); err == nil {
		if err := json.Unmarshal([]byte(p), &policy); err != nil {
			d.log.Warn("cached team policy unreadable; waiting for the hub's", "err", err)
		}
	}
	d.hubMu.Lock()
	d.link, d.policy = &hubLink{url: u, member: member, device: dev}, policy
	d.hubMu.Unlock()
	return nil
}

// setPolicy applies and caches a policy from the hub; older versions are
// ignored.
func (d *Daemon) setPolicy(ctx context.Context, p byok.Policy) error {
	d.hubMu.Lock()
	if p.Version < d.policy.Version {
		d.hubMu.Unlock()
		return nil
	}
	d.policy = p
	d.hubMu.Unlock()
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return d.db.SetMeta(ctx, metaPolicy, string(b))
}
