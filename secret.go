package byok

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
)

// Secret is key material: an API key, an app token, a device credential.
// Every way of printing it (String, %v, %#v, slog, JSON) prints a redaction;
// only Reveal gives the value, and only code that signs a request or writes
// to a secret store should call it. The zero value is an empty secret.
type Secret struct{ v string }

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{v: s} }

const redacted = "[redacted]"

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == "" }

// Equal compares in constant time.
func (s Secret) Equal(o Secret) bool {
	return subtle.ConstantTimeCompare([]byte(s.v), []byte(o.v)) == 1
}

// Fingerprint is the last four characters, prefixed with an ellipsis, which
// is what lists show. Secrets shorter than 12 characters show only the
// ellipsis, so that a fingerprint never gives away a third of a short secret.
func (s Secret) Fingerprint() string {
	if len(s.v) < 12 {
		return "…"
	}
	return "…" + s.v[len(s.v)-4:]
}

func (s Secret) String() string                { return redacted }
func (s Secret) GoString() string              { return redacted }
func (s Secret) LogValue() slog.Value          { return slog.StringValue(redacted) }
func (s Secret) MarshalJSON() ([]byte, error)  { return []byte(`"` + redacted + `"`), nil }
func (s Secret) MarshalText() ([]byte, error)  { return []byte(redacted), nil }
func (s Secret) Format(f fmt.State, verb rune) { fmt.Fprint(f, redacted) }
