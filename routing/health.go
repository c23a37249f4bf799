package routing

import (
	"sync"
	"time"

	"byokd.dev/byok"
)

// DefaultCoolDown is how long a personal key is skipped after failing as
// invalid or out of quota, before it is tried again.
const DefaultCoolDown = 10 * time.Minute

// Health remembers, in memory, which personal keys are cooling down. The
// zero value is not usable; call NewHealth. It is safe for concurrent use.
type Health struct {
	now      func() time.Time
	coolDown time.Duration

	mu    sync.Mutex
	state map[healthKey]cooling
}

type healthKey struct {
	svc byok.Service
	key string
}

type cooling struct {
	until  time.Time
	reason string
}

// NewHealth returns an empty Health. now defaults to time.Now and coolDown,
// if not positive, to DefaultCoolDown.
func NewHealth(now func() time.Time, coolDown time.Duration) *Health {
	if now == nil {
		now = time.Now
	}
	if coolDown <= 0 {
		coolDown = DefaultCoolDown
	}
	return &Health{now: now, coolDown: coolDown, state: make(map[healthKey]cooling)}
}

// Failed records a failure of the personal key: if the verdict says so, the
// key cools down from now, whatever cool-down it was already in.
func (h *Health) Failed(svc byok.Service, key string, v Verdict) {
	if !v.CoolDown {
		return
	}
	until := h.now().Add(h.coolDown)
	h.mu.Lock()
	h.state[healthKey{svc, key}] = cooling{until: until, reason: v.Reason}
	h.mu.Unlock()
}

// Succeeded records a call the key paid for: it is healthy again.
func (h *Health) Succeeded(svc byok.Service, key string) {
	h.mu.Lock()
	delete(h.state, healthKey{svc, key})
	h.mu.Unlock()
}

// CoolingUntil returns when the key's cool-down ends and the failure that
// started it, or the zero time and "" if it is not cooling down.
func (h *Health) CoolingUntil(svc byok.Service, key string) (time.Time, string) {
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	k := healthKey{svc, key}
	c, ok := h.state[k]
	if !ok {
		return time.Time{}, ""
	}
	if !now.Before(c.until) {
		delete(h.state, k)
		return time.Time{}, ""
	}
	return c.until, c.reason
}

// Annotate sets CoolingUntil and CoolingReason on each of svc's keys.
func (h *Health) Annotate(svc byok.Service, keys []KeyState) {
	for i := range keys {
		keys[i].CoolingUntil, keys[i].CoolingReason = h.CoolingUntil(svc, keys[i].Name)
	}
}
