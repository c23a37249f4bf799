package keystore

import (
	"errors"
	"fmt"
	"strings"

	byok "byokd.dev/byok"
)

// Store holds secrets by reference, such as "personal/work" or
// "team/team-openai". Implementations are safe for concurrent use.
type Store interface {
	// Get returns the secret stored under ref. It returns an error wrapping
	// byok.ErrNotFound when there is none, and one wrapping byok.ErrLocked,
	// whose message says what to unlock, when the backend is locked or
	// unreachable.
	Get(ref string) (byok.Secret, error)
	// Set stores s under ref, replacing any secret already there.
	Set(ref string, s byok.Secret) error
	// Delete removes the secret under ref; it returns an error wrapping
	// byok.ErrNotFound when there is none.
	Delete(ref string) error
}

var (
	_ Store = Keychain{}
	_ Store = (*File)(nil)
	_ Store = (*Memory)(nil)
)

// checkRef refuses references no backend can store.
func checkRef(ref string) error {
	if ref == "" {
		return errors.New("empty secret reference: name the secret, such as personal/work")
	}
	if strings.ContainsFunc(ref, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("secret reference %q contains control characters", ref)
	}
	return nil
}

// checkSecret refuses an empty secret, which would read back as "no key".
func checkSecret(ref string, s byok.Secret) error {
	if s.IsZero() {
		return fmt.Errorf("set %q: the secret is empty", ref)
	}
	return nil
}
