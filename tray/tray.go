//go:build !notray

package tray

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"fyne.io/systray"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
)

// slots is how many pending approvals the menu lists; the count in the
// submenu's title includes any beyond.
const slots = 5

// Tray is the running menu.
type Tray struct {
	cfg Config
	log *slog.Logger

	status, start, spend, teamPays *systray.MenuItem
	services                       map[byok.Service]*serviceItems
	pending                        *systray.MenuItem
	approvals                      [slots]approvalItems
	addKey, usage, pause           *systray.MenuItem
	hide, stop                     *systray.MenuItem
	kick                           chan struct{} // asks the refresher to redraw

	mu     sync.Mutex // guards the fields below, written by the refresher
	client Client
	prefs  map[byok.Service]control.Pref
	shown  [slots]string // approval id in each slot
	paused bool

	lookMu sync.Mutex // held while the look is sent, so that sends keep their order
	look   Look
	tip    string
}

type serviceItems struct {
	menu, personal, shared, ask, fallback *systray.MenuItem
}

type approvalItems struct {
	label, personal, shared, deny *systray.MenuItem
}

// Run shows the tray until ctx ends or the member hides it (or stops the
// daemon, where Config.Stop offers it). It may be called once per process.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Dial == nil {
		return errors.New("tray: no way to reach the daemon")
	}
	if cfg.Open == nil {
		cfg.Open = OpenBrowser // a link with a code should go through OpenLink
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Tray{cfg: cfg, log: cfg.Logger.With("component", "tray"), kick: make(chan struct{}, 1),
		services: map[byok.Service]*serviceItems{}, prefs: map[byok.Service]control.Pref{}, look: -1}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan struct{})
	exited := make(chan struct{})
	go systray.Run(func() { t.build(); close(ready) }, func() { close(exited) })
	select {
	case <-ready:
	case <-ctx.Done():
		systray.Quit()
		<-exited
		return nil
	}
	// They all touch the tray item, which Quit takes down under them: a
	// refresh that set the icon as it went panicked the daemon on its
	// way out, before it closed the ledger.
	var wg sync.WaitGroup
	wg.Go(func() { t.refresher(ctx) })
	wg.Go(func() { t.watch(ctx) })
	wg.Go(func() { t.reassert(ctx) })
	t.handleClicks(ctx, cancel)
	<-ctx.Done()
	wg.Wait()
	systray.Quit()
	<-exited
	return nil
}

// build makes every item once; refresh shows, hides, checks and relabels
// them (fyne.io/systray cannot insert items in the middle of a menu).
func (t *Tray) build() {
	t.setLook(LookNormal, "byokd: connecting…")
	systray.SetTitle("byokd")
	t.status = systray.AddMenuItem("byokd: connecting…", "")
	t.status.Disable()
	t.start = systray.AddMenuItem("Start byokd", "Start the proxy, as the service if it is installed")
	t.start.Hide()
	t.spend = systray.AddMenuItem(spendLine(control.Status{}), "")
	t.spend.Disable()
	t.teamPays = systray.AddMenuItem("", "Your own key is skipped; it pays again once it works")
	t.teamPays.Disable()
	t.teamPays.Hide()
	systray.AddSeparator()
	for _, svc := range byok.Services() {
		m := systray.AddMenuItem(svc.Title(), "Which key pays for "+svc.Title()+" calls")
		t.services[svc] = &serviceItems{
			menu:     m,
			personal: m.AddSubMenuItemCheckbox("Use my personal key", "", false),
			shared:   m.AddSubMenuItemCheckbox("Use shared team key", "The team pays", false),
			ask:      m.AddSubMenuItemCheckbox("Ask each time", "", false),
		}
		m.AddSeparator()
		t.services[svc].fallback = m.AddSubMenuItemCheckbox("Fall back to team key", "When your key cannot pay", false)
	}
	systray.AddSeparator()
	t.pending = systray.AddMenuItem(pendingLine(0), "Calls waiting for your answer")
	for i := range t.approvals {
		a := &t.approvals[i]
		a.label = t.pending.AddSubMenuItem("", "")
		a.label.Disable()
		a.personal = t.pending.AddSubMenuItem("    Use my key", "")
		a.shared = t.pending.AddSubMenuItem("    Use team key", "The team pays")
		a.deny = t.pending.AddSubMenuItem("    Deny", "")
		for _, it := range []*systray.MenuItem{a.label, a.personal, a.shared, a.deny} {
			it.Hide()
		}
	}
	systray.AddSeparator()
	t.addKey = systray.AddMenuItem("Add API key…", "Open the Credential Manager")
	t.usage = systray.AddMenuItem("Usage…", "This month's usage in the Credential Manager")
	t.pause = systray.AddMenuItem(pauseLine(false), "Refuse every call until resumed")
	systray.AddSeparator()
	t.hide = systray.AddMenuItem("Hide this icon", "byokd keeps running; `byokd tray` shows the icon again")
	if t.cfg.Stop != nil {
		t.stop = systray.AddMenuItem("Stop byokd", "Stop the proxy: apps get no answer until byokd runs again")
	}
}

// setLook shows the icon and tooltip of a state, if they changed.
func (t *Tray) setLook(l Look, tip string) {
	t.lookMu.Lock()
	defer t.lookMu.Unlock()
	if l != t.look || tip != t.tip {
		t.look, t.tip = l, tip
		t.sendLook()
	}
}

// reassert sends the icon and tooltip again, unchanged, six times in the
// minute after start (1, 2, 4 … 32 s apart): fyne.io/systray registers
// the item on the bus beside build (onReady), exporting the icon and
// tooltip it held when it began, and drops a set that comes meanwhile, so
// the first refresh's look could be lost until the state next changed (a
// tooltip left at "connecting…" while the menu said byokd was not running).
func (t *Tray) reassert(ctx context.Context) {
	for wait := time.Second; wait <= 32*time.Second; wait *= 2 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		t.lookMu.Lock()
		t.sendLook()
		t.lookMu.Unlock()
	}
}

// sendLook hands the look to the tray item; lookMu is held.
func (t *Tray) sendLook() {
	l, tip := t.look, t.tip
	png := t.cfg.Icons[l]
	if len(png) == 0 {
		png = t.cfg.Icons[LookNormal]
	}
	if len(png) > 0 {
		systray.SetIcon(png)
	}
	systray.SetTooltip(tip)
}

// redraw asks the refresher for a redraw; requests coalesce.
func (t *Tray) redraw() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

func (t *Tray) refresher(ctx context.Context) {
	t.redraw()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.kick:
			t.refresh(ctx)
		}
	}
}

// watch follows the event stream: every event may change what the menu
// shows. When the stream ends it reconnects with backoff.
func (t *Tray) watch(ctx context.Context) {
	wait := 200 * time.Millisecond
	for ctx.Err() == nil {
		c, err := t.dial()
		var ch <-chan control.Event
		if err == nil {
			ch, err = c.Subscribe(ctx)
		}
		if err != nil {
			t.forget()
			t.redraw()
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, 5*time.Second)
			continue
		}
		wait = 200 * time.Millisecond
		t.redraw()
		for range ch {
			t.redraw()
		}
		t.forget()
		t.redraw()
	}
}

// dial returns the client, dialing the daemon if there is none.
func (t *Tray) dial() (Client, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.client != nil {
		return t.client, nil
	}
	c, err := t.cfg.Dial()
	if err != nil {
		return nil, err
	}
	t.client = c
	return c, nil
}

// forget drops the client so that the next use dials again: the daemon
// may have restarted on another port.
func (t *Tray) forget() {
	t.mu.Lock()
	t.client = nil
	t.mu.Unlock()
}

// refresh reads the daemon's state and redraws the menu.
func (t *Tray) refresh(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := t.dial()
	var st control.Status
	if err == nil {
		st, err = c.Status(ctx)
	}
	var prefs []control.Pref
	var pending []control.Approval
	if err == nil {
		prefs, err = c.Prefs(ctx)
	}
	if err == nil {
		pending, err = c.Approvals(ctx)
	}
	t.status.SetTitle(statusLine(st, err))
	t.setLook(look(st, len(pending), err))
	if err != nil {
		t.log.Debug("daemon unavailable", "err", err)
		t.setRunning(false)
		return
	}
	t.setRunning(true)
	t.spend.SetTitle(spendLine(st))
	if len(st.TeamPaying) > 0 {
		t.teamPays.SetTitle(upperFirst(teamPayingLine(st.TeamPaying)))
		t.teamPays.Show()
	} else {
		t.teamPays.Hide()
	}
	t.pause.SetTitle(pauseLine(st.Paused))
	t.mu.Lock()
	t.paused = st.Paused
	for _, p := range prefs {
		t.prefs[p.Service] = p
	}
	t.mu.Unlock()
	for _, p := range prefs {
		items := t.services[p.Service]
		if items == nil {
			continue
		}
		setChecked(items.personal, p.Preference == byok.PreferPersonal)
		setChecked(items.shared, p.Preference == byok.PreferShared)
		setChecked(items.ask, p.Preference == byok.PreferAsk)
		setChecked(items.fallback, p.Fallback)
		// The team's key only where it can pay; else say why.
		ok, why := st.TeamKey(p.Service)
		for _, it := range []*systray.MenuItem{items.shared, items.fallback} {
			if ok {
				it.Enable()
				it.SetTooltip("The team pays")
			} else {
				it.Disable()
				it.SetTooltip("Not available: " + why)
			}
		}
		items.shared.SetTitle(teamChoice("Use shared team key", ok))
		items.fallback.SetTitle(teamChoice("Fall back to team key", ok))
	}
	t.pending.SetTitle(pendingLine(len(pending)))
	var shown [slots]string
	for i := range t.approvals {
		a := &t.approvals[i]
		items := []*systray.MenuItem{a.label, a.personal, a.shared, a.deny}
		if i >= len(pending) {
			for _, it := range items {
				it.Hide()
			}
			continue
		}
		p := pending[i]
		shown[i] = p.ID
		a.label.SetTitle(approvalLine(p))
		a.label.Show()
		offers := map[string]bool{}
		for _, c := range p.Choices {
			offers[c] = true
		}
		showIf(a.personal, offers["personal"])
		showIf(a.shared, offers["shared"])
		showIf(a.deny, offers["deny"])
	}
	t.mu.Lock()
	t.shown = shown
	t.mu.Unlock()
}

// setRunning shows what a running daemon offers, or only that it is not
// running and how to start it.
func (t *Tray) setRunning(on bool) {
	items := []*systray.MenuItem{t.spend, t.pending, t.addKey, t.usage, t.pause}
	for _, s := range t.services {
		items = append(items, s.menu)
	}
	for _, it := range items {
		showIf(it, on)
	}
	if !on {
		t.teamPays.Hide()
	}
	showIf(t.start, !on && t.cfg.Start != nil)
}

func setChecked(it *systray.MenuItem, on bool) {
	if on {
		it.Check()
	} else {
		it.Uncheck()
	}
}

func showIf(it *systray.MenuItem, on bool) {
	if on {
		it.Show()
	} else {
		it.Hide()
	}
}

// handleClicks starts one goroutine per item.
func (t *Tray) handleClicks(ctx context.Context, quit context.CancelFunc) {
	on := func(it *systray.MenuItem, f func(context.Context) error) {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case _, ok := <-it.ClickedCh:
					if !ok {
						return
					}
					actx, cancel := context.WithTimeout(ctx, 15*time.Second)
					if err := f(actx); err != nil {
						t.log.Warn("tray action failed", "item", it.String(), "err", err)
					}
					cancel()
					t.redraw()
				}
			}
		}()
	}
	for svc, items := range t.services {
		on(items.personal, t.setPref(svc, func(p *control.Pref) { p.Preference = byok.PreferPersonal }))
		on(items.shared, t.setPref(svc, func(p *control.Pref) { p.Preference = byok.PreferShared }))
		on(items.ask, t.setPref(svc, func(p *control.Pref) { p.Preference = byok.PreferAsk }))
		on(items.fallback, t.setPref(svc, func(p *control.Pref) { p.Fallback = !p.Fallback }))
	}
	for i := range t.approvals {
		a := &t.approvals[i]
		on(a.personal, t.answer(i, "personal"))
		on(a.shared, t.answer(i, "shared"))
		on(a.deny, t.answer(i, "deny"))
	}
	on(t.addKey, t.openPage("/ui/keys"))
	on(t.usage, t.openPage("/ui/usage"))
	on(t.pause, func(ctx context.Context) error {
		c, err := t.dial()
		if err != nil {
			return err
		}
		t.mu.Lock()
		paused := t.paused
		t.mu.Unlock()
		return c.SetPaused(ctx, !paused)
	})
	on(t.start, func(ctx context.Context) error {
		t.status.SetTitle("byokd: starting…")
		return t.cfg.Start(ctx)
	})
	on(t.hide, func(context.Context) error {
		quit()
		return nil
	})
	if t.stop != nil {
		on(t.stop, func(context.Context) error {
			t.cfg.Stop()
			quit()
			return nil
		})
	}
}

// setPref changes one service's preference, starting from what the
// daemon said last.
func (t *Tray) setPref(svc byok.Service, change func(*control.Pref)) func(context.Context) error {
	return func(ctx context.Context) error {
		c, err := t.dial()
		if err != nil {
			return err
		}
		t.mu.Lock()
		p, ok := t.prefs[svc]
		t.mu.Unlock()
		if !ok {
			return errors.New("preferences not read yet")
		}
		change(&p)
		return c.SetPref(ctx, p)
	}
}

func (t *Tray) answer(slot int, answer string) func(context.Context) error {
	return func(ctx context.Context) error {
		c, err := t.dial()
		if err != nil {
			return err
		}
		t.mu.Lock()
		id := t.shown[slot]
		t.mu.Unlock()
		if id == "" {
			return nil
		}
		return c.Answer(ctx, id, control.Answer{Answer: answer})
	}
}

// openPage opens the Credential Manager at page with a one-time login link.
func (t *Tray) openPage(page string) func(context.Context) error {
	return func(ctx context.Context) error {
		c, err := t.dial()
		if err != nil {
			return err
		}
		l, err := c.LoginURL(ctx)
		if err != nil {
			return err
		}
		return t.cfg.Open(l.URL + "&next=" + url.QueryEscape(page))
	}
}
