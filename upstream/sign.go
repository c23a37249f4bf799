package upstream

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"byokd.dev/byok"
)

// Credential is one way to pay for a call.
type Credential struct {
	Ref    byok.CredentialRef
	Secret byok.Secret // the provider key, or the device credential for a relay
	// Relay, when set, sends the call through the team hub's relay at this
	// base URL (e.g. https://hub:8443/relay/openai) instead of the
	// provider, signed with the device credential in Secret.
	Relay *url.URL
	// Reason says why this credential is used instead of the preferred one.
	Reason string
	// Approve, when set on a credential after the first, is asked before
	// falling back to it (the member's "ask each time", or a team policy);
	// false ends the call with the failure that led here.
	Approve func(ctx context.Context) bool
}

// Relay headers: what a daemon tells the hub about a relayed call, which
// the hub records in its own row. They never reach a provider.
const (
	HeaderApp        = "X-Byokd-App"
	HeaderProject    = "X-Byokd-Project"
	HeaderEventID    = "X-Byokd-Event-Id"
	HeaderCredential = "X-Byokd-Credential" // response: the credential that paid
	HeaderFallback   = "X-Byokd-Fallback"   // response: why it is not the preferred one
)

// StripCredentials removes every header a client could use to pass a
// credential or talk to byokd itself, so that the signer's header is the
// only one that leaves.
func StripCredentials(h http.Header) {
	h.Del("Authorization")
	h.Del("X-Api-Key")
	h.Del("Proxy-Authorization")
	h.Del("Cookie")
	for k := range h {
		if strings.HasPrefix(k, "X-Byokd-") {
			delete(h, k)
		}
	}
}

// Sign writes key where svc expects it: OpenAI `Authorization: Bearer`,
// Anthropic `x-api-key` (anthropic-version and -beta pass through),
// ClickUp `Authorization` without Bearer (personal tokens carry none).
func Sign(svc byok.Service, h http.Header, key byok.Secret) {
	StripCredentials(h)
	switch svc {
	case byok.OpenAI:
		h.Set("Authorization", "Bearer "+key.Reveal())
	case byok.Anthropic:
		h.Set("X-Api-Key", key.Reveal())
	case byok.ClickUp:
		h.Set("Authorization", key.Reveal())
	}
}

// signRelay writes the device credential and what the hub records.
func signRelay(h http.Header, device byok.Secret, c *Call) {
	StripCredentials(h)
	h.Set("Authorization", "Bearer "+device.Reveal())
	h.Set(HeaderApp, c.Row.App)
	h.Set(HeaderProject, c.Row.Project)
	h.Set(HeaderEventID, c.Row.ID)
}
