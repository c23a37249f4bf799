package keystore

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

// The key file is JSON: a versioned header naming the key derivation and
// the cipher with their parameters, then the sealed contents. The header is
// bound to the ciphertext as additional data, so it cannot be altered
// without the change being detected.
const (
	fileFormat    = "byokd-keystore"
	fileVersion   = 1
	kdfArgon2id   = "argon2id"
	cipherXChaCha = "xchacha20-poly1305"
	saltLen       = 16
	keyLen        = chacha20poly1305.KeySize
	checkContext  = "byokd-keystore passphrase check v1"
)

// envelope is the file as stored.
type envelope struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	KDF     kdfParams `json:"kdf"`
	Cipher  string    `json:"cipher"`
	// Check is an HMAC of a fixed text under the derived key. It tells a
	// wrong passphrase apart from damaged contents, and tells an attacker
	// nothing a guess against the ciphertext would not.
	Check  []byte `json:"check"`
	Nonce  []byte `json:"nonce"`
	Sealed []byte `json:"sealed"`
}

// contents is the sealed plaintext.
type contents struct {
	Secrets map[string]string `json:"secrets"`
}

// kdfParams are Argon2id's parameters and the file's salt.
type kdfParams struct {
	Algorithm string `json:"algorithm"`
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
	Salt      []byte `json:"salt,omitempty"`
}

// defaultKDF is RFC 9106's second recommended Argon2id setting: 3 passes
// over 64 MiB with 4 lanes, about 0.2 s on a laptop.
func defaultKDF() kdfParams {
	return kdfParams{Algorithm: kdfArgon2id, Time: 3, MemoryKiB: 64 * 1024, Threads: 4}
}

// validate refuses parameters this code did not write, including ones that
// would make opening the file take unbounded time or memory.
func (p kdfParams) validate() error {
	switch {
	case p.Algorithm != kdfArgon2id:
		return fmt.Errorf("unknown key derivation %q", p.Algorithm)
	case p.Time < 1 || p.Time > 64:
		return fmt.Errorf("argon2id time %d out of range 1-64", p.Time)
	case p.Threads < 1:
		return errors.New("argon2id threads must be at least 1")
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > 4<<20:
		return fmt.Errorf("argon2id memory %d KiB out of range", p.MemoryKiB)
	case len(p.Salt) < saltLen:
		return fmt.Errorf("salt of %d bytes is shorter than %d", len(p.Salt), saltLen)
	}
	return nil
}

func (p kdfParams) equal(q kdfParams) bool {
	return p.Algorithm == q.Algorithm && p.Time == q.Time && p.MemoryKiB == q.MemoryKiB &&
		p.Threads == q.Threads && bytes.Equal(p.Salt, q.Salt)
}

func (p kdfParams) derive(passphrase []byte) []byte {
	return argon2.IDKey(passphrase, p.Salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
}

// checkValue is the passphrase check stored in the header.
func checkValue(key []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(checkContext))
	return m.Sum(nil)
}

// additionalData is the header as the cipher authenticates it.
func additionalData(e *envelope) []byte {
	return fmt.Appendf(nil, "%s/v%d %s t=%d m=%d p=%d salt=%x %s check=%x",
		e.Format, e.Version, e.KDF.Algorithm, e.KDF.Time, e.KDF.MemoryKiB, e.KDF.Threads,
		e.KDF.Salt, e.Cipher, e.Check)
}

// errNewerVersion is a file written by a newer byokd.
var errNewerVersion = errors.New("newer format")

// parseEnvelope decodes and checks the header. Its errors describe the
// damage and never include file contents.
func parseEnvelope(data []byte) (*envelope, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("the file is empty")
	}
	var e envelope
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, errors.New("it is not valid JSON")
	}
	if e.Format != fileFormat {
		return nil, errors.New("it is not a byokd key file")
	}
	if e.Version > fileVersion {
		return nil, fmt.Errorf("%w %d", errNewerVersion, e.Version)
	}
	if e.Version != fileVersion {
		return nil, fmt.Errorf("unknown format version %d", e.Version)
	}
	if err := e.KDF.validate(); err != nil {
		return nil, err
	}
	switch {
	case e.Cipher != cipherXChaCha:
		return nil, fmt.Errorf("unknown cipher %q", e.Cipher)
	case len(e.Check) != sha256.Size:
		return nil, errors.New("the passphrase check is missing or truncated")
	case len(e.Nonce) != chacha20poly1305.NonceSizeX:
		return nil, errors.New("the nonce is missing or truncated")
	case len(e.Sealed) < chacha20poly1305.Overhead:
		return nil, errors.New("the sealed contents are missing or truncated")
	}
	return &e, nil
}
