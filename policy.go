package byok

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
