package packaging

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
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

var semverish = regexp.MustCompile(`^v?(\d+\.\d+\.\d+.*)$`)

// PackageVersion turns a git-describe version (v1.2.0, v1.2.0-3-gabc) into
// one deb and rpm accept; anything else (dev) becomes 0.0.0~dev.
func PackageVersion(v string) string {
	if m := semverish.FindStringSubmatch(v); m != nil {
		return m[1]
	}
	return "0.0.0~" + regexp.MustCompile(`[^A-Za-z0-9.+]`).ReplaceAllString(v, ".")
}
