package byok

import (
	"fmt"
	"strings"
)

// Policy is the team's rules, set by the admin on the hub and pushed to every
// daemon. The zero value allows nothing shared: no service may use shared
// keys and fallback is off.
type Policy struct {
	// SharedServices lists the services whose calls may use a shared key.
	SharedServices []Service `json:"shared_services"`
	// MemberMonthlyCap is the most shared-key spend per member per month;
	// 0 means no cap. The hub enforces it.
	MemberMonthlyCap Micros `json:"member_monthly_cap_micros"`
	// SharedNeedsApproval makes every shared-key call ask the member first.
	SharedNeedsApproval bool `json:"shared_needs_approval"`
	// AllowFallback allows falling back from a failing personal key to a
	// shared one.
	AllowFallback bool `json:"allow_fallback"`
	// DefaultPreference applies to members who have not chosen.
	DefaultPreference Preference `json:"default_preference"`
	// UnmeteredEndpoints are endpoints, beyond those byokd meters and
	// prices, that the relay passes on the shared keys: "SERVICE METHOD
	// /path" ("*" for one path segment, a last "**" for any rest). Their
	// calls are recorded with their cost unknown; with a member cap set
	// they are still refused, since the cap could not be kept.
	UnmeteredEndpoints []string `json:"unmetered_endpoints,omitempty"`
	// Version increases with every change; daemons keep the newest.
	Version int64 `json:"version"`
}

// SharedAllowed reports whether shared keys may serve svc.
func (p Policy) SharedAllowed(svc Service) bool {
	for _, s := range p.SharedServices {
		if s == svc {
			return true
		}
	}
	return false
}

// Unmetered returns the UnmeteredEndpoints of svc as "METHOD /path".
func (p Policy) Unmetered(svc Service) []string {
	var out []string
	for _, e := range p.UnmeteredEndpoints {
		if s, rest, ok := strings.Cut(e, " "); ok && Service(s) == svc {
			out = append(out, rest)
		}
	}
	return out
}

// ParseEndpoint checks one UnmeteredEndpoints entry.
func ParseEndpoint(e string) (string, error) {
	f := strings.Fields(e)
	if len(f) != 3 {
		return "", fmt.Errorf("endpoint %q: want SERVICE METHOD /path, such as \"openai POST /v1/images/generations\"", e)
	}
	if _, err := ParseService(f[0]); err != nil {
		return "", fmt.Errorf("endpoint %q: %w", e, err)
	}
	switch f[1] {
	case "GET", "POST", "PUT", "PATCH", "DELETE":
	default:
		return "", fmt.Errorf("endpoint %q: the method must be GET, POST, PUT, PATCH or DELETE", e)
	}
	if !strings.HasPrefix(f[2], "/") || strings.ContainsAny(f[2], "?# ") {
		return "", fmt.Errorf("endpoint %q: the path must start with / and hold no query", e)
	}
	return strings.Join(f, " "), nil
}
