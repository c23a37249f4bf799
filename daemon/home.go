package daemon

import (
	"crypto/rand"
	"encoding/hex"
)

// randomToken returns a new random secret with a recognisable prefix.
func randomToken(prefix string) string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return prefix + hex.EncodeToString(b[:])
}
