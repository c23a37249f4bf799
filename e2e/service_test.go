package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"byokd.dev/byok"
	"byokd.dev/byok/daemon"
	"byokd.dev/byok/internal/fakeprovider"
	"byokd.dev/byok/keystore"
	"byokd.dev/byok/ledger"
)

// serviceEnv is a member's environment with a fresh home folder whose
// XDG config folder is HOME/.config, and a state folder whose path has a
// space in it.
func serviceEnv(t *testing.T) (env []string, userHome, state string) {
	userHome = t.TempDir()
	state = filepath.Join(userHome, "byokd state")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "XDG_CONFIG_HOME=") && !strings.HasPrefix(kv, "BYOKD_HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+userHome, "XDG_CONFIG_HOME="+filepath.Join(userHome, ".config"), "BYOKD_HOME="+state), userHome, state
}

func runByokd(t *testing.T, env []string, stdin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(byokdBin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("byokd %v: %v", args, err)
	}
	return string(out), 0
}

// TestE2E_ServiceInstallWritesUnit checks the systemd user unit `byokd
// service install` writes on this machine, where systemd is installed but
// not running: the file a member's systemd would start at login.
func TestE2E_ServiceInstallWritesUnit(t *testing.T) {
	env, userHome, state := serviceEnv(t)
	out, code := runByokd(t, env, "", "service", "install")
	if code != 0 {
		t.Fatalf("service install: exit %d: %s", code, out)
	}
	unitPath := filepath.Join(userHome, ".config", "systemd", "user", "byokd.service")
	b, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatalf("no unit written: %v\n%s", err, out)
	}
	unit := string(b)
	for _, want := range []string{
		"ExecStart=" + byokdBin + " run\n",
		`Environment="BYOKD_HOME=` + state + `"` + "\n",
		"WantedBy=default.target\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	if strings.Contains(unit, "multi-user.target") {
		t.Errorf("unit names multi-user.target, which a user manager never reaches:\n%s", unit)
	}
	link := filepath.Join(userHome, ".config", "systemd", "user", "default.target.wants", "byokd.service")
	if dst, err := os.Readlink(link); err != nil || dst != unitPath {
		t.Errorf("enable link %s → %q (%v), want → %s", link, dst, err, unitPath)
	}
	if !strings.Contains(out, "not running in this session") {
		t.Errorf("install output does not say systemd's user manager is not running:\n%s", out)
	}
	// systemd itself accepts the unit.
	if v, err := exec.Command("systemd-analyze", "verify", unitPath).CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze verify: %v\n%s", err, v)
	}

	// Installing again is harmless and leaves the same unit.
	if out, code := runByokd(t, env, "", "service", "install"); code != 0 {
		t.Fatalf("second install: exit %d: %s", code, out)
	}
	if b2, _ := os.ReadFile(unitPath); string(b2) != unit {
		t.Errorf("second install changed the unit:\n%s", b2)
	}
	if out, _ := runByokd(t, env, "", "service", "status"); !strings.Contains(out, "installed, not running") || !strings.Contains(out, unitPath) {
		t.Errorf("service status:\n%s", out)
	}
	var st struct {
		Installed, Running bool
		Path               string
	}
	if out, _ := runByokd(t, env, "", "service", "status", "--json"); json.Unmarshal([]byte(out), &st) != nil || !st.Installed || st.Running || st.Path != unitPath {
		t.Errorf("service status --json: %+v from\n%s", st, out)
	}
	if out, _ := runByokd(t, env, "", "service", "unit"); out != unit {
		t.Errorf("service unit printed\n%s\nwant the installed unit\n%s", out, unit)
	}

	// Uninstall removes the unit and its link and keeps the state folder.
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, code := runByokd(t, env, "", "service", "uninstall"); code != 0 || !strings.Contains(out, "kept your keys") {
		t.Fatalf("uninstall: exit %d: %s", code, out)
	}
	for _, p := range []string{unitPath, link} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after uninstall (%v)", p, err)
		}
	}
	if _, err := os.Stat(state); err != nil {
		t.Errorf("uninstall removed the state folder: %v", err)
	}
}

// TestE2E_ServiceUninstallPurge: --purge needs a yes, then deletes the
// state folder and the keys' secrets in the keychain.
func TestE2E_ServiceUninstallPurge(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m, _ := setUp(t, fake)
	m.stop()
	ctx := context.Background()
	db, err := ledger.Open(ctx, filepath.Join(m.home, daemon.LedgerFile), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := db.Meta(ctx, "install_id")
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	kc := keystore.Keychain{Namespace: "byokd-" + id}
	if _, err := kc.Get("personal/openai/work"); err != nil {
		t.Fatalf("the key is not in the keychain before purge: %v", err)
	}
	env, _, _ := serviceEnv(t)
	env = append(env, "BYOKD_HOME="+m.home)

	out, code := runByokd(t, env, "", "service", "uninstall", "--purge")
	if code == 0 || !strings.Contains(out, "--yes") {
		t.Errorf("purge with no terminal and no --yes: exit %d: %s, want a refusal naming --yes", code, out)
	}
	if _, err := os.Stat(m.home); err != nil {
		t.Fatalf("refused purge deleted the state folder: %v", err)
	}
	if out, code := runByokd(t, env, "", "service", "uninstall", "--purge", "--yes"); code != 0 {
		t.Fatalf("purge --yes: exit %d: %s", code, out)
	}
	if _, err := os.Stat(m.home); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state folder still there after purge (%v)", err)
	}
	if _, err := kc.Get("personal/openai/work"); !errors.Is(err, byok.ErrNotFound) {
		t.Errorf("keychain after purge: %v, want the key gone", err)
	}
}

// goCacheEnv keeps the user's Go build cache for the builds a test starts:
// scripts/desktop-session points XDG_CACHE_HOME at a fresh folder, which
// would make them start cold.
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

// Where the Linux packages put things: a contract with the README.
const (
	binPath       = "/usr/bin/byokd"
	unitPath      = "/usr/lib/systemd/user/byokd.service"
	autostartPath = "/etc/xdg/autostart/byokd-tray.desktop"
)

// TestE2E_DebPackage builds the .deb, installs it on this machine, checks
// the installed files and `byokd version`, upgrades it, and removes it.
// It needs root and dpkg, as CI has; it removes the package at the end
// whatever happens.
func TestE2E_DebPackage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root to run dpkg -i: run it through .ci/run or as root")
	}
	if out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", "byokd").CombinedOutput(); err == nil && strings.Contains(string(out), "installed") {
		t.Fatal("a byokd package is already installed on this machine; remove it (dpkg -r byokd) before this test")
	}
	deb := debBuilder(t)
	dpkg := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("dpkg", args...).CombinedOutput(); err != nil {
			t.Fatalf("dpkg %v: %v\n%s", args, err, out)
		}
	}
	t.Cleanup(func() { _ = exec.Command("dpkg", "--purge", "byokd").Run() })

	version := func() string {
		out, err := exec.Command(binPath, "version").CombinedOutput()
		if err != nil {
			t.Errorf("%s version: %v\n%s", binPath, err, out)
		}
		return string(out)
	}
	first := deb("v9.9.0")
	// lintian is Debian's own judge of a package: no error or warning.
	if out, err := exec.Command("lintian", "--fail-on", "error,warning", "--tag-display-limit", "0", first).CombinedOutput(); err != nil {
		t.Errorf("lintian %s: %v\n%s", filepath.Base(first), err, out)
	}
	if out, err := exec.Command("dpkg", "-i", first).CombinedOutput(); err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, out)
	} else if !strings.Contains(string(out), "systemctl --user start byokd") && !strings.Contains(string(out), "byokd run") {
		t.Errorf("dpkg -i does not say what to run next:\n%s", out)
	}
	if page, err := exec.Command("man", "--warnings", "-P", "cat", "byokd").CombinedOutput(); err != nil || !strings.Contains(string(page), "byokd key add") || !strings.Contains(string(page), "BYOKD_HOME") {
		t.Errorf("man byokd: %v\n%.2000s", err, page)
	}
	if v := version(); !strings.HasPrefix(v, "byokd v9.9.0 (commit testcommit, built 2026-01-02T03:04:05Z") {
		t.Errorf("%s version printed %q, want the stamped version", binPath, v)
	}
	wantFiles := []string{binPath, unitPath, autostartPath, "/usr/lib/systemd/user/byokd-enable.service", "/usr/share/man/man1/byokd.1.gz", "/usr/share/doc/byokd/copyright", "/usr/share/doc/byokd/changelog.gz",
		"/usr/share/icons/hicolor/16x16/apps/byokd.png", "/usr/share/icons/hicolor/256x256/apps/byokd.png", "/usr/share/icons/hicolor/512x512/apps/byokd.png"}
	listed, _ := exec.Command("dpkg", "-L", "byokd").Output()
	for _, f := range wantFiles {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("installed package lacks %s: %v", f, err)
		}
		if !strings.Contains(string(listed), f+"\n") {
			t.Errorf("dpkg -L byokd does not list %s", f)
		}
	}
	if unit, _ := os.ReadFile(unitPath); !strings.Contains(string(unit), "ExecStart=/usr/bin/byokd run\n") || !strings.Contains(string(unit), "WantedBy=default.target") {
		t.Errorf("packaged unit:\n%s", unit)
	}
	if v, err := exec.Command("desktop-file-validate", autostartPath).CombinedOutput(); err != nil || len(v) > 0 {
		t.Errorf("desktop-file-validate %s: %v\n%s", autostartPath, err, v)
	}
	if d, _ := os.ReadFile(autostartPath); !strings.Contains(string(d), "\nExec=byokd tray\n") {
		t.Errorf("autostart entry does not run `byokd tray`:\n%s", d)
	}
	// postinstall enabled the enabler for every user's login; the unit
	// itself is enabled in each user's folder (TestE2E_PackageInBootedDebian).
	globalLink := "/etc/systemd/user/default.target.wants/byokd-enable.service"
	if _, err := os.Lstat(globalLink); err != nil {
		t.Errorf("postinstall did not enable byokd-enable.service: %v", err)
	}

	// An upgrade replaces the files and keeps the unit enabled, and an
	// admin's change to the autostart entry (a conffile).
	edited, _ := os.ReadFile(autostartPath)
	edited = append(edited, []byte("X-Admin-Edited=true\n")...)
	if err := os.WriteFile(autostartPath, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("dpkg", "--force-confold", "-i", deb("v9.9.1")).CombinedOutput(); err != nil {
		t.Fatalf("dpkg -i the upgrade: %v\n%s", err, out)
	}
	if d, _ := os.ReadFile(autostartPath); !strings.Contains(string(d), "X-Admin-Edited=true") {
		t.Errorf("the upgrade overwrote the admin's autostart entry:\n%s", d)
	}
	if v := version(); !strings.HasPrefix(v, "byokd v9.9.1 ") {
		t.Errorf("after upgrade %s version printed %q, want v9.9.1", binPath, v)
	}
	if v, _ := exec.Command("dpkg-query", "-W", "-f=${Version}", "byokd").Output(); string(v) != "9.9.1" {
		t.Errorf("after upgrade dpkg has version %q, want 9.9.1", v)
	}
	if _, err := os.Lstat(globalLink); err != nil {
		t.Errorf("upgrade disabled the user unit: %v", err)
	}

	// Removal leaves only the conffile, which TryExec keeps from running
	// without byokd; purging removes it too.
	dpkg("-r", "byokd")
	for _, f := range append(wantFiles, globalLink) {
		if _, err := os.Lstat(f); f != autostartPath && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after dpkg -r (%v)", f, err)
		}
	}
	if d, _ := os.ReadFile(autostartPath); !strings.Contains(string(d), "\nTryExec=byokd\n") {
		t.Errorf("the autostart entry left after removal would run without byokd:\n%s", d)
	}
	dpkg("--purge", "byokd")
	if _, err := os.Lstat(autostartPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still there after dpkg --purge (%v)", autostartPath, err)
	}
}

// debBuilder returns a function that builds the .deb of a version with
// `make dist`'s tool, the tool itself built without the race detector:
// compressing the package is slow under it.
func debBuilder(t *testing.T) func(version string) string {
	t.Helper()
	dir := t.TempDir()
	dist := filepath.Join(dir, "dist")
	goEnv := append(os.Environ(), goCacheEnv()...)
	build := exec.Command("go", "build", "-o", dist, "byokd.dev/byok/packaging/cmd/dist")
	build.Env = goEnv
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build packaging/cmd/dist: %v\n%s", err, out)
	}
	return func(version string) string {
		t.Helper()
		out := filepath.Join(dir, version)
		cmd := exec.Command(dist, "-only", "linux/"+runtime.GOARCH, "-formats", "deb", "-version", version, "-commit", "testcommit", "-date", "2026-01-02T03:04:05Z", "-out", out)
		cmd.Dir = ".."
		cmd.Env = goEnv
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("dist %s: %v\n%s", version, err, b)
		}
		debs, _ := filepath.Glob(filepath.Join(out, "*.deb"))
		if len(debs) != 1 {
			t.Fatalf("dist %s made %v, want one .deb", version, debs)
		}
		return debs[0]
	}
}

// TestE2E_FailedStartSaysWhyAndIsNotRetried: a daemon that cannot start
// for a reason a restart will not mend (a key file and no passphrase, as
// in a login without a keychain) exits 78, which its unit tells systemd
// not to restart on, and `byokd status` says why it is not running.
func TestE2E_FailedStartSaysWhyAndIsNotRetried(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m := newMember(t, fake.URL, "BYOKD_KEYSTORE=file")
	cmd := exec.Command(byokdBin, "run", "--listen", "127.0.0.1:0", "--no-tray")
	cmd.Env = m.env
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != daemon.ExitNotRestarted {
		t.Fatalf("byokd run without a passphrase: %v, want exit %d\n%s", err, daemon.ExitNotRestarted, out)
	}
	_, errOut, code := m.cli("", "status")
	if code == 0 || !strings.Contains(errOut, "the daemon is not running") || !strings.Contains(errOut, "Its last start, at ") ||
		!strings.Contains(errOut, "passphrase") {
		t.Errorf("status after the failed start: exit %d\n%s", code, errOut)
	}
	if !strings.Contains(daemon.SystemdUnit("/usr/bin/byokd", ""), "RestartPreventExitStatus=78\n") {
		t.Error("the unit restarts a start that cannot succeed")
	}
	// A start that works clears it.
	m.env = append(m.env, "BYOKD_KEYSTORE_PASSPHRASE=now-given")
	m.mustStart()
	if out := m.mustCLI("", "status"); strings.Contains(out, "last start") {
		t.Errorf("status after a good start still tells of the failed one:\n%s", out)
	}
}
