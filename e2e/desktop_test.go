package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/godbus/dbus/v5"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
	"byokd.dev/byok/internal/fakeprovider"
	"byokd.dev/byok/internal/sdkrun"
	"byokd.dev/byok/keystore"
	"byokd.dev/byok/ledger"
)

// privateBus starts a D-Bus session bus of the test's own and returns
// its address. Processes started with it in DBUS_SESSION_BUS_ADDRESS
// share nothing with the outer session.
func privateBus(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("dbus-daemon", "--config-file=/usr/share/dbus-1/session.conf", "--nofork",
		"--address=unix:path="+filepath.Join(dir, "bus"), "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dbus-daemon: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon printed no address: %v", err)
	}
	return strings.TrimSpace(addr)
}

// busConn connects to the bus at addr.
func busConn(t *testing.T, addr string) *dbus.Conn {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitForName returns once name has an owner on conn's bus.
func waitForName(t *testing.T, conn *dbus.Conn, name string) {
	t.Helper()
	ch := make(chan *dbus.Signal, 16)
	conn.Signal(ch)
	defer conn.RemoveSignal(ch)
	if err := conn.AddMatchSignal(dbus.WithMatchInterface("org.freedesktop.DBus"), dbus.WithMatchMember("NameOwnerChanged"), dbus.WithMatchArg(0, name)); err != nil {
		t.Fatal(err)
	}
	var has bool
	if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has); err != nil {
		t.Fatal(err)
	}
	for !has {
		sig, ok := <-ch
		if !ok {
			t.Fatalf("bus closed before %s appeared", name)
		}
		has = sig.Name == "org.freedesktop.DBus.NameOwnerChanged" && len(sig.Body) == 3 && sig.Body[0] == name && sig.Body[2] != ""
	}
}

// notifications follows the notification server's traffic on a bus: each
// popup's id as the server assigned it, and each CloseNotification.
type notifications struct {
	popups chan uint32 // ids returned by Notify calls that carried actions
	closes chan uint32 // ids in CloseNotification calls
}

func monitorNotifications(t *testing.T, addr string) *notifications {
	t.Helper()
	conn := busConn(t, addr)
	rules := []string{
		"type='method_call',interface='org.freedesktop.Notifications'",
		"type='method_return'",
	}
	if err := conn.BusObject().Call("org.freedesktop.DBus.Monitoring.BecomeMonitor", 0, rules, uint32(0)).Err; err != nil {
		t.Fatalf("monitor the bus: %v", err)
	}
	msgs := make(chan *dbus.Message, 64)
	conn.Eavesdrop(msgs)
	n := &notifications{popups: make(chan uint32, 16), closes: make(chan uint32, 16)}
	go func() {
		asked := map[uint32]bool{} // serials of Notify calls with actions
		for msg := range msgs {
			member, _ := msg.Headers[dbus.FieldMember].Value().(string)
			switch {
			case msg.Type == dbus.TypeMethodCall && member == "Notify" && len(msg.Body) == 8:
				if actions, _ := msg.Body[5].([]string); len(actions) > 0 {
					asked[msg.Serial()] = true
				}
			case msg.Type == dbus.TypeMethodCall && member == "CloseNotification" && len(msg.Body) == 1:
				n.closes <- msg.Body[0].(uint32)
			case msg.Type == dbus.TypeMethodReply:
				serial, _ := msg.Headers[dbus.FieldReplySerial].Value().(uint32)
				if asked[serial] && len(msg.Body) == 1 {
					delete(asked, serial)
					n.popups <- msg.Body[0].(uint32)
				}
			}
		}
	}()
	return n
}

// next returns the next id from ch (popups or closes), failing the test
// if none comes within sdkrun.Timeout instead of hanging it.
func (n *notifications) next(t *testing.T, ch <-chan uint32, what string) uint32 {
	t.Helper()
	select {
	case id := <-ch:
		return id
	case <-time.After(sdkrun.Timeout):
		t.Fatalf("no %s on the bus in %v", what, sdkrun.Timeout)
		return 0
	}
}

// TestE2E_ApprovalPopup answers an approval popup the way a member does:
// through the notification server (dunst, whose context menu picks the
// "Use my key" action), after another program on the bus forged a "deny".
func TestE2E_ApprovalPopup(t *testing.T) {
	if os.Getenv("DISPLAY") == "" {
		t.Fatal("no X display: run the tests through scripts/test (scripts/desktop-session)")
	}
	addr := startDunst(t, "Use my key")
	bus := "DBUS_SESSION_BUS_ADDRESS=" + addr
	conn := busConn(t, addr)
	seen := monitorNotifications(t, addr)

	fake := fakeprovider.New(t, fakeprovider.Options{})
	// The daemon on the private bus keeps its keys in the encrypted file:
	// the private bus has no Secret Service.
	m, tok := setUp(t, fake, bus, "BYOKD_KEYSTORE=file", "BYOKD_KEYSTORE_PASSPHRASE=e2e-pass")
	m.mustCLI("", "pref", "set", "openai", "ask")
	events := m.watchEvents()

	t.Run("answered in the popup", func(t *testing.T) {
		done := m.openaiCallAsync(t, tok)
		nextEvent(t, events, control.EventApproval)
		id := seen.next(t, seen.popups, "approval popup")
		// Any program on the bus can emit ActionInvoked; this one is not
		// the notification server, so its "deny" must not count.
		if err := conn.Emit("/org/freedesktop/Notifications", "org.freedesktop.Notifications.ActionInvoked", id, "deny"); err != nil {
			t.Fatal(err)
		}
		ctl := exec.Command("dunstctl", "context")
		ctl.Env = append(os.Environ(), bus)
		if out, err := ctl.CombinedOutput(); err != nil {
			t.Fatalf("dunstctl context: %v: %s", err, out)
		}
		res := <-done
		if res.Error != nil || res.Headers["x-byokd-credential"] != "personal/work" {
			t.Fatalf("call answered in the popup: %+v, want it sent on personal/work", res)
		}
		if !strings.Contains(m.logs.String(), "ignored a notification signal") {
			t.Error("the daemon's log does not say it ignored the forged signal")
		}
	})

	t.Run("answered elsewhere withdraws the popup", func(t *testing.T) {
		done := m.openaiCallAsync(t, tok)
		ev := nextEvent(t, events, control.EventApproval)
		id := seen.next(t, seen.popups, "approval popup")
		m.mustCLI("", "deny", ev.ApprovalID)
		if res := <-done; res.Error == nil || res.Error.Status != 403 {
			t.Fatalf("denied call: %+v, want 403", res)
		}
		if got := seen.next(t, seen.closes, "CloseNotification"); got != id {
			t.Errorf("CloseNotification for %d, want the popup %d", got, id)
		}
	})
}

// startDunst starts the dunst notification server on a private bus and
// returns the bus's address once dunst serves on it. dunst's context menu
// (dunstctl context) runs its dmenu setting with one line per action; this
// one picks the first whose label holds pick.
func startDunst(t *testing.T, pick string) string {
	t.Helper()
	dir := t.TempDir()
	picker := filepath.Join(dir, "pick")
	if err := os.WriteFile(picker, []byte("#!/bin/sh\nexec grep -m1 -F '"+pick+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(dir, "dunstrc")
	if err := os.WriteFile(rc, []byte("[global]\n    dmenu = "+picker+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := privateBus(t)
	dunst := exec.Command("dunst", "-config", rc)
	dunst.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+addr)
	if err := dunst.Start(); err != nil {
		t.Fatalf("start dunst: %v", err)
	}
	t.Cleanup(func() { dunst.Process.Kill(); dunst.Wait() })
	waitForName(t, busConn(t, addr), "org.freedesktop.Notifications")
	return addr
}

// menuItem is one entry of a dbusmenu layout.
type menuItem struct {
	id       int32
	label    string
	visible  bool
	enabled  bool
	checked  bool
	children []menuItem
}

// menuLayout is com.canonical.dbusmenu's (ia{sv}av).
type menuLayout struct {
	ID       int32
	Props    map[string]dbus.Variant
	Children []dbus.Variant
}

func toItem(l menuLayout) menuItem {
	it := menuItem{id: l.ID, visible: true, enabled: true}
	if v, ok := l.Props["label"]; ok {
		it.label, _ = v.Value().(string)
	}
	if v, ok := l.Props["visible"]; ok {
		it.visible, _ = v.Value().(bool)
	}
	if v, ok := l.Props["enabled"]; ok {
		it.enabled, _ = v.Value().(bool)
	}
	if v, ok := l.Props["toggle-state"]; ok {
		s, _ := v.Value().(int32)
		it.checked = s == 1
	}
	for _, c := range l.Children {
		var cl menuLayout
		if err := dbus.Store([]any{c.Value()}, &cl); err == nil {
			it.children = append(it.children, toItem(cl))
		}
	}
	return it
}

// find returns the visible item with label under the path of labels.
func (it menuItem) find(path ...string) (menuItem, bool) {
	cur := it
	for _, p := range path {
		found := false
		for _, c := range cur.children {
			if c.label == p && c.visible {
				cur, found = c, true
				break
			}
		}
		if !found {
			return menuItem{}, false
		}
	}
	return cur, true
}

// trayMenu reads a tray's menu over com.canonical.dbusmenu, and its
// item's properties over org.kde.StatusNotifierItem.
type trayMenu struct {
	t       *testing.T
	obj     dbus.BusObject
	item    dbus.BusObject
	changes chan *dbus.Signal
}

// tooltip is the tray item's tooltip title, as a panel shows it.
func (m *trayMenu) tooltip() string {
	m.t.Helper()
	v, err := m.item.GetProperty("org.kde.StatusNotifierItem.ToolTip")
	if err != nil {
		m.t.Fatalf("read the tooltip: %v", err)
	}
	// (sa(iiay)ss): icon name, icon pixmaps, title, text
	var tip struct {
		Icon   string
		Pixmap []struct {
			W, H int32
			Data []byte
		}
		Title, Text string
	}
	if err := dbus.Store([]any{v.Value()}, &tip); err != nil {
		m.t.Fatalf("tooltip %v: %v", v, err)
	}
	return tip.Title
}

// openTray finds the tray of the process pid on the session bus.
func openTray(t *testing.T, pid int) *trayMenu {
	t.Helper()
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	name := fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", pid)
	waitForName(t, conn, name)
	var owner string
	if err := conn.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, name).Store(&owner); err != nil {
		t.Fatal(err)
	}
	ch := make(chan *dbus.Signal, 256)
	conn.Signal(ch)
	if err := conn.AddMatchSignal(dbus.WithMatchSender(owner), dbus.WithMatchObjectPath("/StatusNotifierItem/menu")); err != nil {
		t.Fatal(err)
	}
	return &trayMenu{t: t, obj: conn.Object(name, "/StatusNotifierItem/menu"), item: conn.Object(name, "/StatusNotifierItem"), changes: ch}
}

// layout reads the whole menu. The first GetLayout after a change answers
// one level deep, so it reads twice.
func (m *trayMenu) layout() menuItem {
	m.t.Helper()
	var rev uint32
	var l menuLayout
	for range 2 {
		if err := m.obj.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &l); err != nil {
			m.t.Fatalf("GetLayout: %v", err)
		}
	}
	return toItem(l)
}

// until reads the menu after each change until ok says it shows what the
// test waits for.
func (m *trayMenu) until(what string, ok func(menuItem) bool) menuItem {
	m.t.Helper()
	for {
		if l := m.layout(); ok(l) {
			return l
		}
		if _, open := <-m.changes; !open {
			m.t.Fatalf("the tray went away before it showed %s", what)
		}
	}
}

func (m *trayMenu) click(it menuItem) {
	m.t.Helper()
	if err := m.obj.Call("com.canonical.dbusmenu.Event", 0, it.id, "clicked", dbus.MakeVariant(""), uint32(0)).Err; err != nil {
		m.t.Fatalf("click %q: %v", it.label, err)
	}
}

// checked reports whether the item at path is shown and checked.
func checked(l menuItem, path ...string) bool {
	it, ok := l.find(path...)
	return ok && it.checked
}

func TestE2E_TrayMenu(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m, tok := setUp(t, fake)
	menu := openTray(t, m.daemon.Process.Pid)

	l := menu.until("the daemon's state", func(l menuItem) bool {
		s, ok := l.find("byokd: proxy on " + m.proxy)
		return ok && !s.enabled && checked(l, "OpenAI", "Use my personal key")
	})
	for _, want := range []string{"This month: $0.00 yours, $0.00 team", "Pending approvals (0)", "Add API key…", "Usage…", "Pause proxy", "Hide this icon", "Stop byokd"} {
		if _, ok := l.find(want); !ok {
			t.Errorf("menu lacks %q", want)
		}
	}
	// No hub is joined: the team's key is offered, disabled, as what
	// cannot be had.
	const shared, fallback = "Use shared team key (not available)", "Fall back to team key (not available)"
	for _, svc := range []string{"OpenAI", "Anthropic", "ClickUp"} {
		got := [4]bool{checked(l, svc, "Use my personal key"), checked(l, svc, shared), checked(l, svc, "Ask each time"), checked(l, svc, fallback)}
		if want := [4]bool{true, false, false, false}; got != want {
			t.Errorf("%s checks (personal, shared, ask, fallback): got %v, want %v", svc, got, want)
		}
		for _, label := range []string{shared, fallback} {
			if it, ok := l.find(svc, label); !ok || it.enabled {
				t.Errorf("%s %q: shown %v, enabled %v; want it shown and disabled", svc, label, ok, it.enabled)
			}
		}
	}

	t.Run("a click changes the preference", func(t *testing.T) {
		ask, _ := l.find("OpenAI", "Ask each time")
		menu.click(ask)
		l = menu.until("Ask each time checked", func(l menuItem) bool {
			return checked(l, "OpenAI", "Ask each time") && !checked(l, "OpenAI", "Use my personal key")
		})
		out := m.mustCLI("", "pref", "show")
		if !regexpLine(out, `^openai\s+ask\s+off\s`) {
			t.Errorf("pref show after the click:\n%s\nwant openai: ask", out)
		}
	})

	t.Run("a change elsewhere shows", func(t *testing.T) {
		m.mustCLI("", "pref", "set", "anthropic", "shared")
		menu.until("Anthropic on the shared key", func(l menuItem) bool {
			return checked(l, "Anthropic", shared) && !checked(l, "Anthropic", "Use my personal key")
		})
		m.mustCLI("", "pause")
		menu.until("the proxy paused", func(l menuItem) bool {
			_, a := l.find("byokd: proxy paused")
			_, b := l.find("Resume proxy")
			return a && b
		})
		if tip := menu.tooltip(); tip != "byokd: paused: every call is refused" {
			t.Errorf("tooltip while paused: %q", tip)
		}
		res := m.openaiCall(tok)
		if res.Error == nil || res.Error.Status != 503 || !strings.Contains(res.Error.Message, "paused") {
			t.Errorf("call while paused: %+v, want a 503 saying the proxy is paused", res)
		}
		resume, _ := menu.layout().find("Resume proxy")
		menu.click(resume)
		menu.until("the proxy resumed", func(l menuItem) bool { _, ok := l.find("Pause proxy"); return ok })
	})

	t.Run("approve from the tray", func(t *testing.T) {
		done := m.openaiCallAsync(t, tok)
		l := menu.until("the held call", func(l menuItem) bool {
			_, ok := l.find("Pending approvals (1)", "    Use my key")
			return ok
		})
		label := ""
		if p, ok := l.find("Pending approvals (1)"); ok && len(p.children) > 0 {
			label = p.children[0].label
		}
		if !strings.Contains(label, "OpenAI · my-editor · gpt-4o-mini") {
			t.Errorf("pending call: got %q, want service, app and model", label)
		}
		if tip := menu.tooltip(); tip != "byokd: 1 call waits for your answer" {
			t.Errorf("tooltip with a held call: %q", tip)
		}
		use, _ := l.find("Pending approvals (1)", "    Use my key")
		menu.click(use)
		if res := <-done; res.Error != nil || res.Headers["x-byokd-credential"] != "personal/work" {
			t.Fatalf("call approved in the tray: %+v", res)
		}
	})
	m.assertNoSecret(openaiKey)
}

// regexpLine reports whether a line of out matches pattern.
func regexpLine(out, pattern string) bool {
	return regexp.MustCompile(`(?m)` + pattern).MatchString(out)
}

// TestE2E_Screenshots draws each page of the Credential Manager in
// headless Chromium for a member with keys, tokens, usage, a fallback to
// the team key and a call waiting for approval, and checks that each
// drew. With BYOKD_SCREENSHOTS=DIR the PNGs go to DIR; scripts/screenshots
// also sets BYOKD_SCREENSHOTS_DESKTOP=1 and runs it in a session with
// xfce4-panel and xfce4-notifyd, to take the tray menu, the fallback
// notification and the approval popup from the screen.
func TestE2E_Screenshots(t *testing.T) {
	out := os.Getenv("BYOKD_SCREENSHOTS")
	if out == "" {
		out = t.TempDir()
	}
	desktop := os.Getenv("BYOKD_SCREENSHOTS_DESKTOP") == "1"
	fake := fakeprovider.New(t, fakeprovider.Options{})
	// A stand-in for the team hub's relay: the shared key's calls reach
	// the same provider.
	// Only relay paths reach the provider: the daemon's sync client also
	// dials this stand-in, and must not use up the provider's failures.
	target, _ := url.Parse(fake.URL)
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		parts := strings.SplitN(strings.TrimPrefix(pr.In.URL.Path, "/relay/"), "/", 2)
		if len(parts) == 2 {
			pr.Out.URL.Path = "/" + parts[1]
		}
		pr.Out.Header.Set("Authorization", "Bearer sk-team-shared-key-000000")
	}}
	relay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/relay/") {
			http.NotFound(w, r)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(relay.Close)

	m := newMember(t, fake.URL, "BYOKD_KEYSTORE=file", "BYOKD_KEYSTORE_PASSPHRASE=screenshots")
	joinFakeHub(t, m.home, relay.URL, "screenshots")
	m.mustStart()
	m.mustCLI(openaiKey, "key", "add", "openai", "--name", "work", "--budget", "20", "--primary")
	m.mustCLI("sk-proj-sideProjectKey0000000000WXyz", "key", "add", "openai", "--name", "side-project")
	m.mustCLI(anthropicKey, "key", "add", "anthropic", "--name", "work", "--budget", "30")
	tok := strings.TrimSpace(m.mustCLI("", "token", "create", "my-editor", "--project", "acme"))
	m.mustCLI("", "token", "create", "notebook", "--project", "research")
	m.mustCLI("", "pref", "set", "openai", "personal", "--fallback", "on")
	events := m.watchEvents()
	for range 3 {
		if res := m.openaiCall(tok); res.Error != nil {
			t.Fatal(res.Error)
		}
	}
	if res := m.anthropicCall(tok); res.Error != nil {
		t.Fatal(res.Error)
	}
	// The personal key runs out of quota: the call falls back to the team.
	fake.FailNext(2, fakeprovider.Failure{Status: 429, Body: `{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`})
	if res := m.openaiCall(tok); res.Error != nil || !strings.HasPrefix(res.Headers["x-byokd-credential"], "team/") {
		t.Fatalf("call that should fall back: %+v", res)
	}
	nextEvent(t, events, control.EventFallback)
	if desktop {
		shootNotification(t, filepath.Join(out, "notification-fallback.png"), "The team is paying for your OpenAI calls", "over quota")
	}

	// A call waits for approval.
	m.mustCLI("", "pref", "set", "anthropic", "ask")
	held := make(chan sdkrun.Result, 1)
	go func() { held <- m.anthropicCall(tok) }()
	ev := nextEvent(t, events, control.EventApproval)
	if desktop {
		shootNotification(t, filepath.Join(out, "approval-popup.png"), "Anthropic call from my-editor waits for you", "Use my key")
		shootTray(t, filepath.Join(out, "tray-menu.png"), "Pending approvals (1)", "The team pays for", "(1 call)")
	}

	ctx := newBrowser(t)
	l := strings.TrimSpace(m.mustCLI("", "ui", "--print"))
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1100, 820), chromedp.Navigate(l), chromedp.WaitVisible(chromedp.CSS(`#secret`))); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	base := l[:strings.Index(l, "/ui/")]
	for _, p := range []string{"approvals", "keys", "prefs", "tokens", "usage"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/ui/"+p), chromedp.WaitVisible(chromedp.CSS(`footer`))); err != nil {
			t.Fatalf("open %s: %v", p, err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", p, err)
		}
		if len(png) < 10_000 || string(png[1:4]) != "PNG" {
			t.Errorf("page %s: got %d bytes, want a PNG", p, len(png))
		}
		if err := os.WriteFile(filepath.Join(out, "page-"+p+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m.mustCLI("", "approve", ev.ApprovalID)
	if res := <-held; res.Error != nil {
		t.Fatal(res.Error)
	}
	m.assertNoSecret(openaiKey)
}

// joinFakeHub records a hub link in a new state folder, as joining a hub
// does: the hub's URL in the ledger, the device credential in the key file.
func joinFakeHub(t *testing.T, home, hubURL, passphrase string) {
	t.Helper()
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := ledger.Open(ctx, filepath.Join(home, "ledger.db"), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	policy := `{"shared_services":["openai","anthropic"],"allow_fallback":true,"version":1}`
	if err := errors.Join(db.SetMeta(ctx, "hub_url", hubURL), db.SetMeta(ctx, "hub_member", "alex"), db.SetMeta(ctx, "policy", policy)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := keystore.Open(keystore.Config{Backend: "file", FilePath: filepath.Join(home, "keys.enc"),
		Passphrase: func() ([]byte, error) { return []byte(passphrase), nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Set("hub/device", byok.NewSecret("byokdev_screenshots0000000000")); err != nil {
		t.Fatal(err)
	}
}

func (m *member) anthropicCall(tok string) sdkrun.Result {
	m.t.Helper()
	return sdkrun.Run(m.t, "anthropic_messages.mjs", map[string]string{
		"BASE_URL": "http://" + m.proxy + "/anthropic", "API_KEY": tok, "MODEL": "claude-sonnet-4-5", "STREAM": "0", "PROMPT": "x"})
}

// shootNotification saves the notification on screen that shows want:
// it looks at each notification window, newest first, cropped to the
// window with a margin, and reads it back (tesseract) until one holds
// every line of want. None does: the test fails, saying what was read.
func shootNotification(t *testing.T, path string, want ...string) {
	t.Helper()
	var read []string
	for deadline := time.Now().Add(sdkrun.Timeout); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		out, _ := exec.Command("xdotool", "search", "--onlyvisible", "--class", "xfce4-notifyd").Output()
		ids := strings.Fields(string(out))
		for i := len(ids) - 1; i >= 0; i-- {
			geo, err := exec.Command("xdotool", "getwindowgeometry", "--shell", ids[i]).Output()
			if err != nil {
				continue
			}
			g := map[string]int{}
			for _, l := range strings.Fields(string(geo)) {
				if k, v, ok := strings.Cut(l, "="); ok {
					g[k], _ = strconv.Atoi(v)
				}
			}
			if g["WIDTH"] < 50 || g["HEIGHT"] < 20 {
				continue
			}
			time.Sleep(700 * time.Millisecond) // the notification fades in
			crop := fmt.Sprintf("%dx%d+%d+%d", g["WIDTH"]+24, g["HEIGHT"]+24, max(g["X"]-12, 0), max(g["Y"]-12, 0))
			if out, err := exec.Command("import", "-window", "root", "-crop", crop, "+repage", path).CombinedOutput(); err != nil {
				t.Fatalf("import: %v: %s", err, out)
			}
			text := ocr(t, path)
			read = append(read, text)
			if holdsAll(text, want) {
				return
			}
		}
	}
	t.Errorf("no notification on screen shows %q; read last:\n%s", want, strings.Join(read[max(len(read)-4, 0):], "\n---\n"))
}

// ocr is the text tesseract reads in the image at path, its whitespace
// folded. The image is read twice the size, in black and white, so
// that the menu's grey lines read too.
func ocr(t *testing.T, path string) string {
	t.Helper()
	big := filepath.Join(t.TempDir(), "ocr.png")
	if out, err := exec.Command("convert", path, "-resize", "200%", "-colorspace", "Gray", "-threshold", "75%", big).CombinedOutput(); err != nil {
		t.Fatalf("convert: %v: %s", err, out)
	}
	out, err := exec.Command("tesseract", big, "-", "--psm", "6").Output()
	if err != nil {
		t.Fatalf("tesseract %s: %v (install tesseract-ocr: scripts/setup)", path, err)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

// holdsAll reports whether text holds each of want, as OCR reads:
// whitespace folded, case and the look-alikes I and l ignored.
func holdsAll(text string, want []string) bool {
	fold := strings.NewReplacer("l", "i", "’", "'", "‘", "'", "“", `"`, "”", `"`)
	norm := func(s string) string { return fold.Replace(strings.ToLower(strings.Join(strings.Fields(s), " "))) }
	for _, w := range want {
		if !strings.Contains(norm(text), norm(w)) {
			return false
		}
	}
	return true
}

// shootTray opens the tray icon's menu in the panel with a right click,
// saves the screen, and checks that the menu reads as want.
func shootTray(t *testing.T, path string, want ...string) {
	t.Helper()
	x, y := os.Getenv("BYOKD_TRAY_X"), os.Getenv("BYOKD_TRAY_Y")
	if x == "" {
		x, y = "1190", "14"
	}
	if out, err := exec.Command("xdotool", "mousemove", x, y, "click", "3").CombinedOutput(); err != nil {
		t.Fatalf("click the tray icon: %v: %s", err, out)
	}
	time.Sleep(time.Second) // the menu opens
	if out, err := exec.Command("import", "-window", "root", "-crop", "640x420+640+0", "+repage", path).CombinedOutput(); err != nil {
		t.Fatalf("import: %v: %s", err, out)
	}
	_ = exec.Command("xdotool", "key", "Escape").Run()
	if text := ocr(t, path); !holdsAll(text, want) {
		t.Errorf("the tray menu's picture does not show %q; read: %s", want, text)
	}
}

// newBrowser starts Debian's headless Chromium with a profile of its own.
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath("/usr/bin/chromium"), chromedp.Headless, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.DisableGPU, chromedp.NoSandbox, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(1100, 820)}, extra...)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// TestE2E_OneTrayIcon: the daemon shows the tray icon; a `byokd tray`
// started too (the autostart entry) shows none while it does, and takes
// over when the daemon goes: its menu says byokd is not running and
// offers Start, which starts the daemon again.
func TestE2E_OneTrayIcon(t *testing.T) {
	fake := fakeprovider.New(t, fakeprovider.Options{})
	m, _ := setUp(t, fake)
	openTray(t, m.daemon.Process.Pid) // the daemon's icon is up

	trayLog := &lockedBuffer{}
	standalone := exec.Command(byokdBin, "tray")
	standalone.Env = m.env
	standalone.Stderr = trayLog
	if err := standalone.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { standalone.Process.Signal(syscall.SIGTERM); standalone.Wait() })
	for deadline := time.Now().Add(sdkrun.Timeout); !strings.Contains(trayLog.String(), "another process shows byokd's tray icon"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("byokd tray did not wait for the daemon's icon:\n%s", trayLog.String())
		}
	}
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var has bool
	if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", standalone.Process.Pid)).Store(&has); err != nil || has {
		t.Fatalf("byokd tray shows a second icon (%v)", err)
	}

	// The daemon goes: byokd tray takes over, and offers to start it.
	// The daemon it starts listens where config.json says.
	if err := os.WriteFile(filepath.Join(m.home, "config.json"), []byte(`{"listen":"127.0.0.1:0"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	m.stop()
	menu := openTray(t, standalone.Process.Pid)
	l := menu.until("not running", func(l menuItem) bool {
		_, down := l.find("byokd is not running")
		_, start := l.find("Start byokd")
		return down && start
	})
	if _, ok := l.find("OpenAI"); ok {
		t.Error("a menu for a daemon that is not running still offers its preferences")
	}
	// The tooltip is a property of its own: it may follow the menu by a moment.
	want := "byokd is not running: apps pointed at it get no answer"
	for deadline := time.Now().Add(sdkrun.Timeout); menu.tooltip() != want; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("tooltip %q, want %q", menu.tooltip(), want)
			break
		}
	}
	start, _ := l.find("Start byokd")
	menu.click(start)
	menu.until("the started daemon", func(l menuItem) bool {
		s, ok := l.find("Start byokd")
		_, spend := l.find("This month: $0.00 yours, $0.00 team")
		return (!ok || !s.visible) && spend
	})
	var st control.State
	if b, err := os.ReadFile(filepath.Join(m.home, control.StateFile)); err == nil && json.Unmarshal(b, &st) == nil && st.PID > 0 {
		t.Cleanup(func() {
			if p, err := os.FindProcess(st.PID); err == nil {
				p.Signal(syscall.SIGTERM)
			}
		})
	} else {
		t.Fatalf("no daemon state after Start: %v", err)
	}
	if out := m.mustCLI("", "status"); !strings.Contains(out, "proxy") {
		t.Errorf("byokd status after Start:\n%s", out)
	}
}

// TestE2E_BudgetAlertsEachThresholdAndClickOpensThePage: on a real bus
// with a real notification server, a key crossing 50 and 80% of its
// budget in one call, then 100%, makes one notification per threshold,
// none merged; a click on one (dunst's menu picks "Open byokd") opens the
// Credential Manager's keys page in the browser.
func TestE2E_BudgetAlertsEachThresholdAndClickOpensThePage(t *testing.T) {
	if os.Getenv("DISPLAY") == "" {
		t.Fatal("no X display: run the tests through scripts/test (scripts/desktop-session)")
	}
	opened := filepath.Join(t.TempDir(), "opened")
	bin := t.TempDir()
	os.WriteFile(filepath.Join(bin, "xdg-open"), []byte("#!/bin/sh\necho \"$1\" >> \""+opened+"\"\n"), 0o755)
	addr := startDunst(t, "Open byokd")
	bus := "DBUS_SESSION_BUS_ADDRESS=" + addr
	summaries := monitorSummaries(t, addr)

	fake := fakeprovider.New(t, fakeprovider.Options{})
	m := newMember(t, fake.URL, bus, "BYOKD_KEYSTORE=file", "BYOKD_KEYSTORE_PASSPHRASE=e2e-pass", "PATH="+bin+":"+os.Getenv("PATH"))
	m.mustStart()
	// A gpt-4o-mini call of the fake's usage costs $0.000049: 82% of this budget.
	m.mustCLI(openaiKey, "key", "add", "openai", "--name", "small", "--budget", "0.00006")
	tok := strings.TrimSpace(m.mustCLI("", "token", "create", "app"))
	next := func() string {
		t.Helper()
		select {
		case s := <-summaries:
			return s
		case <-time.After(sdkrun.Timeout):
			t.Fatalf("no notification; usage %+v\nlog:\n%s", m.usage(), m.logs.String())
			return ""
		}
	}
	if res := m.openaiCall(tok); res.Error != nil {
		t.Fatal(res.Error)
	}
	for _, want := range []string{`Your OpenAI key "small" is at 50% of its monthly budget`, `Your OpenAI key "small" is at 80% of its monthly budget`} {
		if got := next(); got != want {
			t.Errorf("notification %q, want %q", got, want)
		}
	}
	if res := m.openaiCall(tok); res.Error != nil {
		t.Fatal(res.Error)
	}
	if got := next(); got != `Your OpenAI key "small" has used its monthly budget` {
		t.Errorf("notification %q, want the 100%% one", got)
	}

	ctl := exec.Command("dunstctl", "context")
	ctl.Env = append(os.Environ(), bus)
	if out, err := ctl.CombinedOutput(); err != nil {
		t.Fatalf("dunstctl context: %v: %s", err, out)
	}
	var page []byte
	for deadline := time.Now().Add(sdkrun.Timeout); ; time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(opened); err == nil && len(b) > 0 {
			page, _ = os.ReadFile(filepath.Join(m.home, "open-link.html"))
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the click opened no browser")
		}
	}
	if !strings.Contains(string(page), "next=%2Fui%2Fkeys") {
		t.Errorf("the page the click opened: %s, want the keys page", page)
	}
}

// monitorSummaries returns the summary of every notification shown on
// the bus at addr from now on.
func monitorSummaries(t *testing.T, addr string) <-chan string {
	t.Helper()
	conn := busConn(t, addr)
	rule := "type='method_call',interface='org.freedesktop.Notifications',member='Notify'"
	if err := conn.BusObject().Call("org.freedesktop.DBus.Monitoring.BecomeMonitor", 0, []string{rule}, uint32(0)).Err; err != nil {
		t.Fatalf("monitor the bus: %v", err)
	}
	msgs := make(chan *dbus.Message, 64)
	conn.Eavesdrop(msgs)
	out := make(chan string, 64)
	go func() {
		for msg := range msgs {
			if member, _ := msg.Headers[dbus.FieldMember].Value().(string); member == "Notify" && len(msg.Body) == 8 {
				s, _ := msg.Body[3].(string)
				out <- s
			}
		}
	}()
	return out
}
