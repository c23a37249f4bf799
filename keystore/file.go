package keystore

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	byok "byokd.dev/byok"
	"golang.org/x/crypto/chacha20poly1305"
)

// ErrWrongPassphrase is matched by the error of a passphrase that does not
// unlock a key file.
var ErrWrongPassphrase = errors.New("wrong passphrase")

// ErrCorrupt is matched by the error of a key file that is damaged or not a
// key file. A corrupt file is never replaced or rewritten.
var ErrCorrupt = errors.New("key file corrupt")

// File stores secrets in one file sealed with a passphrase: Argon2id
// derives a key from the passphrase and a random per-file salt, and
// XChaCha20-Poly1305 seals the whole set of secrets with a fresh nonce on
// every write. Writes replace the file atomically (a temporary file in the
// same folder, synced, then renamed) with mode 0600.
//
// File rereads the file on every call, so a change written by another
// process is seen at once; two processes writing at the same moment may lose
// one of the two writes. It is safe for concurrent use within a process.
type File struct {
	path       string
	passphrase []byte
	newKDF     kdfParams // for a file this creates

	mu     sync.Mutex // serialises reads and writes of the file
	key    []byte     // derived for keyKDF
	keyKDF kdfParams
}

// OpenFile opens the key file at path, creating it, empty, if it is missing
// (mode 0600, in a folder created with mode 0700). A passphrase that does
// not unlock an existing file gives an error matching ErrWrongPassphrase; a
// damaged file one matching ErrCorrupt.
func OpenFile(path string, passphrase []byte) (*File, error) {
	return openFile(path, passphrase, defaultKDF())
}

// openFile lets tests create files with cheaper key derivation.
func openFile(path string, passphrase []byte, kdf kdfParams) (*File, error) {
	if len(passphrase) == 0 {
		return nil, fmt.Errorf("open key file %s: the passphrase is empty: set BYOKD_KEYSTORE_PASSPHRASE or type one when asked", path)
	}
	f := &File{path: path, passphrase: append([]byte(nil), passphrase...), newKDF: kdf}
	f.mu.Lock()
	defer f.mu.Unlock()
	_, _, err := f.load()
	if errors.Is(err, fs.ErrNotExist) {
		err = f.create()
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Path is the key file's location.
func (f *File) Path() string { return f.path }

// Get returns the secret stored under ref.
func (f *File) Get(ref string) (byok.Secret, error) {
	if err := checkRef(ref); err != nil {
		return byok.Secret{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	secrets, _, err := f.load()
	if err != nil {
		return byok.Secret{}, fmt.Errorf("get %q: %w", ref, err)
	}
	v, ok := secrets[ref]
	if !ok {
		return byok.Secret{}, fmt.Errorf("get %q: no such secret in key file %s: %w", ref, f.path, byok.ErrNotFound)
	}
	return byok.NewSecret(v), nil
}

// Set stores s under ref, replacing any secret already there.
func (f *File) Set(ref string, s byok.Secret) error {
	if err := checkRef(ref); err != nil {
		return err
	}
	if err := checkSecret(ref, s); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	secrets, kdf, err := f.load()
	if err != nil {
		return fmt.Errorf("set %q: %w", ref, err)
	}
	secrets[ref] = s.Reveal()
	if err := f.save(secrets, kdf); err != nil {
		return fmt.Errorf("set %q: %w", ref, err)
	}
	return nil
}

// Delete removes the secret under ref.
func (f *File) Delete(ref string) error {
	if err := checkRef(ref); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	secrets, kdf, err := f.load()
	if err != nil {
		return fmt.Errorf("delete %q: %w", ref, err)
	}
	if _, ok := secrets[ref]; !ok {
		return fmt.Errorf("delete %q: no such secret in key file %s: %w", ref, f.path, byok.ErrNotFound)
	}
	delete(secrets, ref)
	if err := f.save(secrets, kdf); err != nil {
		return fmt.Errorf("delete %q: %w", ref, err)
	}
	return nil
}

// create writes an empty file with a fresh salt.
func (f *File) create() error {
	if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
		return fmt.Errorf("create key file: %w", err)
	}
	kdf := f.newKDF
	kdf.Salt = make([]byte, saltLen)
	rand.Read(kdf.Salt)
	if err := f.save(map[string]string{}, kdf); err != nil {
		return fmt.Errorf("create key file: %w", err)
	}
	return nil
}

// load reads and opens the file. Callers hold f.mu.
func (f *File) load() (map[string]string, kdfParams, error) {
	data, err := os.ReadFile(f.path)
	if err != nil {
		return nil, kdfParams{}, fmt.Errorf("read key file: %w", err)
	}
	env, err := parseEnvelope(data)
	if errors.Is(err, errNewerVersion) {
		return nil, kdfParams{}, fmt.Errorf("key file %s was written by a newer byokd (%v): upgrade byokd", f.path, err)
	}
	if err != nil {
		return nil, kdfParams{}, &corruptError{path: f.path, detail: err.Error()}
	}
	key := f.keyFor(env.KDF)
	if !hmac.Equal(checkValue(key), env.Check) {
		return nil, kdfParams{}, &passphraseError{path: f.path}
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, kdfParams{}, fmt.Errorf("open key file: %w", err)
	}
	plain, err := aead.Open(nil, env.Nonce, env.Sealed, additionalData(env))
	if err != nil {
		return nil, kdfParams{}, &corruptError{path: f.path, detail: "its sealed contents fail their integrity check"}
	}
	defer clear(plain)
	var c contents
	if err := json.Unmarshal(plain, &c); err != nil {
		return nil, kdfParams{}, &corruptError{path: f.path, detail: "its decrypted contents are not valid"}
	}
	if c.Secrets == nil {
		c.Secrets = map[string]string{}
	}
	return c.Secrets, env.KDF, nil
}

// save seals secrets under kdf's key with a fresh nonce and replaces the
// file. Callers hold f.mu.
func (f *File) save(secrets map[string]string, kdf kdfParams) error {
	key := f.keyFor(kdf)
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return fmt.Errorf("seal key file: %w", err)
	}
	env := &envelope{
		Format:  fileFormat,
		Version: fileVersion,
		KDF:     kdf,
		Cipher:  cipherXChaCha,
		Check:   checkValue(key),
		Nonce:   make([]byte, chacha20poly1305.NonceSizeX),
	}
	rand.Read(env.Nonce)
	plain, err := json.Marshal(contents{Secrets: secrets})
	if err != nil {
		return fmt.Errorf("seal key file: %w", err)
	}
	env.Sealed = aead.Seal(nil, env.Nonce, plain, additionalData(env))
	clear(plain)
	out, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return fmt.Errorf("seal key file: %w", err)
	}
	return writeAtomic(f.path, append(out, '\n'))
}

// keyFor derives the key for kdf, reusing the last one when the parameters
// and salt are unchanged. Callers hold f.mu.
func (f *File) keyFor(kdf kdfParams) []byte {
	if f.key == nil || !f.keyKDF.equal(kdf) {
		f.key = kdf.derive(f.passphrase)
		f.keyKDF = kdf
	}
	return f.key
}

// passphraseError is a passphrase that does not unlock the file.
type passphraseError struct{ path string }

func (e *passphraseError) Error() string {
	return fmt.Sprintf("wrong passphrase for %s: it does not unlock this key file; check BYOKD_KEYSTORE_PASSPHRASE or the passphrase you typed", e.path)
}

func (e *passphraseError) Is(target error) bool { return target == ErrWrongPassphrase }

// corruptError is a damaged file.
type corruptError struct{ path, detail string }

func (e *corruptError) Error() string {
	return fmt.Sprintf("key file %s is corrupt: %s; byokd left it untouched: restore it from a backup, or move it away to start with an empty key file", e.path, e.detail)
}

func (e *corruptError) Is(target error) bool { return target == ErrCorrupt }
