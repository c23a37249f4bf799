package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"byokd.dev/byok"
	"byokd.dev/byok/hub/pgstore"
	"byokd.dev/byok/internal/pgtest"
)

func newKey(t *testing.T) []byte {
	k := make([]byte, pgstore.SealingKeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// TestSecrets_SealedNeverInTheClear: a shared key set on one replica is
// read on another given the same sealing key; the database's dump holds
// it in no form; a replica with another key is refused at start; a
// sealed value moved to another name does not open.
func TestSecrets_SealedNeverInTheClear(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	key := newKey(t)
	one, err := open(t, url).Secrets(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "sk-team-0123456789abcdef-very-secret"
	for _, ref := range []string{"team/team-openai", "team/other"} {
		if err := one.Set(ref, byok.NewSecret(secret+ref)); err != nil {
			t.Fatal(err)
		}
	}
	two, err := open(t, url).Secrets(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := two.Get("team/team-openai")
	if err != nil || got.Reveal() != secret+"team/team-openai" {
		t.Fatalf("the other replica reads %v, %v", got.Reveal() == secret, err)
	}
	dump := pgtest.Dump(t, url)
	if !strings.Contains(dump, "sealed_secrets") {
		t.Fatalf("the dump has no sealed_secrets table:\n%s", dump)
	}
	for _, form := range []string{secret, hex.EncodeToString([]byte(secret)), base64.StdEncoding.EncodeToString([]byte(secret))[:20],
		hex.EncodeToString(key), base64.StdEncoding.EncodeToString(key)} {
		if strings.Contains(dump, form) {
			t.Errorf("the database dump holds %q", form)
		}
	}
	if _, err := open(t, url).Secrets(ctx, newKey(t)); err == nil || !strings.Contains(err.Error(), "give every replica the key") {
		t.Errorf("a replica with another sealing key: got %v, want it refused", err)
	}
	// Swap the sealed values of the two names: neither opens.
	c := conn(t, url)
	if _, err := c.Exec(ctx, `UPDATE sealed_secrets s SET nonce = o.nonce, sealed = o.sealed FROM sealed_secrets o WHERE s.ref <> o.ref`); err != nil {
		t.Fatal(err)
	}
	if _, err := two.Get("team/other"); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("a sealed value under another name: got %v, want it refused", err)
	}
	if err := two.Delete("team/other"); err != nil {
		t.Fatal(err)
	}
	if _, err := two.Get("team/other"); !errors.Is(err, byok.ErrNotFound) {
		t.Errorf("get a deleted key: got %v, want byok.ErrNotFound", err)
	}
	if err := two.Delete("team/other"); !errors.Is(err, byok.ErrNotFound) {
		t.Errorf("delete a deleted key: got %v, want byok.ErrNotFound", err)
	}
}

func TestParseSealingKey(t *testing.T) {
	k := newKey(t)
	for _, text := range []string{base64.StdEncoding.EncodeToString(k) + "\n", base64.RawURLEncoding.EncodeToString(k)} {
		got, err := pgstore.ParseSealingKey(text)
		if err != nil || string(got) != string(k) {
			t.Errorf("ParseSealingKey(%q): got %x, %v", text, got, err)
		}
	}
	for _, text := range []string{"", "not base64!", base64.StdEncoding.EncodeToString(k[:16])} {
		if _, err := pgstore.ParseSealingKey(text); err == nil || !strings.Contains(err.Error(), "openssl rand -base64 32") {
			t.Errorf("ParseSealingKey(%q): got %v, want an error saying how to make one", text, err)
		}
	}
}

// TestSecrets_RotateTheSealingKey follows the rotation docs/HUB-POSTGRES.md
// gives: replicas restarted with the new key and the old one read every
// shared key and seal new ones under the new key; Reseal seals the rest
// under it, once; after it a replica with only the new key reads them all
// and one with only the old key is refused at start.
func TestSecrets_RotateTheSealingKey(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	oldKey, newKey := newKey(t), newKey(t)
	before, err := open(t, url).Secrets(ctx, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"team/a", "team/b"} {
		if err := before.Set(ref, byok.NewSecret("sk-"+ref)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := open(t, url).Secrets(ctx, newKey); err == nil {
		t.Fatal("a replica with only the new key, before the reseal: started; want it refused")
	}
	during, err := open(t, url).Secrets(ctx, newKey, oldKey)
	if err != nil {
		t.Fatalf("a replica with the new key and the old: %v", err)
	}
	if err := during.Set("team/c", byok.NewSecret("sk-team/c")); err != nil {
		t.Fatal(err)
	}
	if n, err := during.Reseal(ctx); err != nil || n != 2 {
		t.Fatalf("Reseal: %d, %v; want the 2 keys under the old key resealed", n, err)
	}
	if n, err := during.Reseal(ctx); err != nil || n != 0 {
		t.Errorf("Reseal again: %d, %v; want nothing left to reseal", n, err)
	}
	after, err := open(t, url).Secrets(ctx, newKey)
	if err != nil {
		t.Fatalf("a replica with only the new key, after the reseal: %v", err)
	}
	for _, ref := range []string{"team/a", "team/b", "team/c"} {
		if got, err := after.Get(ref); err != nil || got.Reveal() != "sk-"+ref {
			t.Errorf("Get(%s) under the new key: %v", ref, err)
		}
	}
	if _, err := open(t, url).Secrets(ctx, oldKey); err == nil || !strings.Contains(err.Error(), "give every replica the key") {
		t.Errorf("a replica with only the old key, after the reseal: %v; want it refused", err)
	}
	if dump := pgtest.Dump(t, url); strings.Contains(dump, "sk-team/") {
		t.Error("the database dump holds a shared key in the clear")
	}
}
