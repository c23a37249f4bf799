package byok

import (
	"fmt"
	"strings"
)

// CredentialRef names the credential that pays for a call, as ledgers, the
// hub, the x-byokd-credential response header and people read it:
// "personal/work" for a member's own key, "team/team-openai" for a shared
// key. The payer is part of the name, so the two cannot disagree. The zero
// value names no credential (a call refused before one was chosen).
type CredentialRef struct {
	Payer Payer
	Name  string
}

// PersonalKey names a member's own key.
func PersonalKey(name string) CredentialRef { return CredentialRef{PayerPersonal, name} }

// TeamKey names one of the team's shared keys.
func TeamKey(name string) CredentialRef { return CredentialRef{PayerTeam, name} }

// ParseCredentialRef reads the form String writes; "" is the zero value.
func ParseCredentialRef(s string) (CredentialRef, error) {
	if s == "" {
		return CredentialRef{}, nil
	}
	payer, name, ok := strings.Cut(s, "/")
	c := CredentialRef{Payer(payer), name}
	if !ok || name == "" || (c.Payer != PayerPersonal && c.Payer != PayerTeam) {
		return CredentialRef{}, fmt.Errorf("invalid credential %q: want personal/NAME or team/NAME", s)
	}
	return c, nil
}

// String is "personal/NAME" or "team/NAME", or "" for the zero value.
func (c CredentialRef) String() string {
	if c == (CredentialRef{}) {
		return ""
	}
	return string(c.Payer) + "/" + c.Name
}

// IsZero reports whether c names no credential.
func (c CredentialRef) IsZero() bool { return c == CredentialRef{} }

// MarshalText writes String's form.
func (c CredentialRef) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText reads String's form.
func (c *CredentialRef) UnmarshalText(b []byte) error {
	v, err := ParseCredentialRef(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}
