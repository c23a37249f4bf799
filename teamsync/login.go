package teamsync

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"byokd.dev/byok"
)

// LoginLinkPath is where a device asks the hub for a one-time link to its
// web view, signed in as the device's member (POST, device credential).
const LoginLinkPath = "/v1/login-link"

// LoginLink is a one-time link to the hub's web view; it works once,
// until Expires.
type LoginLink struct {
	Link    string    `json:"link"`
	Expires time.Time `json:"expires"`
}

// RequestLoginLink asks the hub at hubURL for a login link for the member
// whose device credential is cred.
func RequestLoginLink(ctx context.Context, hubURL string, cred byok.Secret, insecure bool) (LoginLink, error) {
	base, err := HubURL(hubURL, insecure)
	if err != nil {
		return LoginLink{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint(base, LoginLinkPath), http.NoBody)
	if err != nil {
		return LoginLink{}, err
	}
	req.Header.Set("Authorization", "Bearer "+cred.Reveal())
	hc := &http.Client{
		Timeout: 30 * time.Second,
		// A redirect would carry the credential elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := hc.Do(req)
	if err != nil {
		return LoginLink{}, fmt.Errorf("ask the hub at %s for a login link: %w", base.Redacted(), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var l LoginLink
	if resp.StatusCode != http.StatusOK {
		var eb ErrorBody
		if json.Unmarshal(b, &eb) == nil && eb.Error != "" {
			return l, fmt.Errorf("ask the hub for a login link: %s", eb.Error)
		}
		return l, fmt.Errorf("ask the hub at %s for a login link: %s", base.Redacted(), resp.Status)
	}
	if err := json.Unmarshal(b, &l); err != nil || l.Link == "" {
		return l, fmt.Errorf("ask the hub at %s for a login link: unreadable answer (is this a byokd hub?)", base.Redacted())
	}
	return l, nil
}
