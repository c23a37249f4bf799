package ledger

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"byokd.dev/byok"
)

func TestTokens_ByHashAndRevoke(t *testing.T) {
	ctx := context.Background()
	now := base
	d := openAt(t, t.TempDir()+"/ledger.db", Options{Now: func() time.Time { return now }})
	editorHash := sha256.Sum256([]byte("byok_app_editor-secret"))
	cliHash := sha256.Sum256([]byte("byok_app_cli-secret"))
	editor := byok.AppToken{Name: "editor", Project: "alpha", Created: base.Add(time.Hour)}
	cli := byok.AppToken{Name: "cli"} // Created from the clock
	if err := d.CreateToken(ctx, editor, editorHash); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateToken(ctx, cli, cliHash); err != nil {
		t.Fatal(err)
	}
	cli.Created = now

	got, err := d.TokenByHash(ctx, editorHash)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(editor, got, cmpEvents); diff != "" {
		t.Errorf("TokenByHash (-want +got):\n%s", diff)
	}

	if err := d.CreateToken(ctx, byok.AppToken{Name: "editor"}, sha256.Sum256([]byte("other"))); !errors.Is(err, byok.ErrExists) {
		t.Errorf("CreateToken with a taken name: got %v, want ErrExists", err)
	}
	if _, err := d.TokenByHash(ctx, sha256.Sum256([]byte("unknown"))); !errors.Is(err, byok.ErrNotFound) {
		t.Errorf("TokenByHash(unknown): got %v, want ErrNotFound", err)
	}

	if err := d.RevokeToken(ctx, "editor"); err != nil {
		t.Fatal(err)
	}
	if err := d.RevokeToken(ctx, "editor"); err != nil {
		t.Errorf("revoking twice: got %v, want nil", err)
	}
	if err := d.RevokeToken(ctx, "nope"); !errors.Is(err, byok.ErrNotFound) {
		t.Errorf("RevokeToken(unknown): got %v, want ErrNotFound", err)
	}
	got, err = d.TokenByHash(ctx, editorHash)
	if err != nil {
		t.Fatalf("TokenByHash(revoked): %v", err)
	}
	if !got.Revoked {
		t.Errorf("TokenByHash(revoked).Revoked: got false, want true")
	}

	all, err := d.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	editor.Revoked = true
	if diff := cmp.Diff([]byok.AppToken{cli, editor}, all, cmpEvents); diff != "" {
		t.Errorf("Tokens (-want +got):\n%s", diff)
	}
}
