package keystore

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	byok "byokd.dev/byok"
	"github.com/zalando/go-keyring"
)

func TestKeychain_SetGetOverwriteDelete(t *testing.T) {
	requireSessionBus(t)
	ns := testNamespace(t)
	k := Keychain{Namespace: ns}
	const ref = "personal/work"
	first, second := randomSecret(t), randomSecret(t)

	_, err := k.Get(ref)
	wantErrIs(t, "get before set", err, byok.ErrNotFound)

	if err := k.Set(ref, first); err != nil {
		t.Fatalf("set: %v", err)
	}
	assertStored(t, k, ref, first)

	if err := k.Set(ref, second); err != nil {
		t.Fatalf("overwrite: %v", err)
	}
	assertStored(t, k, ref, second)

	if err := k.Delete(ref); err != nil {
		t.Fatalf("delete: %v", err)
	}
	_, err = k.Get(ref)
	wantErrIs(t, "get after delete", err, byok.ErrNotFound)
	if _, err := keyring.Get(ns, ref); !errors.Is(err, keyring.ErrNotFound) {
		t.Errorf("raw Secret Service lookup after delete: got %v, want %v", err, keyring.ErrNotFound)
	}
	if n := searchSecretService(t, ns, ref); n != 0 {
		t.Errorf("Secret Service items after delete: got %d, want 0", n)
	}
	err = k.Delete(ref)
	wantErrIs(t, "delete again", err, byok.ErrNotFound)
	assertNoSecret(t, err, first, second)
}

// assertStored checks the secret through the store and straight from the
// Secret Service under the raw service and user names.
func assertStored(t *testing.T, k Keychain, ref string, want byok.Secret) {
	t.Helper()
	got, err := k.Get(ref)
	if err != nil {
		t.Fatalf("get %s: %v", ref, err)
	}
	if !got.Equal(want) {
		t.Errorf("get %s: got %q, want %q", ref, got.Reveal(), want.Reveal())
	}
	raw, err := keyring.Get(k.Namespace, ref)
	if err != nil {
		t.Fatalf("raw Secret Service lookup of service=%s user=%s: %v", k.Namespace, ref, err)
	}
	if raw != want.Reveal() {
		t.Errorf("raw Secret Service value: got %q, want %q", raw, want.Reveal())
	}
	if n := searchSecretService(t, k.Namespace, ref); n != 1 {
		t.Errorf("Secret Service items with service=%s username=%s: got %d, want 1", k.Namespace, ref, n)
	}
}

// searchSecretService counts the unlocked items with the given attributes,
// asking the Secret Service through gdbus rather than go-keyring.
func searchSecretService(t *testing.T, service, user string) int {
	t.Helper()
	out, err := exec.Command("gdbus", "call", "--session", "--dest", "org.freedesktop.secrets",
		"--object-path", "/org/freedesktop/secrets", "--method", "org.freedesktop.Secret.Service.SearchItems",
		fmt.Sprintf("{'service': '%s', 'username': '%s'}", service, user)).CombinedOutput()
	if err != nil {
		t.Fatalf("gdbus SearchItems: %v\n%s", err, out)
	}
	// The reply is ([unlocked paths], [locked paths]).
	unlocked, _, _ := strings.Cut(string(out), "]")
	return strings.Count(unlocked, "/org/freedesktop/secrets/")
}

func TestKeychain_NamespacesIsolated(t *testing.T) {
	requireSessionBus(t)
	a, b := Keychain{Namespace: testNamespace(t)}, Keychain{Namespace: testNamespace(t)}
	const ref = "team/team-openai"
	sa, sb := randomSecret(t), randomSecret(t)
	if err := a.Set(ref, sa); err != nil {
		t.Fatal(err)
	}
	_, err := b.Get(ref)
	wantErrIs(t, "other namespace before its own set", err, byok.ErrNotFound)
	if err := b.Set(ref, sb); err != nil {
		t.Fatal(err)
	}
	assertStored(t, a, ref, sa)
	assertStored(t, b, ref, sb)
	if err := a.Delete(ref); err != nil {
		t.Fatal(err)
	}
	assertStored(t, b, ref, sb)
}

func TestKeychain_RefusesBadInput(t *testing.T) {
	requireSessionBus(t)
	s := randomSecret(t)
	tests := []struct {
		name string
		k    Keychain
		ref  string
		s    byok.Secret
	}{
		{"no namespace", Keychain{}, "personal/work", s},
		{"empty ref", Keychain{Namespace: testNamespace(t)}, "", s},
		{"control character in ref", Keychain{Namespace: testNamespace(t)}, "personal/\nwork", s},
		{"empty secret", Keychain{Namespace: testNamespace(t)}, "personal/work", byok.Secret{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.k.Set(tt.ref, tt.s)
			if err == nil {
				t.Fatalf("set: got no error, want one")
			}
			assertNoSecret(t, err, s)
			if errors.Is(err, byok.ErrLocked) || errors.Is(err, byok.ErrNotFound) {
				t.Errorf("set: got %v, want a plain input error", err)
			}
		})
	}
}

// TestKeychain_Unavailable checks that a missing or dead session bus reads
// as a locked store whose message says what to do, and that with no bus
// address at all go-keyring is not called (which would autolaunch a bus).
func TestKeychain_Unavailable(t *testing.T) {
	if !inFreshProcess(t) {
		return
	}
	s := randomSecret(t)
	cases := map[string]string{"unset": "", "autolaunch": "autolaunch:"}
	for name, addr := range deadBusAddresses(t) {
		cases[name] = addr
	}
	for name, addr := range cases {
		t.Run(name, func(t *testing.T) {
			t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
			if addr == "" {
				os.Unsetenv("DBUS_SESSION_BUS_ADDRESS")
			}
			k := Keychain{Namespace: "byokd-test-unavailable"}
			_, getErr := k.Get("personal/work")
			errs := map[string]error{
				"get":    getErr,
				"set":    k.Set("personal/work", s),
				"delete": k.Delete("personal/work"),
			}
			t.Logf("get: %v", getErr)
			for op, err := range errs {
				wantErrIs(t, op, err, byok.ErrLocked)
				assertNoSecret(t, err, s)
				if err != nil && !strings.Contains(err.Error(), "OS keychain unavailable: "+unavailableHint) {
					t.Errorf("%s: got %q, want it to say what to do: %q", op, err, unavailableHint)
				}
			}
			if addr == "" {
				if !strings.Contains(getErr.Error(), "DBUS_SESSION_BUS_ADDRESS is not set") {
					t.Errorf("get: got %q, want it to name the missing DBUS_SESSION_BUS_ADDRESS", getErr)
				}
				// godbus sets the variable when it discovers or launches a bus.
				if got, ok := os.LookupEnv("DBUS_SESSION_BUS_ADDRESS"); ok {
					t.Errorf("DBUS_SESSION_BUS_ADDRESS after the calls: got %q, want it still unset", got)
				}
			}
		})
	}
}

// TestKeychain_NoSecretService runs a real session bus on which no Secret
// Service is registered or activatable, as on a server with D-Bus but no
// keyring daemon.
func TestKeychain_NoSecretService(t *testing.T) {
	if !inFreshProcess(t) {
		return
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", startBareBus(t))
	k := Keychain{Namespace: "byokd-test-no-service"}
	_, err := k.Get("personal/work")
	t.Logf("get: %v", err)
	wantErrIs(t, "get", err, byok.ErrLocked)
	if err != nil && !strings.Contains(err.Error(), "org.freedesktop.secrets") {
		t.Errorf("get: got %q, want the cause to name org.freedesktop.secrets", err)
	}
	s := randomSecret(t)
	err = k.Set("personal/work", s)
	wantErrIs(t, "set", err, byok.ErrLocked)
	assertNoSecret(t, err, s)
}

// startBareBus starts a private dbus-daemon with no service folders and
// returns its address.
func startBareBus(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "bus.conf")
	err := os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=`+filepath.Join(dir, "bus")+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dbus-daemon", "--config-file="+conf, "--nofork", "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dbus-daemon (Debian package dbus-daemon): %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	// dbus-daemon prints its address once it listens.
	buf := make([]byte, 512)
	n, err := out.Read(buf)
	if err != nil {
		t.Fatalf("read dbus-daemon address: %v", err)
	}
	return strings.TrimSpace(string(buf[:n]))
}

// TestKeychain_BusAddressReadOnce records why the tests that change
// DBUS_SESSION_BUS_ADDRESS run in a fresh process: once go-keyring has
// connected, it keeps using godbus's shared connection whatever the
// variable later says.
func TestKeychain_BusAddressReadOnce(t *testing.T) {
	requireSessionBus(t)
	k := Keychain{Namespace: testNamespace(t)}
	s := randomSecret(t)
	if err := k.Set("personal/work", s); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", deadBusAddresses(t)["missing socket"])
	got, err := k.Get("personal/work")
	if err != nil || !got.Equal(s) {
		t.Errorf("get after pointing the bus address at nothing: got %v, %v; want the secret from the connected bus", got, err)
	}
}
