package packaging

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
	"github.com/goreleaser/nfpm/v2/rpm"

	"byokd.dev/byok/daemon"
)

//go:embed linux
var linuxFiles embed.FS

// Where the Linux packages put things.
const (
	BinPath       = "/usr/bin/byokd"
	UnitPath      = "/usr/lib/systemd/user/byokd.service"
	AutostartPath = "/etc/xdg/autostart/byokd-tray.desktop"
	IconDir       = "/usr/share/icons/hicolor"
)

// LinuxPackage describes one .deb or .rpm.
type LinuxPackage struct {
	Format  string // "deb" or "rpm"
	Arch    string // GOARCH: amd64 or arm64
	Version string // such as 1.2.0; see PackageVersion
	Binary  string // the linux/Arch byokd binary
	Icons   IconFiles
	MTime   time.Time // every file's time, for reproducible packages
}

// BuildLinuxPackage writes p into dir and returns the package's path. The
// package holds the binary, the systemd user unit (enabled for every user
// at login by the postinstall script), the tray's XDG autostart entry and
// the hicolor icons.
func BuildLinuxPackage(p LinuxPackage, dir string) (string, error) {
	work, err := os.MkdirTemp("", "byokd-pkg-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	put := func(name string, data []byte) (string, error) {
		path := filepath.Join(work, name)
		return path, os.WriteFile(path, data, 0o644)
	}
	unit, err := put("byokd.service", []byte(daemon.SystemdUnit(BinPath, "")))
	if err != nil {
		return "", err
	}
	scripts := map[string]string{}
	for _, name := range []string{"byokd-tray.desktop", "postinstall.sh", "preremove.sh", "postremove.sh"} {
		b, err := linuxFiles.ReadFile("linux/" + name)
		if err != nil {
			return "", err
		}
		if scripts[name], err = put(name, b); err != nil {
			return "", err
		}
	}
	file := func(src, dst string, mode os.FileMode) *files.Content {
		return &files.Content{Source: src, Destination: dst, FileInfo: &files.ContentFileInfo{Mode: mode, MTime: p.MTime}}
	}
	contents := files.Contents{
		file(p.Binary, BinPath, 0o755),
		file(unit, UnitPath, 0o644),
		file(scripts["byokd-tray.desktop"], AutostartPath, 0o644),
	}
	for n, png := range p.Icons.Hicolor {
		contents = append(contents, file(png, fmt.Sprintf("%s/%dx%d/apps/byokd.png", IconDir, n, n), 0o644))
	}
	info := nfpm.WithDefaults(&nfpm.Info{
		Name:        "byokd",
		Arch:        p.Arch,
		Platform:    "linux",
		Version:     p.Version,
		Section:     "net",
		Priority:    "optional",
		Maintainer:  "byokd team <team@byokd.dev>",
		Description: "Bring your own API keys: a per-user local proxy that signs OpenAI, Anthropic and ClickUp calls with your own keys and meters their cost.",
		Homepage:    "https://byokd.dev",
		License:     "Proprietary",
		MTime:       p.MTime,
		Overridables: nfpm.Overridables{
			Contents: contents,
			Scripts: nfpm.Scripts{
				PostInstall: scripts["postinstall.sh"],
				PreRemove:   scripts["preremove.sh"],
				PostRemove:  scripts["postremove.sh"],
			},
			Recommends: []string{"gnome-keyring"},
		},
	})
	var pkgr nfpm.Packager
	switch p.Format {
	case "deb":
		pkgr = deb.Default
	case "rpm":
		pkgr = rpm.DefaultRPM
	default:
		return "", fmt.Errorf("unknown package format %q: use deb or rpm", p.Format)
	}
	if err := nfpm.PrepareForPackager(info, p.Format); err != nil {
		return "", fmt.Errorf("prepare %s: %w", p.Format, err)
	}
	out := filepath.Join(dir, pkgr.ConventionalFileName(info))
	f, err := os.Create(out)
	if err != nil {
		return "", err
	}
	if err := pkgr.Package(info, f); err != nil {
		f.Close()
		return "", fmt.Errorf("build %s for %s: %w", p.Format, p.Arch, err)
	}
	return out, f.Close()
}
