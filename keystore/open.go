package keystore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	byok "byokd.dev/byok"
)

// Backend names, as BYOKD_KEYSTORE gives them.
const (
	BackendAuto     = ""
	BackendKeychain = "keychain"
	BackendFile     = "file"
)

// probeRef is the reference Open looks up to learn whether the keychain
// answers. It is never written.
const probeRef = "byokd/keychain-probe"

// Config says which backend Open should use and how to reach it.
type Config struct {
	// Backend is BackendKeychain, BackendFile or BackendAuto (empty): the
	// keychain if one answers, else the key file if a passphrase can be had.
	Backend string
	// Namespace is the keychain's service name, such as "byokd-<install id>".
	Namespace string
	// FilePath is the key file, such as $BYOKD_HOME/keys.enc.
	FilePath string
	// Passphrase returns the key file's passphrase, from the environment or a
	// no-echo prompt. It is called only when the file backend is chosen and
	// may be nil when there is no way to get one.
	Passphrase func() ([]byte, error)
}

// Open returns the store cfg selects.
//
// In auto mode a key file that already exists wins, since that is where this
// user's secrets are. Otherwise Open probes the keychain with a lookup; if
// the keychain answers (found or not) it is used, else a new key file is
// created if Passphrase gives a passphrase. With neither, the error says how
// to provide one.
func Open(cfg Config) (Store, error) {
	switch cfg.Backend {
	case BackendKeychain:
		if cfg.Namespace == "" {
			return nil, errors.New("open keychain: no namespace set")
		}
		return Keychain{Namespace: cfg.Namespace}, nil
	case BackendFile:
		return openConfigFile(cfg, "BYOKD_KEYSTORE=file")
	case BackendAuto:
		return openAuto(cfg)
	}
	return nil, fmt.Errorf("unknown keystore backend %q: set BYOKD_KEYSTORE to keychain or file, or leave it unset to choose automatically", cfg.Backend)
}

func openAuto(cfg Config) (Store, error) {
	if cfg.FilePath != "" {
		if _, err := os.Stat(cfg.FilePath); err == nil {
			return openConfigFile(cfg, "the key file "+cfg.FilePath+" exists")
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open keystore: %w", err)
		}
	}
	var kcErr error
	if cfg.Namespace == "" {
		kcErr = errors.New("no keychain namespace set")
	} else {
		kc := Keychain{Namespace: cfg.Namespace}
		_, err := kc.Get(probeRef)
		if err == nil || errors.Is(err, byok.ErrNotFound) {
			return kc, nil
		}
		kcErr = err
		var ue *unavailableError
		if errors.As(err, &ue) {
			kcErr = ue.cause
		}
	}
	if cfg.FilePath == "" {
		return nil, fmt.Errorf("open keystore: no OS keychain answered (%v) and no key file path is set", kcErr)
	}
	pass, why := passphrase(cfg)
	if why != "" {
		return nil, fmt.Errorf("open keystore: no OS keychain answered (%v) and %s for the key file %s: "+
			"set BYOKD_KEYSTORE_PASSPHRASE, run byokd from a terminal to type one, "+
			"or start a Secret Service such as gnome-keyring", kcErr, why, cfg.FilePath)
	}
	return openFile(cfg.FilePath, pass, defaultKDF())
}

// openConfigFile opens the key file, for the reason given.
func openConfigFile(cfg Config, reason string) (Store, error) {
	if cfg.FilePath == "" {
		return nil, errors.New("open key file: no path set")
	}
	pass, why := passphrase(cfg)
	if why != "" {
		return nil, fmt.Errorf("open key file %s (used because %s): %s: set BYOKD_KEYSTORE_PASSPHRASE or run byokd from a terminal to type it",
			cfg.FilePath, reason, why)
	}
	return openFile(cfg.FilePath, pass, defaultKDF())
}

// passphrase asks cfg for the passphrase; why says why there is none.
func passphrase(cfg Config) (pass []byte, why string) {
	if cfg.Passphrase == nil {
		return nil, "no passphrase was given"
	}
	pass, err := cfg.Passphrase()
	if err != nil {
		return nil, fmt.Sprintf("no passphrase was given (%v)", err)
	}
	if len(pass) == 0 {
		return nil, "the passphrase given is empty"
	}
	return pass, ""
}
