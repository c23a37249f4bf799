package teamsync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"byokd.dev/byok"
)

// Enrollment is what joining a hub gives a device. Credential is the only
// copy of the device credential: store it in the keystore.
type Enrollment struct {
	HubURL     string // normalised
	Member     string
	DeviceID   string
	Credential byok.Secret
}

// ErrInvite: the invite code is unknown, used or expired.
var ErrInvite = errors.New("the hub refused the invite code: it is unknown, already used or expired; ask your admin for a new one (`byokd hub invite EMAIL`)")

// Join exchanges a one-time invite code for a device credential. Plain
// http is refused for a hub off this machine unless insecure.
func Join(ctx context.Context, hubURL, code, deviceName string, insecure bool) (Enrollment, error) {
	base, err := HubURL(hubURL, insecure)
	if err != nil {
		return Enrollment{}, err
	}
	code = strings.TrimSpace(code)
	if code == "" {
		return Enrollment{}, errors.New("no invite code: ask your admin for one (`byokd hub invite EMAIL`)")
	}
	body, _ := json.Marshal(JoinRequest{Code: code, DeviceName: deviceName})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint(base, JoinPath), bytes.NewReader(body))
	if err != nil {
		return Enrollment{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	hc := &http.Client{
		Timeout: 30 * time.Second,
		// A redirect would carry the code elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Enrollment{}, fmt.Errorf("join the hub at %s: %w", base.Redacted(), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusGone:
		return Enrollment{}, ErrInvite
	case resp.StatusCode != http.StatusOK:
		var eb ErrorBody
		if json.Unmarshal(b, &eb) == nil && eb.Error != "" {
			return Enrollment{}, fmt.Errorf("join the hub: %s", eb.Error)
		}
		return Enrollment{}, fmt.Errorf("join the hub at %s: %s (is this a byokd hub?)", base.Redacted(), resp.Status)
	}
	var jr JoinResponse
	if err := json.Unmarshal(b, &jr); err != nil || jr.Credential == "" {
		return Enrollment{}, fmt.Errorf("join the hub at %s: unreadable answer (is this a byokd hub?)", base.Redacted())
	}
	return Enrollment{HubURL: base.String(), Member: jr.Member, DeviceID: jr.DeviceID, Credential: byok.NewSecret(jr.Credential)}, nil
}
