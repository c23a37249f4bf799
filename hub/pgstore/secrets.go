package pgstore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
)

// SealingKeySize is the length of the key that seals shared keys: AES-256.
const SealingKeySize = 32

// ParseSealingKey reads a sealing key written as base64 (standard or URL
// alphabet, padded or not), as in BYOKD_HUB_SEALING_KEY or the file of
// --sealing-key-file: `openssl rand -base64 32` makes one.
func ParseSealingKey(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(text); err == nil {
			if len(k) != SealingKeySize {
				return nil, fmt.Errorf("the sealing key is %d bytes, want %d: make one with openssl rand -base64 32", len(k), SealingKeySize)
			}
			return k, nil
		}
	}
	return nil, errors.New("the sealing key is not base64: make one with openssl rand -base64 32")
}

// Secrets is a hub.SecretStore in the database: each secret AES-256-GCM
// sealed under the sealing key with a random nonce and its ref as
// additional data (a sealed value moved to another ref does not open),
// so every replica given the key reads the team's shared keys and the
// database never holds them in the clear. Safe for concurrent use.
type Secrets struct {
	db   *DB
	aead cipher.AEAD
}

var _ hub.SecretStore = (*Secrets)(nil)

// secretTimeout bounds each call: hub.SecretStore takes no context.
const secretTimeout = 10 * time.Second

// Secrets returns the store of secrets sealed under key. It fails if
// the database holds secrets the key does not open: a replica given
// another key than the rest is refused at start, not at its first call.
func (d *DB) Secrets(ctx context.Context, key []byte) (*Secrets, error) {
	if len(key) != SealingKeySize {
		return nil, fmt.Errorf("the sealing key is %d bytes, want %d", len(key), SealingKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	s := &Secrets{db: d, aead: aead}
	var ref string
	var nonce, sealed []byte
	err = d.pool.QueryRow(ctx, `SELECT ref, nonce, sealed FROM sealed_secrets ORDER BY created_us LIMIT 1`).Scan(&ref, &nonce, &sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read sealed shared keys: %w", err)
	}
	if _, err := s.open(ref, nonce, sealed); err != nil {
		return nil, fmt.Errorf("%w: give every replica the key the shared keys were sealed with", err)
	}
	return s, nil
}

func (s *Secrets) open(ref string, nonce, sealed []byte) ([]byte, error) {
	if len(nonce) != s.aead.NonceSize() {
		return nil, fmt.Errorf("unseal %q: the stored nonce is %d bytes, want %d", ref, len(nonce), s.aead.NonceSize())
	}
	plain, err := s.aead.Open(nil, nonce, sealed, []byte(ref))
	if err != nil {
		// Never say more: the error is the same for a wrong key and a
		// tampered value.
		return nil, fmt.Errorf("unseal %q: the sealing key does not open it", ref)
	}
	return plain, nil
}

// Get implements hub.SecretStore.
func (s *Secrets) Get(ref string) (byok.Secret, error) {
	ctx, cancel := context.WithTimeout(context.Background(), secretTimeout)
	defer cancel()
	var nonce, sealed []byte
	err := s.db.pool.QueryRow(ctx, `SELECT nonce, sealed FROM sealed_secrets WHERE ref = $1`, ref).Scan(&nonce, &sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return byok.Secret{}, fmt.Errorf("get %q: no such sealed secret: %w", ref, byok.ErrNotFound)
	}
	if err != nil {
		return byok.Secret{}, fmt.Errorf("get %q: %w", ref, err)
	}
	plain, err := s.open(ref, nonce, sealed)
	if err != nil {
		return byok.Secret{}, err
	}
	return byok.NewSecret(string(plain)), nil
}

// Set implements hub.SecretStore, replacing any secret under ref.
func (s *Secrets) Set(ref string, secret byok.Secret) error {
	ctx, cancel := context.WithTimeout(context.Background(), secretTimeout)
	defer cancel()
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("seal %q: %w", ref, err)
	}
	sealed := s.aead.Seal(nil, nonce, []byte(secret.Reveal()), []byte(ref))
	_, err := s.db.pool.Exec(ctx, `INSERT INTO sealed_secrets (ref, nonce, sealed, created_us) VALUES ($1, $2, $3, $4)
ON CONFLICT (ref) DO UPDATE SET nonce = excluded.nonce, sealed = excluded.sealed`, ref, nonce, sealed, time.Now().UnixMicro())
	if err != nil {
		return fmt.Errorf("store sealed %q: %w", ref, err)
	}
	return nil
}

// Delete implements hub.SecretStore.
func (s *Secrets) Delete(ref string) error {
	ctx, cancel := context.WithTimeout(context.Background(), secretTimeout)
	defer cancel()
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM sealed_secrets WHERE ref = $1`, ref)
	if err != nil {
		return fmt.Errorf("delete %q: %w", ref, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete %q: no such sealed secret: %w", ref, byok.ErrNotFound)
	}
	return nil
}
