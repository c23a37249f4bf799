package packaging

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// goCacheEnv keeps the user's Go build cache for builds a test starts:
// scripts/desktop-session points XDG_CACHE_HOME at a fresh folder, which
// would make every such build start cold.
func goCacheEnv() []string {
	if os.Getenv("GOCACHE") != "" {
		return nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	return []string{"GOCACHE=" + filepath.Join(h, ".cache", "go-build")}
}

// TestCrossBuilds builds cmd/byokd with cgo off for every platform a
// release ships, the tray-less macOS build included.
func TestCrossBuilds(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"linux/amd64": true, "linux/arm64": true, "windows/amd64": true, "darwin/arm64": true}
	for _, tg := range Targets() {
		if !want[tg.String()] {
			continue
		}
		delete(want, tg.String())
		t.Run(tg.GOOS+"_"+tg.GOARCH, func(t *testing.T) {
			cmd := BuildCmd(context.Background(), root, tg, Stamp{Version: "v0.0.0-test", Commit: "test", Date: "2026-01-01T00:00:00Z"}, os.DevNull)
			cmd.Env = append(cmd.Env, goCacheEnv()...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%v: %v\n%s", cmd.Args, err, out)
			}
		})
	}
	if len(want) > 0 {
		t.Errorf("Targets() lacks %v", want)
	}
}

func TestPackageVersion(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"v1.2.0", "1.2.0"},
		{"1.2.0", "1.2.0"},
		{"v1.2.0-0-gabc1234", "1.2.0"},
		{"v1.2.0-3-gabc1234", "1.2.0+3.gabc1234"},
		{"v1.2.0-3-gabc1234-dirty", "1.2.0+3.gabc1234.dirty"},
		{"v1.2.0-0-gabc1234-dirty", "1.2.0+dirty"},
		{"dev", "0.0.0~dev"},
		{"abc1234-dirty", "0.0.0~abc1234.dirty"},
	} {
		if got := PackageVersion(c.in); got != c.want {
			t.Errorf("PackageVersion(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestPackageVersion_SortsInCommitOrder asks dpkg itself: each build sorts
// after the one before it, across a release and its tag.
func TestPackageVersion_SortsInCommitOrder(t *testing.T) {
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Fatal("dpkg is not installed: run scripts/setup")
	}
	order := []string{"dev", "v0.0.0-1-g1111111", "v0.0.0-2-g0000000", "v0.0.0-10-gfff0000", "v0.1.0-0-gaaaaaaa",
		"v0.1.0-1-gbbbbbbb", "v0.1.0-9-gccccccc", "v0.1.0-11-gddddddd", "v0.2.0-0-geeeeeee", "v1.0.0-0-g0000001", "v1.0.0-1-g0000002"}
	for i := 1; i < len(order); i++ {
		a, b := PackageVersion(order[i-1]), PackageVersion(order[i])
		if err := exec.Command("dpkg", "--compare-versions", a, "lt", b).Run(); err != nil {
			t.Errorf("dpkg sorts %s (%s) not before %s (%s)", a, order[i-1], b, order[i])
		}
	}
}
