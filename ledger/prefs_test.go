package ledger

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"byokd.dev/byok"
)

func TestPrefs_SetAndReplace(t *testing.T) {
	ctx := context.Background()
	d, _ := openTemp(t)
	if got, err := d.Prefs(ctx); err != nil || len(got) != 0 {
		t.Errorf("Prefs on a new ledger: got %v, %v, want empty", got, err)
	}
	for _, p := range []struct {
		svc  byok.Service
		pref Pref
	}{
		{byok.OpenAI, Pref{Preference: byok.PreferShared}},
		{byok.Anthropic, Pref{Preference: byok.PreferAsk, Fallback: true, FallbackOnRateLimit: true, OverBudget: "block"}},
		{byok.OpenAI, Pref{Preference: byok.PreferPersonal, Fallback: true}}, // replaces the first
	} {
		if err := d.SetPref(ctx, p.svc, p.pref); err != nil {
			t.Fatal(err)
		}
	}
	want := map[byok.Service]Pref{
		byok.OpenAI:    {Preference: byok.PreferPersonal, Fallback: true, OverBudget: "warn"},
		byok.Anthropic: {Preference: byok.PreferAsk, Fallback: true, FallbackOnRateLimit: true, OverBudget: "block"},
	}
	got, err := d.Prefs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Prefs (-want +got):\n%s", diff)
	}
	if err := d.SetPref(ctx, byok.OpenAI, Pref{Preference: "sometimes"}); err == nil {
		t.Errorf("SetPref(sometimes): got nil error, want one")
	}
	if err := d.SetPref(ctx, byok.OpenAI, Pref{Preference: byok.PreferPersonal, OverBudget: "panic"}); err == nil {
		t.Errorf("SetPref(over budget panic): got nil error, want one")
	}
}

func TestMeta_SetAndReplace(t *testing.T) {
	ctx := context.Background()
	d, _ := openTemp(t)
	if _, err := d.Meta(ctx, "install_id"); !errors.Is(err, byok.ErrNotFound) {
		t.Errorf("Meta(unset): got %v, want ErrNotFound", err)
	}
	for _, v := range []string{"first", `{"version":2}`} {
		if err := d.SetMeta(ctx, "policy", v); err != nil {
			t.Fatal(err)
		}
		if got, err := d.Meta(ctx, "policy"); err != nil || got != v {
			t.Errorf("Meta(policy): got %q, %v, want %q", got, err, v)
		}
	}
}
