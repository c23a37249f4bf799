package packaging

import (
	"bytes"
	"compress/gzip"
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
	EnablerPath   = "/usr/lib/systemd/user/byokd-enable.service"
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
	Manual  []byte    // byokd(1) in roff, from `byokd man`
}

// Description is the packages' synopsis and, after the first line, their
// long description.
const Description = `per-user proxy that pays AI API calls with your own keys
byokd keeps each member's OpenAI, Anthropic and ClickUp keys in the OS
keychain and runs a proxy on 127.0.0.1:8787 that apps and SDKs point their
base URL at. It signs every call with the member's own key, so the member's
own account pays, and records each call's tokens and cost in a local
SQLite ledger, with monthly budgets. With a team hub, calls can fall back
to the team's shared keys, which never leave the hub.
.
The package installs a systemd user unit, enabled for each user (except
root and system accounts) at their first login, which each user can
disable, and a tray icon for desktops.`

// BuildLinuxPackage writes p into dir and returns the package's path. The
// package holds the binary, the systemd user unit and byokd-enable.service
// (which enables it in each user's own unit folder at their first login,
// so that each user can turn it off), the tray's XDG autostart entry and
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
	for _, name := range []string{"byokd-tray.desktop", "postinstall.sh", "preremove.sh", "postremove.sh", "copyright", "lintian-overrides", "byokd-enable.service"} {
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
	manual, err := put("byokd.1.gz", gzipped(p.Manual))
	if err != nil {
		return "", err
	}
	changelog, err := put("changelog.gz", gzipped([]byte(debianChangelog(p.Version, p.MTime))))
	if err != nil {
		return "", err
	}
	autostart := file(scripts["byokd-tray.desktop"], AutostartPath, 0o644)
	autostart.Type = files.TypeConfig // in /etc: the admin's to change, and dpkg keeps the change
	contents := files.Contents{
		file(p.Binary, BinPath, 0o755),
		file(unit, UnitPath, 0o644),
		file(scripts["byokd-enable.service"], EnablerPath, 0o644),
		autostart,
		file(manual, "/usr/share/man/man1/byokd.1.gz", 0o644),
		file(scripts["copyright"], "/usr/share/doc/byokd/copyright", 0o644),
		file(changelog, "/usr/share/doc/byokd/changelog.gz", 0o644),
	}
	if p.Format == "deb" {
		contents = append(contents, file(scripts["lintian-overrides"], "/usr/share/lintian/overrides/byokd", 0o644))
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
		Description: Description,
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
			// A Secret Service and a session bus: a desktop has both. A
			// keyring is only suggested, as gnome-keyring would bring GTK
			// onto a minimal system, where BYOKD_KEYSTORE=file serves.
			Recommends: []string{"dbus-user-session | dbus-x11"},
			Suggests:   []string{"gnome-keyring | keepassxc"},
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

// gzipped is b compressed as Debian wants: the best compression, and no
// name or time in the header, so the same input makes the same package.
func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// debianChangelog is the package's changelog: one entry for its version,
// as byokd's release notes are kept with the releases.
func debianChangelog(version string, at time.Time) string {
	return fmt.Sprintf("byokd (%s) unstable; urgency=medium\n\n  * Release %s; see the release notes at https://byokd.dev.\n\n -- byokd team <team@byokd.dev>  %s\n",
		version, version, at.UTC().Format(time.RFC1123Z))
}
