package hub

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Prefixes make a leaked secret recognisable (and greppable by scanners).
const (
	devicePrefix  = "byokd_dev_"
	sessionPrefix = "byokd_ses_"
	loginPrefix   = "byokd_login_"
	adminPrefix   = "byokd_hubadm_"
)

// newSecret returns prefix + 32 random bytes, base64url.
func newSecret(prefix string) string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// newInviteCode returns a code people can read out and type: 20 letters
// and digits (100 bits) in groups of four.
func newInviteCode() string {
	var b [25]byte
	_, _ = rand.Read(b[:])
	s := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])[:20]
	var out strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			out.WriteByte('-')
		}
		out.WriteString(s[i : i+4])
	}
	return out.String()
}

// normalizeCode forgives case, spaces and dashes in a typed invite code.
func normalizeCode(c string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == ' ' || r == '\t':
			return -1
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return r
	}, c)
}

// hashSecret is what the store keeps of a secret: its SHA-256, in hex.
// Every secret here has at least 100 random bits, so a fast hash suffices
// and a lookup by hash is not a timing oracle on the secret.
func hashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
