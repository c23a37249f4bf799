package daemon

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"

	"byokd.dev/byok"
	"byokd.dev/byok/ledger"
)

// tokens verifies app tokens against the ledger, which stores only their
// SHA-256. Verified tokens are cached; every create and revoke goes through
// this daemon, so the cache is never stale.
type tokens struct {
	db *ledger.DB
	mu sync.RWMutex
	ok map[[32]byte]byok.AppToken
}

func newTokens(db *ledger.DB) *tokens {
	return &tokens{db: db, ok: map[[32]byte]byok.AppToken{}}
}

// Verify looks the token up by its hash: the lookup never compares the
// secret itself, so it leaks no timing about it.
func (t *tokens) Verify(ctx context.Context, token byok.Secret) (byok.AppToken, error) {
	h := sha256.Sum256([]byte(token.Reveal()))
	t.mu.RLock()
	app, hit := t.ok[h]
	t.mu.RUnlock()
	if hit {
		return app, nil
	}
	app, err := t.db.TokenByHash(ctx, h)
	if err != nil {
		return byok.AppToken{}, fmt.Errorf("%w: %w", byok.ErrUnauthorized, err)
	}
	if app.Revoked {
		return byok.AppToken{}, byok.ErrUnauthorized
	}
	t.mu.Lock()
	t.ok[h] = app
	t.mu.Unlock()
	return app, nil
}

// forget drops a revoked token from the cache.
func (t *tokens) forget(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for h, app := range t.ok {
		if app.Name == name {
			delete(t.ok, h)
		}
	}
}
