package main

import (
	"context"
	"errors"
	"flag"
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
func hubStores(ctx context.Context, e env, dir, database string, sk sealingKeyFiles) (hub.Store, hub.SecretStore, func() error, error) {
	if database == "" {
		if sk.key != "" || sk.old != "" || e.getenv("BYOKD_HUB_SEALING_KEY") != "" {
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
	st, keys, err := pgStores(ctx, e, database, sk)
	if err != nil {
		return nil, nil, nil, err
	}
	return st, keys, st.Close, nil
}

// sealingKeyFiles are the sealing key's flags: the key, and the old key
// a rotation still needs.
type sealingKeyFiles struct{ key, old string }

func sealingKeyFlags(fs *flag.FlagSet) *sealingKeyFiles {
	var sk sealingKeyFiles
	fs.StringVar(&sk.key, "sealing-key-file", "", "with --database: the file holding the key that seals shared keys (or $BYOKD_HUB_SEALING_KEY)")
	fs.StringVar(&sk.old, "old-sealing-key-file", "", "while rotating the sealing key: the file holding the old key, which still opens what it sealed")
	return &sk
}

// pgStores opens the PostgreSQL database and its sealed shared keys.
func pgStores(ctx context.Context, e env, database string, sk sealingKeyFiles) (*pgstore.DB, *pgstore.Secrets, error) {
	if !strings.HasPrefix(database, "postgres://") && !strings.HasPrefix(database, "postgresql://") {
		return nil, nil, fmt.Errorf("--database %s: give a PostgreSQL URL such as postgres://byokd@db.example.com/byokd (SQLite, the default, needs no flag)", pgstore.Redact(database))
	}
	if e.getenv("BYOKD_KEYSTORE") != "" {
		return nil, nil, errors.New("BYOKD_KEYSTORE does not apply with --database: the shared keys are sealed in the database; unset it")
	}
	key, err := sealingKey(e, sk.key)
	if err != nil {
		return nil, nil, err
	}
	var old [][]byte
	if sk.old != "" {
		k, err := keyFile(sk.old)
		if err != nil {
			return nil, nil, fmt.Errorf("the old sealing key: %w", err)
		}
		old = append(old, k)
	}
	st, err := pgstore.Open(ctx, database)
	if err != nil {
		return nil, nil, err
	}
	keys, err := st.Secrets(ctx, key, old...)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, keys, nil
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
		k, err := keyFile(file)
		if err != nil {
			return nil, fmt.Errorf("sealing key: %w", err)
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

// keyFile reads a sealing key from a file only its owner can read.
func keyFile(file string) ([]byte, error) {
	if err := privfile.Check(file); err != nil {
		return nil, err
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, err
	}
	k, err := pgstore.ParseSealingKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return k, nil
}
