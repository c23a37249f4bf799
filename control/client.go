package control

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/internal/jsonapi"
	"byokd.dev/byok/metering"
)

// ErrNotRunning: no daemon answers for this $BYOKD_HOME.
var ErrNotRunning = errors.New("byokd: the daemon is not running: start it with `byokd run` (or `byokd service start`)")

// Client calls a running daemon's control API. It is safe for concurrent use.
type Client struct{ api *jsonapi.Client }

// Dial reads the daemon's address and token from home and returns a Client.
// It returns ErrNotRunning when no daemon has written its state there.
func Dial(home string) (*Client, error) { return dial(home, TokenFile) }

// DialReadOnly is Dial with the read-only token: the Client can read
// everything and change nothing.
func DialReadOnly(home string) (*Client, error) { return dial(home, ReadTokenFile) }

func dial(home, tokenFile string) (*Client, error) {
	var st State
	tok, err := jsonapi.ReadState(home, StateFile, tokenFile, &st, ErrNotRunning)
	if err != nil {
		return nil, err
	}
	return NewClient(st.Control, tok), nil
}

// NewClient returns a Client for the API at addr (host:port).
func NewClient(addr string, token byok.Secret) *Client {
	return &Client{api: jsonapi.New(addr, token, "control API", ErrNotRunning, map[string]error{
		"not_found": byok.ErrNotFound, "exists": byok.ErrExists, "invalid": ErrInvalid,
		"locked": byok.ErrLocked, "unauthorized": byok.ErrUnauthorized,
	})}
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	return c.api.Do(ctx, method, path, in, out)
}

// Status returns the daemon's status.
func (c *Client) Status(ctx context.Context) (s Status, err error) {
	return s, c.do(ctx, http.MethodGet, "/v1/status", nil, &s)
}

// Keys lists personal keys, without secrets.
func (c *Client) Keys(ctx context.Context) (k []Key, err error) {
	return k, c.do(ctx, http.MethodGet, "/v1/keys", nil, &k)
}

// AddKey stores a personal key.
func (c *Client) AddKey(ctx context.Context, k AddKey) (out Key, err error) {
	return out, c.do(ctx, http.MethodPost, "/v1/keys", k, &out)
}

// RemoveKey deletes a personal key from the keychain and the ledger.
func (c *Client) RemoveKey(ctx context.Context, svc byok.Service, name string) error {
	return c.do(ctx, http.MethodDelete, "/v1/keys/"+url.PathEscape(string(svc))+"/"+url.PathEscape(name), nil, nil)
}

// Tokens lists app tokens.
func (c *Client) Tokens(ctx context.Context) (t []Token, err error) {
	return t, c.do(ctx, http.MethodGet, "/v1/tokens", nil, &t)
}

// CreateToken makes an app token; the answer is the only time its value is shown.
func (c *Client) CreateToken(ctx context.Context, t NewToken) (out CreatedToken, err error) {
	return out, c.do(ctx, http.MethodPost, "/v1/tokens", t, &out)
}

// RevokeToken revokes an app token at once.
func (c *Client) RevokeToken(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/v1/tokens/"+url.PathEscape(name), nil, nil)
}

// Usage returns the calls in [from, to).
func (c *Client) Usage(ctx context.Context, from, to time.Time) (ev []byok.UsageEvent, err error) {
	q := url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}
	return ev, c.do(ctx, http.MethodGet, "/v1/usage?"+q.Encode(), nil, &ev)
}

// Prefs returns each service's preference.
func (c *Client) Prefs(ctx context.Context) (p []Pref, err error) {
	return p, c.do(ctx, http.MethodGet, "/v1/prefs", nil, &p)
}

// SetPref changes a service's preference.
func (c *Client) SetPref(ctx context.Context, p Pref) error {
	return c.do(ctx, http.MethodPut, "/v1/prefs/"+url.PathEscape(string(p.Service)), p, nil)
}

var _ Backend = (*Client)(nil)

// TestKey makes a cheap call to the provider with a personal key.
func (c *Client) TestKey(ctx context.Context, svc byok.Service, name string) (res KeyTest, err error) {
	return res, c.do(ctx, http.MethodPost, "/v1/keys/"+url.PathEscape(string(svc))+"/"+url.PathEscape(name)+"/test", struct{}{}, &res)
}

// LoginURL makes a one-time link to the Credential Manager page.
func (c *Client) LoginURL(ctx context.Context) (l Login, err error) {
	return l, c.do(ctx, http.MethodPost, "/v1/login", struct{}{}, &l)
}

// Prices lists the prices in force and where each came from.
func (c *Client) Prices(ctx context.Context) (p []metering.Listed, err error) {
	return p, c.do(ctx, http.MethodGet, "/v1/prices", nil, &p)
}

// HubLoginURL asks the team hub for a one-time link to its web view.
func (c *Client) HubLoginURL(ctx context.Context) (l Login, err error) {
	return l, c.do(ctx, http.MethodPost, "/v1/hub/login", struct{}{}, &l)
}

// SetPaused pauses or resumes the proxy.
func (c *Client) SetPaused(ctx context.Context, paused bool) error {
	return c.do(ctx, http.MethodPut, "/v1/pause", Pause{Paused: paused}, nil)
}

// SetLedgerMode chooses what happens when the ledger cannot be written.
func (c *Client) SetLedgerMode(ctx context.Context, m LedgerMode) error {
	return c.do(ctx, http.MethodPut, "/v1/ledger-mode", m, nil)
}

// Approvals lists the calls waiting for an answer.
func (c *Client) Approvals(ctx context.Context) (a []Approval, err error) {
	return a, c.do(ctx, http.MethodGet, "/v1/approvals", nil, &a)
}

// Answer answers a waiting call.
func (c *Client) Answer(ctx context.Context, id string, a Answer) error {
	return c.do(ctx, http.MethodPost, "/v1/approvals/"+url.PathEscape(id), a, nil)
}

// Subscribe streams the daemon's events until ctx ends or the daemon
// stops; then the channel is closed.
func (c *Client) Subscribe(ctx context.Context) (<-chan Event, error) {
	body, err := c.api.Stream(ctx, "/v1/events")
	if err != nil {
		return nil, err
	}
	ch := make(chan Event, 16)
	go func() {
		defer close(ch)
		defer body.Close()
		dec := json.NewDecoder(body)
		for {
			var ev Event
			if dec.Decode(&ev) != nil {
				return
			}
			select {
			case ch <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

// JoinHub enrolls the daemon with a team hub.
func (c *Client) JoinHub(ctx context.Context, j Join) (st HubStatus, err error) {
	return st, c.do(ctx, http.MethodPost, "/v1/join", j, &st)
}
