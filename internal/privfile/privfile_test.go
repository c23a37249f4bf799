package privfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrivateFolderAndFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	if err := PrepareDir(dir, "state folder"); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("folder mode %04o, want 0700", fi.Mode().Perm())
	}
	p := filepath.Join(dir, "token")
	if err := Write(p, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, []byte("two")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Errorf("content %q, want two", b)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %04o, want 0600", fi.Mode().Perm())
	}
	if err := Check(p); err != nil {
		t.Errorf("Check on a 0600 file: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries, want only the file (no temp files left)", len(entries))
	}
	os.Chmod(p, 0o644)
	if err := Check(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("Check on a 0644 file: %v, want a refusal saying what to do", err)
	}
	os.Chmod(dir, 0o755)
	if err := PrepareDir(dir, "state folder"); err == nil || !strings.Contains(err.Error(), "chmod 700") {
		t.Errorf("PrepareDir on a 0755 folder: %v, want a refusal", err)
	}
}
