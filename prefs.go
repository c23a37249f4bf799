package byok

import (
	"fmt"
	"time"
)

// Preference is which credential a member wants a service's calls to use.
type Preference string

// Preferences.
const (
	PreferPersonal Preference = "personal"
	PreferShared   Preference = "shared"
	PreferAsk      Preference = "ask"
)

// ParsePreference accepts personal, shared or ask.
func ParsePreference(s string) (Preference, error) {
	switch p := Preference(s); p {
	case PreferPersonal, PreferShared, PreferAsk:
		return p, nil
	}
	return "", fmt.Errorf("unknown preference %q: use personal, shared or ask", s)
}

// KeyInfo describes a personal key without its secret.
type KeyInfo struct {
	Service     Service
	Name        string
	Fingerprint string
	Budget      Micros // monthly; 0 means none
	Primary     bool
	Created     time.Time
}

// Ref is the key's credential name as the ledger records it.
func (k KeyInfo) Ref() CredentialRef { return PersonalKey(k.Name) }

// AppToken describes a local app token without its secret. Apps present the
// token to the proxy where the provider expects its key.
// AppTokenPrefix starts every app token byokd makes: a key that starts
// with it is a token, checked as one (a revoked token stays refused).
const AppTokenPrefix = "byok_"

type AppToken struct {
	Name    string
	Project string
	Created time.Time
	Revoked bool
}
