// Package idlegc stops a process's garbage collections once it has had
// nothing to do for a whole collection cycle, and starts them again with
// its next request.
//
// The Go runtime forces a collection every two minutes however idle a
// process is, and each one wakes its threads: in an idle byokd daemon that
// was most of its 0.22–0.27 wake-ups a second (docs/BENCHMARKS.md), and a
// desktop daemon must not keep waking the CPU of a laptop on battery.
//
// A Collector needs no timer of its own, which would wake the process as
// well: it hears of each collection from a cleanup on an object made for
// it. A collection that finds no request since the one before turns them
// off; the garbage of the last request has been collected by then. While
// they are off, a memory limit a little above what the process holds still
// collects anything that grows meanwhile.
package idlegc

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// Headroom is how far above its idle size a process may grow before a
// collection runs while collections are off.
const Headroom = 64 << 20

// A Collector watches for requests; see the package doc. The runtime's
// collector settings are the process's: run at most one.
type Collector struct {
	busy atomic.Bool // a request came since the last collection
	idle atomic.Bool // collections are off

	// watch has collected run after the next collection; the tests that
	// call collected themselves leave it nil.
	watch func()

	mu      sync.Mutex
	stopped bool
	percent int   // GOGC before idling
	limit   int64 // the memory limit before idling
}

// Start returns a Collector watching from the next collection on.
func Start() *Collector {
	c := newCollector()
	c.watch = func() { runtime.AddCleanup(&sentinel{}, (*Collector).collected, c) }
	c.watch()
	return c
}

func newCollector() *Collector {
	c := &Collector{}
	c.busy.Store(true) // starting up is work: the first cycle does not count as idle
	return c
}

// sentinel is garbage from the moment it is made; its cleanup runs after
// the collection that frees it. It holds a pointer so that it is never
// batched with other small objects into one allocation.
type sentinel struct{ _ *sentinel }

// Busy is called as each request arrives: it costs an atomic load while
// the process is busy, and starts collections again after an idle spell.
func (c *Collector) Busy() {
	if !c.busy.Load() {
		c.busy.Store(true)
	}
	if c.idle.Load() {
		c.wake()
	}
}

// collected runs after each collection: the runtime's while collections
// are on, the memory limit's while they are off.
func (c *Collector) collected() {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	if c.watch != nil {
		c.watch()
	}
	if c.busy.Swap(false) || c.idle.Load() {
		c.mu.Unlock()
		return
	}
	c.limit = debug.SetMemoryLimit(min(debug.SetMemoryLimit(-1), size()+Headroom))
	c.percent = debug.SetGCPercent(-1)
	c.idle.Store(true)
	c.mu.Unlock()
	// A request that came while collections were being turned off may
	// have found idle still false: it is seen here instead (Busy sets busy
	// before it reads idle, and this reads busy after setting idle).
	if c.busy.Load() {
		c.wake()
	}
}

// wake turns collections on again, with the settings they had.
func (c *Collector) wake() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.idle.Load() {
		return
	}
	debug.SetGCPercent(c.percent)
	debug.SetMemoryLimit(c.limit)
	c.idle.Store(false)
}

// Stop stops the Collector, leaving collections as they were before it.
func (c *Collector) Stop() {
	c.wake()
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
}

// size is the memory the runtime holds from the OS, as the memory limit
// counts it.
func size() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64() - s[1].Value.Uint64())
}
