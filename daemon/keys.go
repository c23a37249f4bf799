package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"byokd.dev/byok"
	"byokd.dev/byok/keystore"
	"byokd.dev/byok/ledger"
	"byokd.dev/byok/localproxy"
)

// personalKey is one personal key in memory: its metadata and its secret.
type personalKey struct {
	info byok.KeyInfo
	cred localproxy.Credential
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
}

// secretRef is where a personal key's secret sits in the store.
func secretRef(svc byok.Service, name string) string { return "personal/" + string(svc) + "/" + name }

func (k *keyring) load(ctx context.Context) error {
	infos, err := k.db.Keys(ctx)
	if err != nil {
		return fmt.Errorf("load key list: %w", err)
	}
	m := map[byok.Service][]personalKey{}
	for _, info := range infos {
		s, err := k.store.Get(secretRef(info.Service, info.Name))
		if err != nil {
			// A key whose secret cannot be read is left out; the
			// log says which and why (never the secret).
			k.log.Error("personal key unreadable", "service", info.Service, "key", info.Name, "err", err)
			continue
		}
		m[info.Service] = append(m[info.Service], personalKey{
			info: info,
			cred: localproxy.Credential{Ref: info.Ref(), Payer: byok.PayerPersonal, Secret: s},
		})
	}
	k.mu.Lock()
	k.keys = m
	k.mu.Unlock()
	return nil
}

// personal returns svc's personal keys, primary first. The slice is a copy.
func (k *keyring) personal(svc byok.Service) []personalKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return append([]personalKey(nil), k.keys[svc]...)
}

// count is the number of usable personal keys.
func (k *keyring) count() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	n := 0
	for _, ks := range k.keys {
		n += len(ks)
	}
	return n
}
