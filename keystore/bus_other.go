//go:build !linux

package keystore

// unavailableHint tells the user how to get a working keychain.
const unavailableHint = "unlock your login keychain, or set BYOKD_KEYSTORE=file"

// checkSessionBus has nothing to check where the keychain is not reached
// over D-Bus.
func checkSessionBus() error { return nil }
