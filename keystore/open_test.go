package keystore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	byok "byokd.dev/byok"
	"github.com/zalando/go-keyring"
)

// noPrompt is a Passphrase that fails the test if called.
func noPrompt(t *testing.T) func() ([]byte, error) {
	return func() ([]byte, error) {
		t.Errorf("Open asked for a passphrase it does not need")
		return nil, errors.New("unexpected prompt")
	}
}

func passphraseOf(s string) func() ([]byte, error) {
	return func() ([]byte, error) { return []byte(s), nil }
}

func TestOpen_Explicit(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		cfg     Config
		want    string // the store's type, or "" for an error
		message string // text the error must contain
	}{
		{"keychain", Config{Backend: "keychain", Namespace: "byokd-x", Passphrase: noPrompt(t)}, "keystore.Keychain", ""},
		{"keychain without namespace", Config{Backend: "keychain"}, "", "no namespace"},
		{"file", Config{Backend: "file", FilePath: filepath.Join(dir, "a.enc"), Passphrase: passphraseOf("pw")}, "*keystore.File", ""},
		{"file without passphrase", Config{Backend: "file", FilePath: filepath.Join(dir, "b.enc")}, "", "BYOKD_KEYSTORE_PASSPHRASE"},
		{"file with failing prompt", Config{Backend: "file", FilePath: filepath.Join(dir, "c.enc"),
			Passphrase: func() ([]byte, error) { return nil, errors.New("no terminal") }}, "", "no terminal"},
		{"file without path", Config{Backend: "file", Passphrase: passphraseOf("pw")}, "", "no path"},
		{"unknown", Config{Backend: "vault"}, "", `unknown keystore backend "vault"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(tt.cfg)
			got := ""
			if err == nil {
				got = typeName(s)
			}
			if got != tt.want {
				t.Fatalf("got %s (error %v), want %q", got, err, tt.want)
			}
			if tt.message != "" && !strings.Contains(err.Error(), tt.message) {
				t.Errorf("got %q, want it to contain %q", err, tt.message)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "b.enc")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed open created a key file: %v", err)
	}
}

func typeName(s Store) string {
	switch s.(type) {
	case Keychain:
		return "keystore.Keychain"
	case *File:
		return "*keystore.File"
	}
	return "unknown"
}

func TestOpen_AutoPicksAnsweringKeychain(t *testing.T) {
	requireSessionBus(t)
	ns := testNamespace(t)
	path := filepath.Join(t.TempDir(), "keys.enc")
	s, err := Open(Config{Namespace: ns, FilePath: path, Passphrase: noPrompt(t)})
	if err != nil {
		t.Fatal(err)
	}
	if got := typeName(s); got != "keystore.Keychain" {
		t.Fatalf("got %s, want keystore.Keychain", got)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("auto mode created a key file though the keychain answered: %v", err)
	}
	if _, err := keyring.Get(ns, probeRef); !errors.Is(err, keyring.ErrNotFound) {
		t.Errorf("probe left something in the keychain: got %v, want %v", err, keyring.ErrNotFound)
	}
}

// TestOpen_AutoPrefersExistingFile: secrets saved to a key file while no
// keychain answered must not vanish once one does.
func TestOpen_AutoPrefersExistingFile(t *testing.T) {
	requireSessionBus(t)
	path := filepath.Join(t.TempDir(), "keys.enc")
	sec := randomSecret(t)
	if err := testFile(t, path, "correct horse").Set("personal/work", sec); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Config{Namespace: testNamespace(t), FilePath: path, Passphrase: passphraseOf("correct horse")})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get("personal/work"); err != nil || !got.Equal(sec) {
		t.Errorf("get: got %q, %v; want the secret from the key file", got.Reveal(), err)
	}

	_, err = Open(Config{Namespace: testNamespace(t), FilePath: path})
	if err == nil || !strings.Contains(err.Error(), "exists") || !strings.Contains(err.Error(), "BYOKD_KEYSTORE_PASSPHRASE") {
		t.Errorf("auto open of an existing file without a passphrase: got %v, want an error saying the file exists and how to give a passphrase", err)
	}
}

// TestOpen_AutoWithoutKeychain runs where no keychain answers: the file
// backend is chosen when a passphrase can be had, else the error says how
// to fix it.
func TestOpen_AutoWithoutKeychain(t *testing.T) {
	if !inFreshProcess(t) {
		return
	}
	buses := deadBusAddresses(t)
	buses["unset"] = ""
	for name, addr := range buses {
		t.Run(name, func(t *testing.T) {
			t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
			if addr == "" {
				os.Unsetenv("DBUS_SESSION_BUS_ADDRESS")
			}
			dir := t.TempDir()

			path := filepath.Join(dir, "keys.enc")
			s, err := Open(Config{Namespace: "byokd-test", FilePath: path, Passphrase: passphraseOf("correct horse")})
			if err != nil {
				t.Fatalf("with a passphrase: %v", err)
			}
			if got := typeName(s); got != "*keystore.File" {
				t.Fatalf("with a passphrase: got %s, want *keystore.File", got)
			}
			assertMode(t, path, 0o600)
			sec := randomSecret(t)
			if err := s.Set("personal/work", sec); err != nil {
				t.Fatal(err)
			}
			assertNotOnDisk(t, path, sec)

			for _, tc := range []struct {
				name string
				pass func() ([]byte, error)
				why  string
			}{
				{"no passphrase", nil, "no passphrase was given"},
				{"prompt failed", func() ([]byte, error) { return nil, errors.New("no terminal") }, "no terminal"},
				{"empty passphrase", passphraseOf(""), "empty"},
			} {
				path := filepath.Join(dir, tc.name+".enc")
				_, err := Open(Config{Namespace: "byokd-test", FilePath: path, Passphrase: tc.pass})
				t.Logf("%s: %v", tc.name, err)
				for _, want := range []string{"no OS keychain answered", tc.why, "BYOKD_KEYSTORE_PASSPHRASE", "terminal", "gnome-keyring"} {
					if err == nil || !strings.Contains(err.Error(), want) {
						t.Errorf("%s: got %v, want an error containing %q", tc.name, err, want)
					}
				}
				if errors.Is(err, byok.ErrNotFound) {
					t.Errorf("%s: got %v, want it not to read as not found", tc.name, err)
				}
				if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s: a key file was created: %v", tc.name, err)
				}
			}
		})
	}
}
