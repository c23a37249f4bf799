package keystore

import (
	"fmt"
	"sync"

	byok "byokd.dev/byok"
)

// Memory keeps secrets in a map, for tests of other packages. The zero
// value is not ready: use NewMemory. It is safe for concurrent use.
type Memory struct {
	mu      sync.RWMutex
	secrets map[string]byok.Secret
}

// NewMemory returns an empty store.
func NewMemory() *Memory { return &Memory{secrets: make(map[string]byok.Secret)} }

// Get returns the secret stored under ref.
func (m *Memory) Get(ref string) (byok.Secret, error) {
	if err := checkRef(ref); err != nil {
		return byok.Secret{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.secrets[ref]
	if !ok {
		return byok.Secret{}, fmt.Errorf("memory get %q: %w", ref, byok.ErrNotFound)
	}
	return s, nil
}

// Set stores s under ref, replacing any secret already there.
func (m *Memory) Set(ref string, s byok.Secret) error {
	if err := checkRef(ref); err != nil {
		return err
	}
	if err := checkSecret(ref, s); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.secrets[ref] = s
	return nil
}

// Delete removes the secret under ref.
func (m *Memory) Delete(ref string) error {
	if err := checkRef(ref); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.secrets[ref]; !ok {
		return fmt.Errorf("memory delete %q: %w", ref, byok.ErrNotFound)
	}
	delete(m.secrets, ref)
	return nil
}
