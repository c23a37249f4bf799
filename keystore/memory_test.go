package keystore

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	byok "byokd.dev/byok"
)

func TestMemory_SetGetOverwriteDelete(t *testing.T) {
	m := NewMemory()
	first, second := randomSecret(t), randomSecret(t)
	_, err := m.Get("personal/work")
	wantErrIs(t, "get before set", err, byok.ErrNotFound)
	if err := m.Set("personal/work", first); err != nil {
		t.Fatal(err)
	}
	if got, err := m.Get("personal/work"); err != nil || !got.Equal(first) {
		t.Errorf("get: got %q, %v; want %q", got.Reveal(), err, first.Reveal())
	}
	if err := m.Set("personal/work", second); err != nil {
		t.Fatal(err)
	}
	if got, err := m.Get("personal/work"); err != nil || !got.Equal(second) {
		t.Errorf("get after overwrite: got %q, %v; want %q", got.Reveal(), err, second.Reveal())
	}
	if err := m.Delete("personal/work"); err != nil {
		t.Fatal(err)
	}
	_, err = m.Get("personal/work")
	wantErrIs(t, "get after delete", err, byok.ErrNotFound)
	err = m.Delete("personal/work")
	wantErrIs(t, "delete again", err, byok.ErrNotFound)
	assertNoSecret(t, err, first, second)
}

func TestMemory_RefusesBadInput(t *testing.T) {
	s := randomSecret(t)
	tests := []struct {
		name string
		ref  string
		s    byok.Secret
	}{
		{"empty ref", "", s},
		{"control character in ref", "personal/\x00work", s},
		{"empty secret", "personal/work", byok.Secret{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewMemory().Set(tt.ref, tt.s)
			if err == nil {
				t.Fatalf("set: got no error, want one")
			}
			assertNoSecret(t, err, s)
		})
	}
}

func TestMemory_Concurrent(t *testing.T) {
	m := NewMemory()
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			ref := fmt.Sprintf("personal/k%d", i%4)
			s := byok.NewSecret(fmt.Sprintf("sk-%d", i))
			if err := m.Set(ref, s); err != nil {
				t.Errorf("set %s: %v", ref, err)
			}
			if _, err := m.Get(ref); err != nil {
				t.Errorf("get %s: %v", ref, err)
			}
			if err := m.Delete(ref); err != nil && !errors.Is(err, byok.ErrNotFound) {
				t.Errorf("delete %s: %v", ref, err)
			}
		})
	}
	wg.Wait()
}
