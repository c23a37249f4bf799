//go:build unix

package ledger

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"byokd.dev/byok"
)

// Run with: go test -run '^$' -bench Record -benchtime 3s ./ledger/

func BenchmarkRecord(b *testing.B) {
	ctx := context.Background()
	d, _ := openTemp(b)
	cpu0 := processCPU()
	ev := event(1)
	for i := 0; b.Loop(); i++ {
		ev.ID = fmt.Sprintf("bench-%d", i)
		if err := d.Record(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
	reportRecord(b, d, cpu0)
}

func BenchmarkRecordParallel(b *testing.B) {
	ctx := context.Background()
	d, _ := openTemp(b)
	var next atomic.Int64
	b.SetParallelism(32) // 32 × GOMAXPROCS callers, as a busy proxy would have
	b.ResetTimer()
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		ev := event(1)
		for pb.Next() {
			ev.ID = fmt.Sprintf("bench-%d", next.Add(1))
			if err := d.Record(ctx, ev); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRecord(b, d, cpu0)
}

// BenchmarkRecordPaced records rows as a busy proxy does: 32 callers,
// each a call every 12.8 ms (2,500 rows a second), so that rows come
// a few hundred µs apart and never all at once. Its rows/commit and
// cpu-µs/row say how well the writer's batches fill at that pace, which a
// benchmark recording as fast as it can does not show.
func BenchmarkRecordPaced(b *testing.B) {
	const callers, every = 32, 12800 * time.Microsecond
	ctx := context.Background()
	d, _ := openTemp(b)
	var next atomic.Int64
	b.ResetTimer()
	cpu0 := processCPU()
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			ev := event(1)
			// Spread the callers' first calls over one period.
			time.Sleep(every * time.Duration(c) / callers)
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				ev.ID = fmt.Sprintf("bench-%d", n)
				if err := d.Record(ctx, ev); err != nil {
					b.Error(err)
					return
				}
				time.Sleep(every)
			}
		})
	}
	wg.Wait()
	reportRecord(b, d, cpu0)
}

// reportRecord reports, after every row is in SQLite, the rate and the
// CPU per row of the whole process: on shared cores the wall time per row
// is mostly the machine, and the writer's SQLite work is off the callers'.
func reportRecord(b *testing.B, d *DB, cpu0 time.Duration) {
	if err := d.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/1000/float64(b.N), "cpu-µs/row")
	st := d.Stats()
	b.ReportMetric(float64(st.Rows)/b.Elapsed().Seconds(), "rows/s")
	if st.Commits > 0 {
		b.ReportMetric(float64(st.Rows)/float64(st.Commits), "rows/commit")
	}
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkJournalAppend is a call's row going into the journal (its JSON
// line and the copy into the mapping), beside the same line appended with
// a write(2) to a file opened O_APPEND, the journal's way before it was
// mapped (less its fallocate reservation): the ratio in one run is what
// the system call cost.
//
//	go test -run '^$' -bench JournalAppend -count 6 ./ledger/
func BenchmarkJournalAppend(b *testing.B) {
	ev := event(1)
	b.Run("mapped", func(b *testing.B) {
		j, _, err := openJournal(filepath.Join(b.TempDir(), "ledger.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer j.close(true)
		evs := []*byok.UsageEvent{&ev}
		for b.Loop() {
			if err := j.append(evs); err != nil {
				b.Fatal(err)
			}
			if j.files[0].size >= emptyAt {
				if err := j.empty(0); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("write", func(b *testing.B) {
		f, err := os.OpenFile(filepath.Join(b.TempDir(), "journal"), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		var buf []byte
		var size int64
		for b.Loop() {
			buf = append(ev.AppendJSON(buf[:0]), '\n')
			n, err := f.Write(buf)
			if err != nil {
				b.Fatal(err)
			}
			if size += int64(n); size >= emptyAt {
				if err := f.Truncate(0); err != nil {
					b.Fatal(err)
				}
				size = 0
			}
		}
	})
}
