package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/keystore"
	"byokd.dev/byok/ledger"
	"byokd.dev/byok/upstream"
)

// personalKey is one personal key in memory: its metadata and its secret.
type personalKey struct {
	info byok.KeyInfo
	cred upstream.Credential
}

// keyring holds the member's personal keys in memory: metadata from the
// ledger, secrets from the store, primary first. Reading the OS keychain
// costs a D-Bus round trip, far too slow for every call; every change goes
// through this daemon, so the copy stays true.
type keyring struct {
	db    *ledger.DB
	store keystore.Store
	log   *slog.Logger

	mu   sync.RWMutex
	keys map[byok.Service][]personalKey
	// locked are the keys whose secrets the store would not give, and
	// why: the member must unlock the keychain, not add a key.
	locked     map[byok.Service][]string
	lockedErr  map[byok.Service]error
	lastReload time.Time
}

// secretRef is where a personal key's secret sits in the store.
func secretRef(svc byok.Service, name string) string { return "personal/" + string(svc) + "/" + name }

func (k *keyring) load(ctx context.Context) error {
	infos, err := k.db.Keys(ctx)
	if err != nil {
		return fmt.Errorf("load key list: %w", err)
	}
	m := map[byok.Service][]personalKey{}
	locked, lockedErr := map[byok.Service][]string{}, map[byok.Service]error{}
	for _, info := range infos {
		s, err := k.store.Get(secretRef(info.Service, info.Name))
		if err != nil {
			// A key whose secret cannot be read is left out; the
			// log says which and why (never the secret).
			k.log.Error("personal key unreadable", "service", info.Service, "key", info.Name, "err", err)
			locked[info.Service] = append(locked[info.Service], info.Name)
			if lockedErr[info.Service] == nil {
				lockedErr[info.Service] = err
			}
			continue
		}
		m[info.Service] = append(m[info.Service], personalKey{
			info: info,
			cred: upstream.Credential{Ref: info.Ref(), Secret: s},
		})
	}
	k.mu.Lock()
	k.keys, k.locked, k.lockedErr = m, locked, lockedErr
	k.mu.Unlock()
	return nil
}

// unreadable reports svc's keys whose secrets could not be read at the last
// load, and the first reason.
func (k *keyring) unreadable(svc byok.Service) ([]string, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.locked[svc], k.lockedErr[svc]
}

// retryLocked reloads the keys when some could not be read (the member may
// have unlocked the keychain since), at most once per reloadEvery.
func (k *keyring) retryLocked(ctx context.Context, now time.Time) {
	k.mu.Lock()
	due := len(k.locked) > 0 && now.Sub(k.lastReload) >= reloadEvery
	if due {
		k.lastReload = now
	}
	k.mu.Unlock()
	if due {
		if err := k.load(ctx); err != nil {
			k.log.Warn("reload keys failed", "err", err)
		}
	}
}

// reloadEvery bounds how often calls retry reading locked keys.
const reloadEvery = 5 * time.Second

// personal returns svc's personal keys, primary first. Every call reads
// them, so the slice is the keyring's own, not a copy: load replaces the
// slices whole and never changes one it published, and callers must not
// change it either.
func (k *keyring) personal(svc byok.Service) []personalKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.keys[svc]
}
