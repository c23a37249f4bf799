package idlegc

import (
	"math"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// settings reads the collector's settings as the runtime reports them.
func settings() (gogc int64, limit int64, cycles uint64) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64()), int64(s[1].Value.Uint64()), s[2].Value.Uint64()
}

// manual is a Collector that hears of a collection only when the test
// calls collected, so that the runtime's own cycles do not interfere.
func manual(t *testing.T) *Collector {
	c := newCollector()
	t.Cleanup(c.Stop)
	return c
}

func TestCollector_TurnsCollectionsOffOnlyAfterACycleWithoutRequests(t *testing.T) {
	gogc0, limit0, _ := settings()
	c := manual(t)

	c.collected() // the start-up's cycle
	c.Busy()
	c.collected()
	if gogc, _, _ := settings(); gogc != gogc0 {
		t.Fatalf("GOGC is %d after a cycle that saw a request, want %d unchanged", gogc, gogc0)
	}
	c.collected()
	gogc, limit, _ := settings()
	if gogc != -1 {
		t.Fatalf("GOGC is %d after a cycle without requests, want -1 (off)", gogc)
	}
	if limit == math.MaxInt64 || limit < size() {
		t.Fatalf("memory limit while idle is %d with %d held: want one a little above it, so that growth is still collected", limit, size())
	}

	c.Busy()
	if gogc, limit, _ := settings(); gogc != gogc0 || limit != limit0 {
		t.Fatalf("after a request: GOGC %d, memory limit %d; want them as before the idle spell: %d, %d", gogc, limit, gogc0, limit0)
	}
}

// sink keeps the allocations below from being optimised away.
var sink []byte

func TestCollector_IdleProcessStillCollectsWhatGrows(t *testing.T) {
	c := manual(t)
	c.collected()
	c.collected()
	if gogc, _, _ := settings(); gogc != -1 {
		t.Fatalf("GOGC is %d, want collections off", gogc)
	}
	_, _, before := settings()
	for range 4 * Headroom / (1 << 20) {
		sink = make([]byte, 1<<20)
	}
	if _, _, after := settings(); after == before {
		t.Fatalf("no collection while %d MiB of garbage was made with collections off: the memory limit does not hold", 4*Headroom>>20)
	}
	if held := size(); held > 3*Headroom {
		t.Fatalf("the idle process holds %d MiB after making garbage, want it bounded near %d MiB over its idle size", held>>20, Headroom>>20)
	}
}

func TestCollector_RequestsDuringACycleAreNotMissed(t *testing.T) {
	gogc0, _, _ := settings()
	c := manual(t)
	for range 5000 {
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); c.collected() }()
		go func() { defer wg.Done(); c.Busy() }()
		wg.Wait()
		// Busy came before, during or after the cycle: collections run.
		if gogc, _, _ := settings(); gogc != gogc0 {
			t.Fatalf("GOGC is %d right after a request, want %d: a request racing the cycle left collections off", gogc, gogc0)
		}
	}
}

// TestStart_HearsOfTheRuntimesCollections: with no request, collections
// are off within a few real cycles, and on again after one.
func TestStart_HearsOfTheRuntimesCollections(t *testing.T) {
	gogc0, _, _ := settings()
	c := Start()
	t.Cleanup(c.Stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		runtime.GC()
		if gogc, _, _ := settings(); gogc == -1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("collections still on after 30 s of collections with no request: the Collector does not hear of them")
		}
		time.Sleep(10 * time.Millisecond) // cleanups run on their own goroutine after the cycle
	}
	c.Busy()
	if gogc, _, _ := settings(); gogc != gogc0 {
		t.Fatalf("GOGC is %d after a request, want %d", gogc, gogc0)
	}
}

func TestCollector_StopLeavesCollectionsAsTheyWere(t *testing.T) {
	gogc0, limit0, _ := settings()
	c := newCollector()
	c.collected()
	c.collected()
	c.Stop()
	if gogc, limit, _ := settings(); gogc != gogc0 || limit != limit0 {
		t.Fatalf("after Stop while idle: GOGC %d, memory limit %d; want %d, %d", gogc, limit, gogc0, limit0)
	}
}
