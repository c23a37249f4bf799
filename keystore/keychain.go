package keystore

import (
	"errors"
	"fmt"
	"strings"

	byok "byokd.dev/byok"
	"github.com/zalando/go-keyring"
)

// Keychain stores secrets in the operating system's keychain: the Secret
// Service (gnome-keyring, KWallet) on Linux, the login keychain on macOS and
// the Credential Manager on Windows. Each secret is an item whose keyring
// "service" is Namespace and whose "user" is the reference.
//
// Namespace must not be empty. Keychain is safe for concurrent use. On Linux
// it never starts a D-Bus session bus: with DBUS_SESSION_BUS_ADDRESS unset,
// every call fails with byok.ErrLocked. A call may block while the keychain
// asks the user to unlock it.
type Keychain struct {
	Namespace string // keyring service name, such as "byokd-<install id>"
}

// Get returns the secret stored under ref.
func (k Keychain) Get(ref string) (byok.Secret, error) {
	if err := k.check("get", ref); err != nil {
		return byok.Secret{}, err
	}
	v, err := keyring.Get(k.Namespace, ref)
	if err != nil {
		return byok.Secret{}, k.mapErr("get", ref, err, "")
	}
	return byok.NewSecret(v), nil
}

// Set stores s under ref, replacing any secret already there.
func (k Keychain) Set(ref string, s byok.Secret) error {
	if err := k.check("set", ref); err != nil {
		return err
	}
	if err := checkSecret(ref, s); err != nil {
		return err
	}
	if err := keyring.Set(k.Namespace, ref, s.Reveal()); err != nil {
		return k.mapErr("set", ref, err, s.Reveal())
	}
	return nil
}

// Delete removes the secret under ref.
func (k Keychain) Delete(ref string) error {
	if err := k.check("delete", ref); err != nil {
		return err
	}
	if err := keyring.Delete(k.Namespace, ref); err != nil {
		return k.mapErr("delete", ref, err, "")
	}
	return nil
}

// check validates the call and refuses it, without reaching the keychain,
// when the session bus is missing.
func (k Keychain) check(op, ref string) error {
	if k.Namespace == "" {
		return fmt.Errorf("keychain %s %q: no namespace set", op, ref)
	}
	if err := checkRef(ref); err != nil {
		return err
	}
	if err := checkSessionBus(); err != nil {
		return &unavailableError{op: op, ref: ref, cause: err}
	}
	return nil
}

// mapErr maps go-keyring's errors to the root sentinels. Any error other
// than "not found" and "too big" means the keychain did not answer as it
// should (no bus, no Secret Service, a locked or missing collection, a
// dismissed unlock prompt), which callers treat as locked.
func (k Keychain) mapErr(op, ref string, err error, secret string) error {
	switch {
	case errors.Is(err, keyring.ErrNotFound):
		return fmt.Errorf("keychain %s %q: no such secret in keychain namespace %q: %w", op, ref, k.Namespace, byok.ErrNotFound)
	case errors.Is(err, keyring.ErrSetDataTooBig):
		return fmt.Errorf("keychain %s %q: the secret is too big for the OS keychain", op, ref)
	}
	if secret != "" && strings.Contains(err.Error(), secret) {
		err = errors.New("the keychain's error text was withheld because it contained the secret")
	}
	return &unavailableError{op: op, ref: ref, cause: err}
}

// unavailableError is a keychain that is locked, missing or unreachable. It
// matches byok.ErrLocked and unwraps to its cause.
type unavailableError struct {
	op, ref string
	cause   error
}

func (e *unavailableError) Error() string {
	return fmt.Sprintf("keychain %s %q: OS keychain unavailable: %s (%v)", e.op, e.ref, unavailableHint, e.cause)
}

func (e *unavailableError) Unwrap() []error { return []error{byok.ErrLocked, e.cause} }
