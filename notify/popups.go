package notify

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"

	"byokd.dev/byok/control"
)

// The freedesktop notification service.
const (
	notifyName  = "org.freedesktop.Notifications"
	notifyPath  = dbus.ObjectPath("/org/freedesktop/Notifications")
	notifyIface = "org.freedesktop.Notifications"
)

// actionLabels are the popup's buttons, by answer; "ANSWER:MINUTES"
// stands for the app's calls for that long, as on the approvals page.
var actionLabels = map[string]string{
	"personal":    "Use my key",
	"personal:10": "My key for 10 minutes",
	"shared":      "Use team key",
	"shared:10":   "Team key for 10 minutes",
	"deny":        "Deny",
}

// standingMinutes is the "for N minutes" answer a popup offers.
const standingMinutes = 10

// Popups shows approval popups as freedesktop notifications with actions,
// on its own session-bus connection. It is safe for concurrent use.
type Popups struct {
	conn    *dbus.Conn
	log     *slog.Logger
	appName string
	now     func() time.Time

	mu       sync.Mutex
	byNote   map[uint32]*popup // notification id → popup
	byID     map[string]uint32 // approval id → notification id
	closed   bool
	signals  chan *dbus.Signal
	finished chan struct{}
}

// popup is a notification we showed: an approval (answer set) or a plain
// one. clicked, if set, runs on its "default" action: a click on it.
type popup struct {
	approval string
	owner    string // unique bus name that owned org.freedesktop.Notifications
	choices  map[string]bool
	answer   func(control.Answer)
	clicked  func()
}

// defaultAction is the freedesktop action a click on a notification
// invokes; its label is what servers that list actions show.
const defaultAction, defaultLabel = "default", "Open byokd"

// NewPopups connects to the session bus and listens for the answers.
// Close it when done.
func NewPopups(log *slog.Logger, now func() time.Time) (*Popups, error) {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return nil, fmt.Errorf("connect to the session bus: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	p := &Popups{
		conn: conn, log: log.With("component", "notify"), appName: "byokd", now: now,
		byNote: map[uint32]*popup{}, byID: map[string]uint32{},
		signals: make(chan *dbus.Signal, 16), finished: make(chan struct{}),
	}
	for _, member := range []string{"ActionInvoked", "NotificationClosed"} {
		if err := conn.AddMatchSignal(dbus.WithMatchObjectPath(notifyPath), dbus.WithMatchInterface(notifyIface), dbus.WithMatchMember(member)); err != nil {
			conn.Close()
			return nil, fmt.Errorf("listen for notification answers: %w", err)
		}
	}
	conn.Signal(p.signals)
	go p.listen()
	return p, nil
}

// Close stops listening and closes the connection; shown popups stay.
func (p *Popups) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.conn.Close()
	<-p.finished
	return err
}

// Post shows a plain notification; a click on it runs clicked (if set),
// once, when it comes from the notification server that showed it.
func (p *Popups) Post(title, body string, clicked func()) error {
	owner, err := p.server()
	if err != nil {
		return err
	}
	var actions []string
	if clicked != nil {
		actions = []string{defaultAction, defaultLabel}
	}
	hints := map[string]dbus.Variant{"category": dbus.MakeVariant("byokd")}
	p.mu.Lock()
	defer p.mu.Unlock()
	var id uint32
	if err := p.conn.Object(notifyName, notifyPath).Call(notifyIface+".Notify", 0,
		p.appName, uint32(0), "", title, body, actions, hints, int32(-1)).Store(&id); err != nil {
		return fmt.Errorf("show notification: %w", err)
	}
	if clicked != nil {
		p.byNote[id] = &popup{owner: owner, choices: map[string]bool{defaultAction: true}, clicked: clicked}
	}
	return nil
}

// server is the unique bus name of the notification server.
func (p *Popups) server() (string, error) {
	var owner string
	if err := p.conn.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, notifyName).Store(&owner); err != nil {
		return "", fmt.Errorf("find the notification server: %w", err)
	}
	return owner, nil
}

// Ask shows a popup for a with one button per choice, and a click on
// the popup itself opens what clicked does. The answer counts only if it
// comes from the notification server that showed it, once.
func (p *Popups) Ask(a control.Approval, clicked func(), answer func(control.Answer)) error {
	owner, err := p.server()
	if err != nil {
		return err
	}
	choices := map[string]bool{}
	var actions []string
	add := func(key string) {
		if label, ok := actionLabels[key]; ok && !choices[key] {
			choices[key] = true
			actions = append(actions, key, label)
		}
	}
	for _, c := range a.Choices {
		add(c)
		if c != "deny" {
			add(fmt.Sprintf("%s:%d", c, standingMinutes))
		}
	}
	if len(actions) == 0 {
		return errors.New("approval offers no choice a popup can show")
	}
	if clicked != nil {
		choices[defaultAction] = true
		actions = append(actions, defaultAction, defaultLabel)
	}
	title := fmt.Sprintf("%s call from %s waits for you", a.Service.Title(), orDash(a.App))
	left := a.Expires.Sub(p.now()).Round(time.Second)
	body := fmt.Sprintf("Model %s, project %s, about %s. Unanswered by %s (%d s), it is not sent.",
		orDash(a.Model), orDash(a.Project), a.Estimate, a.Expires.Local().Format("15:04:05"), int(left/time.Second))
	timeout := int32(a.Expires.Sub(p.now()) / time.Millisecond)
	if timeout <= 0 {
		timeout = 1
	}
	hints := map[string]dbus.Variant{
		"urgency":  dbus.MakeVariant(byte(2)),
		"category": dbus.MakeVariant("byokd.approval"),
	}
	// Hold the lock across Notify so that an answer arriving before we
	// recorded the id cannot be lost: the listener waits for it.
	p.mu.Lock()
	defer p.mu.Unlock()
	var id uint32
	err = p.conn.Object(notifyName, notifyPath).Call(notifyIface+".Notify", 0,
		p.appName, uint32(0), "", title, body, actions, hints, timeout).Store(&id)
	if err != nil {
		return fmt.Errorf("show approval popup: %w", err)
	}
	p.byNote[id] = &popup{approval: a.ID, owner: owner, choices: choices, answer: answer, clicked: clicked}
	p.byID[a.ID] = id
	return nil
}

// Withdraw closes the approval's popup if it is still shown.
func (p *Popups) Withdraw(approvalID string) {
	p.mu.Lock()
	id, ok := p.byID[approvalID]
	if ok {
		delete(p.byID, approvalID)
		delete(p.byNote, id)
	}
	p.mu.Unlock()
	if !ok {
		return
	}
	if err := p.conn.Object(notifyName, notifyPath).Call(notifyIface+".CloseNotification", 0, id).Err; err != nil {
		p.log.Debug("withdraw approval popup", "approval", approvalID, "err", err)
	}
}

// listen takes ActionInvoked and NotificationClosed signals for our
// popups from their notification server; anything else is ignored.
func (p *Popups) listen() {
	defer close(p.finished)
	for sig := range p.signals {
		if sig.Path != notifyPath || len(sig.Body) < 2 {
			continue
		}
		id, ok := sig.Body[0].(uint32)
		if !ok {
			continue
		}
		var key string
		switch sig.Name {
		case notifyIface + ".ActionInvoked":
			if key, ok = sig.Body[1].(string); !ok {
				continue
			}
		case notifyIface + ".NotificationClosed":
		default:
			continue
		}
		p.mu.Lock()
		pp, mine := p.byNote[id]
		if !mine || sig.Sender != pp.owner || (key != "" && !pp.choices[key]) {
			p.mu.Unlock()
			if mine {
				p.log.Warn("ignored a notification signal that did not come from our popup's notification server",
					"signal", sig.Name, "sender", sig.Sender, "notification", id)
			}
			continue
		}
		if key == defaultAction {
			// A click opens the page; an approval stays to be answered
			// there or in the popup.
			if pp.answer == nil {
				delete(p.byNote, id)
			}
			p.mu.Unlock()
			p.log.Info("notification clicked", "notification", id)
			go pp.clicked()
			continue
		}
		delete(p.byNote, id)
		if pp.approval != "" {
			delete(p.byID, pp.approval)
		}
		p.mu.Unlock()
		if key != "" {
			p.log.Info("approval answered from popup", "approval", pp.approval, "answer", key)
			ans := control.Answer{Answer: key}
			if k, _, ok := strings.Cut(key, ":"); ok {
				ans.Answer, ans.Minutes = k, standingMinutes
			}
			pp.answer(ans)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
