package daemon

import (
	"context"
	"net/http"
	"sync"
	"time"

	"byokd.dev/byok/control"
)

// Front is a desktop front the daemon runs next to its servers and feeds
// from its own control backend, in process: the notifier (notifications
// and approval popups). Run returns when ctx ends.
type Front interface {
	Run(ctx context.Context, b control.Backend) error
}

// Page is the Credential Manager page, served under /ui/ on the control
// listener next to the control API.
type Page interface {
	http.Handler
	// NewLogin makes a one-time login path (such as /ui/login?code=…)
	// and says until when it works.
	NewLogin() (path string, expires time.Time)
	// Refused is how many requests the page turned away.
	Refused() int64
}

// NewPage builds the Credential Manager page for the control backend b,
// answering on the control listener's port.
type NewPage func(b control.Backend, port string) Page

// controlMux puts the page under /ui/ in front of the control API; each
// has its own gate (the page: session cookie and CSRF; the API: bearer
// token, no browser requests).
func controlMux(api http.Handler, page Page) http.Handler {
	if page == nil {
		return api
	}
	mux := http.NewServeMux()
	mux.Handle("/ui/", page)
	mux.Handle("/", api)
	return mux
}

// runFront runs f until ctx ends, logging how it ended.
func (d *Daemon) runFront(ctx context.Context, f Front) {
	if err := f.Run(ctx, &frontBackend{backend: backend{d}, first: d.frontSub}); err != nil && ctx.Err() == nil {
		d.log.Warn("desktop front stopped", "err", err)
	}
}

// frontBackend hands the front the subscription Start made, first, so
// that it misses no event published between Start and its own Subscribe.
type frontBackend struct {
	backend
	mu    sync.Mutex
	first <-chan control.Event
}

func (f *frontBackend) Subscribe(ctx context.Context) (<-chan control.Event, error) {
	f.mu.Lock()
	ch := f.first
	f.first = nil
	f.mu.Unlock()
	if ch != nil {
		return ch, nil
	}
	return f.backend.Subscribe(ctx)
}
