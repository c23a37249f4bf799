package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"byokd.dev/byok/packaging"
)

// TestDist_SignedChecksums builds a .deb as a release does, with a
// throwaway GnuPG key: what a user downloads verifies with the public
// key and sha256sum, and a package changed afterwards fails.
func TestDist_SignedChecksums(t *testing.T) {
	for _, tool := range []string{"gpg", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: run scripts/setup", tool)
		}
	}
	gnupg := t.TempDir()
	t.Setenv("GNUPGHOME", gnupg)
	t.Cleanup(func() { _ = exec.Command("gpgconf", "--kill", "all").Run() })
	const signer = "byokd release test <release-test@byokd.invalid>"
	if out, err := exec.Command("gpg", "--batch", "--passphrase", "", "--quick-gen-key", signer, "ed25519", "sign", "never").CombinedOutput(); err != nil {
		t.Fatalf("make a test key: %v\n%s", err, out)
	}
	out := t.TempDir()
	err := run(context.Background(), options{
		stamp:   packaging.Stamp{Version: "v1.2.0-0-gabc1234", Commit: "abc1234", Date: "2026-01-02T03:04:05Z"},
		out:     out,
		only:    []string{"linux/" + runtime.GOARCH},
		formats: []string{"deb"},
		signer:  "release-test@byokd.invalid",
	})
	if err != nil {
		t.Fatal(err)
	}
	// The user's side: the public key, then gpg and sha256sum.
	pub, err := exec.Command("gpg", "--armor", "--export", "release-test@byokd.invalid").Output()
	if err != nil || !strings.Contains(string(pub), "BEGIN PGP PUBLIC KEY BLOCK") {
		t.Fatalf("export the public key: %v", err)
	}
	user := t.TempDir()
	// verify is what the packaging docs tell users to run; it returns
	// the first check's complaint, or "" when both pass.
	verify := func() string {
		for _, args := range [][]string{
			{"gpg", "--batch", "--no-default-keyring", "--keyring", filepath.Join(user, "byokd.kbx"), "--verify", "SHA256SUMS.asc", "SHA256SUMS"},
			{"sha256sum", "--check", "--strict", "SHA256SUMS"},
		} {
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Dir = out
			if b, err := cmd.CombinedOutput(); err != nil {
				return args[0] + ": " + err.Error() + "\n" + string(b)
			}
		}
		return ""
	}
	imp := exec.Command("gpg", "--batch", "--no-default-keyring", "--keyring", filepath.Join(user, "byokd.kbx"), "--import")
	imp.Stdin = strings.NewReader(string(pub))
	if b, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("import the public key: %v\n%s", err, b)
	}
	if why := verify(); why != "" {
		t.Fatalf("the release does not verify: %s", why)
	}
	sums, _ := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if !strings.Contains(string(sums), "byokd_1.2.0_"+runtime.GOARCH+".deb") {
		t.Fatalf("SHA256SUMS does not name the package:\n%s", sums)
	}

	// A changed package fails the checksums; changed checksums fail the
	// signature.
	deb := filepath.Join(out, "byokd_1.2.0_"+runtime.GOARCH+".deb")
	f, err := os.OpenFile(deb, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("x"))
	f.Close()
	if why := verify(); !strings.HasPrefix(why, "sha256sum:") {
		t.Errorf("a package changed after signing: %q, want sha256sum to refuse it", why)
	}
	if err := os.WriteFile(filepath.Join(out, "SHA256SUMS"), append(sums, []byte("0000  extra\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if why := verify(); !strings.HasPrefix(why, "gpg:") {
		t.Errorf("SHA256SUMS changed after signing: %q, want gpg to refuse it", why)
	}
}
