package tray

import (
	"context"
	"log/slog"

	"byokd.dev/byok/control"
)

// Client is what the tray needs of the daemon; control.Client satisfies it.
type Client interface {
	Status(ctx context.Context) (control.Status, error)
	Prefs(ctx context.Context) ([]control.Pref, error)
	SetPref(ctx context.Context, p control.Pref) error
	Approvals(ctx context.Context) ([]control.Approval, error)
	Answer(ctx context.Context, id string, a control.Answer) error
	Subscribe(ctx context.Context) (<-chan control.Event, error)
	LoginURL(ctx context.Context) (control.Login, error)
	SetPaused(ctx context.Context, paused bool) error
}

// Config configures the tray.
type Config struct {
	// Dial returns a client of the running daemon; it is called again
	// after the daemon goes away. Required.
	Dial func() (Client, error)
	// Icons are the tray icon for each Look, as PNG; a Look without one
	// shows LookNormal's.
	Icons map[Look][]byte
	// Open opens a URL in the default browser; default OpenBrowser.
	Open func(url string) error
	// Start starts the daemon when it is not running (its service, or
	// byokd run); nil offers no Start.
	Start func(ctx context.Context) error
	// Stop stops the daemon this tray runs in ("Stop byokd"); nil in a
	// tray of its own process, which offers only to hide.
	Stop   func()
	Logger *slog.Logger
}
