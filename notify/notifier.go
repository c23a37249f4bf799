package notify

import (
	"context"
	"log/slog"
	"net/url"
	"time"

	"byokd.dev/byok/control"
)

// Backend is what a Notifier needs of the daemon: its events, the
// approvals they announce, and sign-in links for the page a click opens.
// The daemon's control backend and control.Client both satisfy it.
type Backend interface {
	Subscribe(ctx context.Context) (<-chan control.Event, error)
	Approvals(ctx context.Context) ([]control.Approval, error)
	Answer(ctx context.Context, id string, a control.Answer) error
	LoginURL(ctx context.Context) (control.Login, error)
}

// Poster shows a plain notification. clicked, if the notification server
// reports a click on it, is called once from another goroutine; a Poster
// that cannot tell ignores it.
type Poster interface {
	Post(title, body string, clicked func()) error
}

// Asker shows approval popups.
type Asker interface {
	// Ask shows a popup for a; answer is called at most once, with the
	// member's choice, from another goroutine; clicked (if not nil) when
	// the popup itself is clicked.
	Ask(a control.Approval, clicked func(), answer func(control.Answer)) error
	// Withdraw closes a's popup if it is still shown: the call was
	// answered elsewhere or timed out.
	Withdraw(approvalID string)
}

// Notifier turns the daemon's events into notifications and popups.
type Notifier struct {
	poster Poster
	asker  Asker
	open   func(link string) error
	now    func() time.Time
	log    *slog.Logger
	co     *Coalescer
}

// Config configures a Notifier. Poster is required; Asker may be nil (no
// popups: the tray, the page and the CLI still answer).
type Config struct {
	Poster Poster
	Asker  Asker
	// Window: at most one notification per kind and service per window;
	// default DefaultWindow.
	Window time.Duration
	Now    func() time.Time // default time.Now
	// Open opens a one-time sign-in link in the browser; with it a click
	// on a notification opens the Credential Manager page it is about.
	Open   func(link string) error
	Logger *slog.Logger
}

// New returns a Notifier.
func New(cfg Config) *Notifier {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	w := cfg.Window
	if w <= 0 {
		w = DefaultWindow
	}
	return &Notifier{
		poster: cfg.Poster, asker: cfg.Asker, open: cfg.Open, now: cfg.Now,
		log: cfg.Logger.With("component", "notify"), co: NewCoalescer(w),
	}
}

// Run follows b's events until ctx ends, resubscribing with backoff when
// the stream ends (a daemon restart, for a notifier outside the daemon).
func (n *Notifier) Run(ctx context.Context, b Backend) error {
	wait := 100 * time.Millisecond
	for {
		ch, err := b.Subscribe(ctx)
		if err == nil {
			wait = 100 * time.Millisecond
			n.follow(ctx, b, ch)
		} else {
			n.log.Debug("event stream unavailable", "err", err)
		}
		if ctx.Err() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// follow handles ch's events until it closes. A timer runs only while a
// summary waits (Coalescer.Next): an idle daemon's notifier never wakes.
func (n *Notifier) follow(ctx context.Context, b Backend, ch <-chan control.Event) {
	due := time.NewTimer(time.Hour)
	due.Stop()
	defer due.Stop()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return
			}
			n.handle(ctx, b, ev)
		case <-due.C:
			for _, ev := range n.co.Due(n.now()) {
				n.post(ctx, b, ev)
			}
		}
		due.Stop()
		if at, ok := n.co.Next(); ok {
			due.Reset(max(at.Sub(n.now()), 0))
		}
	}
}

// Kinds that make a plain notification, and whether a burst of them is
// summed up (Coalescer). A fallback spell and a budget threshold are each
// said once by the daemon, and never merged away.
var plain = map[string]bool{
	control.EventFallback: false, control.EventBudget: false, control.EventUnanswered: false,
	control.EventKey: true, control.EventHub: true,
}

// pageOf is the Credential Manager page a click on a notification opens.
var pageOf = map[string]string{
	control.EventFallback: "/ui/usage", control.EventBudget: "/ui/keys", control.EventKey: "/ui/keys",
	control.EventUnanswered: "/ui/approvals", control.EventHub: "/ui/usage",
}

func (n *Notifier) handle(ctx context.Context, b Backend, ev control.Event) {
	coalesce, isPlain := plain[ev.Kind]
	switch {
	case isPlain && !coalesce:
		n.post(ctx, b, ev)
	case isPlain:
		if n.co.Add(ev, n.now()) {
			n.post(ctx, b, ev)
		}
	case ev.Kind == control.EventApproval && n.asker != nil:
		n.ask(ctx, b, ev.ApprovalID)
	case ev.Kind == control.EventChanged && ev.ApprovalID != "" && n.asker != nil:
		n.asker.Withdraw(ev.ApprovalID)
	}
}

func (n *Notifier) post(ctx context.Context, b Backend, ev control.Event) {
	if ev.Kind == control.EventHub && ev.Title == "" {
		return
	}
	if err := n.poster.Post(ev.Title, ev.Body, n.opener(ctx, b, pageOf[ev.Kind])); err != nil {
		n.log.Warn("notification failed", "kind", ev.Kind, "err", err)
	}
}

// opener is what a click does: open page with a fresh sign-in link.
func (n *Notifier) opener(ctx context.Context, b Backend, page string) func() {
	if n.open == nil || page == "" {
		return nil
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		l, err := b.LoginURL(ctx)
		if err == nil {
			err = n.open(l.URL + "&next=" + url.QueryEscape(page))
		}
		if err != nil {
			n.log.Warn("open the page a notification is about", "page", page, "err", err)
		}
	}
}

func (n *Notifier) ask(ctx context.Context, b Backend, id string) {
	list, err := b.Approvals(ctx)
	if err != nil {
		n.log.Warn("read pending approvals", "err", err)
		return
	}
	for _, a := range list {
		if a.ID != id {
			continue
		}
		err := n.asker.Ask(a, n.opener(ctx, b, "/ui/approvals"), func(ans control.Answer) {
			// The first answer from any front wins; a late one finds
			// nothing to answer, which is no error worth a warning.
			if err := b.Answer(context.WithoutCancel(ctx), a.ID, ans); err != nil {
				n.log.Info("popup answer not taken", "approval", a.ID, "err", err)
			}
		})
		if err != nil {
			n.log.Warn("approval popup failed", "approval", a.ID, "err", err)
		}
		return
	}
}
