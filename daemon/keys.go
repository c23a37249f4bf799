package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"byokd.dev/byok"
	"byokd.dev/byok/keystore"
	"byokd.dev/byok/ledger"
	"byokd.dev/byok/localproxy"
)

// keyring holds the member's personal keys in memory: metadata from the
// ledger, secrets from the store, primary first. Reading the OS keychain
// costs a D-Bus round trip, far too slow for every call; every change goes
// through this daemon, so the copy stays true.
type keyring struct {
	db    *ledger.DB
	store keystore.Store
	log   *slog.Logger

	mu   sync.RWMutex
	keys map[byok.Service][]localproxy.Credential
}

// secretRef is where a personal key's secret sits in the store.
func secretRef(svc byok.Service, name string) string { return "personal/" + string(svc) + "/" + name }

func (k *keyring) load(ctx context.Context) error {
	infos, err := k.db.Keys(ctx)
	if err != nil {
		return fmt.Errorf("load key list: %w", err)
	}
	m := map[byok.Service][]localproxy.Credential{}
	for _, info := range infos {
		s, err := k.store.Get(secretRef(info.Service, info.Name))
		if err != nil {
			// A key whose secret cannot be read is left out; the
			// log says which and why (never the secret).
			k.log.Error("personal key unreadable", "service", info.Service, "key", info.Name, "err", err)
			continue
		}
		m[info.Service] = append(m[info.Service], localproxy.Credential{
			Ref: info.Ref(), Payer: byok.PayerPersonal, Secret: s,
		})
	}
	k.mu.Lock()
	k.keys = m
	k.mu.Unlock()
	return nil
}

// personal returns svc's personal credentials, primary first.
func (k *keyring) personal(svc byok.Service) []localproxy.Credential {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return slices.Clone(k.keys[svc])
}

// planner chooses credentials. Until a hub is joined only personal keys
// exist: the primary, then the others.
type planner struct{ keys *keyring }

func (p planner) Plan(_ context.Context, c localproxy.Call) ([]localproxy.Credential, error) {
	creds := p.keys.personal(c.Service)
	if len(creds) == 0 {
		return nil, &localproxy.Refusal{Status: 401, Code: "no_key", Message: fmt.Sprintf(
			"byokd: no personal %s key is configured: add one with `printf %%s \"$KEY\" | byokd key add %s --name NAME`",
			c.Service.Title(), c.Service)}
	}
	return creds, nil
}
