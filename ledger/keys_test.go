package ledger

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"byokd.dev/byok"
)

func key(svc byok.Service, name string, primary bool, created int) byok.KeyInfo {
	return byok.KeyInfo{
		Service: svc, Name: name, Fingerprint: "…" + name[len(name)-1:] + "xyz",
		Budget: byok.USD(10), Primary: primary, Created: base.Add(time.Duration(created) * time.Minute),
	}
}

func keys(t *testing.T, d *DB) []byok.KeyInfo {
	t.Helper()
	ks, err := d.Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func primaries(ks []byok.KeyInfo) map[byok.Service]string {
	m := map[byok.Service]string{}
	for _, k := range ks {
		if k.Primary {
			if _, dup := m[k.Service]; dup {
				m[k.Service] = "TWO PRIMARIES"
				continue
			}
			m[k.Service] = k.Name
		}
	}
	return m
}

func TestKeys_PrimarySemantics(t *testing.T) {
	ctx := context.Background()
	d, _ := openTemp(t)
	steps := []struct {
		name string
		do   func() error
		want map[byok.Service]string
	}{
		{"first key of a service becomes primary", func() error { return d.AddKey(ctx, key(byok.OpenAI, "work", false, 1)) },
			map[byok.Service]string{byok.OpenAI: "work"}},
		{"second key does not", func() error { return d.AddKey(ctx, key(byok.OpenAI, "home", false, 2)) },
			map[byok.Service]string{byok.OpenAI: "work"}},
		{"other service has its own", func() error { return d.AddKey(ctx, key(byok.Anthropic, "main", false, 3)) },
			map[byok.Service]string{byok.OpenAI: "work", byok.Anthropic: "main"}},
		{"a key added as primary takes over", func() error { return d.AddKey(ctx, key(byok.OpenAI, "zeta", true, 4)) },
			map[byok.Service]string{byok.OpenAI: "zeta", byok.Anthropic: "main"}},
		{"SetPrimary moves it", func() error { return d.SetPrimary(ctx, byok.OpenAI, "home") },
			map[byok.Service]string{byok.OpenAI: "home", byok.Anthropic: "main"}},
		{"removing a non-primary keeps it", func() error { return d.RemoveKey(ctx, byok.OpenAI, "zeta") },
			map[byok.Service]string{byok.OpenAI: "home", byok.Anthropic: "main"}},
		{"removing the primary promotes the oldest", func() error { return d.RemoveKey(ctx, byok.OpenAI, "home") },
			map[byok.Service]string{byok.OpenAI: "work", byok.Anthropic: "main"}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if diff := cmp.Diff(s.want, primaries(keys(t, d))); diff != "" {
			t.Errorf("%s: primaries (-want +got):\n%s", s.name, diff)
		}
	}
}

func TestKeys_ListOrderAndFields(t *testing.T) {
	ctx := context.Background()
	d, _ := openTemp(t)
	for _, k := range []byok.KeyInfo{
		key(byok.OpenAI, "b-key", false, 1), // primary: first of openai
		key(byok.OpenAI, "a-key", false, 2),
		key(byok.Anthropic, "c-key", false, 3),
		key(byok.OpenAI, "c-key", false, 4),
	} {
		if err := d.AddKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	want := []byok.KeyInfo{
		key(byok.Anthropic, "c-key", true, 3),
		key(byok.OpenAI, "b-key", true, 1),
		key(byok.OpenAI, "a-key", false, 2),
		key(byok.OpenAI, "c-key", false, 4),
	}
	if diff := cmp.Diff(want, keys(t, d), cmpEvents); diff != "" {
		t.Errorf("Keys (-want +got):\n%s", diff)
	}
}

func TestKeys_Errors(t *testing.T) {
	ctx := context.Background()
	d, _ := openTemp(t)
	if err := d.AddKey(ctx, key(byok.OpenAI, "work", false, 1)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"duplicate name", d.AddKey(ctx, key(byok.OpenAI, "work", true, 2)), byok.ErrExists},
		{"remove unknown", d.RemoveKey(ctx, byok.OpenAI, "nope"), byok.ErrNotFound},
		{"remove from other service", d.RemoveKey(ctx, byok.Anthropic, "work"), byok.ErrNotFound},
		{"primary unknown", d.SetPrimary(ctx, byok.OpenAI, "nope"), byok.ErrNotFound},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	// The failed AddKey with Primary set changed nothing.
	if diff := cmp.Diff([]byok.KeyInfo{key(byok.OpenAI, "work", true, 1)}, keys(t, d), cmpEvents); diff != "" {
		t.Errorf("Keys after failed calls (-want +got):\n%s", diff)
	}
}

func TestKeys_CreatedDefaultsToClock(t *testing.T) {
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	d := openAt(t, t.TempDir()+"/ledger.db", Options{Now: func() time.Time { return now }})
	k := byok.KeyInfo{Service: byok.ClickUp, Name: "me"}
	if err := d.AddKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	ks := keys(t, d)
	if len(ks) != 1 || !ks[0].Created.Equal(now) {
		t.Errorf("Keys: got %+v, want one key created %v", ks, now)
	}
}
