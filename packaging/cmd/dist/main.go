// Command dist builds byokd's release artifacts into one folder: Linux
// .deb and .rpm for amd64 and arm64, a Windows amd64 zip, tray-less macOS
// archives, the icon set and SHA256SUMS. `make dist` runs it.
//
//	go run ./packaging/cmd/dist -version v1.2.0 -commit abc1234 -date 2025-01-01T00:00:00Z -out dist
//	go run ./packaging/cmd/dist -only linux/amd64 -formats deb -out /tmp/d
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"byokd.dev/byok/packaging"
)

func main() {
	var o options
	flag.StringVar(&o.stamp.Version, "version", "dev", "version stamped into byokd and the packages")
	flag.StringVar(&o.stamp.Commit, "commit", "none", "git commit")
	flag.StringVar(&o.stamp.Date, "date", "", "build date, RFC 3339 (default now)")
	flag.StringVar(&o.out, "out", "dist", "output folder")
	only := flag.String("only", "", "comma-separated targets such as linux/amd64 (default all)")
	formats := flag.String("formats", "deb,rpm", "Linux package formats")
	flag.StringVar(&o.signer, "sign", "", "sign SHA256SUMS (SHA256SUMS.asc) with this GnuPG key: its fingerprint or e-mail")
	flag.Parse()
	if o.stamp.Date == "" {
		o.stamp.Date = time.Now().UTC().Format(time.RFC3339)
	}
	o.only = split(*only)
	o.formats = split(*formats)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "dist:", err)
		os.Exit(1)
	}
}

type options struct {
	stamp         packaging.Stamp
	out           string
	signer        string // the GnuPG key that signs SHA256SUMS; none: unsigned
	only, formats []string
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func run(ctx context.Context, o options) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if o.out, err = filepath.Abs(o.out); err != nil {
		return err
	}
	bin := filepath.Join(o.out, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	mtime, err := time.Parse(time.RFC3339, o.stamp.Date)
	if err != nil {
		return fmt.Errorf("-date %q: %w", o.stamp.Date, err)
	}
	src, err := packaging.LoadIcon(filepath.Join(root, packaging.SourceIcon))
	if err != nil {
		return err
	}
	icons, err := packaging.WriteIcons(src, filepath.Join(o.out, "icons"))
	if err != nil {
		return err
	}
	pv := packaging.PackageVersion(o.stamp.Version)
	var manual []byte
	if slices.ContainsFunc(packaging.Targets(), func(t packaging.Target) bool {
		return t.GOOS == "linux" && (len(o.only) == 0 || slices.Contains(o.only, t.String()))
	}) {
		if manual, err = packaging.Manual(ctx, root, o.stamp); err != nil {
			return err
		}
	}
	var made []string
	for _, t := range packaging.Targets() {
		if len(o.only) > 0 && !slices.Contains(o.only, t.String()) {
			continue
		}
		exe := filepath.Join(bin, fmt.Sprintf("byokd_%s_%s", t.GOOS, t.GOARCH))
		if t.GOOS == "windows" {
			exe += ".exe"
		}
		fmt.Fprintf(os.Stderr, "build %s\n", t)
		cmd := packaging.BuildCmd(ctx, root, t, o.stamp, exe)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build %s: %w", t, err)
		}
		base := fmt.Sprintf("byokd_%s_%s_%s", pv, t.GOOS, t.GOARCH)
		switch t.GOOS {
		case "linux":
			for _, f := range o.formats {
				p, err := packaging.BuildLinuxPackage(packaging.LinuxPackage{
					Format: f, Arch: t.GOARCH, Version: pv, Binary: exe, Icons: icons, MTime: mtime, Manual: manual,
				}, o.out)
				if err != nil {
					return err
				}
				made = append(made, p)
			}
		case "windows":
			p := filepath.Join(o.out, base+".zip")
			err := packaging.WriteZip(p, mtime, []packaging.ArchiveFile{
				{Name: "byokd.exe", Source: exe, Mode: 0o755},
				{Name: "byokd.ico", Source: icons.ICO, Mode: 0o644},
				{Name: "README.txt", Source: filepath.Join(root, "packaging", "windows.txt"), Mode: 0o644},
			})
			if err != nil {
				return fmt.Errorf("windows zip: %w", err)
			}
			made = append(made, p)
		case "darwin":
			p := filepath.Join(o.out, base+".tar.gz")
			err := packaging.WriteTarGz(p, "byokd", mtime, []packaging.ArchiveFile{
				{Name: "byokd", Source: exe, Mode: 0o755},
				{Name: "byokd.icns", Source: icons.ICNS, Mode: 0o644},
				{Name: "README-macos.md", Source: filepath.Join(root, "packaging", "macos.md"), Mode: 0o644},
			})
			if err != nil {
				return fmt.Errorf("macOS archive: %w", err)
			}
			made = append(made, p)
		}
	}
	if err := writeSums(o.out, made); err != nil {
		return err
	}
	if o.signer == "" {
		return nil
	}
	return sign(ctx, o.signer, filepath.Join(o.out, "SHA256SUMS"))
}

// sign writes sums.asc, an armored detached signature of sums by the
// GnuPG key signer, which `gpg --verify SHA256SUMS.asc SHA256SUMS` checks.
func sign(ctx context.Context, signer, sums string) error {
	cmd := exec.CommandContext(ctx, "gpg", "--batch", "--yes", "--local-user", signer, "--armor", "--detach-sign", "--output", sums+".asc", sums)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("sign %s with %s: %w\n%s", filepath.Base(sums), signer, err, out)
	}
	fmt.Println(sums + ".asc")
	return nil
}

func writeSums(dir string, paths []string) error {
	sort.Strings(paths)
	var b strings.Builder
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), filepath.Base(p))
		fmt.Println(p)
	}
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(b.String()), 0o644)
}

// moduleRoot finds go.mod above the working folder.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working folder: run from the byokd source tree")
		}
		dir = parent
	}
}
