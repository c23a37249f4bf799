package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"byokd.dev/byok/hub"
	"byokd.dev/byok/hub/pgstore"
	"byokd.dev/byok/hub/sqlitestore"
	"byokd.dev/byok/internal/privfile"
	"byokd.dev/byok/keystore"
)

// hubStores opens the hub's store and the store of its shared keys:
// SQLite in dir and the keystore by default; with a postgres:// database,
// PostgreSQL and the shared keys sealed in it under the sealing key.
// closeFn closes what was opened.
func hubStores(ctx context.Context, e env, dir, database, sealingKeyFile string) (hub.Store, hub.SecretStore, func() error, error) {
	if database == "" {
		if sealingKeyFile != "" || e.getenv("BYOKD_HUB_SEALING_KEY") != "" {
			return nil, nil, nil, errors.New("a sealing key is for shared keys kept in PostgreSQL: give --database postgres://… too, or leave the key out")
		}
		keys, err := keystore.Open(keystore.Config{
			Backend: e.getenv("BYOKD_KEYSTORE"), Namespace: "byokd-hub",
			FilePath: filepath.Join(dir, hub.KeysFile), Passphrase: passphrase(e),
		})
		if err != nil {
			return nil, nil, nil, err
		}
		st, err := sqlitestore.Open(ctx, filepath.Join(dir, hub.DBFile))
		if err != nil {
			return nil, nil, nil, err
		}
		return st, keys, st.Close, nil
	}
	if !strings.HasPrefix(database, "postgres://") && !strings.HasPrefix(database, "postgresql://") {
		return nil, nil, nil, fmt.Errorf("--database %s: give a PostgreSQL URL such as postgres://byokd@db.example.com/byokd (SQLite, the default, needs no flag)", pgstore.Redact(database))
	}
	if e.getenv("BYOKD_KEYSTORE") != "" {
		return nil, nil, nil, errors.New("BYOKD_KEYSTORE does not apply with --database: the shared keys are sealed in the database; unset it")
	}
	key, err := sealingKey(e, sealingKeyFile)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := pgstore.Open(ctx, database)
	if err != nil {
		return nil, nil, nil, err
	}
	keys, err := st.Secrets(ctx, key)
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	return st, keys, st.Close, nil
}

// sealingKey reads the key every replica seals shared keys under: from
// the file, or else BYOKD_HUB_SEALING_KEY; base64 of 32 bytes either way.
func sealingKey(e env, file string) ([]byte, error) {
	const how = "give every replica the same key: --sealing-key-file FILE or BYOKD_HUB_SEALING_KEY, base64 of 32 random bytes (openssl rand -base64 32)"
	fromEnv := e.getenv("BYOKD_HUB_SEALING_KEY")
	switch {
	case file != "" && fromEnv != "":
		return nil, errors.New("both --sealing-key-file and BYOKD_HUB_SEALING_KEY are set: give one")
	case file != "":
		if err := privfile.Check(file); err != nil {
			return nil, fmt.Errorf("sealing key: %w", err)
		}
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("read the sealing key: %w", err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, 4096))
		if err != nil {
			return nil, fmt.Errorf("read the sealing key: %w", err)
		}
		k, err := pgstore.ParseSealingKey(string(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		return k, nil
	case fromEnv != "":
		k, err := pgstore.ParseSealingKey(fromEnv)
		if err != nil {
			return nil, fmt.Errorf("BYOKD_HUB_SEALING_KEY: %w", err)
		}
		return k, nil
	}
	return nil, errors.New("no sealing key for the shared keys in PostgreSQL: " + how)
}
