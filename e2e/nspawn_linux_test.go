package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// debianRoot is where the debootstrapped Debian for
// TestE2E_PackageInBootedDebian is kept between runs: making it takes a
// minute, and every boot is an ephemeral copy of it.
const debianRoot = "/var/cache/byokd-e2e/bookworm"

// TestE2E_PackageInBootedDebian installs the .deb in a Debian booted with
// systemd (systemd-nspawn) and checks what a member's login meets: byokd
// starts at login, restarts after kill -9, opting out sticks across a
// re-login, a system account never gets it, an upgrade restarts it on the
// new binary, and removal stops it.
func TestE2E_PackageInBootedDebian(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root for debootstrap and systemd-nspawn: run it through .ci/run or as root")
	}
	for _, tool := range []string{"debootstrap", "systemd-nspawn", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: run scripts/setup", tool)
		}
	}
	root := debootstrapped(t)
	deb := debBuilder(t)
	debs := t.TempDir()
	for _, v := range []string{"v9.9.0", "v9.9.1"} {
		if err := os.Link(deb(v), filepath.Join(debs, v+".deb")); err != nil {
			t.Fatal(err)
		}
	}
	c := bootContainer(t, root, debs)

	c.must("useradd", "--create-home", "--uid", "1500", "alice")
	c.must("useradd", "--system", "--create-home", "--home-dir", "/var/lib/svc", "svc")
	// A headless login has no Secret Service: alice uses the key file, as
	// `byokd doctor` tells such a login to.
	c.must("setpriv", "--reuid=alice", "--regid=alice", "--init-groups", "--", "env", "HOME=/home/alice", "sh", "-c",
		"mkdir -p ~/.config/environment.d && printf 'BYOKD_KEYSTORE=file\\nBYOKD_KEYSTORE_PASSPHRASE=container-test-passphrase\\n' > ~/.config/environment.d/byokd.conf")
	if out := c.must("dpkg", "-i", "/debs/v9.9.0.deb"); !strings.Contains(out, "systemctl --user start byokd") {
		t.Errorf("dpkg -i does not say what to run next:\n%s", out)
	}

	// A login (lingering keeps alice's user manager running, as a login
	// does) starts byokd; a system account's does not.
	c.must("loginctl", "enable-linger", "alice", "svc")
	first := c.waitActive("alice", "")
	if out := c.user("alice", "byokd", "status"); !strings.Contains(out, "byokd v9.9.0 running") {
		t.Errorf("byokd status as alice:\n%s", out)
	}
	if st := c.unitState("svc", "ActiveState"); st != "inactive" {
		t.Errorf("a system account's byokd is %q, want inactive", st)
	}

	// kill -9: systemd starts it again.
	c.must("sh", "-c", "kill -9 "+first)
	second := c.waitActive("alice", first)
	// restart, as `byokd service restart` does.
	c.user("alice", "byokd", "service", "restart")
	c.waitActive("alice", second)

	// Opting out sticks across a re-login.
	c.user("alice", "systemctl", "--user", "disable", "--now", "byokd.service")
	c.relogin("alice")
	if st := c.unitState("alice", "ActiveState"); st == "active" {
		t.Error("after `systemctl --user disable` and a re-login byokd runs again")
	}
	if out := c.user("alice", "byokd", "service", "status"); !strings.Contains(out, "not installed") && !strings.Contains(out, "not enabled") {
		t.Errorf("byokd service status after opting out:\n%s", out)
	}
	c.user("alice", "systemctl", "--user", "enable", "--now", "byokd.service")
	pid := c.waitActive("alice", "")
	if out := c.user("alice", "byokd", "service", "status", "--json"); !strings.Contains(out, `"installed": true`) || !strings.Contains(out, `"running": true`) {
		t.Errorf("byokd service status --json for the package's unit:\n%s", out)
	}

	// An upgrade restarts it on the new binary.
	c.must("dpkg", "-i", "/debs/v9.9.1.deb")
	c.waitActive("alice", pid)
	if out := c.user("alice", "byokd", "status"); !strings.Contains(out, "byokd v9.9.1 running") {
		t.Errorf("after the upgrade byokd status says:\n%s", out)
	}

	// Removal stops it, and nothing is left failing.
	c.must("dpkg", "-r", "byokd")
	if st := c.unitState("alice", "ActiveState"); st == "active" || st == "failed" {
		t.Errorf("after dpkg -r alice's byokd is %s", st)
	}
	c.relogin("alice")
	if out := c.run("systemctl", "--user", "-M", "alice@", "--failed", "--no-legend"); strings.Contains(out, "byokd") {
		t.Errorf("after removal and a re-login a byokd unit fails:\n%s", out)
	}
}

// debootstrapped returns the cached Debian, making it first if needed
// from the mirror this machine's apt uses.
func debootstrapped(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(debianRoot, "usr/lib/systemd/systemd")); err == nil {
		return debianRoot
	}
	mirror := aptMirror(t)
	tmp := debianRoot + ".new"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(filepath.Dir(debianRoot), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("debootstrap", "--variant=minbase", "--include=systemd,systemd-sysv,dbus,dbus-user-session,libpam-systemd", "bookworm", tmp, mirror)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("debootstrap bookworm from %s: %v\n%s", mirror, err, tail(out, 3000))
	}
	if err := os.Rename(tmp, debianRoot); err != nil {
		t.Fatal(err)
	}
	return debianRoot
}

// aptMirror is the first Debian archive this machine's apt names.
func aptMirror(t *testing.T) string {
	t.Helper()
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	files = append([]string{"/etc/apt/sources.list"}, files...)
	line := regexp.MustCompile(`^(?:URIs:\s*|deb\s+(?:\[[^]]*\]\s+)?)(\S+/debian)/?(?:\s|$)`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if m := line.FindStringSubmatch(strings.TrimSpace(sc.Text())); m != nil {
				return m[1]
			}
		}
	}
	t.Fatal("no Debian archive in /etc/apt/sources.list{,.d}: debootstrap needs one")
	return ""
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// container is a booted systemd-nspawn machine; commands run in it with
// nsenter, as its init's namespaces.
type container struct {
	t      *testing.T
	leader string // the container's init, as the host sees it
}

// bootContainer boots an ephemeral copy of root with debs at /debs. A
// kernel that refuses the namespaces nspawn needs is the one reason to
// skip.
func bootContainer(t *testing.T, root, debs string) *container {
	t.Helper()
	name := fmt.Sprintf("byokd-e2e-%d", os.Getpid())
	var log lockedBuffer
	cmd := exec.Command("systemd-nspawn", "--quiet", "--ephemeral", "--boot", "--register=no", "--keep-unit",
		"--private-network", "--console=pipe", "--machine="+name, "--directory="+root, "--bind-ro="+debs+":/debs")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt) // nspawn powers the machine off
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	c := &container{t: t}
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			out := log.String()
			if strings.Contains(out, "Operation not permitted") || strings.Contains(out, "not supported") {
				t.Skipf("this kernel refuses systemd-nspawn (%v):\n%s", err, out)
			}
			t.Fatalf("systemd-nspawn exited: %v\n%s", err, out)
		case <-time.After(500 * time.Millisecond):
		}
		if c.leader == "" {
			// nspawn's first child forks the container's init and goes;
			// the init is the child that runs systemd.
			kids, _ := exec.Command("pgrep", "-P", fmt.Sprint(cmd.Process.Pid), "-x", "systemd").Output()
			c.leader = strings.TrimSpace(strings.SplitN(string(kids), "\n", 2)[0])
			continue
		}
		if st, _ := c.exec("systemctl", "is-system-running"); st == "running" || st == "degraded" {
			return c
		}
	}
	t.Fatalf("the container did not finish booting in 90 s:\n%s", log.String())
	return nil
}

func (c *container) exec(args ...string) (string, error) {
	cmd := exec.Command("nsenter", append([]string{"--target", c.leader, "--all", "--"}, args...)...)
	// The container's own environment, not this desktop session's
	// (whose XDG_CONFIG_HOME would move byokd's state folder).
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// run runs args in the container and returns what it printed, whatever
// its exit status.
func (c *container) run(args ...string) string {
	out, _ := c.exec(args...)
	return out
}

// must runs args in the container and fails the test if they fail.
func (c *container) must(args ...string) string {
	c.t.Helper()
	out, err := c.exec(args...)
	if err != nil {
		c.t.Fatalf("in the container, %v: %v\n%s", args, err, out)
	}
	return out
}

// user runs args as user, in their login's environment (their user
// manager's bus and runtime folder).
func (c *container) user(user string, args ...string) string {
	c.t.Helper()
	uid := c.must("id", "-u", user)
	home := c.must("sh", "-c", "getent passwd "+user+" | cut -d: -f6")
	env := []string{"HOME=" + home, "USER=" + user, "XDG_RUNTIME_DIR=/run/user/" + uid, "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/" + uid + "/bus"}
	if vars := c.run("systemctl", "--user", "-M", user+"@", "show-environment"); vars != "" {
		for _, kv := range strings.Split(vars, "\n") {
			if strings.HasPrefix(kv, "BYOKD_") {
				env = append(env, kv)
			}
		}
	}
	// setpriv, not runuser: no PAM session for each command.
	return c.run(append([]string{"setpriv", "--reuid=" + user, "--regid=" + user, "--init-groups", "--", "env", "-C", home}, append(env, args...)...)...)
}

// unitState is a property of user's byokd.service.
func (c *container) unitState(user, prop string) string {
	return c.run("systemctl", "--user", "-M", user+"@", "show", "--value", "-p", prop, "byokd.service")
}

// waitActive waits until user's byokd runs with a main process other
// than not, and returns that process's ID.
func (c *container) waitActive(user, not string) string {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	status := ""
	for time.Now().Before(deadline) {
		pid := c.unitState(user, "MainPID")
		if c.unitState(user, "ActiveState") == "active" && pid != "0" && pid != "" && pid != not {
			// The daemon answers once it wrote its state: wait for that.
			if status = c.user(user, "byokd", "status"); daemonRuns.MatchString(status) {
				return pid
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	c.t.Fatalf("%s's byokd did not start (anew) in 60 s: %s; byokd status says %q\n%s", user, c.unitState(user, "ActiveState"), status,
		c.run("journalctl", "--no-pager", "-n", "40", "_SYSTEMD_USER_UNIT=byokd.service"))
	return ""
}

// daemonRuns is the first line of `byokd status` from a running daemon.
var daemonRuns = regexp.MustCompile(`(?m)^byokd \S+ running`)

// relogin ends user's login and starts it again, as logging out and in
// does for their user manager.
func (c *container) relogin(user string) {
	c.t.Helper()
	unit := "user@" + c.must("id", "-u", user) + ".service"
	c.must("systemctl", "stop", unit)
	c.must("systemctl", "start", unit)
}
