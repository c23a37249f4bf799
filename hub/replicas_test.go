package hub_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
	"byokd.dev/byok/hub/pgstore"
	"byokd.dev/byok/internal/fakeprovider"
	"byokd.dev/byok/internal/pgtest"
	"byokd.dev/byok/teamsync"
)

// startReplicas runs n hubs, each with its own state folder and pool, on
// one PostgreSQL database, given one sealing key.
func startReplicas(t *testing.T, n int, mod func(*hub.Config)) []*testHub {
	t.Helper()
	url := pgtest.URL(t)
	key := make([]byte, pgstore.SealingKeySize)
	rand.Read(key)
	var hs []*testHub
	for range n {
		dir := filepath.Join(t.TempDir(), "hub")
		if err := hub.PrepareData(dir); err != nil {
			t.Fatal(err)
		}
		hs = append(hs, startReplica(t, url, key, dir, mod))
	}
	return hs
}

// startReplica runs a hub with the state folder dir on the database url,
// with its own pool, its shared keys sealed under key.
func startReplica(t *testing.T, url string, key []byte, dir string, mod func(*hub.Config)) *testHub {
	t.Helper()
	st, err := pgstore.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := st.Secrets(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	h := startHubOn(t, dir, st, keys, func(t *testing.T) string { return pgtest.Dump(t, url) }, mod)
	h.pgURL, h.sealingKey = url, key
	return h
}

// readUntil reads conn's messages until one satisfies ok, within a
// second of since; it fails the test otherwise.
func readUntil(t *testing.T, conn *websocket.Conn, since time.Time, what string, ok func(teamsync.Message) bool) time.Duration {
	t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), since.Add(time.Second))
	defer cancel()
	for {
		m, err := teamsync.ReadMessage(ctx, conn)
		if err != nil {
			t.Fatalf("%s did not arrive within a second: %v", what, err)
		}
		if ok(m) {
			return time.Since(since)
		}
	}
}

// TestReplicas_ChangesReachDaemonsOnEveryReplica: a policy, a price table
// and a revocation made on replica A reach a daemon connected to replica
// B within a second (PostgreSQL's LISTEN/NOTIFY), and a login made on A
// works on B.
func TestReplicas_ChangesReachDaemonsOnEveryReplica(t *testing.T) {
	if os.Getenv(storeEnv) != "" {
		t.Skip("runs on PostgreSQL in the first run already")
	}
	hs := startReplicas(t, 2, nil)
	a, b := hs[0], hs[1]
	ctx := context.Background()
	inv, err := a.admin.Invite(ctx, "ann@example.com", 0)
	if err != nil {
		t.Fatal(err)
	}
	en, err := teamsync.Join(ctx, b.URL(), inv.Code, "laptop", false)
	if err != nil {
		t.Fatalf("an invite made on A, redeemed on B: %v", err)
	}
	conn := openSync(t, b, en)

	start := time.Now()
	p, err := a.SetPolicy(ctx, byok.Policy{SharedServices: []byok.Service{byok.OpenAI}, MemberMonthlyCap: 5_000_000})
	if err != nil {
		t.Fatal(err)
	}
	took := readUntil(t, conn, start, "the policy set on A", func(m teamsync.Message) bool {
		return m.Type == teamsync.TypePolicy && m.Policy.Version == p.Version && m.Policy.MemberMonthlyCap == 5_000_000
	})
	t.Logf("policy set on A reached B's daemon in %v", took)
	if got := b.Policy(); got.Version != p.Version {
		t.Errorf("B's policy: version %d, want %d", got.Version, p.Version)
	}

	start = time.Now()
	pt, err := a.SetPrices(ctx, []byte(`{"openai": {"gpt-9-preview": {"input": 1, "output": 2}}}`))
	if err != nil {
		t.Fatal(err)
	}
	took = readUntil(t, conn, start, "the prices set on A", func(m teamsync.Message) bool {
		return m.Type == teamsync.TypePrices && m.Prices.Version == pt.Version
	})
	t.Logf("prices set on A reached B's daemon in %v", took)
	if got := b.Prices(); got.Version != pt.Version {
		t.Errorf("B's prices: version %d, want %d", got.Version, pt.Version)
	}

	// A login link made on A signs in on B, and B's session works on A.
	l, err := a.admin.CreateAdmin(ctx, "boss@example.com")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(l.Link)
	resp := postForm(t, b.URL()+"/login", url.Values{"code": {u.Query().Get("code")}}, nil)
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "byokd_hub_session" {
			cookie = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || cookie == nil {
		t.Fatalf("A's login link on B: status %d, cookie %v", resp.StatusCode, cookie)
	}
	if status, _, body := call(t, http.MethodGet, a.URL()+"/v1/usage", nil, cookie, ""); status != 200 {
		t.Errorf("B's session on A: %d %s", status, body)
	}

	start = time.Now()
	if err := a.RevokeDevice(ctx, en.DeviceID); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithDeadline(ctx, start.Add(time.Second))
	defer cancel()
	for {
		_, err := teamsync.ReadMessage(rctx, conn)
		if err == nil {
			continue
		}
		if websocket.CloseStatus(err) != teamsync.CloseRevoked {
			t.Fatalf("B's session of the device revoked on A: %v, want closed as revoked within a second", err)
		}
		break
	}
	t.Logf("revocation on A closed the session on B in %v", time.Since(start))
}

// TestReplicas_ChangeFeedSurvivesALostConnection: with every hub's
// listening connection cut by the database, a policy set on A still
// reaches B's daemon within a second: B listens again and resyncs.
func TestReplicas_ChangeFeedSurvivesALostConnection(t *testing.T) {
	if os.Getenv(storeEnv) != "" {
		t.Skip("runs on PostgreSQL in the first run already")
	}
	var logs []*logWatch
	hs := startReplicas(t, 2, func(c *hub.Config) { logs = append(logs, watchLog(c)) })
	a, b := hs[0], hs[1]
	ctx := context.Background()
	en := b.join(t, "ann@example.com")
	conn := openSync(t, b, en)
	for _, l := range logs {
		l.waitFor(t, 1, "following the database's change feed") // both listening, so both are cut
	}
	db, err := pgx.Connect(ctx, b.pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	var cut int
	if err := db.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND query LIKE 'LISTEN%'`).Scan(&cut); err != nil {
		t.Fatal(err)
	}
	if cut != 2 {
		t.Fatalf("cut %d listening connections, want 2", cut)
	}
	start := time.Now()
	p, err := a.SetPolicy(ctx, byok.Policy{SharedServices: []byok.Service{byok.Anthropic}})
	if err != nil {
		t.Fatal(err)
	}
	took := readUntil(t, conn, start, "the policy set on A after the feed was cut", func(m teamsync.Message) bool {
		return m.Type == teamsync.TypePolicy && m.Policy.Version == p.Version
	})
	t.Logf("arrived in %v", took)
	logs[1].waitFor(t, 2, "following the database's change feed") // B followed it again
}

// TestReplicas_CapRacedFromBothReplicas: a member with room for one call
// sends twenty at once, half through each replica: see raceCap.
func TestReplicas_CapRacedFromBothReplicas(t *testing.T) {
	if os.Getenv(storeEnv) != "" {
		t.Skip("runs on PostgreSQL in the first run already")
	}
	raceCap(t, func(mod func(*hub.Config)) []*testHub { return startReplicas(t, 2, mod) })
}

// TestRelay_CapRacedOnOneHub: the same twenty calls on one hub, on each
// store: concurrent calls of one member cannot pass the cap together.
func TestRelay_CapRacedOnOneHub(t *testing.T) {
	raceCap(t, func(mod func(*hub.Config)) []*testHub { return []*testHub{startHub(t, mod)} })
}

// raceCap: a member whose cap leaves room for one call sends twenty at
// once, spread over the hubs hubs gives, while the provider is slow to
// answer. Exactly one is sent: each call reserved its share in the
// database before going out, so no other call, on any hub, could let the
// same allowance through (without holds all twenty would be admitted, the
// spend still zero). Once the one call's row is in, the hold is gone and
// its cost counts instead.
func raceCap(t *testing.T, hubs func(mod func(*hub.Config)) []*testHub) {
	fake := fakeprovider.New(t, fakeprovider.Options{ChunkDelay: 40 * time.Millisecond})
	u, _ := url.Parse(fake.URL)
	hs := hubs(func(c *hub.Config) {
		c.Upstreams = map[byok.Service]*url.URL{byok.OpenAI: u, byok.Anthropic: u, byok.ClickUp: u}
	})
	a, b := hs[0], hs[len(hs)-1]
	ctx := context.Background()
	if _, err := a.admin.AddKey(ctx, byok.OpenAI, "team-openai", byok.NewSecret(teamOpenAI)); err != nil {
		t.Fatal(err)
	}
	en := a.join(t, "ann@example.com")
	conn := openSync(t, b, en)
	start := time.Now()
	p, err := a.SetPolicy(ctx, byok.Policy{SharedServices: []byok.Service{byok.OpenAI}, MemberMonthlyCap: 1})
	if err != nil {
		t.Fatal(err)
	}
	readUntil(t, conn, start, "the cap", func(m teamsync.Message) bool {
		return m.Type == teamsync.TypePolicy && m.Policy.Version == p.Version
	})
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := range 20 {
		h := hs[i%len(hs)]
		wg.Go(func() {
			status, _, body := call(t, http.MethodPost, h.URL()+"/relay/openai/v1/chat/completions", relayHeaders(en, fmt.Sprintf("race-%02d", i)), nil, streamBody)
			if status != 200 && !strings.Contains(body, "member_cap_reached") {
				t.Errorf("call %d: %d %s", i, status, body)
			}
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[200] != 1 || statuses[403] != 19 {
		t.Errorf("twenty calls raced on a cap with room for one: statuses %v, want one 200 and nineteen 403", statuses)
	}
	march, april := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	spent, err := a.store.SharedSpend(ctx, "ann@example.com", march, april)
	if err != nil || spent <= 0 {
		t.Errorf("the one call's spend: %v, %v", spent, err)
	}
	// No hold is left: a new reservation sees the spend alone.
	used, _, err := a.store.ReserveShared(ctx, hub.CapHold{Member: "ann@example.com", ID: "probe", From: march, To: april,
		Cap: 1 << 40, Amount: 1, Now: a.clock.Now(), Expires: a.clock.Now().Add(time.Minute)})
	if err != nil || used != spent {
		t.Errorf("after every call ended: %v used, %v; want the spend %v alone, no holds", used, err, spent)
	}
}

func pgxQueryRow(t *testing.T, url, q string, dst ...any) error {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	return c.QueryRow(context.Background(), q).Scan(dst...)
}
