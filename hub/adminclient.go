package hub

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/internal/jsonapi"
	"byokd.dev/byok/teamsync"
)

// ErrNotRunning: no hub answers for this state folder.
var ErrNotRunning = errors.New("byokd: the hub is not running for this state folder: start it with `byokd hub serve` (and check BYOKD_HUB_HOME or --data)")

// AdminClient calls a running hub's admin API. It is safe for concurrent use.
type AdminClient struct{ api *jsonapi.Client }

// DialAdmin reads the hub's admin address and token from its state folder.
func DialAdmin(data string) (*AdminClient, error) {
	var st State
	tok, err := jsonapi.ReadState(data, StateFile, TokenFile, &st, ErrNotRunning)
	if err != nil {
		return nil, err
	}
	return NewAdminClient(st.Admin, tok), nil
}

// NewAdminClient returns a client for the admin API at addr (host:port).
func NewAdminClient(addr string, token byok.Secret) *AdminClient {
	return &AdminClient{api: jsonapi.New(addr, token, "hub admin API", ErrNotRunning, map[string]error{
		"not_found": byok.ErrNotFound, "exists": byok.ErrExists, "invalid": ErrInvalid,
		"unauthorized": byok.ErrUnauthorized,
	})}
}

func (c *AdminClient) do(ctx context.Context, method, path string, in, out any) error {
	return c.api.Do(ctx, method, path, in, out)
}

// Status returns the hub's status.
func (c *AdminClient) Status(ctx context.Context) (s Status, err error) {
	return s, c.do(ctx, http.MethodGet, "/v1/status", nil, &s)
}

// Prices returns the team's price table.
func (c *AdminClient) Prices(ctx context.Context) (t teamsync.PriceTable, err error) {
	return t, c.do(ctx, http.MethodGet, "/v1/prices", nil, &t)
}

// SetPrices makes table (a price file) the team's next price table.
func (c *AdminClient) SetPrices(ctx context.Context, table json.RawMessage) (t teamsync.PriceTable, err error) {
	return t, c.do(ctx, http.MethodPut, "/v1/prices", table, &t)
}

// CreateAdmin makes email an admin and returns a one-time login link.
func (c *AdminClient) CreateAdmin(ctx context.Context, email string) (l AdminLink, err error) {
	return l, c.do(ctx, http.MethodPost, "/v1/admins", NewAdmin{Email: email}, &l)
}

// Invite makes a one-time invite code; ttl 0 means the hub's default.
func (c *AdminClient) Invite(ctx context.Context, email string, ttl time.Duration) (inv CreatedInvite, err error) {
	return inv, c.do(ctx, http.MethodPost, "/v1/invites", NewInvite{Email: email, ExpiresIn: int64(ttl / time.Second)}, &inv)
}

// Devices lists enrolled devices.
func (c *AdminClient) Devices(ctx context.Context) (d []DeviceStatus, err error) {
	return d, c.do(ctx, http.MethodGet, "/v1/devices", nil, &d)
}

// Revoke revokes a device; its sync session ends at once.
func (c *AdminClient) Revoke(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/devices/"+url.PathEscape(id), nil, nil)
}

// Keys lists the shared keys, without secrets.
func (c *AdminClient) Keys(ctx context.Context) (k []SharedKey, err error) {
	return k, c.do(ctx, http.MethodGet, "/v1/keys", nil, &k)
}

// AddKey stores a shared key.
func (c *AdminClient) AddKey(ctx context.Context, svc byok.Service, name string, secret byok.Secret) (k SharedKey, err error) {
	return k, c.do(ctx, http.MethodPost, "/v1/keys", AddSharedKey{Service: svc, Name: name, Secret: secret.Reveal()}, &k)
}

// RemoveKey deletes a shared key.
func (c *AdminClient) RemoveKey(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/v1/keys/"+url.PathEscape(name), nil, nil)
}

// Policy returns the team policy.
func (c *AdminClient) Policy(ctx context.Context) (p byok.Policy, err error) {
	return p, c.do(ctx, http.MethodGet, "/v1/policy", nil, &p)
}

// SetPolicy stores p as the next version and pushes it to every daemon.
func (c *AdminClient) SetPolicy(ctx context.Context, p byok.Policy) (out byok.Policy, err error) {
	return out, c.do(ctx, http.MethodPut, "/v1/policy", p, &out)
}

// Usage returns everyone's rows in [from, to).
func (c *AdminClient) Usage(ctx context.Context, from, to time.Time) (ev []byok.UsageEvent, err error) {
	q := url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}
	return ev, c.do(ctx, http.MethodGet, "/v1/usage?"+q.Encode(), nil, &ev)
}

// Inventory returns each device's last key inventory.
func (c *AdminClient) Inventory(ctx context.Context) (inv []DeviceInventory, err error) {
	return inv, c.do(ctx, http.MethodGet, "/v1/inventory", nil, &inv)
}
