package e2e

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
	"byokd.dev/byok/internal/fakeprovider"
	"byokd.dev/byok/internal/sdkrun"
)

// sums are what the pages must show, added up from the hub's rows.
type sums struct {
	personal, team byok.Micros
	calls, tokens  int64
}

func (s sums) total() byok.Micros { return s.personal + s.team }

func sumOf(rows []byok.UsageEvent, keep func(byok.UsageEvent) bool) sums {
	var s sums
	for _, r := range rows {
		if !keep(r) {
			continue
		}
		if r.Payer == byok.PayerTeam {
			s.team += r.Cost
		} else {
			s.personal += r.Cost
		}
		s.calls++
		s.tokens += r.Usage.InputTokens + r.Usage.OutputTokens + r.Usage.CacheReadTokens + r.Usage.CacheWriteTokens()
	}
	return s
}

// dashboardTeam is a real hub with a shared key and two real daemons
// joined to it that made calls: ann on her own key, once by fallback on
// the team's; bob, who has no key, on the team's. Every call has reached
// the hub.
type dashboardTeam struct {
	hub           *teamHub
	ann, bob      *member
	bobEv         <-chan control.Event
	call          func(m *member, tok string) sdkrun.Result
	bobTok, month string
	rows          []byok.UsageEvent
}

func newDashboardTeam(t *testing.T) *dashboardTeam {
	t.Helper()
	fake := fakeprovider.New(t, fakeprovider.Options{})
	h := startHub(t, fake.URL)
	h.cli(teamOpenAIKey, "key", "add", "openai", "--name", "team-openai")
	join := func(email string) (*member, <-chan control.Event) {
		m := newMember(t, fake.URL)
		m.mustStart()
		ev := m.watchEvents()
		m.mustCLI(strings.TrimSpace(h.cli("", "invite", email)), "join", h.url)
		waitConnected(t, m, ev)
		return m, ev
	}
	ann, annEv := join("ann@example.com")
	ann.mustCLI(openaiKey, "key", "add", "openai", "--name", "work", "--budget", "40")
	annTok := strings.TrimSpace(ann.mustCLI("", "token", "create", "editor", "--project", "acme"))
	bob, bobEv := join("bob@example.com")
	bobTok := strings.TrimSpace(bob.mustCLI("", "token", "create", "scripts", "--project", "globex"))
	h.cli("", "policy", "set", "--shared-services", "openai", "--fallback", "on")
	waitPolicy(t, annEv)
	waitPolicy(t, bobEv)
	bob.mustCLI("", "pref", "set", "openai", "shared")
	ann.mustCLI("", "pref", "set", "openai", "personal", "--fallback", "on")
	call := func(m *member, tok string) sdkrun.Result {
		return sdkrun.Run(t, "openai_chat.mjs", map[string]string{"BASE_URL": "http://" + m.proxy + "/openai/v1",
			"API_KEY": tok, "MODEL": "gpt-4o-mini", "STREAM": "1", "PROMPT": "x"})
	}
	for range 2 {
		if res := call(ann, annTok); res.Error != nil {
			t.Fatal(res.Error)
		}
	}
	fake.FailNext(1, fakeprovider.OpenAIInsufficientQuota())
	if res := call(ann, annTok); res.Error != nil || res.Headers["x-byokd-credential"] != "team/team-openai" {
		t.Fatalf("ann's call that should fall back: %+v", res)
	}
	for range 3 {
		if res := call(bob, bobTok); res.Error != nil {
			t.Fatal(res.Error)
		}
	}
	for _, m := range []*member{ann, bob} {
		ch := m.watchEvents()
		for m.unsynced() > 0 {
			<-ch
		}
	}
	// The pages show the current month by default; the sums are of the
	// hub's rows in it.
	month := time.Now().UTC().Format("2006-01")
	rows := h.usage()
	inMonth := func(r byok.UsageEvent) bool { return r.Time.UTC().Format("2006-01") == month }
	if all := sumOf(rows, inMonth); all.calls != 6 || all.team == 0 || all.personal == 0 {
		t.Fatalf("hub rows this month: %+v, want 6 calls on both payers", all)
	}
	return &dashboardTeam{hub: h, ann: ann, bob: bob, bobEv: bobEv, call: call, bobTok: bobTok, month: month, rows: rows}
}

// TestE2E_Dashboard runs the real hub and two real daemons that joined
// it: ann on her own key (once by fallback on the team's), bob on the
// team's. The admin signs in through the link `byokd hub admin create`
// prints, in headless Chromium; every page shows the sums of the hub's
// rows, the CSV adds up to the page, no page or CSV holds a key's secret,
// and a policy saved on the page reaches a connected daemon. Ann signs in
// with `byokd team` and sees her own rows only.
func TestE2E_Dashboard(t *testing.T) {
	team := newDashboardTeam(t)
	h, ann, bob, call, bobTok, bobEv, month := team.hub, team.ann, team.bob, team.call, team.bobTok, team.bobEv, team.month
	inMonth := func(r byok.UsageEvent) bool { return r.Time.UTC().Format("2006-01") == month }
	all := sumOf(team.rows, inMonth)
	annSum := sumOf(team.rows, func(r byok.UsageEvent) bool { return inMonth(r) && r.Member == "ann@example.com" })
	ctx := newBrowser(t)
	link := strings.TrimSpace(h.cli("", "admin", "create", "boss@example.com"))
	signIn(t, ctx, link)
	base := h.url
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	open := func(path string) string {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS("footer"))); err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{teamOpenAIKey, openaiKey} {
			if strings.Contains(html, secret) {
				t.Errorf("page %s shows a key's secret", path)
			}
		}
		return html
	}
	want := func(page, sel, want string) {
		t.Helper()
		if got := text(sel); got != want {
			t.Errorf("%s %s: got %q, want %q (the hub's rows)", page, sel, got, want)
		}
	}

	open("/ui/overview")
	want("overview", "#total", all.total().String())
	want("overview", "#total-personal", all.personal.String())
	want("overview", "#total-team", all.team.String())
	want("overview", "#total-calls", fmt.Sprint(all.calls))

	html := open("/ui/members")
	want("members", `tr[data-member="ann@example.com"] .personal-spend`, annSum.personal.String())
	want("members", `tr[data-member="ann@example.com"] .team-spend`, annSum.team.String())
	if !strings.Contains(text(`tr[data-member="bob@example.com"]`), "no personal keys") ||
		strings.Contains(text(`tr[data-member="ann@example.com"]`), "no personal keys") {
		t.Errorf("members: bob (no key) should be marked and ann (a key) not: %s", html)
	}
	if !strings.Contains(text(`tr[data-member="ann@example.com"]`), "$40.00/month") || !strings.Contains(text(`tr[data-member="bob@example.com"]`), "prefers shared") {
		t.Errorf("members: ann's budget or bob's preference missing: %s", text("#members"))
	}

	open("/ui/shared")
	want("shared keys", "#shared-total", all.team.String())
	if fb := text("#fallbacks"); !strings.Contains(fb, "ann@example.com") || !strings.Contains(fb, "over quota") {
		t.Errorf("shared keys: ann's fallback and its reason missing: %s", fb)
	}

	html = open("/ui/projects")
	want("projects", "#projects-total", all.total().String())
	if !strings.Contains(html, "acme") || !strings.Contains(html, "globex") {
		t.Error("projects: a project tag is missing")
	}

	open("/ui/reports")
	want("report", "#report-total", all.total().String())
	want("report", "#report-calls", fmt.Sprint(all.calls))
	want("report", "#report-tokens", fmt.Sprint(all.tokens))
	csvTotal, csvCalls, csvTokens, csvText := fetchCSV(t, ctx, base+"/ui/reports.csv?period="+month)
	if csvTotal != all.total() || csvCalls != all.calls || csvTokens != all.tokens {
		t.Errorf("CSV totals %s, %d calls, %d tokens; the page has %s, %d, %d", csvTotal, csvCalls, csvTokens, all.total(), all.calls, all.tokens)
	}
	for _, secret := range []string{teamOpenAIKey, openaiKey} {
		if strings.Contains(csvText, secret) {
			t.Error("the CSV holds a key's secret")
		}
	}

	open("/ui/audit")
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#audit tbody tr").length`))
	if err != nil {
		t.Fatal(err)
	}
	if n != int(all.calls) {
		t.Errorf("audit log: %d rows, want %d", n, all.calls)
	}
	open("/ui/devices")

	// A policy saved on the page reaches the connected daemons: bob's
	// shared OpenAI call is refused by the new policy.
	open("/ui/policy")
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`input[name=shared][value=openai]`)), // off
		chromedp.SetValue(chromedp.CSS("#cap"), "25"),
		chromedp.Click(chromedp.CSS("#save-policy")),
		chromedp.WaitVisible(chromedp.CSS(".flash.ok")),
	); err != nil {
		t.Fatalf("save the policy: %v", err)
	}
	waitPolicy(t, bobEv)
	if res := call(bob, bobTok); res.Error == nil || !strings.Contains(res.Error.Message, "policy") {
		t.Errorf("bob's shared call after the page dropped OpenAI: %+v", res)
	}
	if out := h.cli("", "policy", "show"); !strings.Contains(out, "$25.00 per member per month") {
		t.Errorf("hub policy after the page: %s", out)
	}

	// Ann opens her own view with `byokd team`: her rows only.
	mctx := newBrowser(t)
	signIn(t, mctx, strings.TrimSpace(ann.mustCLI("", "team", "--print")))
	total, err := chromedp.Run(mctx, chromedp.Text(chromedp.CSS("#total")))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(mctx, chromedp.Navigate(base+"/ui/audit?member=bob%40example.com"), chromedp.WaitVisible(chromedp.CSS("footer"))); err != nil {
		t.Fatal(err)
	}
	page, err := chromedp.Run(mctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(total) != annSum.total().String() {
		t.Errorf("ann's overview total %q, want her own %s", total, annSum.total())
	}
	if strings.Contains(page, "bob@example.com") || strings.Contains(page, "globex") {
		t.Error("ann's audit page asked for bob's rows shows them")
	}
	if _, _, _, c := fetchCSV(t, mctx, base+"/ui/reports.csv?member=bob%40example.com"); strings.Contains(c, "bob@") {
		t.Error("ann's CSV holds bob's rows")
	}
	if strings.Contains(h.logs.String(), teamOpenAIKey) {
		t.Error("the team key is in the hub's log")
	}
}

// signIn opens a one-time login link and presses its button.
func signIn(t *testing.T, ctx context.Context, link string) {
	t.Helper()
	if !strings.Contains(link, "/login?code=") {
		t.Fatalf("not a login link: %q", link)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(link), chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#total"))); err != nil {
		t.Fatalf("sign in with %s: %v", link, err)
	}
}

// fetchCSV downloads a CSV with the browser's session cookie and adds up
// its cost, calls and tokens columns.
func fetchCSV(t *testing.T, ctx context.Context, u string) (byok.Micros, int64, int64, string) {
	t.Helper()
	res, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (*network.GetCookiesResult, error) {
		r, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
		return &r, err
	})
	if err != nil {
		t.Fatal(err)
	}
	cookies := res.Cookies
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", u, resp.Status, b)
	}
	recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("CSV: %v: %s", err, b)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	var cost byok.Micros
	var calls, tokens int64
	for _, r := range recs[1:] {
		c, err := byok.ParseUSD(r[col["cost_usd"]])
		if err != nil {
			t.Fatalf("CSV cost %q: %v", r[col["cost_usd"]], err)
		}
		cost += c
		calls += atoi(t, r[col["calls"]])
		for _, k := range []string{"input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"} {
			tokens += atoi(t, r[col[k]])
		}
	}
	return cost, calls, tokens, string(b)
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("CSV number %q: %v", s, err)
	}
	return n
}

// TestE2E_HubScreenshots draws each page of the hub's web view, as the
// admin of the team newDashboardTeam makes, and checks that each drew.
// With BYOKD_SCREENSHOTS=DIR the PNGs go to DIR (scripts/screenshots:
// docs/hub-*.png).
func TestE2E_HubScreenshots(t *testing.T) {
	out := os.Getenv("BYOKD_SCREENSHOTS")
	if out == "" {
		out = t.TempDir()
	}
	team := newDashboardTeam(t)
	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1200, 860)); err != nil {
		t.Fatal(err)
	}
	signIn(t, ctx, strings.TrimSpace(team.hub.cli("", "admin", "create", "boss@example.com")))
	shots := []struct{ name, path string }{
		{"overview", "/ui/overview"}, {"members", "/ui/members"}, {"shared", "/ui/shared"}, {"projects", "/ui/projects"},
		{"reports", "/ui/reports"}, {"audit", "/ui/audit"}, {"policy", "/ui/policy"}, {"devices", "/ui/devices"},
	}
	for _, s := range shots {
		if err := chromedp.Do(ctx, chromedp.Navigate(team.hub.url+s.path), chromedp.WaitVisible(chromedp.CSS("footer"))); err != nil {
			t.Fatalf("open %s: %v", s.path, err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", s.name, err)
		}
		if len(png) < 10_000 || string(png[1:4]) != "PNG" {
			t.Errorf("page %s: got %d bytes, want a PNG", s.name, len(png))
		}
		if err := os.WriteFile(filepath.Join(out, "hub-"+s.name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
