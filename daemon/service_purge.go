package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
	"byokd.dev/byok/keystore"
	"byokd.dev/byok/ledger"
)

// Purge deletes everything byokd keeps for the state folder home: the
// personal keys' secrets in the OS keychain, then the folder itself
// (ledger, key file, tokens, config). It refuses while a daemon is
// running there. There is no undo.
func Purge(ctx context.Context, home string) error {
	if _, err := os.Stat(home); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if c, err := control.Dial(home); err == nil {
		if _, err := c.Status(ctx); err == nil {
			return errors.New("byokd is still running: stop it with `byokd service stop` first")
		}
	}
	if err := purgeKeychain(ctx, home); err != nil {
		return err
	}
	if err := os.RemoveAll(home); err != nil {
		return fmt.Errorf("remove state folder %s: %w", home, err)
	}
	return nil
}

// purgeKeychain deletes the secrets of the keys the ledger lists from the
// OS keychain. A key file needs nothing: it goes with the folder.
func purgeKeychain(ctx context.Context, home string) error {
	path := filepath.Join(home, LedgerFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if _, err := os.Stat(filepath.Join(home, KeysFile)); err == nil {
		return nil
	}
	db, err := ledger.Open(ctx, path, ledger.Options{})
	if err != nil {
		return fmt.Errorf("open ledger to find the keys to delete: %w", err)
	}
	defer db.Close()
	id, err := db.Meta(ctx, "install_id")
	if errors.Is(err, byok.ErrNotFound) || id == "" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read install id: %w", err)
	}
	keys, err := db.Keys(ctx)
	if err != nil {
		return fmt.Errorf("list keys to delete: %w", err)
	}
	kc := keystore.Keychain{Namespace: "byokd-" + id}
	for _, k := range keys {
		if err := kc.Delete(secretRef(k.Service, k.Name)); err != nil && !errors.Is(err, byok.ErrNotFound) {
			return fmt.Errorf("delete %s key %q from the keychain: %w", k.Service, k.Name, err)
		}
	}
	return nil
}
