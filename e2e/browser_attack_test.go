package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"byokd.dev/byok/internal/fakeprovider"
)

// TestE2E_BrowserPageCannotUseTheProxy: a page in the member's browser, from
// another origin, tries the proxy every way a page can — a fetch with the
// app token (CORS preflight), a no-cors fetch, a form post — and then
// through DNS rebinding (the browser resolves a foreign name to 127.0.0.1,
// so the page and the proxy share an origin). Even knowing the token, it
// gets nothing: each is refused before any key is read, and the upstream
// sees no request.
func TestE2E_BrowserPageCannotUseTheProxy(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m, tok := setUp(t, fake)
	_, port, _ := net.SplitHostPort(m.proxy)
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!doctype html><title>a web page</title><p>hello</p>`)
	}))
	t.Cleanup(attacker.Close)
	ctx := newBrowser(t, chromedp.Flag("host-resolver-rules", "MAP rebind.test 127.0.0.1"))

	proxyURL := "http://" + m.proxy + "/openai/v1/chat/completions"
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	attacks := fmt.Sprintf(`(async () => {
		const out = {};
		try {
			const r = await fetch(%[1]q, {method: "POST", headers: {"Authorization": "Bearer " + %[2]q, "Content-Type": "application/json"}, body: %[3]q});
			out.cors = "status " + r.status;
		} catch (e) { out.cors = "blocked: " + e.name; }
		try {
			await fetch(%[1]q, {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: %[3]q});
			out.nocors = "sent";
		} catch (e) { out.nocors = "blocked: " + e.name; }
		return JSON.stringify(out);
	})()`, proxyURL, tok, body)
	if err := chromedp.Do(ctx, chromedp.Navigate(attacker.URL)); err != nil {
		t.Fatal(err)
	}
	fromPage, err := chromedp.Run(ctx, chromedp.Evaluate[string](attacks, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cross-origin fetches: %s", fromPage)
	if !strings.Contains(fromPage, `"cors":"blocked: TypeError"`) {
		t.Errorf("a fetch with the token from another origin: %s, want it blocked (its preflight refused)", fromPage)
	}

	// A form post navigates to the proxy; the browser shows what it said.
	form := fmt.Sprintf(`(() => {
		const f = document.createElement("form");
		f.method = "POST"; f.action = %q; f.enctype = "text/plain";
		const i = document.createElement("input"); i.name = '{"model":"gpt-4o-mini","x":"'; i.value = '"}';
		f.appendChild(i); document.body.appendChild(f); setTimeout(() => f.submit(), 0); return true;
	})()`, proxyURL)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](form)); err != nil {
		t.Fatal(err)
	}
	// The submit navigates away: ask again until the proxy's answer is the
	// page (an evaluation cut by the navigation is asked again).
	var formReply string
	for deadline := time.Now().Add(30 * time.Second); formReply == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		formReply, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`document.location.href.startsWith("http://`+m.proxy+`") ? document.body.innerText : ""`))
	}
	if !strings.Contains(formReply, "byokd: refused a request from a web page") {
		t.Errorf("form post from another origin: the proxy answered %q, want the web-page refusal", formReply)
	}

	// DNS rebinding: rebind.test resolves to 127.0.0.1, so this page is
	// same-origin with the proxy and may read its answers.
	rebound := "http://rebind.test:" + port
	if err := chromedp.Do(ctx, chromedp.Navigate(rebound+"/openai/v1/models")); err != nil {
		t.Fatal(err)
	}
	rebindReply, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(async () => {
		const r = await fetch("/openai/v1/chat/completions", {method: "POST", headers: {"Authorization": "Bearer " + %q, "Content-Type": "application/json"}, body: %q});
		return r.status + " " + await r.text();
	})()`, tok, body), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rebindReply, "403 ") || !strings.Contains(rebindReply, `byokd: refused a request for host \"rebind.test:`+port) {
		t.Errorf("a same-origin call through DNS rebinding: got %q, want 403 refusing the host", rebindReply)
	}

	if n := len(fake.Requests()); n != 0 {
		t.Errorf("the upstream saw %d requests from the browser's attempts, want none", n)
	}
	// The member can see that something probed: the preflight, the
	// no-cors fetch, the form post and the rebound call were each refused.
	st := m.mustCLI("", "status")
	if !regexp.MustCompile(`refused: +([4-9]|\d\d+) proxy`).MatchString(st) {
		t.Errorf("byokd status after four refused requests:\n%s\nwant a line counting at least 4 refused proxy requests", st)
	}
	m.assertNoSecret(openaiKey)
}
