package webui_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
)

// chromium is Debian's browser, which .ci/run installs.
const chromium = "/usr/bin/chromium"

// newBrowser starts headless Chromium with a profile of its own.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("no %s: install Debian's chromium (see .ci/run)", chromium)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.DisableGPU,
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1100, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

func TestUI_BrowserAddKey(t *testing.T) {
	r := startDaemon(t)
	ctx := newBrowser(t)
	link := r.loginURL(t)
	name := fmt.Sprintf("browser%d", time.Now().UnixNano()%1e6)
	secret := "sk-proj-browsertest-" + fmt.Sprint(time.Now().UnixNano()) + "Zq9X"

	// The link signs in by itself and lands on the keys page.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`#secret`)),
	); err != nil {
		t.Fatalf("sign in with the link: %v", err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(title, "Keys") {
		t.Fatalf("after the link: got page %q, want Keys", title)
	}

	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#service`), "openai"),
		chromedp.SendKeys(chromedp.CSS(`#name`), name),
		chromedp.SendKeys(chromedp.CSS(`#secret`), secret),
		chromedp.SendKeys(chromedp.CSS(`#budget`), "25"),
		chromedp.Click(chromedp.CSS(`input[name=primary]`)),
		chromedp.Submit(chromedp.CSS(`#secret`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash.ok`)),
	); err != nil {
		t.Fatalf("add a key: %v", err)
	}
	flash := run(t, ctx, chromedp.Text(chromedp.CSS(`.flash.ok`)))
	html := run(t, ctx, chromedp.OuterHTML(chromedp.CSS(`html`)))
	fp := "…" + secret[len(secret)-4:]
	if !strings.Contains(flash, name) || !strings.Contains(flash, fp) {
		t.Errorf("message after adding: got %q, want the name and fingerprint %s", flash, fp)
	}
	if !strings.Contains(html, `<code class="fp">`+fp+`</code>`) || !strings.Contains(html, name) {
		t.Errorf("the keys page does not list %s by its fingerprint %s", name, fp)
	}
	if strings.Contains(html, secret) || strings.Contains(html, secret[:len(secret)-4]) {
		t.Error("the secret is in the page's HTML after adding it")
	}
	out, err := exec.Command("secret-tool", "lookup", "username", "personal/openai/"+name).Output()
	if err != nil {
		t.Fatalf("secret-tool lookup: %v", err)
	}
	if strings.TrimSpace(string(out)) != secret {
		t.Error("the keychain does not hold the secret under the key's name")
	}
	keys, err := r.client.Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].Fingerprint != fp || !keys[0].Primary || keys[0].Budget != 25_000_000 {
		t.Errorf("keys: got %+v, want one primary key %s with a $25 budget", keys, fp)
	}

	t.Run("without the CSRF token", func(t *testing.T) {
		if err := chromedp.Do(ctx,
			chromedp.Navigate(r.base+"/ui/keys"),
			chromedp.WaitVisible(chromedp.CSS(`#secret`)),
			chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := chromedp.Evaluate[bool](`document.querySelector('form[action="/ui/keys"] input[name=csrf]').remove(), true`)(ctx, tg)
				return err
			}),
			chromedp.SendKeys(chromedp.CSS(`#name`), "nocsrf"),
			chromedp.SendKeys(chromedp.CSS(`#secret`), "sk-nocsrf-0000000000000"),
		); err != nil {
			t.Fatal(err)
		}
		resp, err := chromedp.RunResponse(ctx, chromedp.Submit(chromedp.CSS(`#secret`)))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != http.StatusForbidden {
			t.Errorf("status: got %d, want 403", resp.Status)
		}
		body := run(t, ctx, chromedp.Text(chromedp.CSS(`body`)))
		if !strings.Contains(body, "security token is missing") {
			t.Errorf("page after a form without its token: got %q, want a refusal", body)
		}
	})

	t.Run("from a foreign origin", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(r.base+"/ui/keys")); err != nil {
			t.Fatal(err)
		}
		csrf := run(t, ctx, chromedp.Value(chromedp.CSS(`form[action="/ui/keys"] input[name=csrf]`)))
		// Another web site on this machine, holding even the right token.
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, `<!doctype html><form id="f" method="post" action="%s/ui/keys">
<input name="csrf" value="%s"><input name="service" value="openai"><input name="name" value="evil">
<input name="secret" value="sk-evil-000000000000000"></form><script>document.getElementById("f").submit()</script>`, r.base, csrf)
		}))
		defer evil.Close()
		if err := chromedp.Do(ctx, chromedp.Navigate(evil.URL)); err != nil {
			t.Fatal(err)
		}
		run(t, ctx, chromedp.Poll[bool](`document.location.href.endsWith("/ui/keys") && document.readyState == "complete"`))
		body := run(t, ctx, chromedp.Text(chromedp.CSS(`body`)))
		if !strings.Contains(body, "another web site") {
			t.Errorf("page after a foreign site's form: got %q, want a refusal", body)
		}
	})

	keys, _ = r.client.Keys(context.Background())
	if len(keys) != 1 {
		t.Errorf("keys after the refused forms: got %d, want 1", len(keys))
	}

	t.Run("the link works once", func(t *testing.T) {
		other := newBrowser(t)
		if err := chromedp.Do(other, chromedp.Navigate(link)); err != nil {
			t.Fatal(err)
		}
		body := run(t, other, chromedp.Text(chromedp.CSS(`main`)))
		if !strings.Contains(body, "already used or has expired") {
			t.Errorf("the used link: got %q, want it refused", body)
		}
	})
}

// run runs one action that gives a value, failing the test on error.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestUI_BrowserPageIsLive: an open page follows the daemon. A key added
// from the CLI and a new app token appear without a reload (and without
// clearing a form being filled in); removing a key asks first, and
// declining keeps it; a token shown once can be copied with a button.
func TestUI_BrowserPageIsLive(t *testing.T) {
	r := startDaemon(t)
	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(r.loginURL(t)), chromedp.WaitVisible(chromedp.CSS(`#secret`))); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	run(t, ctx, chromedp.Evaluate[bool](`window.stillThisPage = true`))
	// Half-typed in the form while the key arrives from elsewhere.
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(`#name`), "half-typed")); err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	if _, err := r.client.AddKey(bg, control.AddKey{Service: byok.OpenAI, Name: "from-cli", Secret: "sk-proj-fromTheCLI000000000000Ab12"}); err != nil {
		t.Fatal(err)
	}
	// The form holds what was typed: the redraw waits until it is left.
	run(t, ctx, chromedp.Poll[bool](`document.documentElement.dataset.waiting == "1"`))
	if v := run(t, ctx, chromedp.Value(chromedp.CSS(`#name`))); v != "half-typed" {
		t.Errorf("the form being filled in was cleared: %q", v)
	}
	run(t, ctx, chromedp.Evaluate[bool](`document.querySelector("#name").value = "", document.activeElement.blur(), true`))
	run(t, ctx, chromedp.Poll[bool](`document.querySelector("#live").textContent.includes("from-cli")`))
	if !run(t, ctx, chromedp.Evaluate[bool](`window.stillThisPage === true`)) {
		t.Error("the page was reloaded, not redrawn")
	}
	if st := run(t, ctx, chromedp.Text(chromedp.CSS(`td.state`))); st != "working" {
		t.Errorf("the key's state: %q", st)
	}

	// Remove asks; declined, the key stays; accepted, it goes.
	answers := make(chan bool, 2)
	answers <- false
	answers <- true
	asked := make(chan string, 2)
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			asked <- ev.Message
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: <-answers})
		}
	}()
	remove := chromedp.CSS(`form[action="/ui/keys/remove"] button`)
	if err := chromedp.Do(ctx, chromedp.Click(remove)); err != nil {
		t.Fatal(err)
	}
	if msg := <-asked; !strings.Contains(msg, "Remove your OpenAI key from-cli?") {
		t.Errorf("the question: %q", msg)
	}
	if keys, _ := r.client.Keys(bg); len(keys) != 1 {
		t.Fatalf("declined, yet %d keys remain", len(keys))
	}
	if err := chromedp.Do(ctx, chromedp.Click(remove), chromedp.WaitVisible(chromedp.CSS(`.flash.ok`))); err != nil {
		t.Fatal(err)
	}
	<-asked
	if keys, _ := r.client.Keys(bg); len(keys) != 0 {
		t.Errorf("accepted, yet %d keys remain", len(keys))
	}

	// A token created here is shown once, with a Copy button.
	if err := chromedp.Do(ctx, chromedp.Navigate(r.base+"/ui/tokens"), chromedp.WaitVisible(chromedp.CSS(`#tname`)),
		chromedp.SendKeys(chromedp.CSS(`#tname`), "editor"), chromedp.Submit(chromedp.CSS(`#tname`)),
		chromedp.WaitVisible(chromedp.CSS(`button[data-copy]`))); err != nil {
		t.Fatal(err)
	}
	for _, perm := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.Call(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: perm}, Setting: cdpbrowser.PermissionSettingGranted, Origin: r.base}); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[data-copy]`))); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, chromedp.Poll[bool](`document.querySelector(".copied").textContent == "Copied."`))
	copied := run(t, ctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	if shown := run(t, ctx, chromedp.Value(chromedp.CSS(`#secret-once`))); copied != shown || !strings.HasPrefix(copied, byok.AppTokenPrefix) {
		t.Errorf("copied %q, the page showed %q", copied, shown)
	}
}
