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
	db *DB
	// aeads seal under the first key and open under any: the sealing key,
	// then the old ones a rotation still needs (see Reseal).
	aeads []cipher.AEAD
}

var _ hub.SecretStore = (*Secrets)(nil)

// secretTimeout bounds each call: hub.SecretStore takes no context.
const secretTimeout = 10 * time.Second

// Secrets returns the store of secrets sealed under key, which also
// opens those still sealed under an old key (a rotation under way). It
// fails if the database holds a secret none of the keys opens: a replica
// given another key than the rest is refused at start, not at its first
// call.
func (d *DB) Secrets(ctx context.Context, key []byte, old ...[]byte) (*Secrets, error) {
	s := &Secrets{db: d}
	for _, k := range append([][]byte{key}, old...) {
		if len(k) != SealingKeySize {
			return nil, fmt.Errorf("the sealing key is %d bytes, want %d", len(k), SealingKeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		s.aeads = append(s.aeads, aead)
	}
	all, err := readSealed(ctx, d.pool, "")
	if err != nil {
		return nil, err
	}
	for _, r := range all {
		if _, _, err := s.open(r.ref, r.nonce, r.sealed); err != nil {
			return nil, fmt.Errorf("%w: give every replica the key the shared keys were sealed with", err)
		}
	}
	return s, nil
}

type sealedRow struct {
	ref           string
	nonce, sealed []byte
}

// readSealed is every sealed secret, in ref order, read through q (the
// pool, or a transaction with lock "FOR UPDATE").
func readSealed(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, lock string) ([]sealedRow, error) {
	rows, err := q.Query(ctx, `SELECT ref, nonce, sealed FROM sealed_secrets ORDER BY ref `+lock)
	if err != nil {
		return nil, fmt.Errorf("read sealed shared keys: %w", err)
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sealedRow, error) {
		var x sealedRow
		return x, r.Scan(&x.ref, &x.nonce, &x.sealed)
	})
	if err != nil {
		return nil, fmt.Errorf("read sealed shared keys: %w", err)
	}
	return all, nil
}

// open unseals a stored secret and says which key opened it (0: the
// sealing key).
func (s *Secrets) open(ref string, nonce, sealed []byte) ([]byte, int, error) {
	if len(nonce) != s.aeads[0].NonceSize() {
		return nil, 0, fmt.Errorf("unseal %q: the stored nonce is %d bytes, want %d", ref, len(nonce), s.aeads[0].NonceSize())
	}
	for i, aead := range s.aeads {
		if plain, err := aead.Open(nil, nonce, sealed, []byte(ref)); err == nil {
			return plain, i, nil
		}
	}
	// Never say more: the error is the same for a wrong key and a
	// tampered value.
	return nil, 0, fmt.Errorf("unseal %q: the sealing key does not open it", ref)
}

func (s *Secrets) seal(ref string, plain []byte) (nonce, sealed []byte, err error) {
	nonce = make([]byte, s.aeads[0].NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, fmt.Errorf("seal %q: %w", ref, err)
	}
	return nonce, s.aeads[0].Seal(nil, nonce, plain, []byte(ref)), nil
}

// Reseal seals every secret still under an old key under the sealing
// key, in one transaction, and returns how many it resealed: after it
// the old keys open nothing and replicas need only the new one.
func (s *Secrets) Reseal(ctx context.Context) (int, error) {
	n := 0
	err := s.db.tx(ctx, func(tx pgx.Tx) error {
		n = 0
		all, err := readSealed(ctx, tx, "FOR UPDATE")
		if err != nil {
			return err
		}
		for _, r := range all {
			plain, by, err := s.open(r.ref, r.nonce, r.sealed)
			if err != nil {
				return err
			}
			if by == 0 {
				continue // under the sealing key already
			}
			nonce, sealed, err := s.seal(r.ref, plain)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE sealed_secrets SET nonce = $2, sealed = $3 WHERE ref = $1`, r.ref, nonce, sealed); err != nil {
				return fmt.Errorf("reseal %q: %w", r.ref, err)
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("reseal the shared keys: %w", err)
	}
	return n, nil
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
	plain, _, err := s.open(ref, nonce, sealed)
	if err != nil {
		return byok.Secret{}, err
	}
	return byok.NewSecret(string(plain)), nil
}

// Set implements hub.SecretStore, replacing any secret under ref.
func (s *Secrets) Set(ref string, secret byok.Secret) error {
	ctx, cancel := context.WithTimeout(context.Background(), secretTimeout)
	defer cancel()
	nonce, sealed, err := s.seal(ref, []byte(secret.Reveal()))
	if err != nil {
		return err
	}
	_, err = s.db.pool.Exec(ctx, `INSERT INTO sealed_secrets (ref, nonce, sealed, created_us) VALUES ($1, $2, $3, $4)
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
