package daemon

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"byokd.dev/byok/control"
)

// events fans the daemon's events out to subscribers (the tray, the
// notifier, `byokd events`). A subscriber that falls behind loses events
// rather than slowing a call down; the loss is counted.
type events struct {
	now     func() time.Time
	mu      sync.Mutex
	subs    map[chan control.Event]struct{}
	dropped atomic.Int64
}

func newEvents(now func() time.Time) *events {
	return &events{now: now, subs: map[chan control.Event]struct{}{}}
}

func (e *events) publish(ev control.Event) {
	if ev.Time.IsZero() {
		ev.Time = e.now()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for ch := range e.subs {
		select {
		case ch <- ev:
		default:
			e.dropped.Add(1)
		}
	}
}

// subscribe returns a channel of events that is closed when ctx ends.
func (e *events) subscribe(ctx context.Context) <-chan control.Event {
	ch := make(chan control.Event, 64)
	e.mu.Lock()
	e.subs[ch] = struct{}{}
	e.mu.Unlock()
	go func() {
		<-ctx.Done()
		e.mu.Lock()
		delete(e.subs, ch)
		e.mu.Unlock()
		close(ch)
	}()
	return ch
}
