package keystore

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	byok "byokd.dev/byok"
	"github.com/google/go-cmp/cmp"
)

// testFile opens a key file with cheap key derivation.
func testFile(t *testing.T, path, passphrase string) *File {
	t.Helper()
	f, err := openFile(path, []byte(passphrase), testKDF)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return f
}

// assertFileHolds checks the secret through f and that it is not in the
// bytes on disk.
func assertFileHolds(t *testing.T, f *File, ref string, want byok.Secret) {
	t.Helper()
	got, err := f.Get(ref)
	if err != nil {
		t.Fatalf("get %s: %v", ref, err)
	}
	if !got.Equal(want) {
		t.Errorf("get %s: got %q, want %q", ref, got.Reveal(), want.Reveal())
	}
	assertNotOnDisk(t, f.Path(), want)
}

func assertNotOnDisk(t *testing.T, path string, secrets ...byok.Secret) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if bytes.Contains(data, []byte(s.Reveal())) {
			t.Errorf("%s contains a secret in the clear", path)
		}
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("mode of %s: got %v, want %v", path, got, want)
	}
}

func TestFile_RoundTripAcrossReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "byokd")
	path := filepath.Join(dir, "keys.enc")
	work, home, team := randomSecret(t), randomSecret(t), randomSecret(t)

	f := testFile(t, path, "correct horse")
	assertMode(t, dir, 0o700)
	assertMode(t, path, 0o600)
	_, err := f.Get("personal/work")
	wantErrIs(t, "get from a new file", err, byok.ErrNotFound)
	for ref, s := range map[string]byok.Secret{"personal/work": work, "personal/home": randomSecret(t), "team/team-openai": team} {
		if err := f.Set(ref, s); err != nil {
			t.Fatalf("set %s: %v", ref, err)
		}
	}
	if err := f.Set("personal/home", home); err != nil {
		t.Fatalf("overwrite: %v", err)
	}

	f = testFile(t, path, "correct horse")
	assertFileHolds(t, f, "personal/work", work)
	assertFileHolds(t, f, "personal/home", home)
	assertFileHolds(t, f, "team/team-openai", team)
	assertMode(t, path, 0o600)

	if err := f.Delete("personal/work"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	f = testFile(t, path, "correct horse")
	_, err = f.Get("personal/work")
	wantErrIs(t, "get after delete and reopen", err, byok.ErrNotFound)
	err = f.Delete("personal/work")
	wantErrIs(t, "delete again", err, byok.ErrNotFound)
	assertFileHolds(t, f, "personal/home", home)
	assertNotOnDisk(t, path, work, home, team)

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"keys.enc"}, names); diff != "" {
		t.Errorf("files left in %s (-want +got):\n%s", dir, diff)
	}
}

// TestFile_DefaultParameters opens a file as byokd does, with the real
// Argon2id cost, and checks the header records it.
func TestFile_DefaultParameters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.enc")
	s := randomSecret(t)
	f, err := OpenFile(path, []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Set("personal/work", s); err != nil {
		t.Fatal(err)
	}
	f, err = OpenFile(path, []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	assertFileHolds(t, f, "personal/work", s)

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	want := kdfParams{Algorithm: "argon2id", Time: 3, MemoryKiB: 65536, Threads: 4}
	got := env.KDF
	if len(got.Salt) != 16 {
		t.Errorf("salt length: got %d, want 16", len(got.Salt))
	}
	got.Salt = nil
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("kdf in header (-want +got):\n%s", diff)
	}
	if env.Format != "byokd-keystore" || env.Version != 1 || env.Cipher != "xchacha20-poly1305" {
		t.Errorf("header: got format %q version %d cipher %q, want byokd-keystore 1 xchacha20-poly1305", env.Format, env.Version, env.Cipher)
	}
}

func TestFile_FreshSaltAndNonce(t *testing.T) {
	dir := t.TempDir()
	read := func(path string) envelope {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var env envelope
		if err := json.Unmarshal(data, &env); err != nil {
			t.Fatal(err)
		}
		return env
	}
	a := testFile(t, filepath.Join(dir, "a.enc"), "same passphrase")
	b := testFile(t, filepath.Join(dir, "b.enc"), "same passphrase")
	if bytes.Equal(read(a.Path()).KDF.Salt, read(b.Path()).KDF.Salt) {
		t.Errorf("two files share a salt")
	}
	s := randomSecret(t)
	if err := a.Set("personal/work", s); err != nil {
		t.Fatal(err)
	}
	first := read(a.Path())
	if err := a.Set("personal/work", s); err != nil {
		t.Fatal(err)
	}
	second := read(a.Path())
	if bytes.Equal(first.Nonce, second.Nonce) {
		t.Errorf("two writes used the same nonce")
	}
	if !bytes.Equal(first.KDF.Salt, second.KDF.Salt) {
		t.Errorf("a write changed the file's salt")
	}
}

func TestFile_WrongPassphrase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.enc")
	s := randomSecret(t)
	if err := testFile(t, path, "correct horse").Set("personal/work", s); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)

	_, err := openFile(path, []byte("battery staple"), testKDF)
	wantErrIs(t, "open with the wrong passphrase", err, ErrWrongPassphrase)
	if err != nil && !strings.HasPrefix(err.Error(), "wrong passphrase for "+path+": ") {
		t.Errorf("got %q, want it to start %q", err, "wrong passphrase for "+path+": ")
	}
	assertNoSecret(t, err, s, byok.NewSecret("battery staple"), byok.NewSecret("correct horse"))
	if errors.Is(err, ErrCorrupt) {
		t.Errorf("got %v, want it not to call the file corrupt", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Errorf("opening with the wrong passphrase changed the file")
	}

	_, err = openFile(path, nil, testKDF)
	if err == nil || !strings.Contains(err.Error(), "BYOKD_KEYSTORE_PASSPHRASE") {
		t.Errorf("open with an empty passphrase: got %v, want an error naming BYOKD_KEYSTORE_PASSPHRASE", err)
	}
}

// TestFile_Corrupted damages a key file in the ways disks and people do and
// checks each is reported, never replaced.
func TestFile_Corrupted(t *testing.T) {
	editJSON := func(edit func(m map[string]any)) func([]byte) []byte {
		return func(b []byte) []byte {
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			edit(m)
			out, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
	}
	flipByte := func(field string) func(m map[string]any) {
		return func(m map[string]any) {
			b, err := base64.StdEncoding.DecodeString(m[field].(string))
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x01
			m[field] = base64.StdEncoding.EncodeToString(b)
		}
	}
	tests := []struct {
		name    string
		damage  func([]byte) []byte
		want    error  // sentinel the error must match
		message string // text the error must contain
	}{
		{"empty", func([]byte) []byte { return nil }, ErrCorrupt, "the file is empty"},
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }, ErrCorrupt, "not valid JSON"},
		{"not a key file", func([]byte) []byte { return []byte(`{"hello":"world"}`) }, ErrCorrupt, "not a byokd key file"},
		{"sealed byte flipped", editJSON(flipByte("sealed")), ErrCorrupt, "integrity check"},
		{"nonce byte flipped", editJSON(flipByte("nonce")), ErrCorrupt, "integrity check"},
		{"cipher renamed", editJSON(func(m map[string]any) { m["cipher"] = "rot13" }), ErrCorrupt, `unknown cipher "rot13"`},
		{"huge memory cost", editJSON(func(m map[string]any) { m["kdf"].(map[string]any)["memory_kib"] = 1 << 31 }), ErrCorrupt, "out of range"},
		{"nonce missing", editJSON(func(m map[string]any) { delete(m, "nonce") }), ErrCorrupt, "nonce is missing"},
		// A damaged salt or check derives another key, which cannot be told
		// apart from another passphrase.
		{"salt byte flipped", editJSON(func(m map[string]any) { flipByte("salt")(m["kdf"].(map[string]any)) }), ErrWrongPassphrase, "wrong passphrase"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keys.enc")
			s := randomSecret(t)
			f := testFile(t, path, "correct horse")
			if err := f.Set("personal/work", s); err != nil {
				t.Fatal(err)
			}
			good, _ := os.ReadFile(path)
			bad := tt.damage(good)
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}

			_, err := openFile(path, []byte("correct horse"), testKDF)
			wantErrIs(t, "open", err, tt.want)
			if err != nil && !strings.Contains(err.Error(), tt.message) {
				t.Errorf("open: got %q, want it to contain %q", err, tt.message)
			}
			if errors.Is(err, ErrCorrupt) && !strings.Contains(err.Error(), path) {
				t.Errorf("open: got %q, want it to name %s", err, path)
			}
			assertNoSecret(t, err, s)

			// A store opened before the damage must not paper over it.
			err = f.Set("personal/home", randomSecret(t))
			wantErrIs(t, "set on the damaged file", err, tt.want)
			_, err = f.Get("personal/work")
			wantErrIs(t, "get from the damaged file", err, tt.want)
			assertNoSecret(t, err, s)

			after, _ := os.ReadFile(path)
			if !bytes.Equal(after, bad) {
				t.Errorf("the damaged file was rewritten")
			}
		})
	}
}

func TestFile_NewerVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.enc")
	testFile(t, path, "correct horse")
	data, _ := os.ReadFile(path)
	data = bytes.Replace(data, []byte(`"version": 1`), []byte(`"version": 2`), 1)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := openFile(path, []byte("correct horse"), testKDF)
	if err == nil || !strings.Contains(err.Error(), "upgrade byokd") || errors.Is(err, ErrCorrupt) {
		t.Errorf("open a version 2 file: got %v, want an error saying to upgrade byokd", err)
	}
}

// TestFile_SeesOtherWriters checks that a second store on the same file, as
// in another process, reads what the first wrote and keeps it when writing.
func TestFile_SeesOtherWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.enc")
	a, b := testFile(t, path, "correct horse"), testFile(t, path, "correct horse")
	sa, sb := randomSecret(t), randomSecret(t)
	if err := a.Set("personal/a", sa); err != nil {
		t.Fatal(err)
	}
	assertFileHolds(t, b, "personal/a", sa)
	if err := b.Set("personal/b", sb); err != nil {
		t.Fatal(err)
	}
	assertFileHolds(t, a, "personal/a", sa)
	assertFileHolds(t, a, "personal/b", sb)
}

func TestFile_Concurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.enc")
	f := testFile(t, path, "correct horse")
	want := map[string]string{}
	for i := range 16 {
		want[fmt.Sprintf("personal/k%d", i)] = randomSecret(t).Reveal()
	}
	var wg sync.WaitGroup
	for ref, v := range want {
		wg.Go(func() {
			if err := f.Set(ref, byok.NewSecret(v)); err != nil {
				t.Errorf("set %s: %v", ref, err)
			}
			if got, err := f.Get(ref); err != nil || got.Reveal() != v {
				t.Errorf("get %s: got %v, %v; want the secret just set", ref, got, err)
			}
		})
	}
	wg.Wait()
	got := map[string]string{}
	f = testFile(t, path, "correct horse")
	for ref := range want {
		s, err := f.Get(ref)
		if err != nil {
			t.Fatalf("get %s after reopen: %v", ref, err)
		}
		got[ref] = s.Reveal()
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("secrets after concurrent writes (-want +got):\n%s", diff)
	}
}
