package hub

import (
	"time"

	"byokd.dev/byok"
)

// Admin API request and answer types.

// Status is the hub at a glance.
type Status struct {
	Version       string `json:"version"`
	PublicURL     string `json:"public_url"`
	Devices       int    `json:"devices"` // not revoked
	Connected     int    `json:"connected"`
	PolicyVersion int64  `json:"policy_version"`
	SharedKeys    int    `json:"shared_keys"`
	// Refused counts requests turned away since start, by surface: a
	// climbing count is someone probing.
	Refused Refused `json:"refused"`
	// Rejected counts synced usage rows refused since start (see the log).
	Rejected int64 `json:"rejected_rows"`
}

// Refused counts a hub's refused requests.
type Refused struct {
	Public int64 `json:"public"` // loopback Host, foreign origin
	Admin  int64 `json:"admin"`  // Host, browser, admin token, access
}

// NewInvite asks for an invite code.
type NewInvite struct {
	Email string `json:"email"`
	// ExpiresIn is the code's lifetime in seconds; 0 means the default.
	ExpiresIn int64 `json:"expires_in_seconds"`
}

// NewAdmin asks for an admin login link.
type NewAdmin struct {
	Email string `json:"email"`
}

// DeviceStatus is a device with its live connection count.
type DeviceStatus struct {
	Device
	Connected bool `json:"connected"`
}

// AddSharedKey stores a shared key. Secret is the only field of the admin
// API that carries key material, and only inward.
type AddSharedKey struct {
	Service byok.Service `json:"service"`
	Name    string       `json:"name"`
	Secret  string       `json:"secret"`
}

// invite lifetime bounds.
const maxInviteTTL = 90 * 24 * time.Hour
