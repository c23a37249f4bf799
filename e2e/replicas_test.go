package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"byokd.dev/byok/internal/fakeprovider"
	"byokd.dev/byok/internal/pgtest"
)

// startReplicas runs n hubs on one PostgreSQL database, each with its
// own state folder, all given the same sealing key.
func startReplicas(t *testing.T, upstream string, n int) ([]*teamHub, string) {
	t.Helper()
	db := pgtest.URL(t)
	key := make([]byte, 32)
	rand.Read(key)
	var hs []*teamHub
	for i := range n {
		hs = append(hs, startHubWith(t, upstream, filepath.Join(t.TempDir(), "hub"), []string{"--database", db},
			"BYOKD_HUB_SEALING_KEY="+base64.StdEncoding.EncodeToString(key)))
		_ = i
	}
	return hs, db
}

// TestE2E_HubReplicasOnPostgres: two `byokd hub serve --database` share
// one PostgreSQL. A policy set on one reaches a daemon on the other; a
// shared key added on one is relayed with by the other
// (sealed in the database, never in its dump); an invite made on one is
// redeemed on the other; members on both sync while one replica is killed
// with SIGKILL and started again, and either replica then shows every
// completed call exactly once.
func TestE2E_HubReplicasOnPostgres(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	hs, db := startReplicas(t, fake.URL, 2)
	a, b := hs[0], hs[1]
	a.cli(teamOpenAIKey, "key", "add", "openai", "--name", "team-openai")
	if out := b.cli("", "key", "list"); !strings.Contains(out, "team-openai") {
		t.Fatalf("replica B's key list lacks the key added on A:\n%s", out)
	}

	// Kim joins through B with an invite made on A; Sam joins A.
	kim := newMember(t, fake.URL)
	kim.mustStart()
	kimSync := &syncedMember{member: kim, events: kim.watchEvents()}
	code := strings.TrimSpace(a.cli("", "invite", "kim@example.com"))
	kim.mustCLI(code, "join", b.url)
	kimSync.until(t, 30*time.Second, "Kim's daemon to connect to replica B", func() bool {
		return strings.Contains(kim.mustCLI("", "status"), ", connected,")
	})
	kim.mustCLI(openaiKey, "key", "add", "openai", "--name", "work")
	kimSync.tok = strings.TrimSpace(kim.mustCLI("", "token", "create", "load"))
	sam := joinWithKey(t, a, fake.URL, "sam@example.com")

	// The policy set on A reaches Kim's daemon on B (LISTEN/NOTIFY);
	// Kim's call on the team's key goes through B, which unseals the key
	// A sealed.
	a.cli("", "policy", "set", "--shared-services", "openai", "--fallback", "on")
	waitPolicy(t, kimSync.events)
	kim.mustCLI("", "pref", "set", "openai", "shared")
	if status, body, err := post(kim.proxy, kimSync.tok, "gpt-4o-mini"); status != 200 || err != nil {
		t.Fatalf("Kim's call on the team's key through replica B: %d %s %v", status, body, err)
	}
	if k := fake.Requests()[len(fake.Requests())-1].Key; k != teamOpenAIKey {
		t.Fatalf("upstream key %q, want the team key", k)
	}
	kim.mustCLI("", "pref", "set", "openai", "personal")

	// Both members make calls; A is killed a third of the way through.
	var done, completed atomic.Int64
	kill := make(chan struct{})
	onDone := func() {
		if done.Add(1) == 100 {
			close(kill)
		}
	}
	var wg sync.WaitGroup
	for _, m := range []*syncedMember{sam, kimSync} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			completed.Add(int64(m.callMany(150, onDone)))
		}()
	}
	<-kill
	a.cmd.Process.Signal(syscall.SIGKILL)
	a.cmd.Wait()
	wg.Wait()
	if completed.Load() != 300 {
		t.Fatalf("%d of 300 calls completed", completed.Load())
	}
	a.serveAgain()
	for _, m := range []*syncedMember{sam, kimSync} {
		m.waitSynced(t, 30*time.Second)
	}
	// The relayed call is on the hub once too (the hub's own row).
	assertHubHoldsEachOnce(t, b, 301, sam, kimSync)
	assertHubHoldsEachOnce(t, a, 301, sam, kimSync)

	dump := pgtest.Dump(t, db)
	if !strings.Contains(dump, "sealed_secrets") || !strings.Contains(dump, "kim@example.com") {
		t.Fatal("the dump is not of the hubs' database")
	}
	for _, h := range hs {
		if strings.Contains(h.logs.String(), teamOpenAIKey) {
			t.Error("the team key is in a replica's log")
		}
	}
	if strings.Contains(dump, teamOpenAIKey) {
		t.Error("the team key is in the database's dump")
	}
}

// TestE2E_HubDatabaseErrorsSayWhatToDo: a database that cannot be
// reached, or no sealing key, stops hub serve with what to do, and
// never the password from the URL.
func TestE2E_HubDatabaseErrorsSayWhatToDo(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	for _, c := range []struct {
		args, env []string
		want      string
	}{
		{[]string{"--database", "postgres://hub:pa55-w0rd@127.0.0.1:1/byokd?sslmode=disable"}, []string{"BYOKD_HUB_SEALING_KEY=" + key}, "is PostgreSQL running"},
		{[]string{"--database", "postgres://hub:pa55-w0rd@127.0.0.1:1/byokd"}, nil, "openssl rand -base64 32"},
		{[]string{"--database", "mysql://hub:pa55-w0rd@db/byokd"}, nil, "give a PostgreSQL URL"},
		{nil, []string{"BYOKD_HUB_SEALING_KEY=" + key}, "give --database postgres://"},
	} {
		cmd := exec.Command(byokdBin, append([]string{"hub", "serve", "--listen", "127.0.0.1:0"}, c.args...)...)
		cmd.Env = append([]string{"BYOKD_HUB_HOME=" + filepath.Join(t.TempDir(), "hub"), "PATH=/usr/bin:/bin"}, c.env...)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("hub serve %v started", c.args)
			continue
		}
		if !strings.Contains(string(out), c.want) {
			t.Errorf("hub serve %v: got %q, want it to say %q", c.args, out, c.want)
		}
		if strings.Contains(string(out), "pa55-w0rd") {
			t.Errorf("hub serve %v printed the password: %s", c.args, out)
		}
	}
}

// TestE2E_HubSealingKeyRotation: the rotation `byokd hub reseal --help`
// gives, with real processes. A hub restarted with the new key and the
// old one still reads the key sealed under the old; reseal moves it under
// the new one; then a hub with only the old key is refused at start and
// one with only the new key serves it.
func TestE2E_HubSealingKeyRotation(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	db := pgtest.URL(t)
	dir := t.TempDir()
	keyFile := func(name string) string {
		k := make([]byte, 32)
		rand.Read(k)
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	oldKey, newKey := keyFile("old.key"), keyFile("new.key")
	h := startHubWith(t, fake.URL, filepath.Join(dir, "hub"), []string{"--database", db, "--sealing-key-file", oldKey})
	h.cli(teamOpenAIKey, "key", "add", "openai", "--name", "team-openai")
	restart := func(args ...string) {
		h.cmd.Process.Signal(syscall.SIGTERM)
		h.cmd.Wait()
		h.args = append([]string{"--database", db}, args...)
		h.serveAgain()
		if !strings.Contains(h.cli("", "key", "list"), "team-openai") {
			t.Fatalf("hub serve %v: the shared key is not listed", args)
		}
	}
	restart("--sealing-key-file", newKey, "--old-sealing-key-file", oldKey)

	reseal := exec.Command(byokdBin, "hub", "reseal", "--database", db, "--sealing-key-file", newKey, "--old-sealing-key-file", oldKey)
	reseal.Env = h.env
	out, err := reseal.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "resealed 1 shared keys") {
		t.Fatalf("byokd hub reseal: %v\n%s", err, out)
	}

	refused := exec.Command(byokdBin, "hub", "serve", "--listen", "127.0.0.1:0", "--database", db, "--sealing-key-file", oldKey)
	refused.Env = append(slices.Clone(h.env), "BYOKD_HUB_HOME="+filepath.Join(dir, "other"))
	if out, err := refused.CombinedOutput(); err == nil || !strings.Contains(string(out), "give every replica the key the shared keys were sealed with") {
		t.Errorf("hub serve with only the old key after the reseal: %v\n%s", err, out)
	}
	restart("--sealing-key-file", newKey)
	if strings.Contains(h.logs.String(), teamOpenAIKey) || strings.Contains(pgtest.Dump(t, db), teamOpenAIKey) {
		t.Error("the team key is in the hub's log or the database's dump")
	}
}
