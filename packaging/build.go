package packaging

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
)

// Stamp is what `byokd version` prints, set with -ldflags.
type Stamp struct {
	Version, Commit, Date string
}

// LDFlags are the linker flags that stamp s into the binary and drop the
// symbol table.
func (s Stamp) LDFlags() string {
	return fmt.Sprintf("-s -w -X main.version=%s -X main.commit=%s -X main.date=%s", s.Version, s.Commit, s.Date)
}

// Target is one platform byokd is built for.
type Target struct {
	GOOS, GOARCH string
	// Tags are build tags; darwin builds use "notray", since
	// fyne.io/systray needs cgo for Cocoa there.
	Tags []string
}

func (t Target) String() string { return t.GOOS + "/" + t.GOARCH }

// Targets are the platforms `make dist` builds, all with CGO_ENABLED=0.
func Targets() []Target {
	return []Target{
		{GOOS: "linux", GOARCH: "amd64"},
		{GOOS: "linux", GOARCH: "arm64"},
		{GOOS: "windows", GOARCH: "amd64"},
		{GOOS: "darwin", GOARCH: "arm64", Tags: []string{"notray"}},
		{GOOS: "darwin", GOARCH: "amd64", Tags: []string{"notray"}},
	}
}

// BuildCmd returns the `go build` of cmd/byokd for t into out, run from
// the module root root, with cgo off.
func BuildCmd(ctx context.Context, root string, t Target, s Stamp, out string) *exec.Cmd {
	args := []string{"build", "-trimpath", "-ldflags", s.LDFlags(), "-o", out}
	if len(t.Tags) > 0 {
		args = append(args, "-tags", strings.Join(t.Tags, ","))
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "./cmd/byokd")...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS="+t.GOOS, "GOARCH="+t.GOARCH, "CGO_ENABLED=0")
	return cmd
}

// Manual is byokd(1) of the byokd built from root with stamp s: it
// builds byokd for this machine and asks it (`byokd man`), as the page is
// made from the command tree.
func Manual(ctx context.Context, root string, s Stamp) ([]byte, error) {
	dir, err := os.MkdirTemp("", "byokd-man-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	exe := filepath.Join(dir, "byokd")
	build := BuildCmd(ctx, root, Target{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Tags: []string{"notray"}}, s, exe)
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build byokd for its manual page: %w\n%s", err, out)
	}
	page, err := exec.CommandContext(ctx, exe, "man").Output()
	if err != nil {
		return nil, fmt.Errorf("byokd man: %w", err)
	}
	return page, nil
}

var describe = regexp.MustCompile(`^v?(\d+\.\d+\.\d+)(?:-(\d+)-g([0-9a-f]+))?(-dirty)?$`)

// PackageVersion turns what `git describe --tags --long --dirty` prints
// (v1.2.0-0-gabc1234 for a release, v1.2.0-3-gdef5678 three commits
// after it) into a version deb and rpm sort in commit order: 1.2.0, then
// 1.2.0+3.gdef5678. The Makefile describes an untagged tree as
// v0.0.0-COMMITS-gHASH, so untagged builds sort by commit count too.
// Anything else (dev) becomes 0.0.0~dev, before every real build.
func PackageVersion(v string) string {
	m := describe.FindStringSubmatch(v)
	if m == nil {
		return "0.0.0~" + regexp.MustCompile(`[^A-Za-z0-9.+]`).ReplaceAllString(v, ".")
	}
	out, sep := m[1], "+"
	if m[2] != "" && m[2] != "0" {
		out, sep = out+"+"+m[2]+".g"+m[3], "."
	}
	if m[4] != "" {
		out += sep + "dirty"
	}
	return out
}
